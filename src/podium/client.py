"""The `Podium` client: one object that opens a project's settings and metadata store and hands
out each capability's service, built on first use and closed together.

    from podium import Podium

    with Podium() as pod:                       # podium.toml found from the working directory
        pod.workflows.start_execution(...)      # podium.engine.Engine
        pod.features.get_record(...)            # podium.features.FeatureStore

Each property returns the same object every time, so the services share the client's store
(one connection pool) and the engine that rule targets start workflows on is the one
`pod.workflows` returns. Nothing is imported or opened until a property is first read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from podium.config import Settings
    from podium.engine import Engine, Worker
    from podium.features import FeatureStore
    from podium.ingest.delivery import DeliveryStreams
    from podium.ingest.streams.client import StreamsClient
    from podium.models.lineage import Lineage
    from podium.models.registry import ModelRegistry
    from podium.models.training import TrainingJobs
    from podium.serving.endpoints import EndpointService
    from podium.store import Store
    from podium.triggers.bus import EventBus
    from podium.triggers.podium_targets import PodiumTargets
    from podium.triggers.scheduler import Scheduler


T = TypeVar("T")


class Podium:
    """A project's services. `Podium()` reads `podium.toml` from the working directory upward
    (and `PODIUM_*` variables); `Podium(project=path)` from another folder; or pass
    `settings=` built yourself. Use it as a context manager, or call `close()`."""

    def __init__(self, *, project: str | Path | None = None, settings: Settings | None = None) -> None:
        if settings is None:
            from podium.config import load_settings

            settings = load_settings(project)
        self.settings: Settings = settings
        self._services: dict[str, Any] = {}
        self._closed = False

    # -- what everything shares ---------------------------------------------------------
    @property
    def store(self) -> Store:
        """The metadata store (SQLite or PostgreSQL, from `metadata_url`)."""
        return self._get("store", self._open_store)

    def _open_store(self) -> Store:
        from podium.store import open_store

        return open_store(self.settings)

    # -- capabilities --------------------------------------------------------------------
    @property
    def workflows(self) -> Engine:
        """State machines and their executions on the durable engine (Step Functions).
        Runs nothing by itself: a `podium worker` or `podium server` advances executions, or
        `pod.worker()` in this process."""
        from podium.engine import Engine

        def resources() -> Any:
            from podium.integrations import build_resources

            # Endpoints that workflows deploy are `pod.endpoints`, closed with this client.
            return build_resources(self.settings, self.store, endpoints=self.endpoints)

        return self._get("workflows", lambda: Engine(self.settings, self.store, resources=resources))

    def worker(self, **options: Any) -> Worker:
        """An engine worker in this process over `workflows` (options as `podium.engine.Worker`);
        call `run_until_done([arn])`, `run_until_idle()` or `start()` on it. Closed with the client."""
        from podium.engine import Worker

        worker = Worker(self.workflows, **options)
        self._services[f"worker-{id(worker)}"] = worker
        return worker

    @property
    def features(self) -> FeatureStore:
        """Feature groups, offline and online stores, point-in-time training sets."""
        from podium.features import FeatureStore

        return self._get("features", lambda: FeatureStore(self.settings, self.store))

    @property
    def training(self) -> TrainingJobs:
        """Training jobs running SageMaker script-mode scripts."""
        from podium.models.training import TrainingJobs

        return self._get("training", lambda: TrainingJobs(self.settings, self.store))

    @property
    def models(self) -> ModelRegistry:
        """Model package groups, versions and their approval."""
        from podium.models.registry import ModelRegistry

        return self._get("models", lambda: ModelRegistry(self.store))

    @property
    def lineage(self) -> Lineage:
        """Where each artifact came from and what was made from it."""
        from podium.models.lineage import Lineage

        return self._get("lineage", lambda: Lineage(self.store))

    @property
    def endpoints(self) -> EndpointService:
        """Endpoints, their variants and deployments (canary, linear, all at once)."""
        from podium.serving.endpoints import EndpointService

        return self._get("endpoints", lambda: EndpointService(self.settings, self.store))

    @property
    def streams(self) -> StreamsClient:
        """Sharded streams (Kinesis Data Streams), on the backend `streams_url` names."""
        from podium.ingest.streams.factory import from_settings

        return self._get("streams", lambda: from_settings(self.settings))

    @property
    def deliveries(self) -> DeliveryStreams:
        """Delivery streams from a stream into the lake (Firehose)."""
        from podium.ingest.delivery import DeliveryStreams

        return self._get(
            "deliveries",
            lambda: DeliveryStreams(self.store, self.streams, lake_url=self.settings.lake_url),
        )

    @property
    def targets(self) -> PodiumTargets:
        """What schedules and rules can start: `workflow:NAME`, `function:NAME`, `stream:NAME`
        (resolved on this client's engine and streams), plus targets you register."""
        from podium.triggers.podium_targets import PodiumTargets

        return self._get(
            "targets",
            lambda: PodiumTargets.for_settings(
                self.settings, self.store, engine=self.workflows, streams=lambda: self.streams
            ),
        )

    @property
    def events(self) -> EventBus:
        """The event bus: put events, rules with patterns, archive and replay (EventBridge)."""
        from podium.triggers.bus import EventBus

        return self._get("events", lambda: EventBus(self.store, self.targets))

    @property
    def schedules(self) -> Scheduler:
        """Durable schedules: cron, rate and one-time (EventBridge Scheduler)."""
        from podium.triggers.scheduler import Scheduler

        return self._get("schedules", lambda: Scheduler(self.store, self.targets))

    # -- lifecycle -----------------------------------------------------------------------
    def _get(self, name: str, build: Callable[[], T]) -> T:
        if self._closed:
            raise RuntimeError("this Podium client is closed; create a new one")
        service = self._services.get(name)
        if service is None:
            service = self._services[name] = build()
        made: T = service
        return made

    def close(self) -> None:
        """Stop what the services started (function processes, model workers, stream files)
        and release the store, newest service first. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        errors: list[BaseException] = []
        for name in reversed(list(self._services)):
            service = self._services.pop(name)
            closer = next(
                (getattr(service, verb) for verb in ("close", "shutdown", "dispose") if hasattr(service, verb)),
                None,
            )
            if closer is None:
                continue
            try:
                closer()
            except Exception as exc:  # close the rest, then report the first failure
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> Podium:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        opened = ", ".join(self._services) or "nothing opened"
        return f"Podium(home={str(self.settings.home)!r}; {opened})"
