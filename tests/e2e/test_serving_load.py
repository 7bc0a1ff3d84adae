"""Serving under load, end to end: a real `podium serve` process on 127.0.0.1, load from a
separate process, and deployments, alarms, rollback and killed workers driven over HTTP.

Every reply the load process sees is recorded with the endpoint config that answered it
(X-Podium-Endpoint-Config), so traffic fractions are checked against each deployment step.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import child_pids

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

# The load generator: a bounded loop of invocations from two threads over keep-alive
# connections; each reply becomes one JSON line (time, status, config, variant, seconds taken).
LOAD = textwrap.dedent("""
    import json, sys, threading, time
    import httpx
    url, out, stop, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    deadline = time.time() + limit
    lock = threading.Lock()
    lines = open(out, "a", buffering=1)

    def run():
        with httpx.Client(timeout=30) as client:
            while time.time() < deadline:
                try:
                    open(stop).close()
                    return
                except FileNotFoundError:
                    pass
                started = time.time()
                try:
                    r = client.post(url, content=b"[[0.5, 0.1]]", headers={"content-type": "application/json"})
                    row = [started, r.status_code, r.headers.get("x-podium-endpoint-config"),
                           r.headers.get("x-invoked-production-variant"), time.time() - started, r.text[:200]]
                except httpx.HTTPError as exc:
                    row = [started, 0, None, None, time.time() - started, repr(exc)]
                with lock:
                    lines.write(json.dumps(row) + "\\n")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads: t.start()
    for t in threads: t.join()
""")

FLAKY = """
    import itertools
    _calls = itertools.count()

    def predict_fn(data, model):
        if next(_calls) % 5 == 0:
            raise RuntimeError("deliberately broken model")
        return model.predict_proba(data)[:, 1]
"""


def pack(folder: Path, sign: float = 1.0, inference: str | None = None) -> str:
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    folder.mkdir(parents=True)
    joblib.dump(LogisticRegression().fit(X, (sign * X[:, 0] > 0).astype(int)), folder / "model.joblib")
    if inference:
        (folder / "code").mkdir()
        (folder / "code" / "inference.py").write_text(textwrap.dedent(inference))
    artifact = folder.parent / f"{folder.name}.tar.gz"
    with tarfile.open(artifact, "w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return str(artifact)


class Server:
    """`podium serve --port 0` (or another command, e.g. `server`) in its own process, on a
    PODIUM_HOME under tmp_path."""

    def __init__(self, home: Path, command: tuple[str, ...] = ("serve",), env: dict[str, str] | None = None) -> None:
        self.home = home
        self.command = command
        self.extra_env = env or {}
        self.process: subprocess.Popen[str] | None = None
        self.base = ""

    def start(self) -> None:
        env = {**os.environ, "PODIUM_HOME": str(self.home / ".podium"), "PYTHONUNBUFFERED": "1",
               "COLUMNS": "200", **self.extra_env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "podium.cli.main", *self.command, "--host", "127.0.0.1", "--port", "0"],
            cwd=self.home, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.process.stdout.readline()
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if found:
                self.base = found.group(1)
                self.http = httpx.Client(base_url=self.base, timeout=60)
                return
            if not line:
                break
        self.process.kill()
        raise AssertionError(f"podium serve did not start: {self.process.stderr.read() if self.process.stderr else ''}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def worker_pids(self) -> list[int]:
        """Model worker processes this server started (children running podium.serving.worker)."""
        assert self.process is not None
        return child_pids(self.process.pid, b"podium.serving.worker")

    def cli(self, *args: str) -> Any:
        """`podium --json ARGS` against this server; the parsed JSON it printed."""
        port = self.base.rsplit(":", 1)[1]
        env = {**os.environ, "PODIUM_HOME": str(self.home / ".podium"), "PODIUM_SERVER_PORT": port,
               "PODIUM_SERVER_HOST": "127.0.0.1"}
        done = subprocess.run([sys.executable, "-m", "podium.cli.main", "--json", *args], cwd=self.home,
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


class Load:
    """The load process and what it recorded."""

    def __init__(self, server: Server, endpoint: str, folder: Path, limit: float = 50.0) -> None:
        self.out, self.stop_file = folder / "replies.jsonl", folder / "stop"
        self.process = subprocess.Popen([sys.executable, "-c", LOAD, f"{server.base}/endpoints/{endpoint}/invocations",
                                         str(self.out), str(self.stop_file), str(limit)])

    def stop(self) -> list[list[Any]]:
        self.stop_file.touch()
        self.process.wait(timeout=40)
        return [json.loads(line) for line in self.out.read_text().splitlines()]


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def finished(server: Server, endpoint: str) -> Callable[[], Any]:
    def check() -> Any:
        history = server.ok("GET", f"/endpoints/{endpoint}/deployments")
        return history[-1] if history and history[-1]["outcome"] != "InProgress" else None
    return check


def create(server: Server, name: str, artifact: str, count: int = 1) -> None:
    server.ok("POST", "/endpoint-configs", json={"EndpointConfigName": name, "ProductionVariants": [
        {"VariantName": "AllTraffic", "ModelDataUrl": artifact, "InitialInstanceCount": count}]})


def step_shares(replies: list[list[Any]], deployment: dict[str, Any], green: str) -> list[tuple[float, float, int]]:
    """(planned green share, observed green share, requests) for each traffic shift, from 0.3 s
    after it until the next event, so requests admitted before the shift do not count."""
    events = deployment["events"]
    times = [datetime.fromisoformat(e["time"]).timestamp() for e in events]
    result = []
    for i, event in enumerate(events):
        if event["kind"] != "TrafficShifted" or i + 1 >= len(events):
            continue
        window = [r for r in replies if times[i] + 0.3 <= r[0] and r[0] + r[4] < times[i + 1]]
        seen = sum(1 for r in window if r[2] == green) / max(1, len(window))
        result.append((event["green_share"], seen, len(window)))
    return result


def test_canary_linear_and_rolling_deployments_under_load(server: Server, tmp_path: Path) -> None:
    create(server, "c1", pack(tmp_path / "m1"))
    create(server, "c2", pack(tmp_path / "m2", -1.0))
    create(server, "c3", pack(tmp_path / "m3"))
    create(server, "c4", pack(tmp_path / "m4", -1.0), count=2)
    server.ok("POST", "/endpoints", json={"EndpointName": "ep", "EndpointConfigName": "c1"})
    load = Load(server, "ep", tmp_path, limit=150)  # stopped by the test; the limit is a safety bound
    try:
        time.sleep(1)
        server.ok("PUT", "/endpoints/ep", json={"EndpointConfigName": "c2", "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
                "Type": "CANARY", "WaitIntervalInSeconds": 4,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25}}}}})
        canary = wait_for(finished(server, "ep"), 45, "the canary deployment")
        server.ok("PUT", "/endpoints/ep", json={"EndpointConfigName": "c3", "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
                "Type": "LINEAR", "WaitIntervalInSeconds": 3,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50}}}}})
        linear = wait_for(finished(server, "ep"), 45, "the linear deployment")
        server.ok("PUT", "/endpoints/ep", json={"EndpointConfigName": "c4", "DeploymentConfig": {
            "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                                    "WaitIntervalInSeconds": 3}}})
        rolling = wait_for(finished(server, "ep"), 45, "the rolling update")
        time.sleep(0.5)
    finally:
        replies = load.stop()
    assert len(replies) > 50
    assert [r for r in replies if r[1] != 200] == []
    assert canary["outcome"] == linear["outcome"] == rolling["outcome"] == "Succeeded"
    canary_steps = step_shares(replies, canary, "c2")
    assert [planned for planned, _, _ in canary_steps] == [0.25, 1.0]
    planned, seen, count = canary_steps[0]
    assert count >= 20 and abs(seen - 0.25) <= 0.15, canary_steps
    assert canary_steps[1][1] == 1.0  # after the final shift every request is green
    linear_steps = step_shares(replies, linear, "c3")
    assert [planned for planned, _, _ in linear_steps] == [0.5, 1.0]
    assert linear_steps[0][2] >= 20 and abs(linear_steps[0][1] - 0.5) <= 0.2, linear_steps
    assert linear_steps[1][1] == 1.0
    rolling_steps = step_shares(replies, rolling, "c4")  # one of c4's two workers, then both
    assert [planned for planned, _, _ in rolling_steps] == [0.5, 1.0]
    assert rolling_steps[0][2] >= 20 and abs(rolling_steps[0][1] - 0.5) <= 0.2, rolling_steps
    assert rolling_steps[1][1] == 1.0
    described = server.ok("GET", "/endpoints/ep")
    assert described["EndpointConfigName"] == "c4" and described["TrafficShares"] == {"c4": 1.0}
    summary = server.cli("endpoint", "watch", "ep", "--window", "600")
    [row] = summary["Variants"]
    assert row["EndpointConfigName"] == "c4" and row["Invocations"] > 0 and row["Invocation5XXRate"] == 0
    assert row["LiveWorkers"] == 2


def test_broken_model_trips_the_alarm_and_rolls_back(server: Server, tmp_path: Path) -> None:
    create(server, "good", pack(tmp_path / "good"))
    create(server, "broken", pack(tmp_path / "broken", inference=FLAKY))
    server.ok("POST", "/endpoints", json={"EndpointName": "ep", "EndpointConfigName": "good"})
    alarm = server.cli("endpoint", "alarm", "green-5xx", "--endpoint", "ep", "--config", "broken",
                       "--denominator", "Invocations", "--threshold", "0.05", "--period", "5", "--min-samples", "10")
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["Dimensions"] == [{"Name": "EndpointConfigName", "Value": "broken"},
                                   {"Name": "EndpointName", "Value": "ep"}]
    load = Load(server, "ep", tmp_path)
    try:
        time.sleep(1)
        server.ok("PUT", "/endpoints/ep", json={"EndpointConfigName": "broken", "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
                "Type": "CANARY", "WaitIntervalInSeconds": 20,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50}}},
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "green-5xx"}]}}})
        deployment = wait_for(finished(server, "ep"), 50, "the rollback")
        time.sleep(0.5)
    finally:
        replies = load.stop()
    assert deployment["outcome"] == "RolledBack" and "green-5xx" in deployment["reason"]
    assert [e["kind"] for e in deployment["events"]][-2:] == ["RollbackStarted", "RolledBack"]
    assert [r for r in replies if r[2] == "good" and r[1] != 200] == []  # blue never failed
    assert any(r[2] == "broken" and r[1] == 500 for r in replies)  # the canary really was broken
    assert {r[1] for r in replies} <= {200, 500}
    described = server.ok("GET", "/endpoints/ep")
    assert described["EndpointConfigName"] == "good" and described["TrafficShares"] == {"good": 1.0}
    [listed] = server.cli("endpoint", "alarms")
    assert listed["AlarmName"] == "green-5xx" and listed["StateValue"] in ("ALARM", "OK", "INSUFFICIENT_DATA")
    history = server.cli("endpoint", "alarm-history", "green-5xx")
    states = [h["StateValue"] for h in history]
    assert states[0] == "INSUFFICIENT_DATA" and "ALARM" in states


def test_killed_workers_are_retried_restarted_and_restored_after_a_restart(server: Server, tmp_path: Path) -> None:
    create(server, "c1", pack(tmp_path / "m1"), count=2)
    server.ok("POST", "/endpoints", json={"EndpointName": "ep", "EndpointConfigName": "c1"})
    first, second = server.worker_pids()
    load = Load(server, "ep", tmp_path)
    try:
        time.sleep(1)
        first_killed = time.time()
        os.kill(first, signal.SIGKILL)  # the other worker takes the traffic
        time.sleep(1.5)
        second_killed = time.time()
        os.kill(second, signal.SIGKILL)
        wait_for(lambda: {first, second}.isdisjoint(server.worker_pids()) and len(server.worker_pids()) == 2,
                 30, "the supervisor to restart both workers")
        wait_for(lambda: server.ok("GET", "/endpoints/ep/metrics")["Variants"][0]["LiveWorkers"] == 2,
                 30, "both workers to be live")
        time.sleep(1)
    finally:
        replies = load.stop()
    assert replies and all(r[4] < 5 for r in replies)  # nothing hangs
    failures = [r for r in replies if r[1] != 200]
    assert all(r[1] == 503 and "no healthy model worker" in r[5] for r in failures), failures[:3]
    one_left = [r for r in replies if first_killed <= r[0] and r[0] + r[4] < second_killed]
    assert one_left and all(r[1] == 200 for r in one_left)  # retried on the live worker
    assert replies[-1][1] == 200

    server.stop()
    server.start()
    wait_for(lambda: server.ok("GET", "/endpoints/ep")["TrafficShares"] == {"c1": 1.0}, 45,
             "the restarted server to serve the endpoint again")
    reply = server.http.post("/endpoints/ep/invocations", content=b"[[2.0, 0.0]]",
                             headers={"content-type": "application/json"})
    assert reply.status_code == 200 and reply.json()["predictions"][0] > 0.5
    assert len(server.worker_pids()) == 2


def test_podium_server_answers_invocations_with_its_token(tmp_path: Path) -> None:
    """`podium server` (API, router; engine worker and scheduler off here) answers invocations
    through the router's HTTP protocol (as `podium serve`), still requiring the bearer token."""
    token = "s3cret-token"
    server = Server(tmp_path, ("server", "--no-worker", "--no-scheduler"), env={"PODIUM_API_TOKEN": token})
    server.start()
    try:
        auth = {"authorization": f"Bearer {token}"}
        server.ok("POST", "/endpoint-configs", headers=auth, json={"EndpointConfigName": "c1", "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelDataUrl": pack(tmp_path / "m1")}]})
        server.ok("POST", "/endpoints", headers=auth, json={"EndpointName": "ep", "EndpointConfigName": "c1"})
        replies = [server.http.post("/endpoints/ep/invocations", content=b"[[2.0, 0.0], [-2.0, 0.0]]",
                                    headers={**auth, "content-type": "application/json"}) for _ in range(3)]
        assert [r.status_code for r in replies] == [200, 200, 200]
        high, low = replies[0].json()["predictions"]
        assert high > 0.5 > low
        assert replies[0].headers["x-invoked-production-variant"] == "AllTraffic"
        assert replies[0].headers["x-podium-endpoint-config"] == "c1"
        wrong = server.http.post("/endpoints/ep/invocations", content=b"[[2.0, 0.0]]",
                                 headers={"authorization": "Bearer wrong", "content-type": "application/json"})
        assert wrong.status_code == 401
        anonymous = server.http.post("/endpoints/ep/invocations", content=b"[[2.0, 0.0]]",
                                     headers={"content-type": "application/json"})
        assert anonymous.status_code == 401 and "predictions" not in anonymous.text
        missing = server.http.post("/endpoints/nope/invocations", content=b"[[2.0, 0.0]]",
                                   headers={**auth, "content-type": "application/json"})
        assert missing.status_code == 404 and "nope" in missing.json()["message"]
        metrics = server.http.get("/endpoints/ep/metrics", headers=auth).json()
        assert metrics["Variants"][0]["Invocations"] == 3
    finally:
        server.stop()
