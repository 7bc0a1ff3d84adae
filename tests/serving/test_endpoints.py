"""Endpoints with real model worker processes: invoke, canary and linear deployments under
load with zero failed requests, alarm-driven rollback, and a killed worker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.config import Settings
from podium.errors import ValidationError
from podium.metrics import Alarm
from podium.metrics.series import dims
from podium.models import ModelRegistry
from podium.serving import EndpointService, Router
from podium.store import Store

pytestmark = pytest.mark.slow


class Load:
    """Invokes an endpoint continuously from a background event loop; records every reply."""

    def __init__(self, router: Router, endpoint: str) -> None:
        self.router, self.endpoint = router, endpoint
        self.replies: list[tuple[float, int, str | None]] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._stop = False

    def call(self, body: bytes, content_type: str = "application/json", **kw):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(
            self.router.invoke(self.endpoint, body, content_type, "application/json", **kw), self.loop
        ).result(30)

    async def _hammer(self, concurrency: int) -> None:
        async def one() -> None:
            while not self._stop:
                reply = await self.router.invoke(self.endpoint, b"[[0.5, 0.1]]", "application/json",
                                                 "application/json")
                self.replies.append((time.monotonic(), reply.status, reply.config_name))
        await asyncio.gather(*(one() for _ in range(concurrency)))

    def start(self, concurrency: int = 4) -> None:
        self._future = asyncio.run_coroutine_threadsafe(self._hammer(concurrency), self.loop)

    def stop(self) -> None:
        self._stop = True
        self._future.result(30)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.router.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def service(settings: Settings, store: Store) -> Iterator[EndpointService]:
    svc = EndpointService(settings, store, Router(), drain_timeout=10)
    yield svc
    svc.shutdown()


def register(store: Store, artifact: Path) -> str:
    registry = ModelRegistry(store)
    registry.create_group("propensity", exist_ok=True)
    return registry.register("propensity", artifact_uri=str(artifact))["ModelPackage"]


def test_invoke_json_and_csv(service: EndpointService, store: Store, good_model: Path) -> None:
    version = register(store, good_model)
    service.create_endpoint_config("cfg-1", [{"VariantName": "AllTraffic", "ModelVersion": version,
                                              "InitialInstanceCount": 1}])
    described = service.create_endpoint("ep", "cfg-1")
    assert described["EndpointStatus"] == "InService"
    load = Load(service.router, "ep")
    try:
        reply = load.call(b'{"instances": [[2.0, 0.0], [-2.0, 0.0]]}')
        assert reply.status == 200 and reply.variant == "AllTraffic"
        high, low = json.loads(reply.body)["predictions"]
        assert high > 0.5 > low
        csv_reply = load.call(b"2.0,0.0\n-2.0,0.0\n", "text/csv")
        assert json.loads(csv_reply.body)["predictions"][0] > 0.5
        bad = load.call(b"not json")
        assert bad.status == 400 and json.loads(bad.body)["code"] == "ModelError"
    finally:
        load.close()
    assert "podium_invocations_total" in service.router.prometheus()


def shares_seen(replies: list[tuple[float, int, str | None]], start: float, end: float) -> float:
    window = [r for r in replies if start <= r[0] < end]
    return sum(1 for r in window if r[2] == "cfg-2") / max(1, len(window))


def test_canary_completes_with_zero_failures(service: EndpointService, store: Store, good_model: Path,
                                             other_good_model: Path) -> None:
    v1, v2 = register(store, good_model), register(store, other_good_model)
    service.create_endpoint_config("cfg-1", [{"VariantName": "AllTraffic", "ModelVersion": v1}])
    service.create_endpoint_config("cfg-2", [{"VariantName": "AllTraffic", "ModelVersion": v2,
                                              "InitialInstanceCount": 2}])
    service.create_endpoint("ep", "cfg-1")
    load = Load(service.router, "ep")
    load.start()
    try:
        service.update_endpoint("ep", "cfg-2", {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
            "Type": "CANARY", "WaitIntervalInSeconds": 2,
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25}}}}, wait=True)
        time.sleep(0.3)
    finally:
        load.stop()
        load.close()
    assert [s for _, s, _ in load.replies if s != 200] == []
    described = service.describe_endpoint("ep")
    assert described["EndpointConfigName"] == "cfg-2" and described["EndpointStatus"] == "InService"
    [_, deployment] = service.deployments("ep")  # after the creation
    assert deployment["outcome"] == "Succeeded"
    shifts = [e for e in deployment["events"] if e["kind"] == "TrafficShifted"]
    assert [e["green_share"] for e in shifts] == [0.25, 1.0]
    # Traffic during the canary bake (skipping the first moments after the shift) is ~25% green.
    canary_start = shifts[0]["time"].timestamp() if hasattr(shifts[0]["time"], "timestamp") else 0
    assert canary_start
    replies = load.replies
    mono_offset = time.time() - time.monotonic()
    start = canary_start - mono_offset + 0.3
    share = shares_seen(replies, start, start + 1.4)
    assert 0.15 <= share <= 0.35, share


def test_linear_deployment_steps(service: EndpointService, store: Store, good_model: Path,
                                 other_good_model: Path) -> None:
    v1, v2 = register(store, good_model), register(store, other_good_model)
    service.create_endpoint_config("cfg-1", [{"VariantName": "AllTraffic", "ModelVersion": v1}])
    service.create_endpoint_config("cfg-2", [{"VariantName": "AllTraffic", "ModelVersion": v2}])
    service.create_endpoint("ep", "cfg-1")
    load = Load(service.router, "ep")
    load.start()
    try:
        service.update_endpoint("ep", "cfg-2", {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
            "Type": "LINEAR", "WaitIntervalInSeconds": 0.5,
            "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50}}}}, wait=True)
    finally:
        load.stop()
        load.close()
    assert [s for _, s, _ in load.replies if s != 200] == []
    [_, deployment] = service.deployments("ep")  # after the creation
    assert [e["green_share"] for e in deployment["events"] if e["kind"] == "TrafficShifted"] == [0.5, 1.0]


def test_broken_model_trips_alarm_and_rolls_back(settings: Settings, store: Store, good_model: Path,
                                                 flaky_model: Path) -> None:
    v1, v2 = register(store, good_model), register(store, flaky_model)
    # The endpoint and its alarm are made by a server that then stops; the restarted one restores
    # the endpoint and still rolls the deployment back on that alarm (kept in the store).
    earlier = EndpointService(settings, store, Router(), drain_timeout=5)
    try:
        earlier.create_endpoint_config("cfg-1", [{"VariantName": "AllTraffic", "ModelVersion": v1}])
        earlier.create_endpoint_config("cfg-2", [{"VariantName": "AllTraffic", "ModelVersion": v2}])
        earlier.create_endpoint("ep", "cfg-1")
        earlier.put_alarm(Alarm("green-5xx", "Invocation5XXErrors",
                                dims(EndpointName="ep", EndpointConfigName="cfg-2"), "Sum", threshold=0.01,
                                denominator="Invocations", period_seconds=5, min_samples=5))
    finally:
        earlier.shutdown()
    service = EndpointService(settings, store, Router(), drain_timeout=10)
    assert service.restore() == ["ep"]
    assert [a.name for a in service.list_alarms()] == ["green-5xx"]
    load = Load(service.router, "ep")
    load.start()
    try:
        service.update_endpoint("ep", "cfg-2", {
            "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
                "Type": "CANARY", "WaitIntervalInSeconds": 10,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50}}},
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "green-5xx"}]}}, wait=True)
        time.sleep(0.3)
    finally:
        load.stop()
        load.close()
        service.shutdown()
    described = service.describe_endpoint("ep")
    assert described["EndpointConfigName"] == "cfg-1"
    assert described["EndpointStatus"] == "InService"
    assert described["TrafficShares"] == {"cfg-1": 1.0}
    [_, deployment] = service.deployments("ep")  # after the creation
    assert deployment["outcome"] == "RolledBack" and "green-5xx" in deployment["reason"]
    blue_failures = [r for r in load.replies if r[2] == "cfg-1" and r[1] != 200]
    assert blue_failures == []
    assert any(r[2] == "cfg-2" and r[1] == 500 for r in load.replies)  # the canary really was broken
    states = [h["StateValue"] for h in service.alarm_history("green-5xx")]
    assert states[0] == "INSUFFICIENT_DATA" and "ALARM" in states


def test_unknown_rollback_alarm_is_rejected(service: EndpointService, store: Store, good_model: Path) -> None:
    version = register(store, good_model)
    service.create_endpoint_config("cfg-1", [{"VariantName": "AllTraffic", "ModelVersion": version}])
    service.create_endpoint("ep", "cfg-1")
    with pytest.raises(ValidationError, match="no-such-alarm"):
        service.update_endpoint("ep", "cfg-1", {"AutoRollbackConfiguration": {
            "Alarms": [{"AlarmName": "no-such-alarm"}]}})
    assert service.describe_endpoint("ep")["EndpointStatus"] == "InService"


ROLLING = {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1}}


def test_rolling_update_replaces_workers_batch_by_batch(service: EndpointService, store: Store,
                                                        good_model: Path, other_good_model: Path) -> None:
    v1, v2 = register(store, good_model), register(store, other_good_model)
    service.create_endpoint_config("cfg-1", [{"VariantName": "AllTraffic", "ModelVersion": v1,
                                              "InitialInstanceCount": 2}])
    service.create_endpoint_config("cfg-2", [{"VariantName": "AllTraffic", "ModelVersion": v2,
                                              "InitialInstanceCount": 2}])
    service.create_endpoint("ep", "cfg-1")
    blue = service.router.table("ep").fleets[0].variants[0].fleet
    blue_processes = [w.process for w in blue.workers]
    load = Load(service.router, "ep")
    load.start()
    try:
        service.update_endpoint("ep", "cfg-2", {"RollingUpdatePolicy": {
            **ROLLING, "WaitIntervalInSeconds": 0.5}}, wait=True)
        time.sleep(0.2)
    finally:
        load.stop()
        load.close()
    assert len(load.replies) > 20
    assert [s for _, s, _ in load.replies if s != 200] == []
    [_, deployment] = service.deployments("ep")  # after the creation
    assert deployment["outcome"] == "Succeeded"
    kinds = [(e["kind"], e["green_share"]) for e in deployment["events"]]
    assert kinds == [("ProvisioningBatch", 0.0), ("TrafficShifted", 0.5), ("BlueBatchTerminated", 0.5),
                     ("ProvisioningBatch", 0.5), ("TrafficShifted", 1.0), ("BlueTerminated", 1.0)]
    assert "1 cfg-1 worker(s)" in deployment["events"][2]["detail"]
    assert all(p.poll() is not None for p in blue_processes)
    green = service.router.table("ep").fleets[0].variants[0].fleet
    assert sum(1 for w in green.workers if w.alive()) == 2
    assert {r[2] for r in load.replies[-5:]} == {"cfg-2"}


def test_rolling_update_rolls_back_and_restores_blue_in_batches(
        service: EndpointService, store: Store, good_model: Path, switchable_model: tuple[Path, Path]) -> None:
    artifact, flag = switchable_model
    v1, v2 = register(store, good_model), register(store, artifact)
    service.create_endpoint_config("cfg-1", [{"VariantName": "AllTraffic", "ModelVersion": v1,
                                              "InitialInstanceCount": 2}])
    service.create_endpoint_config("cfg-2", [{"VariantName": "AllTraffic", "ModelVersion": v2}])
    service.create_endpoint("ep", "cfg-1")
    service.put_alarm(Alarm("green-5xx", "Invocation5XXErrors", dims(EndpointName="ep", EndpointConfigName="cfg-2"),
                            "Sum", threshold=0.01, denominator="Invocations", period_seconds=2, min_samples=5))
    blue = service.router.table("ep").fleets[0].variants[0].fleet
    load = Load(service.router, "ep")
    load.start()
    try:
        service.update_endpoint("ep", "cfg-2", {
            # Half of green's one instance rounds up to it: one green start, blue stopped in halves.
            "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                                    "WaitIntervalInSeconds": 3,
                                    "RollbackMaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1}},
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "green-5xx"}]}})
        # Green breaks only in the second batch, once half of blue has been stopped.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                e["kind"] == "BlueBatchTerminated" for e in service.deployments("ep")[-1]["events"]):
            time.sleep(0.05)
        assert len(blue.workers) == 1
        flag.touch()
        described = service.wait_for_deployment("ep", 30)
        time.sleep(0.2)
    finally:
        load.stop()
        load.close()
    assert described["EndpointConfigName"] == "cfg-1" and described["TrafficShares"] == {"cfg-1": 1.0}
    [_, deployment] = service.deployments("ep")  # after the creation
    assert deployment["outcome"] == "RolledBack" and "green-5xx" in deployment["reason"]
    kinds = [e["kind"] for e in deployment["events"]]
    assert kinds[-3:] == ["RollbackStarted", "BlueBatchRestored", "RolledBack"]
    assert [r for r in load.replies if r[2] == "cfg-1" and r[1] != 200] == []
    assert any(r[2] == "cfg-2" and r[1] == 500 for r in load.replies)
    assert sum(1 for w in blue.workers if w.alive()) == 2  # blue back to its full size
    assert {r[2] for r in load.replies[-5:]} == {"cfg-1"}


def test_killed_worker_is_retried_or_fails_fast(service: EndpointService, store: Store, good_model: Path) -> None:
    version = register(store, good_model)
    service.create_endpoint_config("cfg-1", [{"VariantName": "AllTraffic", "ModelVersion": version,
                                              "InitialInstanceCount": 2}])
    service.create_endpoint("ep", "cfg-1")
    fleet = service.router.table("ep").fleets[0].variants[0].fleet
    load = Load(service.router, "ep")
    try:
        os.killpg(fleet.workers[0].process.pid, signal.SIGKILL)
        fleet.workers[0].process.wait(5)
        replies = [load.call(b"[[1.0, 0.0]]") for _ in range(6)]
        assert all(r.status == 200 for r in replies)  # the other worker took them
        os.killpg(fleet.workers[1].process.pid, signal.SIGKILL)
        fleet.workers[1].process.wait(5)
        started = time.monotonic()
        reply = load.call(b"[[1.0, 0.0]]")
        assert reply.status == 503 and time.monotonic() - started < 5
        assert "no healthy model worker" in json.loads(reply.body)["message"]
        assert service.supervise() == 2
        assert load.call(b"[[1.0, 0.0]]").status == 200
    finally:
        load.close()


def test_shadow_variant_and_data_capture(service: EndpointService, store: Store, settings: Settings,
                                         good_model: Path, other_good_model: Path) -> None:
    v1, v2 = register(store, good_model), register(store, other_good_model)
    service.create_endpoint_config(
        "cfg-1", [{"VariantName": "Prod", "ModelVersion": v1}],
        shadow_variants=[{"VariantName": "Shadow", "ModelVersion": v2, "SamplingPercentage": 100}],
        data_capture={"EnableCapture": True, "InitialSamplingPercentage": 100},
    )
    service.create_endpoint("ep", "cfg-1")
    load = Load(service.router, "ep")
    try:
        replies = [load.call(b"[[2.0, 0.0]]") for _ in range(5)]
        asyncio.run_coroutine_threadsafe(service.router.drain_shadows(), load.loop).result(30)
    finally:
        load.close()
    # The shadow (trained on the opposite sign) is never what the caller sees.
    assert {r.variant for r in replies} == {"Prod"}
    assert all(json.loads(r.body)["predictions"][0] > 0.5 for r in replies)
    shadow = dims(EndpointName="ep", VariantName="Shadow")
    assert service.router.metrics.total("ShadowInvocations", shadow) == 5
    assert service.router.metrics.total("ShadowErrors", shadow) == 0
    difference = service.router.metrics.statistic("ShadowPredictionDifference", shadow, "Average", 600)
    assert difference is not None and difference > 0.5  # the two models disagree strongly
    captured = list(Path(settings.lake_url, "capture", "ep").rglob("*.jsonl"))
    records = [json.loads(line) for path in captured for line in path.read_text().splitlines()]
    by_variant = {}
    for record in records:
        variant = next(p for p in ("Prod", "Shadow") if f"/{p}/" in str(
            next(path for path in captured if record["eventMetadata"]["eventId"] in path.read_text())))
        by_variant[variant] = by_variant.get(variant, 0) + 1
    assert by_variant == {"Prod": 5, "Shadow": 5}
    assert records[0]["captureData"]["endpointInput"]["data"] == "[[2.0, 0.0]]"
    assert not [p for p in Path(settings.lake_url, "capture").rglob("*.partial")]


def test_supervisor_thread_restarts_workers_and_restore_restarts_fleets(
        settings: Settings, store: Store, good_model: Path) -> None:
    version = register(store, good_model)
    first = EndpointService(settings, store, Router(), drain_timeout=5)
    try:
        first.create_endpoint_config("cfg-1", [{"VariantName": "AllTraffic", "ModelVersion": version}])
        first.create_endpoint("ep", "cfg-1")
        first.start_supervisor(interval=0.2)
        fleet = first.router.table("ep").fleets[0].variants[0].fleet
        dead = fleet.workers[0].process
        os.killpg(dead.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while fleet.workers[0].process is dead and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fleet.workers[0].process is not dead and fleet.workers[0].alive()
    finally:
        first.shutdown()  # the server stops; the store still says the endpoint is InService
    second = EndpointService(settings, store, Router(), drain_timeout=5)
    load = Load(second.router, "ep")
    try:
        assert second.restore() == ["ep"]
        reply = load.call(b"[[2.0, 0.0]]")
        assert reply.status == 200 and reply.config_name == "cfg-1"
        assert second.describe_endpoint("ep")["EndpointStatus"] == "InService"
    finally:
        load.close()
        second.shutdown()


def test_alarm_on_errors_another_router_process_saw_rolls_back(service: EndpointService, store: Store,
                                                                good_model: Path,
                                                                other_good_model: Path) -> None:
    from podium.metrics import MetricStore
    from podium.metrics.shared import SharedMetrics

    v1, v2 = register(store, good_model), register(store, other_good_model)
    service.create_endpoint_config("cfg-1", [{"VariantName": "AllTraffic", "ModelVersion": v1}])
    service.create_endpoint_config("cfg-2", [{"VariantName": "AllTraffic", "ModelVersion": v2}])
    service.create_endpoint("ep", "cfg-1")
    green = dims(EndpointName="ep", EndpointConfigName="cfg-2")
    service.put_alarm(Alarm("green-5xx", "Invocation5XXErrors", green, "Sum", threshold=0.05,
                            denominator="Invocations", period_seconds=30, min_samples=5))
    service.update_endpoint("ep", "cfg-2", {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
            "Type": "CANARY", "WaitIntervalInSeconds": 20,
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50}}},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "green-5xx"}]}})
    # Another router process serving the endpoint on the same store sees green fail.
    other = MetricStore()
    published = SharedMetrics(store, other)
    deadline = time.monotonic() + 30
    while service.describe_endpoint("ep")["EndpointStatus"] == "Updating" and time.monotonic() < deadline:
        other.put_many([("Invocations", 1, green), ("Invocation5XXErrors", 1, green)])
        published.flush()
        time.sleep(0.1)
    described = service.wait_for_deployment("ep", 30)
    assert described["EndpointConfigName"] == "cfg-1" and described["TrafficShares"] == {"cfg-1": 1.0}
    deployment = service.deployments("ep")[-1]
    assert deployment["outcome"] == "RolledBack" and "green-5xx" in deployment["reason"]
    assert not service.router.metrics.statistic("Invocation5XXErrors", green, "Sum", 60)  # none here


def test_creation_is_the_first_entry_of_the_history_and_lineage_names_the_version(
        service: EndpointService, store: Store, settings: Settings, good_model: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from podium.cli.main import app
    from podium.models import Lineage

    version = register(store, good_model)
    service.create_endpoint_config("cfg-1", [
        {"VariantName": "A", "ModelVersion": version, "InitialVariantWeight": 3},
        {"VariantName": "B", "ModelVersion": version, "InitialVariantWeight": 1}])
    service.create_endpoint("ep", "cfg-1")
    [created] = service.deployments("ep")
    assert (created["from"], created["to"], created["outcome"], created["reason"]) == (None, "cfg-1", "Succeeded", None)
    assert created["ended_at"] is not None
    assert [(e["kind"], e["green_share"], e["detail"]) for e in created["events"]] == [
        ("Created", 1.0, f"created with config cfg-1: 75% to variant A ({version}), 25% to variant B ({version})")]

    [endpoint] = Lineage(store).find("endpoint", "ep")
    upstream = Lineage(store).upstream(endpoint.id).children
    assert [(c.association, c.entity.type, c.entity.name) for c in upstream] == [
        ("DeployedAs", "model-version", version)]
    monkeypatch.chdir(settings.home.parent)
    for name in [n for n in os.environ if n.startswith("PODIUM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PODIUM_HOME", str(settings.home))
    shown = CliRunner().invoke(app, ["lineage", "show", "ep", "--direction", "upstream"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert f"DeployedAs model-version: {version}" in shown.stdout


def test_an_endpoint_that_fails_to_start_records_a_failed_creation(service: EndpointService,
                                                                   tmp_path: Path) -> None:
    service.create_endpoint_config("cfg-1", [{"VariantName": "AllTraffic",
                                              "ModelDataUrl": str(tmp_path / "missing.tar.gz")}])
    with pytest.raises(FileNotFoundError):
        service.create_endpoint("ep", "cfg-1")
    assert service.describe_endpoint("ep")["EndpointStatus"] == "Failed"
    [created] = service.deployments("ep")
    assert created["outcome"] == "Failed" and created["reason"]
    assert [e["kind"] for e in created["events"]] == ["DeploymentFailed"]
