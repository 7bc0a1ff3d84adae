"""Every definition AWS accepted and executed (the conformance corpus) validates with no problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium.asl.validate import validate

CORPUS = Path(__file__).parents[2].parent / "shared/conformance/asl"
CASES = sorted(CORPUS.glob("*.json")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CASES, reason=f"conformance corpus not found at {CORPUS}")
def test_no_false_positives_on_definitions_aws_accepted() -> None:
    wrong: dict[str, list[str]] = {}
    for path in CASES:
        case = json.loads(path.read_text(encoding="utf-8"))
        problems = validate(case["definition"])
        if problems:
            wrong[path.name] = [str(p) for p in problems]
    assert len(CASES) >= 700
    assert wrong == {}
