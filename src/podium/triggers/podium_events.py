"""Podium's own events: their sources and detail types, and the calls producers make to emit them.

A producer records its event with one of the `record_*` functions *inside the transaction
that makes the change*, so the event exists exactly when the change does: a crash can lose
neither one without the other. The rows land in the `triggers_outbox` table; the outbox
publisher (`podium.triggers.outbox`, run by the scheduler loop) moves them onto the bus.

    with store.begin() as connection:
        ...  # the producer's own writes
        record_batch_run_finished(connection, job_name="sales", run_id=run_id, state="SUCCEEDED")

Two producers need no call: the model registry writes its own outbox (`models_events`) and
the endpoint service records each deployment's outcome in `serving_deployments`; the
publisher reads both. Folder watchers put their events directly (`podium.triggers.watch`).
A `Store` may be passed instead of a connection by producers that have no transaction of
their own (a stream consumer noticing it lags); the event is then recorded on its own.
"""

from __future__ import annotations

import json
import time as _time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert

from podium.errors import ValidationError
from podium.store import Store
from podium.store.tables.triggers import triggers_outbox

LAKE = ("podium.lake", "Object Created")
BATCH_RUN = ("podium.ingest", "Batch Job Run State Change")
EXECUTION_STATUS = ("podium.engine", "Step Functions Execution Status Change")
MODEL_PACKAGE = ("podium.models", "Model Package State Change")
DEPLOYMENT = ("podium.serving", "Endpoint Deployment State Change")
ITERATOR_AGE = ("podium.streams", "Iterator Age High")

EXECUTION_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
BATCH_RUN_STATES = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT")
# Glue's severity for each final state, so patterns written for Glue's events carry over.
_SEVERITY = {"SUCCEEDED": "INFO", "FAILED": "ERROR", "TIMEOUT": "ERROR", "STOPPED": "WARN"}


def record_event(
    target: Connection | Store,
    source: str,
    detail_type: str,
    detail: Mapping[str, Any],
    *,
    resources: Sequence[str] = (),
    time: datetime | float | None = None,
) -> None:
    """Record one event in the outbox, in the transaction of `target` (a Connection inside
    `store.begin()`), or in a transaction of its own when `target` is a Store."""
    if not source or not detail_type:
        raise ValidationError("an event needs a source and a detail-type")
    try:
        detail_text = json.dumps(detail)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{source} {detail_type!r}: detail is not JSON ({exc})") from None
    if isinstance(time, datetime):
        moment = time.timestamp()
    else:
        moment = _time.time() if time is None else float(time)
    row = {
        "source": source,
        "detail_type": detail_type,
        "detail": detail_text,
        "resources": json.dumps([str(r) for r in resources]),
        "time": moment,
    }
    if isinstance(target, Store):
        with target.begin() as connection:
            connection.execute(insert(triggers_outbox).values(**row))
    else:
        target.execute(insert(triggers_outbox).values(**row))


def execution_status_detail(
    *,
    execution_arn: str,
    state_machine_arn: str,
    name: str,
    status: str,
    start_date: datetime | float | None = None,
    stop_date: datetime | float | None = None,
    input: str | None = None,  # noqa: A002  (JSON text, as AWS gives it)
    output: str | None = None,
    error: str | None = None,
    cause: str | None = None,
) -> dict[str, Any]:
    """The detail of AWS's "Step Functions Execution Status Change": dates in epoch
    milliseconds, input and output as JSON text. Raises ValidationError for an unknown status."""
    if status not in EXECUTION_STATUSES:
        raise ValidationError(f"execution status {status!r} is not one of {', '.join(EXECUTION_STATUSES)}")
    return {
        "executionArn": execution_arn,
        "stateMachineArn": state_machine_arn,
        "name": name,
        "status": status,
        "startDate": _millis(start_date) if start_date is not None else None,
        "stopDate": _millis(stop_date) if stop_date is not None else None,
        "input": input,
        "output": output,
        "error": error,
        "cause": cause,
    }


def record_execution_status(
    target: Connection | Store,
    *,
    execution_arn: str,
    state_machine_arn: str,
    name: str,
    status: str,
    start_date: datetime | float | None = None,
    stop_date: datetime | float | None = None,
    input: str | None = None,  # noqa: A002  (JSON text, as AWS gives it)
    output: str | None = None,
    error: str | None = None,
    cause: str | None = None,
) -> None:
    """A workflow execution changed status: record its event (the detail as
    `execution_status_detail`). The engine writes the same row with a prebuilt statement."""
    detail = execution_status_detail(
        execution_arn=execution_arn, state_machine_arn=state_machine_arn, name=name, status=status,
        start_date=start_date, stop_date=stop_date, input=input, output=output, error=error, cause=cause,
    )
    source, detail_type = EXECUTION_STATUS
    record_event(target, source, detail_type, detail, resources=[detail["executionArn"]])


def record_batch_run_finished(
    target: Connection | Store,
    *,
    job_name: str,
    run_id: str,
    state: str,
    message: str | None = None,
    statistics: Mapping[str, int | float] | None = None,
) -> None:
    """A batch job run finished (Glue's "Job State Change" shape: jobName, jobRunId, state,
    severity, message; plus the run's counts under `statistics`)."""
    if state not in BATCH_RUN_STATES:
        raise ValidationError(f"batch run state {state!r} is not one of {', '.join(BATCH_RUN_STATES)}")
    detail = {
        "jobName": job_name,
        "jobRunId": run_id,
        "state": state,
        "severity": _SEVERITY[state],
        "message": message or f"Job run {state.lower()}",
        "statistics": dict(statistics or {}),
    }
    source, detail_type = BATCH_RUN
    record_event(target, source, detail_type, detail, resources=[f"job/{job_name}/run/{run_id}"])


def record_iterator_age_high(
    target: Connection | Store,
    *,
    stream: str,
    consumer: str,
    shard_id: str,
    age_milliseconds: int,
    threshold_milliseconds: int,
) -> None:
    """A stream consumer fell behind: its iterator age crossed the threshold. Record it once
    per crossing (when the age goes from below to above), not on every read."""
    detail = {
        "streamName": stream,
        "consumerName": consumer,
        "shardId": shard_id,
        "iteratorAgeMilliseconds": int(age_milliseconds),
        "thresholdMilliseconds": int(threshold_milliseconds),
    }
    source, detail_type = ITERATOR_AGE
    record_event(target, source, detail_type, detail, resources=[f"stream/{stream}"])


def deployment_detail(row: Any) -> dict[str, Any]:
    """The detail of a finished deployment, from its `serving_deployments` row."""
    return {
        "EndpointName": row.endpoint,
        "DeploymentId": row.id,
        "Outcome": row.outcome,  # Succeeded | RolledBack | Failed
        "FromConfig": row.from_config,
        "ToConfig": row.to_config,
        "Reason": row.reason,
        "StartedAt": _iso(row.started_at),
        "EndedAt": _iso(row.ended_at),
    }


def _millis(moment: datetime | float) -> int:
    if isinstance(moment, datetime):
        # A naive datetime is UTC here (SQLite gives stored times back without a zone).
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return int(round(aware.timestamp() * 1000))
    return int(round(float(moment) * 1000))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
