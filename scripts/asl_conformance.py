"""Print the ASL conformance pass rate per feature tag and overall, and list failures.

Usage: .venv/bin/python scripts/asl_conformance.py [--failures-only]
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "asl"))

from conformance_harness import CASES_DIR, load_cases, run_case  # noqa: E402
from conformance_known_failures import KNOWN_FAILURES  # noqa: E402


def main() -> int:
    if not CASES_DIR.is_dir():
        print(f"conformance corpus not found at {CASES_DIR}")
        return 1
    outcomes = [run_case(case) for case in load_cases()]
    per_tag: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in outcomes:
        for tag in o.features:
            per_tag[tag][0] += o.passed
            per_tag[tag][1] += 1
    if "--failures-only" not in sys.argv:
        print(f"{'feature':45} {'passed':>7} {'total':>6} {'rate':>7}")
        for tag in sorted(per_tag):
            ok, total = per_tag[tag]
            print(f"{tag:45} {ok:7d} {total:6d} {100.0 * ok / total:6.1f}%")
    passed = sum(o.passed for o in outcomes)
    print(f"\noverall: {passed}/{len(outcomes)} = {100.0 * passed / len(outcomes):.1f}%")
    failures = [o for o in outcomes if not o.passed]
    if failures:
        print("\nfailures:")
        for o in failures:
            known = KNOWN_FAILURES.get(o.case_id)
            print(f"- {o.case_id}\n    got: {o.reason[:400]}")
            print(f"    known: {known}" if known else "    known: NOT LISTED in tests/asl/conformance_known_failures.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
