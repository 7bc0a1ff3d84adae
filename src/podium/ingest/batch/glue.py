"""Glue's StartJobRun request and JobRun response shapes over Podium batch jobs, for
ASL Task states with `arn:aws:states:::glue:startJobRun[.sync]` (wired in
`podium.integrations`)."""

from __future__ import annotations

from typing import Any

from podium.errors import ValidationError
from podium.ingest.batch.runner import RunResult, get_run, run_job

_OPTIONS = {"job-bookmark-enable": "enable", "job-bookmark-disable": "disable", "job-bookmark-pause": "pause"}


def bookmark_argument(arguments: dict[str, Any] | None) -> str | None:
    """The bookmark option named by Glue's `--job-bookmark-option` argument, if any."""
    if not arguments:
        return None
    unknown = [k for k in arguments if k not in ("--job-bookmark-option", "--job-bookmark-from", "--job-bookmark-to")]
    if unknown:
        raise ValidationError(f"Arguments {unknown} are not supported; only the --job-bookmark-* ones are")
    value = arguments.get("--job-bookmark-option")
    if value is None:
        return None
    if value not in _OPTIONS:
        raise ValidationError(f"--job-bookmark-option {value!r}: use one of {sorted(_OPTIONS)}")
    return _OPTIONS[value]


def job_run(result: RunResult | dict[str, Any]) -> dict[str, Any]:
    """A run in the shape of Glue's JobRun."""
    r = result.to_dict() if isinstance(result, RunResult) else result
    state = r["status"]  # RUNNING, SUCCEEDED, FAILED, STOPPED or TIMEOUT: Glue's JobRunState names
    return {
        "Id": r.get("run_id") or r.get("id"),
        "JobName": r["job_name"],
        "JobRunState": state,
        "Attempt": int((r.get("details") or {}).get("attempt") or 0),
        "PreviousRunId": (r.get("details") or {}).get("previous_run_id"),
        "ExecutionTime": round(r.get("duration_seconds") or 0.0),
        "ErrorMessage": r.get("error"),
        "Podium": {k: r.get(k) for k in ("rows_read", "rows_written", "rows_quarantined", "rows_filtered",
                                         "files_read", "bytes_written")},
    }


def start_job_run(settings: Any, store: Any, parameters: dict[str, Any]) -> dict[str, Any]:
    """Run the job named by `JobName` to completion and return its JobRun (the `.sync`
    behaviour; the caller decides whether to wait for this in the background).
    `Timeout` (minutes) overrides the job's timeout for this run, as in Glue."""
    name = parameters.get("JobName")
    if not isinstance(name, str) or not name:
        raise ValidationError("glue:startJobRun needs Parameters.JobName")
    arguments = parameters.get("Arguments") or {}
    start, end = arguments.get("--job-bookmark-from"), arguments.get("--job-bookmark-to")
    if (start is None) != (end is None):
        raise ValidationError("give both --job-bookmark-from and --job-bookmark-to, or neither")
    span = (str(start), str(end)) if start is not None and end is not None else None
    timeout = parameters.get("Timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))):
        raise ValidationError("glue:startJobRun Parameters.Timeout must be a number of minutes")
    result = run_job(
        settings, store, name, bookmark=bookmark_argument(arguments), bookmark_range=span,  # type: ignore[arg-type]
        timeout_minutes=timeout,
    )
    return job_run(result)


def get_job_run(store: Any, run_id: str) -> dict[str, Any]:
    """GetJobRun: a recorded run as a JobRun."""
    return job_run(get_run(store, run_id))
