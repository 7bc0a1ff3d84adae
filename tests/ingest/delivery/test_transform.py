from __future__ import annotations

from typing import Any

import pytest

from podium.errors import ConfigError
from podium.ingest.delivery.transform import DROPPED, FAILED, OK, apply_transform, resolve_transform


def upper_or_drop(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in records:
        data = r["data"]
        if data == b"drop":
            out.append({"recordId": r["recordId"], "result": "Dropped"})
        elif data == b"fail":
            out.append({"recordId": r["recordId"], "result": "ProcessingFailed", "data": data})
        elif data == b"forget":
            continue
        else:
            out.append({"recordId": r["recordId"], "result": "Ok", "data": data.upper()})
    return out


def test_outcomes_per_record() -> None:
    records = [("1", 0, b"a"), ("2", 0, b"drop"), ("3", 0, b"fail"), ("4", 0, b"forget")]
    outcomes, failures = apply_transform(upper_or_drop, records, retries=3)
    assert failures == 0
    assert [o.result for o in outcomes] == [OK, DROPPED, FAILED, FAILED]
    assert outcomes[0].data == b"A"
    assert "no result for recordId 4" in (outcomes[3].reason or "")
    assert outcomes[2].data == b"fail"  # failed records keep their original data


def test_exceptions_are_retried_then_fail_the_batch() -> None:
    calls = []

    def flaky(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("cold start")
        return [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in records]

    outcomes, failures = apply_transform(flaky, [("1", 0, b"x")], retries=3)
    assert failures == 2 and outcomes[0].result == OK

    def broken(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise ValueError("bug")

    outcomes, failures = apply_transform(broken, [("1", 0, b"x"), ("2", 0, b"y")], retries=1)
    assert failures == 2
    assert all(o.result == FAILED and "ValueError: bug" in (o.reason or "") for o in outcomes)


def test_resolve() -> None:
    fn = resolve_transform("json:dumps")
    assert fn({"a": 1}) == '{"a": 1}'  # type: ignore[arg-type,comparison-overlap]
    assert resolve_transform("named", {"named": "json:loads"})("[1]") == [1]  # type: ignore[arg-type,comparison-overlap]
    with pytest.raises(ConfigError):
        resolve_transform("nothing")
    with pytest.raises(ConfigError):
        resolve_transform("json:no_such_thing")
