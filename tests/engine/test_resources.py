"""Task resources: Lambda-shaped calls into the function pool, registered handlers, unknown ARNs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from podium.engine.executors.base import TaskRequest
from podium.engine.resources import ResourceRouter
from podium.functions import FunctionPool, FunctionRegistry, FunctionSpec


@pytest.fixture
def router(handlers_module: str) -> Iterator[ResourceRouter]:
    registry = FunctionRegistry([
        FunctionSpec("double", f"{handlers_module}:double"),
        FunctionSpec("boom", f"{handlers_module}:boom"),
    ])
    with FunctionPool(1) as pool:
        yield ResourceRouter(registry, pool)


def call(router: ResourceRouter, resource: str, task_input: object):  # type: ignore[no-untyped-def]
    return router.run(TaskRequest("arn:x", "t0", resource, task_input))


def test_lambda_invoke_is_wrapped_like_step_functions(router: ResourceRouter) -> None:
    outcome = call(router, "arn:aws:states:::lambda:invoke",
                   {"FunctionName": "arn:aws:lambda:us-east-1:1:function:double", "Payload": {"x": 2}})
    assert outcome.output["Payload"] == {"x": 4}
    assert outcome.output["StatusCode"] == 200 and outcome.output["ExecutedVersion"] == "$LATEST"
    assert call(router, "arn:aws:lambda:us-east-1:1:function:double", {"x": 3}).output == {"x": 6}
    assert call(router, "double", {"x": 4}).output == {"x": 8}


def test_errors(router: ResourceRouter) -> None:
    failed = call(router, "arn:aws:states:::lambda:invoke", {"FunctionName": "boom", "Payload": {}})
    assert failed.error == "ValueError" and '"errorType":"ValueError"' in failed.cause
    assert call(router, "arn:aws:states:::lambda:invoke", {"Payload": {}}).error == "States.Runtime"
    assert call(router, "nothere", {}).error == "Lambda.ResourceNotFoundException"
    unknown = call(router, "arn:aws:states:::sns:publish", {})
    assert unknown.error == "States.Runtime" and "sns:publish" in unknown.cause


def test_registered_handlers_and_wait_for_token(router: ResourceRouter) -> None:
    seen = []

    def publish(message: dict) -> dict:
        message["mutated"] = True  # must not leak into the caller's (compiled) input
        seen.append(message)
        return {"MessageId": "1"}

    router.register("arn:aws:states:::sns:publish", publish)
    original = {"Message": "hi"}
    assert call(router, "arn:aws:states:::sns:publish", original).output == {"MessageId": "1"}
    assert original == {"Message": "hi"}
    waiting = call(router, "arn:aws:states:::sns:publish.waitForTaskToken", {"Message": "t"})
    assert waiting.waiting and waiting.output is None
    assert call(router, "arn:aws:states:::lambda:invoke.waitForTaskToken",
                {"FunctionName": "double", "Payload": {"x": 1}}).waiting


def test_a_resource_routed_to_a_function_goes_to_a_handler_registered_later(router: ResourceRouter) -> None:
    # The router remembers what a Resource names after its first call; registering forgets it.
    assert call(router, "double", {"x": 5}).output == {"x": 10}
    router.register("double", lambda task_input: {"handled": task_input["x"]})
    assert call(router, "double", {"x": 5}).output == {"handled": 5}
    router.functions.add(FunctionSpec("late", router.functions.get("double").target))
    assert call(router, "nothere", {}).error == "Lambda.ResourceNotFoundException"
    assert call(router, "arn:aws:lambda:us-east-1:1:function:late", {"x": 1}).output == {"x": 2}
