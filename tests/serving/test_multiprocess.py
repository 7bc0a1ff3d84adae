"""Several router processes (`podium serve`) on one metadata store, SQLite and PostgreSQL.

Real processes: a deployment started in one is followed by the other (the same traffic split,
within a bounded time; a rollback too), starting a second process does not fail the first one's
deployment, and when the process running a deployment is killed (-9), another takes the
deployment over once its lease has expired.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, text, update
from tests.conftest import child_pids
from tests.serving.conftest import pack_model

from podium.config import Settings
from podium.metrics import Alarm
from podium.metrics.registry import AlarmRegistry
from podium.metrics.series import dims
from podium.serving import EndpointService, Router, follow
from podium.store import Store, migrate, open_store
from podium.store.tables import metadata
from podium.store.tables.serving import (
    serving_deployments,
    serving_endpoint_configs,
    serving_endpoints,
)

pytestmark = pytest.mark.slow

LEASE_SECONDS = 10.0  # the default serving_lease_seconds, which `podium serve` uses


class Serve:
    """`podium serve --port 0` in its own process."""

    def __init__(self, home: Path, metadata_url: str | None) -> None:
        env = {**os.environ, "PODIUM_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        if metadata_url:
            env["PODIUM_METADATA_URL"] = metadata_url
        home.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "podium.cli.main", "serve", "--host", "127.0.0.1", "--port", "0"],
            cwd=home.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if found:
                self.http = httpx.Client(base_url=found.group(1), timeout=60)
                return
            if not line:
                break
        self.process.kill()
        raise AssertionError("podium serve did not start")

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None

    def shares(self, endpoint: str = "ep") -> dict[str, float]:
        response = self.http.get(f"/endpoints/{endpoint}")
        return response.json().get("TrafficShares", {}) if response.status_code == 200 else {}

    def invoke(self, count: int, endpoint: str = "ep") -> Counter[tuple[int, str]]:
        """`count` invocations: how many answered with each (status, endpoint config)."""
        seen: Counter[tuple[int, str]] = Counter()
        for _ in range(count):
            r = self.http.post(f"/endpoints/{endpoint}/invocations", content=b"[[0.5, 0.1]]",
                               headers={"content-type": "application/json"})
            seen[(r.status_code, r.headers.get("x-podium-endpoint-config", ""))] += 1
        return seen

    def worker_pids(self) -> list[int]:
        """Model worker processes this router process started."""
        return child_pids(self.process.pid, b"podium.serving.worker")

    def stop(self) -> None:
        workers = self.worker_pids() if self.process.poll() is None else []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class Cluster:
    """Router processes on one store: SQLite in a shared PODIUM_HOME, or one PostgreSQL schema
    with a PODIUM_HOME per process (as on separate hosts)."""

    def __init__(self, tmp_path: Path, metadata_url: str | None) -> None:
        self.tmp_path, self.metadata_url = tmp_path, metadata_url
        self.processes: list[Serve] = []
        home = tmp_path / "shared" / ".podium"
        self.store: Store = open_store(metadata_url or Settings.for_home(home))

    def start(self) -> Serve:
        index = len(self.processes)
        home = self.tmp_path / ("shared" if self.metadata_url is None else f"host{index}") / ".podium"
        process = Serve(home, self.metadata_url)
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        self.store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    running = Cluster(tmp_path, url)
    try:
        yield running
    finally:
        running.close()


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _two_configs(service: EndpointService, first: Path, second: Path) -> None:
    """Endpoint configs cfg-1 and cfg-2, one variant each, serving `first` and `second`."""
    for name, artifact in (("cfg-1", first), ("cfg-2", second)):
        service.create_endpoint_config(name, [{"VariantName": "AllTraffic", "ModelDataUrl": str(artifact)}])


def _shift_canary(service: EndpointService) -> None:
    """Update endpoint `ep` to cfg-2 by a 50% canary baking for a minute; return once half the
    traffic goes to cfg-2."""
    service.update_endpoint("ep", "cfg-2", {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
        "Type": "CANARY", "WaitIntervalInSeconds": 60, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50}}}})
    wait_for(lambda: service.describe_endpoint("ep")["TrafficShares"] == {"cfg-1": 0.5, "cfg-2": 0.5}, 30,
             "the canary shift")


def configs(a: Serve, tmp_path: Path, green_inference: str | None = None, count: int = 1) -> None:
    blue, green = pack_model(tmp_path / "blue"), pack_model(tmp_path / "green", inference=green_inference,
                                                            coef_sign=-1.0)
    for name, artifact in (("c1", blue), ("c2", green)):
        a.ok("POST", "/endpoint-configs", json={"EndpointConfigName": name, "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelDataUrl": str(artifact), "InitialInstanceCount": count}]})


def canary(a: Serve, wait: int, alarms: list[str] = ()) -> None:  # type: ignore[assignment]
    a.ok("PUT", "/endpoints/ep", json={"EndpointConfigName": "c2", "DeploymentConfig": {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
            "Type": "CANARY", "WaitIntervalInSeconds": wait,
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50}}, "MaximumExecutionTimeoutInSeconds": 600},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": n} for n in alarms]}}})


def last_deployment(a: Serve) -> dict[str, Any]:
    deployment: dict[str, Any] = a.ok("GET", "/endpoints/ep/deployments")[-1]
    return deployment


def shifted_at(deployment: dict[str, Any]) -> float:
    [event] = [e for e in deployment["events"] if e["kind"] == "TrafficShifted"][:1]
    return datetime.fromisoformat(event["time"]).timestamp()


def test_a_canary_and_its_rollback_started_in_one_process_are_followed_by_the_other(
        cluster: Cluster, tmp_path: Path) -> None:
    flag = tmp_path / "break-green"
    switchable = f"""
    import itertools, os
    _calls = itertools.count()

    def predict_fn(data, model):
        if os.path.exists({str(flag)!r}) and next(_calls) % 2 == 0:
            raise RuntimeError("deliberately broken model")
        return model.predict_proba(data)[:, 1]
"""
    a, b = cluster.start(), cluster.start()
    configs(a, tmp_path, switchable)
    a.ok("POST", "/endpoints", json={"EndpointName": "ep", "EndpointConfigName": "c1"})
    # B starts the new endpoint's workers itself and serves it.
    wait_for(lambda: b.shares() == {"c1": 1.0}, 30, "process B to serve the new endpoint")
    assert b.invoke(10) == Counter({(200, "c1"): 10})
    AlarmRegistry(cluster.store).put(Alarm(
        "green-5xx", "Invocation5XXErrors", dims(EndpointName="ep", EndpointConfigName="c2"), "Sum",
        threshold=0.05, denominator="Invocations", period_seconds=30, min_samples=5))

    canary(a, wait=60, alarms=["green-5xx"])
    wait_for(lambda: a.shares() == {"c1": 0.5, "c2": 0.5}, 30, "the canary shift in process A")
    wait_for(lambda: b.shares() == {"c1": 0.5, "c2": 0.5}, 10, "process B to follow the canary")
    lag = time.time() - shifted_at(last_deployment(a))
    print(f"process B followed the canary shift {lag:.2f} s after process A made it")
    assert lag < 5  # bounded: B started its green fleet while A started its own
    seen = b.invoke(200)
    assert set(seen) == {(200, "c1"), (200, "c2")}, seen
    assert 0.3 <= seen[(200, "c2")] / 200 <= 0.7, seen  # B routes by the canary's split
    b_workers = len(b.worker_pids())
    assert b_workers == 2  # blue and green, started by B itself
    assert last_deployment(a)["outcome"] == "InProgress"

    # Green breaks; only B sees its errors, A's alarm sees them through the store and A rolls
    # back; B follows: all traffic on blue and its green workers stopped.
    flag.touch()
    deadline = time.monotonic() + 40
    while last_deployment(a)["outcome"] == "InProgress" and time.monotonic() < deadline:
        b.invoke(10)
    deployment = last_deployment(a)
    assert deployment["outcome"] == "RolledBack" and "green-5xx" in deployment["reason"]
    wait_for(lambda: b.shares() == {"c1": 1.0}, 10, "process B to follow the rollback")
    assert b.invoke(20) == Counter({(200, "c1"): 20})
    wait_for(lambda: len(b.worker_pids()) == 1, 30, "process B to stop its green workers")
    assert a.ok("GET", "/endpoints/ep")["EndpointStatus"] == "InService"
    assert b.ok("GET", "/endpoints/ep")["EndpointConfigName"] == "c1"


def test_a_second_process_leaves_a_live_deployment_alone_and_takes_over_a_dead_ones(
        cluster: Cluster, tmp_path: Path) -> None:
    a = cluster.start()
    configs(a, tmp_path)
    a.ok("POST", "/endpoints", json={"EndpointName": "ep", "EndpointConfigName": "c1"})
    canary(a, wait=120)
    wait_for(lambda: a.shares() == {"c1": 0.5, "c2": 0.5}, 30, "the canary shift in process A")

    b = cluster.start()  # starts while A deploys: must not fail A's deployment
    wait_for(lambda: b.shares() == {"c1": 0.5, "c2": 0.5}, 30, "process B to serve the canary")
    time.sleep(LEASE_SECONDS + 1)  # longer than a lease: A renews it while B watches
    deployment = last_deployment(b)
    assert deployment["outcome"] == "InProgress"
    assert b.ok("GET", "/endpoints/ep")["EndpointStatus"] == "Updating"
    # A deploying endpoint is not updated from another process meanwhile.
    assert b.http.put("/endpoints/ep", json={"EndpointConfigName": "c1"}).status_code == 409

    a_workers = a.worker_pids()
    a.process.send_signal(signal.SIGKILL)
    killed = time.time()
    for pid in a_workers:
        os.kill(pid, signal.SIGKILL)
    taken = wait_for(lambda: (d := last_deployment(b))["outcome"] != "InProgress" and d, LEASE_SECONDS + 15,
                     "process B to take over the orphaned deployment")
    waited = time.time() - killed
    assert waited >= LEASE_SECONDS / 2, waited  # not before A's lease ran out
    assert taken["outcome"] == "Failed" and "lease expired" in taken["reason"], taken
    assert taken["events"][-1]["kind"] == "RolledBack"
    described = b.ok("GET", "/endpoints/ep")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "c1")
    wait_for(lambda: b.shares() == {"c1": 1.0}, 10, "process B to route all traffic to blue")
    assert b.invoke(20) == Counter({(200, "c1"): 20})
    wait_for(lambda: len(b.worker_pids()) == 1, 30, "process B to stop its green workers")

    # A restarted process serves the endpoint as committed; the history is not touched again.
    c = cluster.start()
    wait_for(lambda: c.shares() == {"c1": 1.0}, 30, "a restarted process to serve blue")
    assert [d["outcome"] for d in c.ok("GET", "/endpoints/ep/deployments")] == ["Succeeded", "Failed"]


def test_a_rolling_update_started_in_the_second_process_resizes_the_first_ones_fleets(
        cluster: Cluster, tmp_path: Path) -> None:
    a, b = cluster.start(), cluster.start()
    configs(a, tmp_path, count=2)
    a.ok("POST", "/endpoints", json={"EndpointName": "ep", "EndpointConfigName": "c1"})
    wait_for(lambda: b.shares() == {"c1": 1.0}, 30, "process B to serve the new endpoint")
    wait_for(lambda: len(a.worker_pids()) == 2 and len(b.worker_pids()) == 2, 30, "both fleets")
    replies: Counter[tuple[int, str]] = Counter()
    stop = threading.Event()

    def load() -> None:  # invocations of process A, which only follows the update
        while not stop.is_set():
            replies.update(a.invoke(1))

    loader = threading.Thread(target=load)
    loader.start()
    workers, splits = [], set()
    try:
        b.ok("PUT", "/endpoints/ep", json={"EndpointConfigName": "c2", "DeploymentConfig": {
            "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                                    "WaitIntervalInSeconds": 3, "MaximumExecutionTimeoutInSeconds": 600}}})
        deadline = time.monotonic() + 60
        while last_deployment(b)["outcome"] == "InProgress" and time.monotonic() < deadline:
            workers.append(len(a.worker_pids()))
            splits.add(tuple(sorted(a.shares().items())))
            time.sleep(0.2)
        wait_for(lambda: a.shares() == {"c2": 1.0}, 10, "process A to follow the completed update")
        time.sleep(0.5)
    finally:
        stop.set()
        loader.join(30)
    assert last_deployment(b)["outcome"] == "Succeeded"
    assert (("c1", 0.5), ("c2", 0.5)) in splits  # A routed the first batch's split
    assert max(workers) <= 3, workers  # one fleet plus one batch, in A too
    wait_for(lambda: len(a.worker_pids()) == 2, 30, "process A to stop its last blue worker")
    assert set(replies) <= {(200, "c1"), (200, "c2")} and replies[(200, "c2")], replies  # none failed
    assert a.ok("GET", "/endpoints/ep")["EndpointConfigName"] == "c2"


def test_an_owner_whose_deployment_was_taken_over_stops_deploying_and_follows(
        settings: Settings, store: Store, good_model: Path, other_good_model: Path) -> None:
    """A hung owner, provoked in one process: its lease is expired in the store and another
    service takes the deployment over; the owner sees so at its next renewal (not at the end of
    its 60 s bake), stops deploying and routes by the rolled-back state."""
    short = settings.model_copy(update={"serving_lease_seconds": 2.0, "serving_lease_renew_seconds": 0.5,
                                        "serving_sync_seconds": 0.1})
    owner = EndpointService(short, store, Router(), drain_timeout=5)
    other = EndpointService(short, store, Router(), drain_timeout=5)
    try:
        _two_configs(owner, good_model, other_good_model)
        owner.create_endpoint("ep", "cfg-1")
        _shift_canary(owner)
        green = owner.router.table("ep").fleets[1].variants[0].fleet
        other.sync()
        assert owner.deployments("ep")[-1]["outcome"] == "InProgress"  # a live lease is left alone
        for _ in range(20):  # the owner may renew in between: expire it again
            with store.begin() as conn:
                conn.execute(update(serving_deployments).where(serving_deployments.c.outcome == "InProgress")
                             .values(lease_until=0.0))
            other.sync()
            if owner.deployments("ep")[-1]["outcome"] != "InProgress":
                break
        taken = owner.deployments("ep")[-1]
        assert taken["outcome"] == "Failed" and "lease expired" in taken["reason"]
        wait_for(lambda: owner.describe_endpoint("ep")["TrafficShares"] == {"cfg-1": 1.0}, 10,
                 "the owner to route by the rolled-back state")
        owner.wait_for_deployment("ep", 10)
        assert not owner._deployments["ep"].is_alive()
        wait_for(lambda: green.stopped, 10, "the owner to stop its green fleet")
        described = owner.describe_endpoint("ep")
        assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "cfg-1")
        assert [e["kind"] for e in owner.deployments("ep")[-1]["events"]][-1] == "RolledBack"
    finally:
        owner.shutdown()
        other.shutdown()


def test_a_store_from_before_leases_is_served_and_its_open_deployment_taken_over(
        settings: Settings, store: Store, good_model: Path) -> None:
    """Rows written before serving_0004 (no routing state, a deployment without owner or lease):
    the endpoint is served by its config and the open deployment is failed, as before."""
    with store.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate.upgrade(store.engine, "serving_0003")
    now = datetime.now(UTC)
    with store.begin() as connection:
        for name in ("cfg-1", "cfg-2"):
            connection.execute(insert(serving_endpoint_configs).values(
                name=name, variants=[{"VariantName": "AllTraffic", "ModelDataUrl": str(good_model)}],
                shadow_variants=[], created_at=now))
        connection.execute(text(
            "INSERT INTO serving_endpoints (name, config_name, status, created_at, updated_at) "
            "VALUES ('ep', 'cfg-1', 'Updating', :now, :now)"), {"now": now})
        connection.execute(text(
            "INSERT INTO serving_deployments (endpoint, from_config, to_config, policy, outcome, started_at) "
            "VALUES ('ep', 'cfg-1', 'cfg-2', '{}', 'InProgress', :now)"), {"now": now})
    migrate.upgrade(store.engine)
    with store.connect() as connection:
        row = connection.execute(serving_endpoints.select()).one()
        assert (row.routing, row.generation) == (None, 0)
        assert connection.execute(serving_deployments.select()).one().owner is None
    service = EndpointService(settings, store, Router(), drain_timeout=5)
    try:
        assert service.restore() == ["ep"]
        described = service.describe_endpoint("ep")
        assert (described["EndpointStatus"], described["TrafficShares"]) == ("InService", {"cfg-1": 1.0})
        [deployment] = service.deployments("ep")
        assert deployment["outcome"] == "Failed" and "the server stopped" in deployment["reason"]
    finally:
        service.shutdown()


def test_a_stopped_owner_releases_its_lease_so_a_restart_takes_over_at_once(
        settings: Settings, store: Store, good_model: Path, other_good_model: Path) -> None:
    owner = EndpointService(settings, store, Router(), drain_timeout=5)
    _two_configs(owner, good_model, other_good_model)
    owner.create_endpoint("ep", "cfg-1")
    _shift_canary(owner)
    owner.shutdown()  # as on SIGTERM: the lease (10 s) is released, not left to expire
    restarted = EndpointService(settings, store, Router(), drain_timeout=5)
    try:
        started = time.monotonic()
        assert restarted.restore() == ["ep"]
        assert time.monotonic() - started < 8
        described = restarted.describe_endpoint("ep")
        assert (described["EndpointStatus"], described["TrafficShares"]) == ("InService", {"cfg-1": 1.0})
        assert restarted.deployments("ep")[-1]["outcome"] == "Failed"
    finally:
        restarted.shutdown()


def test_a_process_whose_fleets_fail_to_start_says_so_and_catches_up(
        settings: Settings, store: Store, good_model: Path, other_good_model: Path,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A process that cannot start the fleets another process's change names keeps routing by
    its previous table; it logs a warning and its describe output says why, until a retry works."""
    monkeypatch.setattr(follow, "FOLLOW_RETRY_SECONDS", 0.5)
    fast = settings.model_copy(update={"serving_sync_seconds": 0.1})
    owner = EndpointService(fast, store, Router(), drain_timeout=5)
    other = EndpointService(fast, store, Router(), drain_timeout=5)
    try:
        _two_configs(owner, good_model, other_good_model)
        owner.create_endpoint("ep", "cfg-1")
        assert other.restore() == ["ep"]
        provision = other._provision

        def broken(endpoint: str, config: Any, fraction: float = 1.0) -> Any:
            if config.name == "cfg-2":
                raise RuntimeError("no space left on device")
            return provision(endpoint, config, fraction)

        monkeypatch.setattr(other, "_provision", broken)
        with caplog.at_level(logging.WARNING, logger="podium.serving.follow"):
            _shift_canary(owner)
            described = wait_for(lambda: (d := other.describe_endpoint("ep")).get("FollowErrors") and
                                 d["FollowErrors"][0]["Attempts"] >= 2 and d, 15, "a failed follow, retried")
        [error] = described["FollowErrors"]
        assert error["Process"] == other.owner_id and "no space left on device" in error["Error"]
        assert described["TrafficShares"] == {"cfg-1": 1.0}  # the previous table, still served
        assert described["EndpointStatus"] == "Updating"  # the endpoint itself is not failed
        assert "FollowErrors" not in owner.describe_endpoint("ep")
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "could not apply" in r.getMessage()]
        assert warnings and "no space left on device" in warnings[0].getMessage()
        monkeypatch.setattr(other, "_provision", provision)
        wait_for(lambda: other.describe_endpoint("ep")["TrafficShares"] == {"cfg-1": 0.5, "cfg-2": 0.5}, 15,
                 "the process to catch up once its fleets start")
        assert "FollowErrors" not in other.describe_endpoint("ep")
    finally:
        owner.shutdown()
        other.shutdown()
