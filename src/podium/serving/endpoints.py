"""Endpoints: configs of variants, worker fleets behind the router, and safe deployments.

An update runs a blue/green deployment in a background thread: provision green, shift traffic
step by step (all at once, canary, linear), bake after each shift while watching the alarms,
then drain and stop blue — or, when an alarm fires or the deadline passes, send every new
request back to blue at once, let in-flight green requests finish, and stop green. Every shift
and its reason is recorded in the deployment history, beginning with the endpoint's creation
(from no config to its first one).

Alarms and the metrics summary read every router process's traffic (podium.metrics.shared):
this process publishes its router's metrics to the metadata store once it serves an endpoint.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from podium.config import Settings
from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.metrics.alarms import Alarm, AlarmState
from podium.metrics.registry import AlarmRegistry
from podium.metrics.series import Dimensions, dims
from podium.metrics.shared import SharedMetrics
from podium.models.lineage import Lineage
from podium.models.registry import ModelRegistry, parse_ref
from podium.serving.capture import CaptureConfig, CaptureWriter
from podium.serving.deployment import Plan, instances, plan
from podium.serving.pool import Fleet
from podium.serving.router import Router
from podium.serving.routing import FleetShare, RoutingTable, ShadowRoute, VariantRoute
from podium.store import Store
from podium.store.tables.serving import (
    serving_deployment_events,
    serving_deployments,
    serving_endpoint_configs,
    serving_endpoints,
)

log = logging.getLogger(__name__)


@dataclass
class _Running:
    """The fleets serving one endpoint config in this process."""

    config_name: str
    variants: list[tuple[str, float, Fleet]]
    shadows: list[tuple[str, float, Fleet]]
    capture: CaptureConfig | None = None

    def stop(self, drain_timeout: float) -> None:
        for _, _, fleet in self.variants + self.shadows:
            fleet.stop(drain_timeout)


def _now() -> datetime:
    return datetime.now(UTC)


class EndpointService:
    """Create, update (deploy), describe and delete endpoints served by `router`."""

    def __init__(self, settings: Settings, store: Store, router: Router | None = None,
                 *, poll_seconds: float = 0.05, drain_timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.store = store
        self.router = router or Router()
        # The router's metrics merged with those of every other router process on the store.
        self.metrics = SharedMetrics(store, self.router.metrics)
        self.alarms = AlarmRegistry(store)
        self._running: dict[str, _Running] = {}
        self._deployments: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._poll = poll_seconds
        self._drain = drain_timeout
        self._sleep = sleep
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()

    # ---- configs ------------------------------------------------------------------------
    def create_endpoint_config(self, name: str, variants: list[dict[str, Any]],
                               shadow_variants: list[dict[str, Any]] | None = None,
                               data_capture: dict[str, Any] | None = None) -> dict[str, Any]:
        """Variants: VariantName, ModelVersion ('group/N') or ModelDataUrl, InitialInstanceCount,
        InitialVariantWeight, optional EntryPoint. Shadow variants (at most one, as SageMaker
        allows) add SamplingPercentage. DataCaptureConfig: EnableCapture,
        InitialSamplingPercentage, DestinationS3Uri (default: <lake>/capture)."""
        if not variants:
            raise ValidationError(f"endpoint config '{name}' needs at least one variant")
        shadow_variants = shadow_variants or []
        if len(shadow_variants) > 1:
            raise ValidationError(f"endpoint config '{name}': at most one shadow variant")
        seen = set()
        for index, variant in enumerate(variants + shadow_variants):
            kind = "variant" if index < len(variants) else "shadow variant"
            where = f"endpoint config '{name}', {kind} {index if index < len(variants) else index - len(variants)}"
            if kind == "shadow variant":
                sampling = variant.get("SamplingPercentage", 100)
                if not isinstance(sampling, int | float) or not 0 <= sampling <= 100:
                    raise ValidationError(f"{where}: SamplingPercentage must be 0..100")
            if not variant.get("VariantName"):
                raise ValidationError(f"{where}: VariantName is required")
            if variant["VariantName"] in seen:
                raise ValidationError(f"{where}: duplicate VariantName '{variant['VariantName']}'")
            seen.add(variant["VariantName"])
            if not (variant.get("ModelVersion") or variant.get("ModelDataUrl")):
                raise ValidationError(f"{where}: ModelVersion (group/N) or ModelDataUrl is required")
            count = variant.get("InitialInstanceCount", 1)
            if not isinstance(count, int) or count < 1:
                raise ValidationError(f"{where}: InitialInstanceCount must be a positive integer")
            weight = variant.get("InitialVariantWeight", 1.0)
            if not isinstance(weight, int | float) or weight < 0:
                raise ValidationError(f"{where}: InitialVariantWeight must be >= 0")
        if sum(v.get("InitialVariantWeight", 1.0) for v in variants) <= 0:
            raise ValidationError(f"endpoint config '{name}': at least one variant needs a positive weight")
        CaptureConfig.from_aws(data_capture or {}, self._capture_root())  # validates
        with self.store.begin() as conn:
            if conn.execute(select(serving_endpoint_configs.c.name)
                            .where(serving_endpoint_configs.c.name == name)).first():
                raise ConflictError(f"endpoint config '{name}' already exists")
            conn.execute(insert(serving_endpoint_configs).values(
                name=name, variants=variants, shadow_variants=shadow_variants, data_capture=data_capture,
                created_at=_now()))
        return {"EndpointConfigName": name, "ProductionVariants": variants,
                "ShadowProductionVariants": shadow_variants, "DataCaptureConfig": data_capture}

    def _capture_root(self) -> str:
        return self.settings.lake_url.rstrip("/") + "/capture"

    def _config(self, name: str) -> Any:
        with self.store.connect() as conn:
            row = conn.execute(select(serving_endpoint_configs)
                               .where(serving_endpoint_configs.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"endpoint config '{name}' does not exist")
        return row

    # ---- alarms -------------------------------------------------------------------------
    def put_alarm(self, alarm: Alarm) -> Alarm:
        """Create or replace an alarm (kept in the metadata store, so it survives a restart)."""
        return self.alarms.put(alarm)

    def list_alarms(self) -> list[Alarm]:
        """Every alarm, re-evaluated now, by name."""
        return self.alarms.evaluate(self.metrics)

    def describe_alarm(self, name: str) -> Alarm:
        self.alarms.get(name)
        [alarm] = self.alarms.evaluate(self.metrics, [name])
        return alarm

    def alarm_history(self, name: str) -> list[dict[str, Any]]:
        return self.alarms.history(name)

    def delete_alarm(self, name: str) -> None:
        self.alarms.delete(name)

    def _alarm_in_alarm(self, names: tuple[str, ...]) -> Alarm | None:
        for alarm in self.alarms.evaluate(self.metrics, names):
            if alarm.state == AlarmState.ALARM:
                return alarm
        return None

    # ---- endpoints ----------------------------------------------------------------------
    def create_endpoint(self, name: str, config_name: str) -> dict[str, Any]:
        """Start the config's fleets and give them all traffic. The deployment history records
        the creation as its first entry (from no config), with the traffic split it began with."""
        config = self._config(config_name)
        with self.store.begin() as conn:
            if conn.execute(select(serving_endpoints.c.name).where(serving_endpoints.c.name == name)).first():
                raise ConflictError(f"endpoint '{name}' already exists")
            conn.execute(insert(serving_endpoints).values(
                name=name, config_name=config_name, status="Creating", created_at=_now(), updated_at=_now()))
            inserted = conn.execute(insert(serving_deployments).values(
                endpoint=name, from_config=None, to_config=config_name, policy={}, outcome="InProgress",
                started_at=_now())).inserted_primary_key
            assert inserted is not None
            deployment_id = inserted[0]
        try:
            running = self._provision(name, config)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self._event(deployment_id, "DeploymentFailed", 0.0, f"fleets failed to start: {reason}")
            self._finish(deployment_id, "Failed", reason)
            self._set_status(name, "Failed", reason)
            raise
        with self._lock:
            self._running[name] = running
        self.router.set_table(RoutingTable(name, (self._share(running, 1.0),)))
        self.metrics.start()
        self._set_capture(name, running)
        self._event(deployment_id, "Created", 1.0, _first_split(config))
        self._finish(deployment_id, "Succeeded", None)
        self._set_status(name, "InService")
        self._lineage(name, config_name, config.variants)
        return self.describe_endpoint(name)

    def update_endpoint(self, name: str, config_name: str,
                        deployment_config: dict[str, Any] | None = None, *, wait: bool = False) -> dict[str, Any]:
        """Deploy `config_name` to the endpoint with the given policy (default: all at once)."""
        endpoint = self._endpoint_row(name)
        if endpoint.status != "InService":
            raise ConflictError(f"endpoint '{name}' is {endpoint.status}; updates need InService")
        config = self._config(config_name)
        green_instances = sum(v.get("InitialInstanceCount", 1) for v in config.variants)
        blue_instances = sum(v.get("InitialInstanceCount", 1) for v in self._config(endpoint.config_name).variants)
        steps = plan(deployment_config, green_instances, blue_instances)
        unknown = self.alarms.missing(steps.alarms)
        if unknown:
            raise ValidationError(
                f"AutoRollbackConfiguration names alarms that do not exist: {', '.join(unknown)} "
                "(create them first: PUT /alarms/{name} or `podium endpoint alarm`)")
        with self.store.begin() as conn:
            inserted = conn.execute(insert(serving_deployments).values(
                endpoint=name, from_config=endpoint.config_name, to_config=config_name,
                policy=deployment_config or {}, outcome="InProgress", started_at=_now(),
            )).inserted_primary_key
            assert inserted is not None
            deployment_id = inserted[0]
            conn.execute(update(serving_endpoints).where(serving_endpoints.c.name == name)
                         .values(status="Updating", failure_reason=None, updated_at=_now()))
        thread = threading.Thread(target=self._deploy, name=f"deploy-{name}",
                                  args=(name, deployment_id, endpoint.config_name, config, steps),
                                  daemon=True)
        self._deployments[name] = thread
        thread.start()
        if wait:
            thread.join()
        return self.describe_endpoint(name)

    def wait_for_deployment(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        thread = self._deployments.get(name)
        if thread is not None:
            thread.join(timeout)
        return self.describe_endpoint(name)

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        row = self._endpoint_row(name)
        described: dict[str, Any] = {
            "EndpointName": row.name, "EndpointConfigName": row.config_name, "EndpointStatus": row.status,
            "CreationTime": row.created_at, "LastModifiedTime": row.updated_at,
        }
        if row.failure_reason:
            described["FailureReason"] = row.failure_reason
        try:
            described["TrafficShares"] = self.router.table(name).shares()
        except NotFoundError:
            described["TrafficShares"] = {}
        return described

    def list_endpoints(self) -> list[dict[str, Any]]:
        with self.store.connect() as conn:
            names = list(conn.scalars(select(serving_endpoints.c.name).order_by(serving_endpoints.c.name)))
        return [self.describe_endpoint(n) for n in names]

    def deployments(self, name: str) -> list[dict[str, Any]]:
        """Every deployment of the endpoint with its traffic shifts, oldest first."""
        with self.store.connect() as conn:
            rows = conn.execute(select(serving_deployments).where(serving_deployments.c.endpoint == name)
                                .order_by(serving_deployments.c.id)).all()
            history = []
            for row in rows:
                events = conn.execute(select(serving_deployment_events)
                                      .where(serving_deployment_events.c.deployment_id == row.id)
                                      .order_by(serving_deployment_events.c.id)).all()
                history.append({
                    "id": row.id, "from": row.from_config, "to": row.to_config, "outcome": row.outcome,
                    "reason": row.reason, "started_at": row.started_at, "ended_at": row.ended_at,
                    "events": [{"time": e.time, "kind": e.kind, "green_share": e.green_share,
                                "detail": e.detail} for e in events],
                })
        return history

    def delete_endpoint(self, name: str) -> None:
        self._endpoint_row(name)
        self.router.remove(name)
        with self._lock:
            running = self._running.pop(name, None)
        if running:
            running.stop(self._drain)
        with self.store.begin() as conn:
            conn.execute(serving_endpoints.delete().where(serving_endpoints.c.name == name))

    def metrics_summary(self, name: str, window_seconds: float = 60.0) -> dict[str, Any]:
        """Per config and variant over the last window: configured and observed traffic share,
        invocations, 4xx/5xx rates, p50/p99 model latency, p99 router overhead, live workers."""
        table = self.router.table(name)
        metrics, now = self.metrics, time.time()
        rows: list[dict[str, Any]] = []
        for fleet in table.fleets:
            weights = sum(v.weight for v in fleet.variants) or 1.0
            for variant in fleet.variants:
                d = dims(EndpointName=name, EndpointConfigName=fleet.config_name, VariantName=variant.name)

                def stat(metric: str, statistic: str, d: Dimensions = d) -> float | None:
                    return metrics.statistic(metric, d, statistic, window_seconds, now)

                calls = stat("Invocations", "Sum") or 0.0
                workers = variant.fleet.workers
                rows.append({
                    "EndpointConfigName": fleet.config_name, "VariantName": variant.name,
                    "TrafficShare": fleet.share * variant.weight / weights,
                    "Invocations": int(calls),
                    "Invocation4XXRate": (stat("Invocation4XXErrors", "Sum") or 0.0) / calls if calls else None,
                    "Invocation5XXRate": (stat("Invocation5XXErrors", "Sum") or 0.0) / calls if calls else None,
                    "ModelLatencyP50": stat("ModelLatency", "p50"), "ModelLatencyP99": stat("ModelLatency", "p99"),
                    "OverheadLatencyP99": stat("OverheadLatency", "p99"),
                    "LiveWorkers": sum(1 for w in workers if w.alive()), "Workers": len(workers),
                })
        total = sum(r["Invocations"] for r in rows)
        for row in rows:
            row["ObservedShare"] = row["Invocations"] / total if total else None
        return {"EndpointName": name, "WindowSeconds": window_seconds, "Variants": rows}

    def supervise(self) -> int:
        """Restart dead workers of every endpoint; returns how many were restarted."""
        with self._lock:
            running = list(self._running.values())
        return sum(fleet.replace_dead() for r in running for _, _, fleet in r.variants + r.shadows)

    def start_supervisor(self, interval: float = 1.0) -> None:
        """Restart dead workers in a background thread every `interval` seconds until shutdown."""
        if self._supervisor is not None:
            return

        def loop() -> None:
            while not self._stopping.wait(interval):
                try:
                    self.supervise()
                except Exception:  # a failed restart is retried on the next round
                    log.exception("supervising model workers failed")

        self._supervisor = threading.Thread(target=loop, name="podium-endpoint-supervisor", daemon=True)
        self._supervisor.start()

    def restore(self) -> list[str]:
        """Start the fleets of every endpoint the store says is serving (after a server restart).

        A deployment the previous server was running is recorded as failed and the endpoint
        serves its last good config, as after a rollback. Returns the endpoints restored."""
        with self.store.connect() as conn:
            rows = conn.execute(select(serving_endpoints).order_by(serving_endpoints.c.name)).all()
        restored = []
        for row in rows:
            if self._stopping.is_set():
                break
            with self._lock:
                if row.name in self._running:
                    continue
            if row.status == "Creating":
                stopped = "the server stopped while the endpoint was being created"
                self._fail_open_deployment(row.name, stopped)
                self._set_status(row.name, "Failed", stopped)
                continue
            if row.status not in ("InService", "Updating", "RollingBack"):
                continue
            reason = None
            if row.status != "InService":
                reason = "the server stopped during a deployment; serving the last good config"
                self._fail_open_deployment(row.name, reason)
            try:
                running = self._provision(row.name, self._config(row.config_name))
            except Exception as exc:
                self._set_status(row.name, "Failed", f"restart failed: {type(exc).__name__}: {exc}")
                continue
            with self._lock:
                self._running[row.name] = running
            self.router.set_table(RoutingTable(row.name, (self._share(running, 1.0),)))
            self.metrics.start()
            self._set_capture(row.name, running)
            self._set_status(row.name, "InService", reason)
            restored.append(row.name)
        return restored

    def shutdown(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        for thread in list(self._deployments.values()):
            thread.join(timeout=1)
        with self._lock:
            running, self._running = list(self._running.values()), {}
        for item in running:
            item.stop(0)
        self.metrics.close()

    # ---- internals ----------------------------------------------------------------------
    def _endpoint_row(self, name: str) -> Any:
        with self.store.connect() as conn:
            row = conn.execute(select(serving_endpoints).where(serving_endpoints.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"endpoint '{name}' does not exist")
        return row

    def _fail_open_deployment(self, name: str, reason: str) -> None:
        """Mark the endpoint's in-progress deployment Failed with `reason` (found at start-up)."""
        with self.store.begin() as conn:
            conn.execute(update(serving_deployments)
                         .where(serving_deployments.c.endpoint == name,
                                serving_deployments.c.outcome == "InProgress")
                         .values(outcome="Failed", reason=reason, ended_at=_now()))

    def _set_status(self, name: str, status: str, reason: str | None = None, config: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "failure_reason": reason, "updated_at": _now()}
        if config:
            values["config_name"] = config
        with self.store.begin() as conn:
            conn.execute(update(serving_endpoints).where(serving_endpoints.c.name == name).values(**values))

    def _resolve(self, variant: dict[str, Any]) -> tuple[Path, Path | None]:
        entry = variant.get("EntryPoint")
        if variant.get("ModelVersion"):
            version = ModelRegistry(self.store).describe(*parse_ref(variant["ModelVersion"]))
            artifact = Path(version["ArtifactUri"])
            inference = version["InferenceSpecification"] or {}
            if not entry and inference.get("entry_point"):
                entry = str(Path(inference.get("source_dir") or ".") / inference["entry_point"])
        else:
            artifact = Path(variant["ModelDataUrl"])
        return artifact, Path(entry).resolve() if entry else None

    def _provision(self, endpoint: str, config: Any, fraction: float = 1.0) -> _Running:
        """Start the config's fleets; `fraction` (rolling updates) of each production variant's
        instance count, rounded up. Shadow variants always start whole."""
        running = _Running(config.name, [], [],
                           CaptureConfig.from_aws(config.data_capture or {}, self._capture_root()))
        try:
            for variants, target, weight_key, default in (
                (config.variants, running.variants, "InitialVariantWeight", 1.0),
                (config.shadow_variants or [], running.shadows, "SamplingPercentage", 100.0),
            ):
                for variant in variants:
                    artifact, entry = self._resolve(variant)
                    workdir = self.settings.path("serving", endpoint, config.name, variant["VariantName"])
                    workdir.mkdir(parents=True, exist_ok=True)
                    count = variant.get("InitialInstanceCount", 1)
                    if target is running.variants:
                        count = instances(count, fraction)
                    fleet = Fleet(artifact=artifact, workdir=workdir, count=count, entry_point=entry)
                    target.append((variant["VariantName"], float(variant.get(weight_key, default)), fleet))
                    fleet.start()
        except BaseException:
            running.stop(0)
            raise
        return running

    @staticmethod
    def _share(running: _Running, share: float) -> FleetShare:
        return FleetShare(
            running.config_name, share,
            tuple(VariantRoute(name, weight, fleet) for name, weight, fleet in running.variants),
            tuple(ShadowRoute(name, percent / 100.0, fleet) for name, percent, fleet in running.shadows),
        )

    def _set_capture(self, endpoint: str, running: _Running) -> None:
        writer = CaptureWriter(endpoint, running.capture) if running.capture else None
        self.router.set_capture(endpoint, writer)

    def _event(self, deployment_id: int, kind: str, green_share: float, detail: str) -> None:
        with self.store.begin() as conn:
            conn.execute(insert(serving_deployment_events).values(
                deployment_id=deployment_id, time=_now(), kind=kind, green_share=green_share, detail=detail))

    def _finish(self, deployment_id: int, outcome: str, reason: str | None) -> None:
        with self.store.begin() as conn:
            conn.execute(update(serving_deployments).where(serving_deployments.c.id == deployment_id)
                         .values(outcome=outcome, reason=reason, ended_at=_now()))

    def _bake(self, step_seconds: float, steps: Plan, deadline: float) -> str | None:
        """Watch the alarms for a baking period; the reason to roll back, or None."""
        bake_end = time.monotonic() + step_seconds
        while True:
            alarm = self._alarm_in_alarm(steps.alarms)
            if alarm is not None:
                return f"alarm '{alarm.name}' entered ALARM during baking: {alarm.reason}"
            if time.monotonic() > deadline:
                return "MaximumExecutionTimeoutInSeconds reached before the deployment finished"
            if time.monotonic() >= bake_end:
                return None
            self._sleep(self._poll)

    def _deploy(self, name: str, deployment_id: int, blue_config: str, config: Any, steps: Plan) -> None:
        if steps.rolling:
            self._deploy_rolling(name, deployment_id, blue_config, config, steps)
            return
        green_config = config.name
        deadline = time.monotonic() + steps.max_execution_seconds
        with self._lock:
            blue = self._running[name]
        self._event(deployment_id, "ProvisioningGreen", 0.0, f"starting fleets for {green_config}")
        try:
            green = self._provision(name, config)
        except Exception as exc:
            reason = f"green fleet failed to start: {type(exc).__name__}: {exc}"
            self._event(deployment_id, "DeploymentFailed", 0.0, reason)
            self._finish(deployment_id, "Failed", reason)
            self._set_status(name, "InService", f"UpdateFailed: {reason}")
            return
        for step in steps.steps:
            self.router.set_table(RoutingTable(name, (self._share(blue, 1.0 - step.green_share),
                                                      self._share(green, step.green_share))))
            self._event(deployment_id, "TrafficShifted", step.green_share, step.label)
            failure = self._bake(step.bake_seconds, steps, deadline)
            if failure is not None:
                self._rollback(name, deployment_id, blue, green, failure)
                return
        if steps.termination_wait_seconds:
            self._event(deployment_id, "TerminationWait", 1.0,
                        f"waiting {steps.termination_wait_seconds:g} s before stopping blue")
            self._sleep(steps.termination_wait_seconds)
        self._complete(name, deployment_id, blue, blue_config, green, config)

    def _complete(self, name: str, deployment_id: int, blue: _Running, blue_config: str,
                  green: _Running, config: Any) -> None:
        """All traffic on green (`config`): route it, stop blue (drained), record the success."""
        self.router.set_table(RoutingTable(name, (self._share(green, 1.0),)))
        self._set_capture(name, green)
        with self._lock:
            self._running[name] = green
        blue.stop(self._drain)
        self._event(deployment_id, "BlueTerminated", 1.0, f"{blue_config} drained and stopped")
        self._finish(deployment_id, "Succeeded", None)
        self._set_status(name, "InService", config=config.name)
        self._lineage(name, config.name, config.variants)

    def _deploy_rolling(self, name: str, deployment_id: int, blue_config: str, config: Any, steps: Plan) -> None:
        """SageMaker's rolling update: per batch, start that much of green, shift the same share
        of traffic to it, bake, then stop as much of blue (drained first). Both fleets together
        never hold much more than one fleet plus one batch."""
        green_config = config.name
        deadline = time.monotonic() + steps.max_execution_seconds
        with self._lock:
            blue = self._running[name]
        blue_counts = {vname: fleet.count for vname, _, fleet in blue.variants}
        green_counts = {v["VariantName"]: v.get("InitialInstanceCount", 1) for v in config.variants}
        green: _Running | None = None
        blue_left = 1.0  # the part of blue's capacity still running
        for step in steps.steps:
            share = step.green_share
            self._event(deployment_id, "ProvisioningBatch", 1.0 - blue_left,
                        f"{step.label}: starting {green_config} up to {share:.0%} of its instances")
            try:
                if green is None:
                    green = self._provision(name, config, share)
                else:
                    for vname, _, fleet in green.variants:
                        fleet.grow(instances(green_counts[vname], share))
            except Exception as exc:
                reason = f"green batch failed to start: {type(exc).__name__}: {exc}"
                if green is None:
                    self._event(deployment_id, "DeploymentFailed", 0.0, reason)
                    self._finish(deployment_id, "Failed", reason)
                    self._set_status(name, "InService", f"UpdateFailed: {reason}")
                    return
                self._rollback_rolling(name, deployment_id, blue, green, blue_counts, blue_left, steps, reason)
                return
            self.router.set_table(RoutingTable(name, (self._share(blue, 1.0 - share),
                                                      self._share(green, share))))
            self._event(deployment_id, "TrafficShifted", share, step.label)
            failure = self._bake(step.bake_seconds, steps, deadline)
            if failure is not None:
                self._rollback_rolling(name, deployment_id, blue, green, blue_counts, blue_left, steps, failure)
                return
            blue_left = 1.0 - share
            if blue_left > 0:
                stopped = sum(fleet.shrink(instances(blue_counts[vname], blue_left), self._drain)
                              for vname, _, fleet in blue.variants)
                self._event(deployment_id, "BlueBatchTerminated", share,
                            f"{stopped} {blue_config} worker(s) drained and stopped")
        assert green is not None
        self._complete(name, deployment_id, blue, blue_config, green, config)

    def _rollback_rolling(self, name: str, deployment_id: int, blue: _Running, green: _Running,
                          blue_counts: dict[str, int], blue_left: float, steps: Plan, reason: str) -> None:
        """New requests go to blue at once (what it has left serves them); green drains and stops;
        then blue is restarted to its full size, `RollbackMaximumBatchSize` at a time."""
        self.router.set_table(RoutingTable(name, (self._share(blue, 1.0),)))
        self._set_status(name, "RollingBack", reason)
        self._event(deployment_id, "RollbackStarted", 0.0, reason)
        green.stop(self._drain)
        problem = None
        while blue_left < 1.0 and problem is None:
            blue_left = min(1.0, round(blue_left + steps.rollback_batch, 6))
            try:
                started = sum(fleet.grow(instances(blue_counts[vname], blue_left))
                              for vname, _, fleet in blue.variants)
            except Exception as exc:
                problem = f"restarting blue failed: {type(exc).__name__}: {exc}"
                self._event(deployment_id, "RollbackBatchFailed", 0.0, problem)
                break
            self._event(deployment_id, "BlueBatchRestored", 0.0,
                        f"{started} worker(s) restarted; blue at {blue_left:.0%} of its instances")
        self._event(deployment_id, "RolledBack", 0.0, "all traffic on blue; green stopped")
        self._finish(deployment_id, "RolledBack", reason if problem is None else f"{reason}; {problem}")
        self._set_status(name, "InService", f"last deployment rolled back: {reason}")

    def _rollback(self, name: str, deployment_id: int, blue: _Running, green: _Running, reason: str) -> None:
        # New requests go to blue at once; green's in-flight requests finish before it stops.
        self.router.set_table(RoutingTable(name, (self._share(blue, 1.0),)))
        self._set_status(name, "RollingBack", reason)
        self._event(deployment_id, "RollbackStarted", 0.0, reason)
        green.stop(self._drain)
        self._event(deployment_id, "RolledBack", 0.0, "all traffic on blue; green stopped")
        self._finish(deployment_id, "RolledBack", reason)
        self._set_status(name, "InService", f"last deployment rolled back: {reason}")

    def _lineage(self, endpoint: str, config_name: str, variants: list[dict[str, Any]]) -> None:
        lineage = Lineage(self.store)
        target = lineage.artifact("endpoint", endpoint, properties={"config": config_name})
        for variant in variants:
            if variant.get("ModelVersion"):
                version = lineage.artifact("model-version", variant["ModelVersion"])
                lineage.associate(version, target, "DeployedAs")


def _first_split(config: Any) -> str:
    """How a new endpoint's traffic is split, for its deployment history."""
    variants = config.variants
    total = sum(float(v.get("InitialVariantWeight", 1.0)) for v in variants)
    split = ", ".join(f"{float(v.get('InitialVariantWeight', 1.0)) / total:.0%} to variant {v['VariantName']}"
                      f" ({v.get('ModelVersion') or v.get('ModelDataUrl')})" for v in variants)
    shadows = "".join(f"; shadow variant {v['VariantName']} gets a {float(v.get('SamplingPercentage', 100)):g}% copy"
                      for v in config.shadow_variants or [])
    return f"created with config {config.name}: {split}{shadows}"
