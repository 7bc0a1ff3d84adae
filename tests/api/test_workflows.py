"""HTTP routes of the engine: /workflows and /executions, including task-token callbacks."""

from __future__ import annotations

from fastapi.testclient import TestClient

from podium.api import create_app
from podium.config import Settings
from podium.engine import Worker
from podium.store import Store

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": 1}, "End": True}}}
CALLBACK = {"StartAt": "Ask", "States": {"Ask": {
    "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sqs:sendMessage.waitForTaskToken",
    "Parameters": {"token.$": "$$.Task.Token"}, "End": True}}}


def test_workflow_lifecycle_over_http(settings: Settings, store: Store) -> None:
    app = create_app(settings, store)
    client = TestClient(app)
    created = client.post("/workflows", json={"name": "m", "definition": PASS, "publish": True})
    assert created.status_code == 201 and created.json()["name"] == "m"
    bad = client.post("/workflows", json={"name": "bad", "definition": {"StartAt": "X", "States": {}}})
    assert bad.status_code == 400
    assert client.post("/workflows", json={"name": "m", "definition": CALLBACK}).json()["code"] == "StateMachineAlreadyExists"
    assert [m["name"] for m in client.get("/workflows").json()] == ["m"]
    assert client.get("/workflows/m").json()["versions"] == [1]
    alias = client.put("/workflows/m/aliases/prod", json={"routing": [{"version": 1, "weight": 100}]})
    assert alias.status_code == 200, alias.text
    started = client.post("/workflows/m:prod/executions", json={"input": {"a": 1}, "name": "r1"})
    assert started.status_code == 201 and started.json()["status"] == "SUCCEEDED"
    arn = started.json()["arn"]
    assert client.get(f"/executions/{arn}").json()["output"] == {"v": 1}
    events = client.get(f"/executions/{arn}/history", params={"reverse": True, "limit": 1}).json()
    assert events["events"][0]["type"] == "ExecutionSucceeded" and events["next_token"]
    listed = client.get("/executions", params={"state_machine": "m"}).json()
    assert [e["name"] for e in listed["executions"]] == ["r1"]
    assert client.get("/executions/arn:aws:states:local:000000000000:execution:m:nope").status_code == 404
    assert client.delete("/workflows/m").status_code == 204
    assert client.get("/workflows/m").status_code == 404


def test_callbacks_stop_and_redrive_over_http(settings: Settings, store: Store) -> None:
    app = create_app(settings, store)
    client = TestClient(app)
    client.post("/workflows", json={"name": "cb", "definition": CALLBACK})
    engine = app.state.podium.services.get("engine")
    engine.router.register("arn:aws:states:::aws-sdk:sqs:sendMessage", lambda payload: {})
    first = client.post("/workflows/cb/executions", json={"name": "one"}).json()["arn"]
    second = client.post("/workflows/cb/executions", json={"name": "two"}).json()["arn"]
    worker = Worker(engine, poll_interval=0.01)
    for _ in range(20):
        worker.run_once()
    tokens = {}
    for arn in (first, second):
        history = client.get(f"/executions/{arn}/history").json()["events"]
        tokens[arn] = next(e for e in history if e["type"] == "TaskScheduled")["details"]["parameters"]["token"]
    assert client.post("/executions/task-heartbeat", json={"token": tokens[first]}).status_code == 200
    ok = client.post("/executions/task-success", json={"token": tokens[first], "output": {"yes": 1}})
    assert ok.status_code == 200
    failed = client.post("/executions/task-failure", json={"token": tokens[second], "error": "No", "cause": "c"})
    assert failed.status_code == 200
    assert client.post("/executions/task-success", json={"token": "nope"}).status_code == 404
    assert client.get(f"/executions/{first}").json()["output"] == {"yes": 1}
    assert client.get(f"/executions/{second}").json()["error"] == "No"
    redriven = client.post(f"/executions/{second}/redrive")
    assert redriven.status_code == 200 and redriven.json()["status"] == "RUNNING"
    stopped = client.post(f"/executions/{second}/stop", json={"error": "E", "cause": "C"}).json()
    assert (stopped["status"], stopped["error"]) == ("ABORTED", "E")
    assert client.post(f"/executions/{second}/stop").status_code == 409
    worker.close()
    engine.close()


def test_workflows_deploy_to_the_servers_own_endpoint_service(settings: Settings, store: Store) -> None:
    # Endpoints a workflow creates must be the ones /endpoints/{name}/invocations routes to.
    from podium.api.serving import service_for
    from podium.api.workflows import engine_of

    context = create_app(settings, store).state.podium
    handler = engine_of(context).router._handlers["arn:aws:states:::sagemaker:createEndpoint"]
    assert handler.__self__.endpoints is service_for(context)
