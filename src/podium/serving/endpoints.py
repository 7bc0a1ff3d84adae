"""Endpoints: configs of variants, worker fleets behind the router, and safe deployments.

An update runs a blue/green deployment in a background thread: provision green, shift traffic
step by step (all at once, canary, linear), bake after each shift while watching the alarms,
then drain and stop blue — or, when an alarm fires or the deadline passes, send every new
request back to blue at once, let in-flight green requests finish, and stop green. Every shift
and its reason is recorded in the deployment history, beginning with the endpoint's creation
(from no config to its first one).

Alarms and the metrics summary read every router process's traffic (podium.metrics.shared):
this process publishes its router's metrics to the metadata store once it serves an endpoint.

Several router processes on one store: each runs its own worker fleets. The process running a
deployment owns it under a lease (podium.serving.ownership) and commits each traffic shift to
the store before applying it; every other process follows the committed routing state with its
own workers (podium.serving.follow).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

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
from podium.serving.follow import Follower, commit_routing, committed_placements, fleet_key
from podium.serving.ownership import LeaseLost, Leases
from podium.serving.pool import Fleet
from podium.serving.router import Router
from podium.serving.routing import FleetShare, Placement, RoutingTable, ShadowRoute, VariantRoute
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
    full: dict[str, int] = field(default_factory=dict)  # each production variant's whole instance count

    def stop(self, drain_timeout: float) -> None:
        for _, _, fleet in self.variants + self.shadows:
            fleet.stop(drain_timeout)

    def grow_to(self, capacity: float) -> int:
        """Start workers until each production variant runs `capacity` of its instances."""
        return sum(fleet.grow(instances(self.full[name], capacity)) for name, _, fleet in self.variants)

    def shrink_to(self, capacity: float, drain_timeout: float) -> int:
        """Drain and stop workers beyond `capacity` of each production variant's instances."""
        return sum(fleet.shrink(instances(self.full[name], capacity), drain_timeout)
                   for name, _, fleet in self.variants)


def _now() -> datetime:
    return datetime.now(UTC)


class EndpointService:
    """Create, update (deploy), describe and delete endpoints served by `router`. With other
    router processes on the same store, its leases and following run at the intervals the
    settings give (serving_lease_seconds, serving_lease_renew_seconds, serving_sync_seconds)."""

    def __init__(self, settings: Settings, store: Store, router: Router | None = None,
                 *, poll_seconds: float = 0.05, drain_timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.store = store
        self.router = router or Router()
        # The router's metrics merged with those of every other router process on the store.
        self.metrics = SharedMetrics(store, self.router.metrics)
        self.alarms = AlarmRegistry(store)
        # endpoint -> fleet key -> the fleets this process runs for it (blue and green in a deployment)
        self._fleets: dict[str, dict[str, _Running]] = {}
        self._deployments: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self.leases = Leases(store, settings.serving_lease_seconds, settings.serving_lease_renew_seconds)
        self.owner_id = self.leases.owner_id
        self._follower = Follower(self, settings.serving_sync_seconds)
        self._owned: dict[str, int | None] = {}  # endpoint -> deployment this process runs on it
        self._applied: dict[str, int] = {}  # endpoint -> generation of the routing state routed here
        self._endpoint_locks: dict[str, threading.Lock] = {}
        self._capturing: dict[str, _Running] = {}  # endpoint -> the fleets whose capture config is used
        self._lost: set[int] = set()  # deployments this process ran that another took over
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
        with self._inserting(serving_endpoint_configs, name, "endpoint config"), self.store.begin() as conn:
            if conn.execute(select(serving_endpoint_configs.c.name)
                            .where(serving_endpoint_configs.c.name == name)).first():
                raise ConflictError(f"endpoint config '{name}' already exists")
            conn.execute(insert(serving_endpoint_configs).values(
                name=name, variants=variants, shadow_variants=shadow_variants, data_capture=data_capture,
                created_at=_now()))
        return {"EndpointConfigName": name, "ProductionVariants": variants,
                "ShadowProductionVariants": shadow_variants, "DataCaptureConfig": data_capture}

    @contextmanager
    def _inserting(self, table: Table, name: str, what: str) -> Iterator[None]:
        """Around a transaction that checks `name` is free in `table`, then inserts it: when another
        process inserted the same name in between (PostgreSQL lets both checks pass; its key then
        refuses the second insert), this fails as a sequential duplicate does."""
        try:
            yield
        except IntegrityError:
            with self.store.connect() as conn:
                taken = conn.execute(select(table.c.name).where(table.c.name == name)).first()
            if taken is None:
                raise
            raise ConflictError(f"{what} '{name}' already exists") from None

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
        with self._endpoint_lock(name), self._lock:
            if name in self._owned:
                raise ConflictError(f"endpoint '{name}' already exists")
            self._owned[name] = None  # no other thread here routes it until this ends
        try:
            with self._inserting(serving_endpoints, name, "endpoint"), self.store.begin() as conn:
                if conn.execute(select(serving_endpoints.c.name).where(serving_endpoints.c.name == name)).first():
                    raise ConflictError(f"endpoint '{name}' already exists")
                conn.execute(insert(serving_endpoints).values(
                    name=name, config_name=config_name, status="Creating", created_at=_now(), updated_at=_now()))
                deployment_id = self.leases.insert_deployment(conn, name, None, config_name, {})
            with self._lock:
                self._owned[name] = deployment_id
            self._follower.start()
            try:
                running = self._provision(name, config)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                self._event(deployment_id, "DeploymentFailed", 0.0, f"fleets failed to start: {reason}")
                self._finish(name, deployment_id, "Failed", reason, status="Failed", failure_reason=reason)
                raise
            key = fleet_key(config_name, deployment_id)
            self._add_fleet(name, key, running)
            self._route(name, deployment_id, [Placement(key, config_name, 1.0)])
            self.metrics.start()
            self._event(deployment_id, "Created", 1.0, _first_split(config))
            self._finish(name, deployment_id, "Succeeded", None, status="InService", failure_reason=None)
        finally:
            with self._lock:
                self._owned.pop(name, None)
        self._lineage(name, config_name, config.variants)
        return self.describe_endpoint(name)

    def update_endpoint(self, name: str, config_name: str,
                        deployment_config: dict[str, Any] | None = None, *, wait: bool = False) -> dict[str, Any]:
        """Deploy `config_name` to the endpoint with the given policy (default: all at once).
        This process runs the deployment and holds its lease; the others follow its shifts."""
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
        with self._endpoint_lock(name):
            # Blue must run here as committed: a change another process made is applied first.
            self._follower.apply(name)
            endpoint = self._endpoint_row(name)
            placements = committed_placements(endpoint)
            with self._lock:
                here = self._fleets.get(name, {})
                ready = (self._applied.get(name) == endpoint.generation and len(placements) == 1
                         and placements[0].key in here)
            if not ready or endpoint.status != "InService":
                raise ConflictError(f"endpoint '{name}' is {endpoint.status} and not yet serving its committed "
                                    "config in this process; retry in a moment")
            with self.store.begin() as conn:
                claimed = conn.execute(
                    update(serving_endpoints)
                    .where(serving_endpoints.c.name == name, serving_endpoints.c.status == "InService",
                           serving_endpoints.c.generation == endpoint.generation)
                    .values(status="Updating", failure_reason=None, updated_at=_now())).rowcount
                if claimed != 1:
                    raise ConflictError(f"endpoint '{name}' changed meanwhile (another process deploys it); "
                                        "updates need InService")
                deployment_id = self.leases.insert_deployment(conn, name, endpoint.config_name, config_name,
                                                              deployment_config or {})
            with self._lock:
                self._owned[name] = deployment_id
        self._follower.start()
        thread = threading.Thread(target=self._run_deployment, name=f"deploy-{name}",
                                  args=(name, deployment_id, placements[0], config, steps), daemon=True)
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
        with self._lock:
            failed = self._follower.errors.get(name)
        if failed is not None:  # this process still routes by an older state than the store's
            described["FollowErrors"] = [dict(failed)]
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
        """Delete the endpoint and stop its fleets here; other processes stop theirs when they
        see it gone."""
        self._endpoint_row(name)
        with self._endpoint_lock(name):
            with self.store.begin() as conn:
                # A deployment in progress ends here; its process stops it at its next step.
                conn.execute(update(serving_deployments)
                             .where(serving_deployments.c.endpoint == name,
                                    serving_deployments.c.outcome == "InProgress")
                             .values(outcome="Failed", reason="the endpoint was deleted", ended_at=_now(),
                                     lease_until=None))
                conn.execute(serving_endpoints.delete().where(serving_endpoints.c.name == name))
            self.router.remove(name)
            with self._lock:
                fleets = self._fleets.pop(name, {})
                self._applied.pop(name, None)
                self._capturing.pop(name, None)
                self._follower.errors.pop(name, None)
        for running in fleets.values():
            running.stop(self._drain)

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
            running = [r for fleets in self._fleets.values() for r in fleets.values()]
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
        """Serve every endpoint of the store as its committed routing state says (at start-up),
        and from now on follow every endpoint, also those other processes create.

        A deployment whose owner's lease expired (its process stopped) is taken over first: the
        endpoint serves its last good config, as after a rollback, and the deployment is recorded
        as failed; one whose owner still renews its lease is left to it and followed. Returns the
        endpoints served."""
        self._follower.serve_all = True
        self.leases.take_over_expired(None, self._runs)
        with self.store.connect() as conn:
            names = list(conn.scalars(select(serving_endpoints.c.name).order_by(serving_endpoints.c.name)))
        restored = []
        for name in names:
            if self._stopping.is_set():
                break
            if self._follower.follow_or_retry(name):
                restored.append(name)
        self._follower.start()
        return restored

    def sync(self) -> None:
        """One round of following the store (podium.serving.follow): renew the leases of the
        deployments this process runs, take over those whose owner's lease expired, and apply
        every endpoint's routing state that changed since this process last applied it."""
        self._follower.sync()

    def shutdown(self) -> None:
        self._stopping.set()
        with self._lock:
            ids = [d for d in self._owned.values() if d is not None]
        if ids:  # released, so another process takes the deployments over at once
            try:
                self.leases.release(ids)
            except Exception:
                log.exception("releasing the leases of deployments in progress failed")
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        self._follower.join()
        for thread in list(self._deployments.values()):
            thread.join(timeout=1)
        with self._lock:
            fleets, self._fleets = self._fleets, {}
        for running in [r for by_key in fleets.values() for r in by_key.values()]:
            running.stop(0)
        self.metrics.close()

    def _endpoint_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._endpoint_locks.setdefault(name, threading.Lock())

    def _runs(self, endpoint: str, deployment_id: int) -> bool:
        """Whether this process runs the deployment (so it is never taken over here)."""
        with self._lock:
            return self._owned.get(endpoint) == deployment_id

    # ---- internals ----------------------------------------------------------------------
    def _endpoint_row(self, name: str) -> Any:
        with self.store.connect() as conn:
            row = conn.execute(select(serving_endpoints).where(serving_endpoints.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"endpoint '{name}' does not exist")
        return row

    def _hold(self, conn: Connection, deployment_id: int) -> None:
        """Renew this process's lease on the deployment, in `conn`'s transaction, or raise
        LeaseLost: what this process commits for a deployment is fenced by its lease."""
        if self._stopping.is_set():
            raise LeaseLost("the endpoint service is shutting down")
        self.leases.hold(conn, deployment_id)

    def _route(self, name: str, deployment_id: int, placements: list[Placement], **values: Any) -> None:
        """Commit a routing state of the endpoint this process deploys, then route by it here."""
        with self.store.begin() as conn:
            self._hold(conn, deployment_id)
            generation = commit_routing(conn, name, placements, **values)
        self._set_routing(name, placements, generation)

    def _set_routing(self, name: str, placements: list[Placement], generation: int) -> None:
        """Route the endpoint here by `placements`, with the fleets this process runs for them.
        Data capture follows the first placement's fleet (blue until a deployment completes)."""
        with self._lock:
            here = self._fleets.get(name, {})
            routed = [(p, here[p.key]) for p in placements if p.key in here]
        if routed:
            self.router.set_table(RoutingTable(name, tuple(self._share(running, p.share) for p, running in routed)))
            self._set_capture(name, routed[0][1])
        else:
            self.router.remove(name)
            with self._lock:
                self._capturing.pop(name, None)
        with self._lock:
            self._applied[name] = generation

    def _finish(self, name: str, deployment_id: int, outcome: str, reason: str | None, **values: Any) -> None:
        """Record the deployment's outcome and the endpoint's new `values` (status, ...)."""
        with self.store.begin() as conn:
            self._hold(conn, deployment_id)
            conn.execute(update(serving_deployments).where(serving_deployments.c.id == deployment_id)
                         .values(outcome=outcome, reason=reason, ended_at=_now(), lease_until=None))
            if values:
                conn.execute(update(serving_endpoints).where(serving_endpoints.c.name == name)
                             .values(updated_at=_now(), **values))

    def _add_fleet(self, name: str, key: str, running: _Running) -> None:
        with self._lock:
            self._fleets.setdefault(name, {})[key] = running

    def _stop_fleet(self, name: str, key: str) -> None:
        """Take fleet `key` off the endpoint here and stop it, drained first (the routing no
        longer names it)."""
        with self._lock:
            running = self._fleets.get(name, {}).pop(key, None)
        if running is not None:
            running.stop(self._drain)

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
                           CaptureConfig.from_aws(config.data_capture or {}, self._capture_root()),
                           {v["VariantName"]: v.get("InitialInstanceCount", 1) for v in config.variants})
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
        """Capture by `running`'s data capture config; a fleet already capturing keeps its writer."""
        with self._lock:
            if self._capturing.get(endpoint) is running:
                return
            self._capturing[endpoint] = running
        self.router.set_capture(endpoint, CaptureWriter(endpoint, running.capture) if running.capture else None)

    def _event(self, deployment_id: int, kind: str, green_share: float, detail: str) -> None:
        with self.store.begin() as conn:
            conn.execute(insert(serving_deployment_events).values(
                deployment_id=deployment_id, time=_now(), kind=kind, green_share=green_share, detail=detail))

    def _bake(self, deployment_id: int, step_seconds: float, steps: Plan, deadline: float) -> str | None:
        """Watch the alarms for a baking period; the reason to roll back, or None."""
        bake_end = time.monotonic() + step_seconds
        while True:
            if self._stopping.is_set():
                raise LeaseLost("the endpoint service is shutting down")
            if deployment_id in self._lost:
                raise LeaseLost(f"deployment {deployment_id} was taken over by another process (its lease expired)")
            alarm = self._alarm_in_alarm(steps.alarms)
            if alarm is not None:
                return f"alarm '{alarm.name}' entered ALARM during baking: {alarm.reason}"
            if time.monotonic() > deadline:
                return "MaximumExecutionTimeoutInSeconds reached before the deployment finished"
            if time.monotonic() >= bake_end:
                return None
            self._sleep(self._poll)

    def _run_deployment(self, name: str, deployment_id: int, blue: Placement, config: Any, steps: Plan) -> None:
        lost = False
        try:
            if steps.rolling:
                self._deploy_rolling(name, deployment_id, blue, config, steps)
            else:
                self._deploy(name, deployment_id, blue, config, steps)
        except LeaseLost as exc:
            lost = True
            log.warning("deployment %s of endpoint %s stopped here: %s", deployment_id, name, exc)
        except Exception:  # its lease runs out and a process takes it over (rolls it back)
            lost = True
            log.exception("deployment %s of endpoint %s failed", deployment_id, name)
        finally:
            with self._lock:
                self._owned.pop(name, None)
                self._lost.discard(deployment_id)
                if lost:
                    self._applied.pop(name, None)  # routed as committed by the next sync round

    def _deploy(self, name: str, deployment_id: int, blue: Placement, config: Any, steps: Plan) -> None:
        green_config = config.name
        deadline = time.monotonic() + steps.max_execution_seconds
        green = Placement(fleet_key(green_config, deployment_id), green_config, 0.0)
        # Committed before green starts here, so the other processes start theirs meanwhile.
        self._route(name, deployment_id, [blue, green])
        self._event(deployment_id, "ProvisioningGreen", 0.0, f"starting fleets for {green_config}")
        try:
            self._add_fleet(name, green.key, self._provision(name, config))
        except Exception as exc:
            reason = f"green fleet failed to start: {type(exc).__name__}: {exc}"
            self._route(name, deployment_id, [blue])
            self._event(deployment_id, "DeploymentFailed", 0.0, reason)
            self._finish(name, deployment_id, "Failed", reason, status="InService",
                         failure_reason=f"UpdateFailed: {reason}")
            return
        for step in steps.steps:
            self._route(name, deployment_id, [replace(blue, share=1.0 - step.green_share),
                                              replace(green, share=step.green_share)])
            self._event(deployment_id, "TrafficShifted", step.green_share, step.label)
            failure = self._bake(deployment_id, step.bake_seconds, steps, deadline)
            if failure is not None:
                self._rollback(name, deployment_id, blue, green, failure)
                return
        if steps.termination_wait_seconds:
            self._event(deployment_id, "TerminationWait", 1.0,
                        f"waiting {steps.termination_wait_seconds:g} s before stopping blue")
            self._sleep(steps.termination_wait_seconds)
        self._complete(name, deployment_id, blue, green, config)

    def _complete(self, name: str, deployment_id: int, blue: Placement, green: Placement, config: Any) -> None:
        """All traffic on green (`config`): route it, stop blue (drained), record the success."""
        self._route(name, deployment_id, [replace(green, share=1.0, capacity=1.0)], config_name=config.name)
        self._stop_fleet(name, blue.key)
        self._event(deployment_id, "BlueTerminated", 1.0, f"{blue.config_name} drained and stopped")
        self._finish(name, deployment_id, "Succeeded", None, status="InService", failure_reason=None)
        self._lineage(name, config.name, config.variants)

    def _deploy_rolling(self, name: str, deployment_id: int, blue: Placement, config: Any, steps: Plan) -> None:
        """SageMaker's rolling update: per batch, start that much of green, shift the same share
        of traffic to it, bake, then stop as much of blue (drained first). Both fleets together
        never hold much more than one fleet plus one batch."""
        green_config = config.name
        deadline = time.monotonic() + steps.max_execution_seconds
        with self._lock:
            blue_fleets = self._fleets[name][blue.key]
        green = Placement(fleet_key(green_config, deployment_id), green_config, 0.0, 0.0)
        green_fleets: _Running | None = None
        blue_left = 1.0  # the part of blue's capacity still running
        for step in steps.steps:
            share = step.green_share
            # The batch is committed before it starts here, so the other processes start theirs too.
            self._route(name, deployment_id, [replace(blue, share=1.0 - green.share, capacity=blue_left),
                                              replace(green, capacity=share)])
            self._event(deployment_id, "ProvisioningBatch", 1.0 - blue_left,
                        f"{step.label}: starting {green_config} up to {share:.0%} of its instances")
            try:
                if green_fleets is None:
                    green_fleets = self._provision(name, config, share)
                    self._add_fleet(name, green.key, green_fleets)
                else:
                    green_fleets.grow_to(share)
            except Exception as exc:
                reason = f"green batch failed to start: {type(exc).__name__}: {exc}"
                if green_fleets is None:
                    self._route(name, deployment_id, [blue])
                    self._event(deployment_id, "DeploymentFailed", 0.0, reason)
                    self._finish(name, deployment_id, "Failed", reason, status="InService",
                                 failure_reason=f"UpdateFailed: {reason}")
                    return
                self._rollback_rolling(name, deployment_id, blue, green, blue_left, steps, reason)
                return
            green = replace(green, share=share, capacity=share)
            self._route(name, deployment_id, [replace(blue, share=1.0 - share, capacity=blue_left), green])
            self._event(deployment_id, "TrafficShifted", share, step.label)
            failure = self._bake(deployment_id, step.bake_seconds, steps, deadline)
            if failure is not None:
                self._rollback_rolling(name, deployment_id, blue, green, blue_left, steps, failure)
                return
            blue_left = 1.0 - share
            if blue_left > 0:
                stopped = blue_fleets.shrink_to(blue_left, self._drain)
                self._route(name, deployment_id, [replace(blue, share=1.0 - share, capacity=blue_left), green])
                self._event(deployment_id, "BlueBatchTerminated", share,
                            f"{stopped} {blue.config_name} worker(s) drained and stopped")
        assert green_fleets is not None
        self._complete(name, deployment_id, blue, green, config)

    def _rollback_rolling(self, name: str, deployment_id: int, blue: Placement, green: Placement,
                          blue_left: float, steps: Plan, reason: str) -> None:
        """New requests go to blue at once (what it has left serves them); green drains and stops;
        then blue is restarted to its full size, `RollbackMaximumBatchSize` at a time."""
        self._route(name, deployment_id, [replace(blue, share=1.0, capacity=blue_left)],
                    status="RollingBack", failure_reason=reason)
        self._event(deployment_id, "RollbackStarted", 0.0, reason)
        self._stop_fleet(name, green.key)
        with self._lock:
            blue_fleets = self._fleets[name][blue.key]
        problem = None
        while blue_left < 1.0 and problem is None:
            blue_left = min(1.0, round(blue_left + steps.rollback_batch, 6))
            try:
                started = blue_fleets.grow_to(blue_left)
            except Exception as exc:
                problem = f"restarting blue failed: {type(exc).__name__}: {exc}"
                self._event(deployment_id, "RollbackBatchFailed", 0.0, problem)
                break
            self._route(name, deployment_id, [replace(blue, share=1.0, capacity=blue_left)])
            self._event(deployment_id, "BlueBatchRestored", 0.0,
                        f"{started} worker(s) restarted; blue at {blue_left:.0%} of its instances")
        self._event(deployment_id, "RolledBack", 0.0, "all traffic on blue; green stopped")
        self._finish(name, deployment_id, "RolledBack", reason if problem is None else f"{reason}; {problem}",
                     status="InService", failure_reason=f"last deployment rolled back: {reason}")

    def _rollback(self, name: str, deployment_id: int, blue: Placement, green: Placement, reason: str) -> None:
        # New requests go to blue at once; green's in-flight requests finish before it stops.
        self._route(name, deployment_id, [replace(blue, share=1.0)], status="RollingBack", failure_reason=reason)
        self._event(deployment_id, "RollbackStarted", 0.0, reason)
        self._stop_fleet(name, green.key)
        self._event(deployment_id, "RolledBack", 0.0, "all traffic on blue; green stopped")
        self._finish(name, deployment_id, "RolledBack", reason, status="InService",
                     failure_reason=f"last deployment rolled back: {reason}")

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
