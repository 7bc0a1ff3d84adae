"""Call Python functions the way Step Functions calls AWS Lambda, for the in-memory runner.

A function is `handler(event, context)`. Task states reach it either through the optimized
integration `arn:aws:states:::lambda:invoke` (the result is wrapped in the SDK response:
Payload, StatusCode, ExecutedVersion, SdkHttpMetadata, SdkResponseMetadata) or through a plain
function ARN (the result is the payload itself). A raised exception becomes the error Lambda's
Python runtime reports: error = the exception class name, cause = JSON with errorMessage,
errorType, requestId and stackTrace. Volatile response headers carry fixed values so a run is
reproducible.

The pieces (`parse_request`, `wrap_result`, `handler_error`, `not_found`) are public so that a
runner calling functions elsewhere (the engine's process pool) shares one definition of the shape.
"""

from __future__ import annotations

import contextlib
import json
import traceback
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from podium.asl.errors import AslRuntimeError

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"

Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """The fields of Lambda's context object a handler is most likely to read."""

    def __init__(self, function_name: str, request_id: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.aws_request_id = request_id
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:111111111111:function:{function_name}"
        self.memory_limit_in_mb = 128

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def function_name(name_or_arn: str) -> str:
    """`fn`, `fn:alias`, `arn:aws:lambda:r:a:function:fn[:qualifier]` -> `fn`."""
    if ":function:" in name_or_arn:
        return name_or_arn.split(":function:", 1)[1].split(":", 1)[0]
    if name_or_arn.startswith("arn:"):
        return name_or_arn.rsplit(":", 1)[-1]
    return name_or_arn.split(":", 1)[0]


def is_lambda_resource(resource: str) -> bool:
    base = resource.removesuffix(".waitForTaskToken")
    return base == LAMBDA_INVOKE or (resource.startswith("arn:") and ":lambda:" in resource and ":function:" in resource)


def parse_request(resource: str, task_input: Any) -> tuple[str, Any, bool]:
    """(function name or ARN, event payload, through the lambda:invoke integration?)."""
    integration = resource.removesuffix(".waitForTaskToken") == LAMBDA_INVOKE
    if not integration:
        return resource, task_input, False
    if not isinstance(task_input, Mapping) or not isinstance(task_input.get("FunctionName"), str):
        raise AslRuntimeError("States.Runtime", "The lambda:invoke integration needs a FunctionName parameter")
    payload = task_input.get("Payload", {})
    if isinstance(payload, str):
        with contextlib.suppress(ValueError):
            payload = json.loads(payload)
    return task_input["FunctionName"], payload, True


def not_found(name: str) -> AslRuntimeError:
    return AslRuntimeError(
        "Lambda.ResourceNotFoundException",
        f"Function not found: arn:aws:lambda:us-east-1:111111111111:function:{name}:$LATEST "
        f"(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; "
        f"Request ID: {uuid.uuid4()}; Proxy: null)",
    )


def handler_error(error_type: str, message: str, request_id: str, stack_trace: list[str],
                  integration: bool) -> AslRuntimeError:
    """The failure Step Functions reports for an exception raised by a Python handler."""
    report = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack_trace}
    separators = (",", ":") if integration else (", ", ": ")
    return AslRuntimeError(error_type, json.dumps(report, separators=separators))


def wrap_result(result: Any, integration: bool, fresh: bool = False) -> Any:
    """What the Task state sees: the payload itself, or the lambda:invoke SDK response.
    `fresh`: `result` was just decoded from the function's JSON reply (a function process's),
    so it already is the fresh decoding the payload must be."""
    if fresh and not integration:
        return result
    body = bytes(result).decode() if isinstance(result, (bytes, bytearray)) else json.dumps(result)
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = body
    if not integration:
        return decoded
    length = str(len(body.encode()))
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": decoded,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": "x-amzn-RequestId",
                "Content-Length": [length],
                "Date": "date",
                "X-Amzn-Trace-Id": "X-Amzn-Trace-Id",
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/json",
                "Date": "date",
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": "x-amzn-RequestId",
                "X-Amzn-Trace-Id": "X-Amzn-Trace-Id",
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": "RequestId"},
        "StatusCode": 200,
    }


def invoke(functions: Mapping[str, Handler], resource: str, task_input: Any) -> Any:
    """Run the Lambda a Task state names in this process; failures as Step Functions reports them."""
    target, payload, integration = parse_request(resource, task_input)
    name = function_name(target)
    handler = functions.get(target) or functions.get(name)
    if handler is None:
        raise not_found(name)
    request_id = str(uuid.uuid4())
    # Lambda hands the handler a fresh decoding of the JSON it was sent.
    event = json.loads(json.dumps(payload))
    try:
        result = handler(event, LambdaContext(name, request_id))
    except Exception as exc:  # noqa: BLE001 - every handler error becomes a task failure
        frames = traceback.extract_tb(exc.__traceback__)[1:]
        raise handler_error(type(exc).__name__, str(exc), request_id, traceback.format_list(frames), integration) from None
    return wrap_result(result, integration)
