"""The error a failed invocation raises: an ASL error name and cause, as Lambda reports them.

| what happened                          | error                          |
|----------------------------------------|--------------------------------|
| the handler raised `KeyError("x")`     | `KeyError` (the class name); cause = the message |
| the handler ran past its timeout       | `States.Timeout`               |
| the worker process died (exit, signal) | `Runtime.ExitError`            |
| the result is not JSON-serialisable    | `Runtime.MarshalError`         |
| the handler cannot be imported         | `Runtime.ImportModuleError`    |
| no function has that name              | `Lambda.ResourceNotFoundException` |
"""

from __future__ import annotations

TIMEOUT = "States.Timeout"
EXIT_ERROR = "Runtime.ExitError"
MARSHAL_ERROR = "Runtime.MarshalError"
IMPORT_ERROR = "Runtime.ImportModuleError"
NOT_FOUND = "Lambda.ResourceNotFoundException"


class FunctionError(Exception):
    """An invocation failed; `error` and `cause` become the Task state's Error and Cause."""

    def __init__(self, error: str, cause: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.stack_trace = stack_trace or []

    @property
    def raised_by_handler(self) -> bool:
        """True when the handler's own exception failed it (not a timeout, crash or import)."""
        return not self.error.startswith(("Runtime.", "States.", "Lambda."))
