"""Record transformation: a Python callable that returns each record as Ok, Dropped or
ProcessingFailed, with the contract of Firehose's Lambda transformation.

The callable gets a list of `{"recordId", "approximateArrivalTimestamp", "data"}` (data as
bytes) and must return one `{"recordId", "result", "data"}` per input. A missing or unknown
recordId or result fails that record; an exception is retried `retries` times and then
fails the whole batch. Failed records go to the error prefix with the reason.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from podium.errors import ConfigError

OK, DROPPED, FAILED = "Ok", "Dropped", "ProcessingFailed"

Transform = Callable[[list[dict[str, Any]]], Sequence[Mapping[str, Any]]]


class Outcome(NamedTuple):
    result: str
    data: bytes
    reason: str | None = None


def resolve_transform(reference: str, functions: Mapping[str, str] | None = None) -> Transform:
    """A transform from "module:callable", or from a function name in settings.functions."""
    target = (functions or {}).get(reference, reference)
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ConfigError(
            f"transform '{reference}' is neither a registered function nor 'module:callable'"
        )
    try:
        module = importlib.import_module(module_name)
        fn = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"transform '{reference}' cannot be loaded: {exc}") from None
    if not callable(fn):
        raise ConfigError(f"transform '{reference}' is not callable")
    return fn  # type: ignore[no-any-return]


def apply_transform(
    fn: Transform, records: Sequence[tuple[str, int, bytes]], retries: int
) -> tuple[list[Outcome], int]:
    """Run `fn` on (record id, arrival ms, data) triples; outcomes in input order and the
    number of failed invocations."""
    event = [{"recordId": rid, "approximateArrivalTimestamp": ts, "data": data} for rid, ts, data in records]
    failures = 0
    error = ""
    for _ in range(retries + 1):
        try:
            response = fn([dict(e) for e in event])
            break
        except Exception as exc:  # the user's code: any failure is retried, then reported
            failures += 1
            error = f"{type(exc).__name__}: {exc}"
    else:
        reason = f"transform failed after {retries + 1} attempts: {error}"
        return [Outcome(FAILED, data, reason) for _, _, data in records], failures
    by_id: dict[str, Mapping[str, Any]] = {}
    for item in response or ():
        if isinstance(item, Mapping) and "recordId" in item:
            by_id[str(item["recordId"])] = item
    outcomes = []
    for rid, _, data in records:
        found = by_id.get(rid)
        if found is None:
            outcomes.append(Outcome(FAILED, data, f"transform returned no result for recordId {rid}"))
            continue
        item = found
        result = item.get("result")
        if result == DROPPED:
            outcomes.append(Outcome(DROPPED, b""))
        elif result == OK:
            out = item.get("data", b"")
            if isinstance(out, str):
                out = out.encode("utf-8")
            if not isinstance(out, (bytes, bytearray)):
                outcomes.append(Outcome(FAILED, data, f"transform returned non-bytes data for {rid}"))
            else:
                outcomes.append(Outcome(OK, bytes(out)))
        elif result == FAILED:
            outcomes.append(Outcome(FAILED, data, str(item.get("reason") or "transform marked the record ProcessingFailed")))
        else:
            outcomes.append(Outcome(FAILED, data, f"transform returned unknown result {result!r} for {rid}"))
    return outcomes, failures


def lambda_transform(pool: Any, spec: Any, delivery_stream: str) -> Transform:
    """A transform that invokes a registered Podium function (`podium.functions`) with
    Firehose's Lambda event, so a Firehose transformation Lambda runs unchanged: data goes
    out and comes back base64-encoded, in `{"records": [...]}`."""
    import base64
    import uuid

    arn = f"arn:aws:firehose:local:000000000000:deliverystream/{delivery_stream}"

    def invoke(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        event = {
            "invocationId": str(uuid.uuid4()),
            "deliveryStreamArn": arn,
            "region": "local",
            "records": [
                {
                    "recordId": r["recordId"],
                    "approximateArrivalTimestamp": r["approximateArrivalTimestamp"],
                    "data": base64.b64encode(r["data"]).decode(),
                }
                for r in records
            ],
        }
        response = pool.invoke(spec, event)
        if not isinstance(response, Mapping) or not isinstance(response.get("records"), list):
            raise ValueError("the transformation function must return {\"records\": [...]}")
        out = []
        for item in response["records"]:
            if not isinstance(item, Mapping):
                continue
            decoded = dict(item)
            if isinstance(item.get("data"), str):
                decoded["data"] = base64.b64decode(item["data"])
            out.append(decoded)
        return out

    return invoke
