"""The flagship's resources in one PODIUM_HOME, created from examples/nightly-retrain/ and
reused when they exist: the batch job, feature groups, clickstream stream and delivery stream,
the state machine on the durable engine (with every integration and the two functions), the
schedule, the file-arrival rule and its folder watcher, and the endpoint service with its
rollback alarm.

`Flagship.open(home)` sets everything up and registers the Task integrations on the engine;
`wait_for(engine, arn)` follows one execution state by state; `close()` stops the worker, the
endpoint's model workers and the function processes.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.config import Settings
from podium.errors import ConflictError, MissingDependencyError, NotFoundError
from podium.store import Store, open_store

WORKFLOW = "nightly-retrain"
JOB = "nightly-transactions"
STREAM = "clickstream"
DELIVERY = "clickstream-to-lake"
ENDPOINT = "propensity"
RULE = "landing-file"
WATCH = "landing"


def examples_dir() -> Path:
    """examples/nightly-retrain in the source tree Podium runs from (an editable install)."""
    import podium

    folder = Path(podium.__file__).resolve().parents[2] / "examples" / "nightly-retrain"
    if not (folder / "workflow.asl.json").exists():
        raise MissingDependencyError(
            f"the flagship's definitions are not at {folder}; run the demo from a Podium source "
            "checkout installed with `pip install -e '.[examples]'` (what `make demo` does)"
        )
    return folder


@dataclass
class Flagship:
    settings: Settings
    store: Store
    code: Path
    engine: Any
    worker: Any
    endpoints: Any
    bus: Any
    watcher: Any
    scheduler: Any
    targets: Any
    streams: Any
    landing: Path
    _thread: threading.Thread | None = None

    # ---- set-up ---------------------------------------------------------------------

    @classmethod
    def open(cls, home: Path) -> Flagship:
        from podium.engine import Engine, Worker
        from podium.functions import FunctionRegistry
        from podium.ingest.streams.factory import from_settings
        from podium.integrations import build_resources
        from podium.serving import EndpointService, Router
        from podium.triggers.bus import EventBus
        from podium.triggers.podium_targets import PodiumTargets
        from podium.triggers.scheduler import Scheduler
        from podium.triggers.watch import FolderWatcher

        settings = Settings.for_home(home)
        settings.home.mkdir(parents=True, exist_ok=True)
        store = open_store(settings)
        code = examples_dir()
        landing = settings.home / "landing"
        landing.mkdir(parents=True, exist_ok=True)

        functions = FunctionRegistry.from_settings(settings)
        functions.add_decorated("podium.demo.functions")
        engine = Engine(settings, store, functions=functions, function_pool_size=2)
        endpoints = EndpointService(settings, store, Router(), drain_timeout=10)
        for resource, handler in build_resources(settings, store, endpoints=endpoints).items():
            engine.router.register(resource, handler)
        worker = Worker(engine, lease_seconds=120.0)
        streams = from_settings(settings)
        targets = PodiumTargets.for_settings(settings, store, engine=engine)
        bus = EventBus(store, targets)
        flagship = cls(settings=settings, store=store, code=code, engine=engine, worker=worker,
                       endpoints=endpoints, bus=bus, watcher=FolderWatcher(WATCH, str(landing), bus),
                       scheduler=Scheduler(store, targets), targets=targets, streams=streams,
                       landing=landing)
        flagship._define()
        return flagship

    def _define(self) -> None:
        """Create what is missing; an earlier demo in this home keeps its data and history."""
        from podium.engine.models import STANDARD
        from podium.features import FeatureStore
        from podium.ingest.batch.jobs import create_job, parse_job
        from podium.ingest.delivery import DeliveryStreams
        from podium.metrics import Alarm
        from podium.metrics.series import dims

        job = json.loads((self.code / "job.json").read_text())
        job["source"]["path"] = str(self.landing)
        job["recipe"] = str(self.code / job["recipe"])
        create_job(self.store, parse_job(job), replace=True)

        features = FeatureStore(self.settings, self.store)
        try:
            existing = {g.name for g in features.list_groups()}
            for group in json.loads((self.code / "feature-groups.json").read_text()):
                if group["name"] not in existing:
                    features.create_group(**group)
        finally:
            features.close()

        if STREAM not in self.streams.list_streams():
            self.streams.create_stream(STREAM, shard_count=2)
        deliveries = DeliveryStreams(self.store, self.streams, lake_url=self.settings.lake_url)
        if DELIVERY not in deliveries.list():
            deliveries.create(json.loads((self.code / "delivery.json").read_text()))

        definition = json.loads((self.code / "workflow.asl.json").read_text())
        try:
            self.engine.create_state_machine(WORKFLOW, definition, type=STANDARD,
                                             description="nightly retraining of the propensity model")
        except ConflictError:
            self.engine.update_state_machine(WORKFLOW, definition=definition)

        alarm = json.loads((self.code / "alarm.json").read_text())
        self.endpoints.put_alarm(Alarm(alarm["name"], alarm["metric"], dims(**alarm["dimensions"]),
                                       alarm["statistic"], threshold=alarm["threshold"],
                                       denominator=alarm.get("denominator"),
                                       period_seconds=alarm["period_seconds"], min_samples=alarm["min_samples"]))
        # Model workers live in the process that created them: an endpoint left by an earlier
        # demo in this home has none, so it is removed and the first night creates it again.
        with contextlib.suppress(NotFoundError):
            self.endpoints.delete_endpoint(ENDPOINT)

    def execution_input(self, **extra: Any) -> dict[str, Any]:
        return {"home": str(self.settings.home), "lake": str(self.settings.lake_url), "code": str(self.code),
                **extra}

    # ---- triggers -------------------------------------------------------------------

    def create_schedule(self, payload: dict[str, Any]) -> Any:
        """The nightly schedule of schedule.json, with the execution input as its payload."""
        spec = json.loads((self.code / "schedule.json").read_text())
        try:
            return self.scheduler.create(spec["name"], spec["expression"], spec["target"], input=payload,
                                         timezone=spec.get("timezone", "UTC"),
                                         description="every night at midnight UTC")
        except ConflictError:
            return self.scheduler.get(spec["name"])

    def arm_file_trigger(self, payload: dict[str, Any]) -> None:
        """Announce the files already there with the rule off (they are processed or being
        processed), then route new ones to the workflow."""
        with contextlib.suppress(NotFoundError):
            self.bus.set_rule_state(RULE, False)
        self.watcher.poll()
        # `<key>` inside a JSON string is replaced by the file's key as text.
        template = json.dumps({**payload, "trigger": "<key>"})
        self.bus.put_rule(RULE, {"source": ["podium.lake"], "detail-type": ["Object Created"],
                                 "detail": {"object": {"key": [{"suffix": "transactions.csv"}]}}},
                          [{"id": "start-retrain", "target": f"workflow:{WORKFLOW}",
                            "input_transformer": {"input_paths_map": {"key": "$.detail.object.key"},
                                                  "input_template": template}}],
                          description="a new nightly transactions file starts the retrain")

    def deliver_file_events(self) -> list[str]:
        """Poll the landing folder, deliver matching events; returns the executions started."""
        before = {e.arn for e in self.engine.list_executions(WORKFLOW).items}
        self.watcher.poll()
        self.bus.dispatch()
        return [e.arn for e in self.engine.list_executions(WORKFLOW).items if e.arn not in before]

    # ---- runs -----------------------------------------------------------------------

    def start_worker(self) -> None:
        if self._thread is None:
            self._thread = self.worker.start()

    def close(self) -> None:
        for closer in (self.worker.stop, self.worker.close, self.endpoints.shutdown, self.engine.close,
                       self.targets.close, self.streams.close, self.store.dispose):
            # Closing is best effort: one failure must not keep the other processes alive.
            with contextlib.suppress(Exception):
                closer()
        if self._thread is not None:
            self._thread.join(timeout=5)


def wait_for(engine: Any, arn: str, on_event: Callable[[str, str, float], None] | None = None,
             timeout: float = 600.0) -> Any:
    """Wait for an execution to end, reporting each state entered ("entered", name, 0) and
    left ("exited", name, seconds spent) as the history records them."""
    seen = 0
    entered: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while True:
        history = engine.get_execution_history(arn, limit=1000).items
        for event in history[seen:]:
            name = (event.details or {}).get("name")
            at = event.timestamp.timestamp()
            if not name or on_event is None:
                continue
            if event.type.endswith("StateEntered"):
                entered[name] = at
                on_event("entered", name, 0.0)
            elif event.type.endswith("StateExited"):
                on_event("exited", name, at - entered.get(name, at))
        seen = len(history)
        info = engine.describe_execution(arn)
        if info.status != "RUNNING":
            return info
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {arn} still RUNNING after {timeout:.0f} s")
        time.sleep(0.2)
