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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podium.asl import lambdas
from podium.asl.errors import AslRuntimeError
from podium.engine.executors.base import TaskOutcome, TaskRequest
from podium.functions import FunctionError, FunctionPool, FunctionRegistry, Invocation
from podium.functions.pool import new_request_id

WAIT_FOR_TOKEN = ".waitForTaskToken"

ResourceHandler = Callable[[Any], Any]


class ResourceRouter:
    """Performs Task calls: functions through `pool`, other resources through registered handlers."""

    def __init__(self, functions: FunctionRegistry, pool: FunctionPool) -> None:
        self.functions = functions
        self.pool = pool
        self._handlers: dict[str, ResourceHandler] = {}
        # What each Resource string names, worked out at its first call (a chain calls the
        # same few again and again); cleared when a handler is registered.
        self._routes: dict[str, _Route] = {}

    def register(self, resource: str, handler: ResourceHandler) -> None:
        """Handle Task states whose Resource is `resource` with `handler(input) -> output`."""
        self._handlers[resource] = handler
        self._routes.clear()

    def run(self, request: TaskRequest) -> TaskOutcome:
        """Perform the call, blocking until its outcome."""
        started = self.start(request, block=True)
        if isinstance(started, TaskOutcome):
            return started
        if isinstance(started, PendingCall):
            return self.finish(started)
        return self._run_handler(request)

    def start(
        self, request: TaskRequest, *, block: bool = False, defer: bool = False
    ) -> TaskOutcome | PendingCall | object | None:
        """Begin the call without waiting for it, where that needs no thread.

        Returns a TaskOutcome when the call is already decided (a bad request, an unknown
        function), a PendingCall for a function invocation now running in a subprocess
        (`finish` it once `connection` is readable or its deadline passed), BUSY when no
        function slot is free right now (without `block`), or None for a registered
        handler, which runs in the caller's thread (`run`). With `defer`, the call reaches its
        process at the next `flush()`.
        """
        resource = request.resource
        route = self._routes.get(resource)
        if route is None:
            route = self._routes[resource] = self._route(resource)
        if route is _HANDLER:
            return None
        if route is _UNKNOWN:
            return TaskOutcome(
                error="States.Runtime",
                cause=f"No handler for the Task resource '{resource}' in this Podium worker",
            )
        name, integration, waiting = route
        payload = request.input
        if integration:
            try:
                target, payload, _ = lambdas.parse_request(resource.removesuffix(WAIT_FOR_TOKEN), payload)
            except AslRuntimeError as exc:
                return TaskOutcome(error=exc.error, cause=exc.cause)
            name = lambdas.function_name(target)
        spec = self.functions.find(name)
        if spec is None:
            missing = lambdas.not_found(name)
            return TaskOutcome(error=missing.error, cause=missing.cause)
        request_id = new_request_id()
        try:
            invocation = self.pool.start(
                spec, payload, request_id=request_id,
                timeout_seconds=request.timeout_seconds, block=block, defer=defer,
            )
        except FunctionError as exc:
            return TaskOutcome(error=exc.error, cause=exc.cause)
        if invocation is None:
            return BUSY
        return PendingCall(request, invocation, integration, request_id, waiting)

    def _route(self, resource: str) -> _Route:
        """What `resource` names: a registered handler, a function (its name, unless the
        lambda:invoke integration takes it from the input), or nothing known."""
        base = resource.removesuffix(WAIT_FOR_TOKEN)
        if resource in self._handlers or base in self._handlers:
            return _HANDLER
        if not (lambdas.is_lambda_resource(resource) or ":" not in resource):
            return _UNKNOWN
        # As `lambdas.parse_request` tells them apart; an integration's function is its input's.
        integration = base == lambdas.LAMBDA_INVOKE
        return ("" if integration else lambdas.function_name(base), integration, base != resource)

    def finish(self, call: PendingCall) -> TaskOutcome:
        """The outcome of a started function call (waits for it until its deadline)."""
        try:
            result = self.pool.result(call.invocation)
        except FunctionError as exc:
            if not exc.raised_by_handler:
                return TaskOutcome(error=exc.error, cause=exc.cause)
            failure = lambdas.handler_error(exc.error, exc.cause, call.request_id, exc.stack_trace,
                                            call.integration)
            return TaskOutcome(error=failure.error, cause=failure.cause)
        if call.waiting:
            return TaskOutcome(waiting=True)
        return TaskOutcome(output=lambdas.wrap_result(result, call.integration, fresh=True))

    def flush(self) -> None:
        """Send the calls started with `defer`."""
        self.pool.flush()

    def ready(self, call: PendingCall, readable: bool | None = None) -> bool:
        """True when `finish(call)` will not wait (see `FunctionPool.ready`, and its `readable`)."""
        return self.pool.ready(call.invocation, readable)

    def abandon(self, call: PendingCall) -> None:
        self.pool.abandon(call.invocation)

    def _run_handler(self, request: TaskRequest) -> TaskOutcome:
        resource = request.resource
        handler = self._handlers.get(resource) or self._handlers[resource.removesuffix(WAIT_FOR_TOKEN)]
        try:
            output = handler(json.loads(json.dumps(request.input)))
        except AslRuntimeError as exc:  # an integration's own ASL error name and cause
            return TaskOutcome(error=exc.error, cause=exc.cause)
        except Exception as exc:  # any other failure of a resource is the task's failure
            return TaskOutcome(error=type(exc).__name__, cause=str(exc))
        return TaskOutcome(waiting=True) if resource.endswith(WAIT_FOR_TOKEN) else TaskOutcome(output=output)


# ResourceRouter.start: no function slot is free right now.
BUSY = object()

# ResourceRouter._route: a registered handler's resource; one nobody handles. Otherwise
# (function name or "" for the lambda:invoke integration, integration?, .waitForTaskToken?).
_HANDLER = ("handler", False, False)
_UNKNOWN = ("unknown", False, False)
_Route = tuple[str, bool, bool]


@dataclass(slots=True)
class PendingCall:
    """A function invocation started by `ResourceRouter.start`."""

    request: TaskRequest
    invocation: Invocation
    integration: bool
    request_id: str
    waiting: bool

    @property
    def connection(self) -> Any:
        return self.invocation.connection

    @property
    def deadline(self) -> float:
        """time.monotonic() after which `finish` gives States.Timeout at once."""
        return self.invocation.deadline
