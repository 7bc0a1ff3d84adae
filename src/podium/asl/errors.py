"""Runtime errors raised while a state machine executes.

API:
    AslRuntimeError(error, cause="")  -- `.error` is a States.* name (or a task's own
        error name), `.cause` the human-readable text AWS would report.
    STATES_* constants                -- the built-in error names, e.g. STATES_RUNTIME.
    ALL_STATES_ERRORS                 -- frozenset of every built-in name.
    NOT_CATCHABLE                     -- errors that States.ALL / States.TaskFailed never match.
    error_output(error, cause)        -- the {"Error", "Cause"} object a Catch passes on.

These are not `PodiumError`s: a runtime error is an outcome of the workflow (it may be
retried, caught, or fail the execution), not a mistake Podium reports to its user.
Bad definitions are reported before anything runs with `podium.errors.ValidationError`.
"""

from __future__ import annotations

from typing import Any

STATES_ALL = "States.ALL"
STATES_RUNTIME = "States.Runtime"
STATES_TASK_FAILED = "States.TaskFailed"
STATES_TIMEOUT = "States.Timeout"
STATES_HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
STATES_RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
STATES_PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
STATES_QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
STATES_BRANCH_FAILED = "States.BranchFailed"
STATES_NO_CHOICE_MATCHED = "States.NoChoiceMatched"
STATES_INTRINSIC_FAILURE = "States.IntrinsicFailure"
STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
STATES_ITEM_READER_FAILED = "States.ItemReaderFailed"
STATES_RESULT_WRITER_FAILED = "States.ResultWriterFailed"
STATES_DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
STATES_PERMISSIONS = "States.Permissions"

ALL_STATES_ERRORS: frozenset[str] = frozenset(
    {
        STATES_ALL,
        STATES_RUNTIME,
        STATES_TASK_FAILED,
        STATES_TIMEOUT,
        STATES_HEARTBEAT_TIMEOUT,
        STATES_RESULT_PATH_MATCH_FAILURE,
        STATES_PARAMETER_PATH_FAILURE,
        STATES_QUERY_EVALUATION_ERROR,
        STATES_BRANCH_FAILED,
        STATES_NO_CHOICE_MATCHED,
        STATES_INTRINSIC_FAILURE,
        STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD,
        STATES_ITEM_READER_FAILED,
        STATES_RESULT_WRITER_FAILED,
        STATES_DATA_LIMIT_EXCEEDED,
        STATES_PERMISSIONS,
    }
)

# AWS: "States.Runtime ... can't be caught/retried by States.ALL". States.DataLimitExceeded is
# not listed: an oversized task result is caught by a States.ALL catcher on AWS (LocalStack's
# AWS-validated test_states_errors snapshots); the oversized execution input/output and Pass
# results that also raise it fail the execution directly.
NOT_CATCHABLE: frozenset[str] = frozenset({STATES_RUNTIME})


class AslRuntimeError(Exception):
    """A failure inside an execution, named the way Step Functions names it."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause

    def __repr__(self) -> str:
        return f"AslRuntimeError({self.error!r}, {self.cause!r})"


class TerminalError(AslRuntimeError):
    """A failure that no Retry or Catch handles: it fails the execution at once. Raised for
    States.DataLimitExceeded on a state's input or output, which AWS calls a terminal error."""


class StateFailure(Exception):
    """Internal to the step function: the current state failed with this error and cause as
    they are (a Map/Parallel passing on a branch's failure), without the state prefix that an
    AslRuntimeError's cause gets."""

    def __init__(self, error: str | None, cause: str | None) -> None:
        super().__init__(error)
        self.error = error
        self.cause = cause


def error_output(error: str | None, cause: str | None) -> dict[str, Any]:
    """The {"Error", "Cause"} object a Catch (or a tolerated Map iteration) passes on."""
    out: dict[str, Any] = {}
    if error is not None:
        out["Error"] = error
    if cause is not None:
        out["Cause"] = cause
    return out
