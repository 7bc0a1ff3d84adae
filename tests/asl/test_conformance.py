"""Every recorded AWS conformance case, compared as the corpus README prescribes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from conformance_harness import CASES_DIR, load_cases, run_case  # noqa: E402
from conformance_known_failures import KNOWN_FAILURES  # noqa: E402


def _params() -> list[object]:
    if not CASES_DIR.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"conformance corpus not found at {CASES_DIR}"))]
    params = []
    for case in load_cases():
        marks = []
        if case["id"] in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[case["id"]]))
        params.append(pytest.param(case, id=case["id"], marks=marks))
    return params


@pytest.mark.parametrize("case", _params())
def test_case(case: dict[str, object]) -> None:
    outcome = run_case(case)  # type: ignore[arg-type]
    assert outcome.passed, outcome.reason


def test_known_failures_name_real_cases() -> None:
    if not CASES_DIR.is_dir():
        pytest.skip(f"conformance corpus not found at {CASES_DIR}")
    ids = {case["id"] for case in load_cases()}
    assert set(KNOWN_FAILURES) <= ids
