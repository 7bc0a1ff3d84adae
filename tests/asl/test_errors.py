from podium.asl.errors import (
    ALL_STATES_ERRORS,
    NOT_CATCHABLE,
    STATES_RUNTIME,
    STATES_TASK_FAILED,
    AslRuntimeError,
)


def test_runtime_error_carries_error_and_cause() -> None:
    exc = AslRuntimeError(STATES_TASK_FAILED, "boom")
    assert exc.error == "States.TaskFailed"
    assert exc.cause == "boom"
    assert str(exc) == "States.TaskFailed: boom"
    assert repr(exc) == "AslRuntimeError('States.TaskFailed', 'boom')"


def test_cause_defaults_to_empty() -> None:
    exc = AslRuntimeError("Custom.Error")
    assert exc.cause == ""
    assert str(exc) == "Custom.Error"


def test_error_name_sets() -> None:
    assert STATES_RUNTIME in NOT_CATCHABLE
    # An oversized task result is caught by States.ALL on AWS (test_states_errors snapshots).
    assert "States.DataLimitExceeded" not in NOT_CATCHABLE
    assert NOT_CATCHABLE <= ALL_STATES_ERRORS
    assert {"States.ALL", "States.QueryEvaluationError", "States.IntrinsicFailure"} <= ALL_STATES_ERRORS
    assert all(name.startswith("States.") for name in ALL_STATES_ERRORS)
