"""Task resources: turn a Task state's `Resource` ARN and input into a call, and its result back.

- `arn:aws:states:::lambda:invoke` (Parameters `FunctionName`, `Payload`): the function runs
  in the FunctionPool and its result is wrapped as Step Functions wraps Lambda's response
  (`Payload`, `StatusCode`, `ExecutedVersion`, SDK metadata).
- `arn:aws:lambda:<region>:<account>:function:<name>[:qualifier]` or a bare function name: the
  result is the function's return value itself.
- `.waitForTaskToken` on either: the function is called, then the task waits for
  SendTaskSuccess/SendTaskFailure with the token (`$$.Task.Token`).
- Any other resource must be registered with `ResourceRouter.register(arn, handler)`; a
  resource nobody registered fails the task with `States.Runtime`.

The Lambda request/response shape is `podium.asl.lambdas`' (one definition for the in-memory
runner and the engine); only the call itself differs: here it runs in a subprocess.
A registered handler gets its own copy of the input: the rendered Parameters may share
objects with the compiled definition, which a handler mutating its input would corrupt.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from podium.asl import lambdas
from podium.asl.errors import AslRuntimeError
from podium.engine.executors.base import TaskOutcome, TaskRequest
from podium.functions import FunctionError, FunctionPool, FunctionRegistry

WAIT_FOR_TOKEN = ".waitForTaskToken"

ResourceHandler = Callable[[Any], Any]


class ResourceRouter:
    """Performs Task calls: functions through `pool`, other resources through registered handlers."""

    def __init__(self, functions: FunctionRegistry, pool: FunctionPool) -> None:
        self.functions = functions
        self.pool = pool
        self._handlers: dict[str, ResourceHandler] = {}

    def register(self, resource: str, handler: ResourceHandler) -> None:
        """Handle Task states whose Resource is `resource` with `handler(input) -> output`."""
        self._handlers[resource] = handler

    def run(self, request: TaskRequest) -> TaskOutcome:
        resource = request.resource
        base = resource.removesuffix(WAIT_FOR_TOKEN)
        waiting = resource.endswith(WAIT_FOR_TOKEN)
        handler = self._handlers.get(resource) or self._handlers.get(base)
        if handler is not None:
            try:
                output = handler(json.loads(json.dumps(request.input)))
            except Exception as exc:  # a resource's failure is the task's failure
                return TaskOutcome(error=type(exc).__name__, cause=str(exc))
            return TaskOutcome(waiting=True) if waiting else TaskOutcome(output=output)
        if lambdas.is_lambda_resource(resource) or ":" not in resource:
            outcome = self._invoke_function(request, base)
            if waiting and not outcome.failed:
                return TaskOutcome(waiting=True)
            return outcome
        return TaskOutcome(
            error="States.Runtime",
            cause=f"No handler for the Task resource '{resource}' in this Podium worker",
        )

    def _invoke_function(self, request: TaskRequest, resource: str) -> TaskOutcome:
        try:
            target, payload, integration = lambdas.parse_request(resource, request.input)
        except AslRuntimeError as exc:
            return TaskOutcome(error=exc.error, cause=exc.cause)
        name = lambdas.function_name(target)
        if name not in self.functions:
            missing = lambdas.not_found(name)
            return TaskOutcome(error=missing.error, cause=missing.cause)
        spec = self.functions.get(name)
        request_id = str(uuid.uuid4())
        try:
            result = self.pool.invoke(
                spec, payload, request_id=request_id, timeout_seconds=request.timeout_seconds
            )
        except FunctionError as exc:
            if not exc.raised_by_handler:
                return TaskOutcome(error=exc.error, cause=exc.cause)
            failure = lambdas.handler_error(exc.error, exc.cause, request_id, exc.stack_trace, integration)
            return TaskOutcome(error=failure.error, cause=failure.cause)
        return TaskOutcome(output=lambdas.wrap_result(result, integration))
