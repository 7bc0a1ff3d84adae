"""The event bus: put events, route them by rule to targets, archive and replay them.

`put_events` stores each event in the archive (`triggers_events`) and, in the same
transaction, one delivery per (matching rule, target), so an accepted event is never
lost and its deliveries go through the retrying `Dispatcher`. `put_events` takes a batch
whole or not at all; `put_events_detailed` is EventBridge's PutEvents, which stores the
valid entries and answers an event id or an error code per entry. Rules are validated and
their patterns compiled on creation; the bus keeps the compiled `PatternSet` and rebuilds
it only when the rules table changes. Replays re-run archived events of a time range
through today's rules, tagging them with `replay-name` as EventBridge does.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.store import Store
from podium.store.tables.triggers import (
    triggers_dead_letters,
    triggers_deliveries,
    triggers_events,
    triggers_replays,
    triggers_rules,
)
from podium.triggers.delivery import (
    DeliveryRequest,
    Dispatcher,
    DispatchReport,
    enqueue,
    purge_finished,
)
from podium.triggers.patterns import EventPattern, PatternSet, compile_pattern
from podium.triggers.retry import RetryPolicy
from podium.triggers.targets import TargetRegistry
from podium.triggers.timing import as_utc
from podium.triggers.transform import TargetInput

ACCOUNT = "000000000000"
REGION = "local"
MAX_ENTRIES = 10  # per put_events call, as in EventBridge
MAX_TARGETS = 5
DELIVERY_STATUSES = ("pending", "running", "succeeded", "dead")
_NAME_RE = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")


@dataclass(frozen=True)
class RuleTarget:
    id: str
    target: str  # a name in the TargetRegistry
    input: TargetInput = field(default_factory=TargetInput)
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    dead_letter: str | None = None  # target told of a delivery that failed for good

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], where: str = "target") -> RuleTarget:
        if not isinstance(spec, Mapping):
            raise ValidationError(f"{where}: a rule target is an object")
        target_id, target = spec.get("id"), spec.get("target")
        if not isinstance(target_id, str) or not _NAME_RE.match(target_id):
            raise ValidationError(f"{where}.id: 1-64 letters, digits, '-', '_' or '.' (got {target_id!r})")
        if not isinstance(target, str) or not target:
            raise ValidationError(f"{where}.target: the name of a registered target is required")
        unknown = set(spec) - {
            "id", "target", "input", "input_path", "input_transformer",
            "max_retry_attempts", "max_event_age_seconds", "dead_letter",
        }
        if unknown:
            raise ValidationError(f"{where}: unknown keys {sorted(unknown)}")
        kwargs = {k: spec[k] for k in ("input", "input_path", "input_transformer") if k in spec}
        retry = RetryPolicy(
            spec.get("max_retry_attempts", RetryPolicy.max_retry_attempts),
            spec.get("max_event_age_seconds", RetryPolicy.max_event_age_seconds),
        )
        dead_letter = spec.get("dead_letter")
        if dead_letter is not None and (not isinstance(dead_letter, str) or not dead_letter):
            raise ValidationError(f"{where}.dead_letter: the name of a target (e.g. stream:failures)")
        return cls(target_id, target, TargetInput.create(**kwargs), retry, dead_letter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            **self.input.to_dict(),
            "max_retry_attempts": self.retry_policy.max_retry_attempts,
            "max_event_age_seconds": self.retry_policy.max_event_age_seconds,
            **({"dead_letter": self.dead_letter} if self.dead_letter else {}),
        }


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: EventPattern
    targets: tuple[RuleTarget, ...]
    state: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pattern": self.pattern.document,
            "targets": [t.to_dict() for t in self.targets],
            "state": self.state,
            "description": self.description,
        }


@dataclass(frozen=True)
class PutEventsResultEntry:
    """One entry of a PutEvents answer: `event_id` when stored, else why not."""

    event_id: str | None = None
    error_code: str | None = None  # InvalidArgument | MalformedDetail
    error_message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.event_id is not None:
            return {"event_id": self.event_id}
        return {"error_code": self.error_code, "error_message": self.error_message}


@dataclass(frozen=True)
class PutEventsResult:
    """EventBridge's PutEventsResponse: one entry per request entry, in request order."""

    entries: tuple[PutEventsResultEntry, ...]

    @property
    def failed_entry_count(self) -> int:
        return sum(1 for e in self.entries if e.event_id is None)

    @property
    def event_ids(self) -> list[str]:
        """The ids of the stored events, in request order (failed entries left out)."""
        return [e.event_id for e in self.entries if e.event_id is not None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "failed_entry_count": self.failed_entry_count,
            "entries": [e.to_dict() for e in self.entries],
        }


def test_event_pattern(pattern: Mapping[str, Any] | str, event: Mapping[str, Any]) -> bool:
    """EventBridge's TestEventPattern: does `event` match `pattern` (validated first)?"""
    return compile_pattern(pattern).matches(event)


test_event_pattern.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


class EventBus:
    def __init__(
        self,
        store: Store,
        targets: TargetRegistry | None = None,
        *,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.store = store
        self.targets = targets if targets is not None else TargetRegistry()
        self.dispatcher = dispatcher or Dispatcher(store, self.targets)
        self._routing: tuple[Any, PatternSet[tuple[str, RuleTarget]]] | None = None

    # ---- rules ---------------------------------------------------------------------

    def put_rule(
        self,
        name: str,
        pattern: Mapping[str, Any] | str,
        targets: Iterable[Mapping[str, Any] | RuleTarget] = (),
        *,
        description: str = "",
        enabled: bool = True,
    ) -> Rule:
        """Create or replace a rule; the pattern and targets are validated first."""
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ValidationError(f"rule name {name!r} must be 1-64 letters, digits, '-', '_' or '.'")
        compiled = compile_pattern(pattern)
        rule_targets = tuple(
            t if isinstance(t, RuleTarget) else RuleTarget.from_dict(t, f"targets[{i}]")
            for i, t in enumerate(targets)
        )
        if len(rule_targets) > MAX_TARGETS:
            raise ValidationError(f"a rule has at most {MAX_TARGETS} targets")
        ids = [t.id for t in rule_targets]
        if len(set(ids)) != len(ids):
            raise ValidationError(f"rule {name!r}: target ids must be unique (got {ids})")
        now = time.time()
        values = {
            "pattern": json.dumps(compiled.document),
            "targets": json.dumps([t.to_dict() for t in rule_targets]),
            "state": "ENABLED" if enabled else "DISABLED",
            "description": description,
            "updated_at": now,
        }
        with self.store.begin() as connection:
            changed = connection.execute(
                update(triggers_rules).where(triggers_rules.c.name == name).values(**values)
            )
            if changed.rowcount == 0:
                connection.execute(insert(triggers_rules).values(name=name, created_at=now, **values))
        return self.get_rule(name)

    def get_rule(self, name: str) -> Rule:
        with self.store.connect() as connection:
            row = connection.execute(
                select(triggers_rules).where(triggers_rules.c.name == name)
            ).first()
        if row is None:
            raise NotFoundError(f"rule {name!r} does not exist")
        return _rule(row)

    def list_rules(self) -> list[Rule]:
        with self.store.connect() as connection:
            rows = connection.execute(select(triggers_rules).order_by(triggers_rules.c.name)).all()
        return [_rule(row) for row in rows]

    def delete_rule(self, name: str) -> None:
        with self.store.begin() as connection:
            gone = connection.execute(delete(triggers_rules).where(triggers_rules.c.name == name))
        if gone.rowcount == 0:
            raise NotFoundError(f"rule {name!r} does not exist")

    def set_rule_state(self, name: str, enabled: bool) -> Rule:
        with self.store.begin() as connection:
            changed = connection.execute(
                update(triggers_rules)
                .where(triggers_rules.c.name == name)
                .values(state="ENABLED" if enabled else "DISABLED", updated_at=time.time())
            )
        if changed.rowcount == 0:
            raise NotFoundError(f"rule {name!r} does not exist")
        return self.get_rule(name)

    # ---- events --------------------------------------------------------------------

    def put_events(
        self,
        entries: Iterable[Mapping[str, Any]],
        *,
        now: datetime | None = None,
        connection: Connection | None = None,
    ) -> list[str]:
        """Accept up to 10 events atomically; returns their ids. Each entry has `source`,
        `detail-type`, `detail` (an object), optional `time` and `resources`; one invalid
        entry rejects the whole batch (`ValidationError`). With `connection`, the events
        join the caller's transaction (an event source that must record what it has
        emitted in the same commit, like the folder watcher). `put_events_detailed` is
        EventBridge's partial-failure form."""
        return self._put(entries, now, connection, partial=False).event_ids

    def put_events_detailed(
        self,
        entries: Iterable[Mapping[str, Any]],
        *,
        now: datetime | None = None,
        connection: Connection | None = None,
    ) -> PutEventsResult:
        """PutEvents as EventBridge answers it: each entry is validated on its own; the
        valid ones are stored (with their deliveries, in one transaction) and the result
        has, in request order, an event id or an error code and message per entry, and
        the failed-entry count. Only a batch of 0 or more than 10 entries is rejected
        whole (`ValidationError`)."""
        return self._put(entries, now, connection, partial=True)

    def _put(
        self,
        entries: Iterable[Mapping[str, Any]],
        now: datetime | None,
        connection: Connection | None,
        *,
        partial: bool,
    ) -> PutEventsResult:
        entries = list(entries)
        if not entries or len(entries) > MAX_ENTRIES:
            raise ValidationError(f"put_events takes 1-{MAX_ENTRIES} entries (got {len(entries)})")
        ingested = as_utc(now) if now is not None else datetime.now(UTC)
        events: list[dict[str, Any]] = []
        results: list[PutEventsResultEntry] = []
        for i, entry in enumerate(entries):
            try:
                event = _envelope(entry, i, ingested)
            except ValidationError as exc:
                if not partial:
                    raise
                code = (exc.details or {}).get("error_code", "InvalidArgument")
                results.append(PutEventsResultEntry(error_code=code, error_message=exc.message))
                continue
            events.append(event)
            results.append(PutEventsResultEntry(event_id=event["id"]))
        if events:
            routing = self._current_routing()
            requests = [
                request
                for event in events
                for request in self._deliveries_for(routing, event, ingested, replay=None)
            ]
            if connection is None:
                with self.store.begin() as own:
                    self._store_events(own, events, requests, ingested)
            else:
                self._store_events(connection, events, requests, ingested)
        return PutEventsResult(tuple(results))

    def _store_events(
        self,
        connection: Connection,
        events: list[dict[str, Any]],
        requests: list[DeliveryRequest],
        ingested: datetime,
    ) -> None:
        connection.execute(
            insert(triggers_events),
            [
                {
                    "id": event["id"],
                    "source": event["source"],
                    "detail_type": event["detail-type"],
                    "document": json.dumps(event),
                    "time": _parse_time(event["time"]).timestamp(),
                    "ingested_at": ingested.timestamp(),
                }
                for event in events
            ],
        )
        enqueue(connection, requests, ingested.timestamp())

    def events(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        limit: int | None = 1000,
        source: str | None = None,
    ) -> list[dict[str, Any]]:
        """Archived events with `start <= time < end` (and `source`), oldest first
        (`limit=None`: all)."""
        t = triggers_events
        query = select(t.c.document).order_by(t.c.time, t.c.id).limit(limit)
        if source is not None:
            query = query.where(t.c.source == source)
        if start is not None:
            query = query.where(t.c.time >= as_utc(start).timestamp())
        if end is not None:
            query = query.where(t.c.time < as_utc(end).timestamp())
        with self.store.connect() as connection:
            return [json.loads(doc) for doc in connection.execute(query).scalars()]

    def replay(
        self,
        name: str,
        start: datetime,
        end: datetime,
        *,
        rules: Iterable[str] | None = None,
        now: datetime | None = None,
    ) -> int:
        """Send archived events with `start <= time < end` through the current rules again
        (only `rules`, if given); returns the number of deliveries queued. A replay name
        can be used once; the replay is recorded (`replays()`) with its deliveries, in
        one transaction."""
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ValidationError(f"replay name {name!r} must be 1-64 letters, digits, '-', '_' or '.'")
        start_utc, end_utc = as_utc(start), as_utc(end)
        if end_utc <= start_utc:
            raise ValidationError(
                f"replay {name!r}: end {end_utc.isoformat()} must be after start {start_utc.isoformat()}",
                details={"field": "end"},
            )
        only = sorted(set(rules)) if rules is not None else None
        if only is not None:
            known = {rule.name for rule in self.list_rules()}
            missing = [rule for rule in only if rule not in known]
            if missing:
                raise NotFoundError(f"replay {name!r}: no such rule(s) {missing}")
        routing = self._current_routing()
        moment = as_utc(now) if now is not None else datetime.now(UTC)
        requests = []
        events = self.events(start_utc, end_utc, limit=None)
        for event in events:
            replayed = {**event, "replay-name": name}
            for request in self._deliveries_for(routing, replayed, moment, replay=name):
                if only is None or request.origin_name in only:
                    requests.append(request)
        try:
            with self.store.begin() as connection:
                connection.execute(
                    insert(triggers_replays).values(
                        name=name,
                        start_time=start_utc.timestamp(),
                        end_time=end_utc.timestamp(),
                        rules=json.dumps(only) if only is not None else None,
                        events=len(events),
                        deliveries=len(requests),
                        state="COMPLETED",
                        started_at=moment.timestamp(),
                    )
                )
                enqueue(connection, requests, moment.timestamp())
        except IntegrityError:
            raise ConflictError(f"replay {name!r} has already run") from None
        return len(requests)

    def replays(self) -> list[dict[str, Any]]:
        """Every replay run so far, newest first."""
        r = triggers_replays
        with self.store.connect() as connection:
            rows = connection.execute(select(r).order_by(r.c.started_at.desc(), r.c.name)).all()
        return [
            {
                "name": row.name,
                "state": row.state,
                "start": _iso(row.start_time),
                "end": _iso(row.end_time),
                "rules": json.loads(row.rules) if row.rules is not None else None,
                "events": row.events,
                "deliveries": row.deliveries,
                "started_at": _iso(row.started_at),
            }
            for row in rows
        ]

    def purge_archive(self, before: datetime) -> int:
        """Delete archived events with `time < before` (the archive's retention); returns
        how many went. Their deliveries, already queued, are not affected."""
        t = triggers_events
        with self.store.begin() as connection:
            gone = connection.execute(delete(t).where(t.c.time < as_utc(before).timestamp()))
        return int(gone.rowcount)

    def purge_deliveries(
        self,
        older_than: timedelta | float,
        *,
        now: datetime | None = None,
        batch_size: int = 500,
    ) -> int:
        """Delete finished (succeeded or dead) deliveries finished more than `older_than`
        (a timedelta or seconds) ago, in batches; returns how many went. Refused below the
        dispatcher's lease, which duplicate detection needs (see `purge_finished`)."""
        seconds = older_than.total_seconds() if isinstance(older_than, timedelta) else float(older_than)
        return purge_finished(
            self.store,
            seconds,
            now=as_utc(now).timestamp() if now is not None else None,
            batch_size=batch_size,
            lease_seconds=self.dispatcher.lease_seconds,
        )

    def dead_letters(
        self, *, origin_name: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Deliveries that failed for good (rule targets and schedule fires), newest first:
        what was sent, to which target, why it failed, after how many attempts."""
        d = triggers_dead_letters
        query = select(d).order_by(d.c.failed_at.desc(), d.c.id.desc()).limit(limit)
        if origin_name is not None:
            query = query.where(d.c.origin_name == origin_name)
        with self.store.connect() as connection:
            rows = connection.execute(query).all()
        return [
            {
                "id": row.id,
                "origin": row.origin,
                "origin_name": row.origin_name,
                "target": row.target,
                "payload": json.loads(row.payload),
                "reason": row.reason,
                "error": row.error,
                "attempts": row.attempts,
                "failed_at": _iso(row.failed_at),
            }
            for row in rows
        ]

    def dispatch(self, now: datetime | None = None) -> DispatchReport:
        return self.dispatcher.dispatch(as_utc(now).timestamp() if now is not None else None)

    def pending_deliveries(self) -> int:
        with self.store.connect() as connection:
            return len(
                connection.execute(
                    select(triggers_deliveries.c.id).where(
                        triggers_deliveries.c.status.in_(("pending", "running"))
                    )
                ).all()
            )

    def deliveries(
        self, *, status: str | None = None, origin_name: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Deliveries of rule targets, schedule fires and dead letters, newest first:
        status (pending, running, succeeded, dead), attempts, next attempt, last error."""
        if status is not None and status not in DELIVERY_STATUSES:
            raise ValidationError(
                f"status must be one of {', '.join(DELIVERY_STATUSES)} (got {status!r})",
                details={"field": "status"},
            )
        d = triggers_deliveries
        query = select(d).order_by(d.c.created_at.desc(), d.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(d.c.status == status)
        if origin_name is not None:
            query = query.where(d.c.origin_name == origin_name)
        with self.store.connect() as connection:
            rows = connection.execute(query).all()
        return [
            {
                "id": row.id,
                "origin": row.origin,
                "origin_name": row.origin_name,
                "target": row.target,
                "status": row.status,
                "attempts": row.attempts,
                "created_at": _iso(row.created_at),
                "next_attempt_at": _iso(row.next_attempt_at) if row.status == "pending" else None,
                "finished_at": _iso(row.finished_at) if row.finished_at is not None else None,
                "last_error": row.last_error,
                "idempotency_key": row.idempotency_key,
            }
            for row in rows
        ]

    def _deliveries_for(
        self,
        routing: PatternSet[tuple[str, RuleTarget]],
        event: dict[str, Any],
        ingested: datetime,
        *,
        replay: str | None,
    ) -> list[DeliveryRequest]:
        prefix = f"replay:{replay}:" if replay else ""
        return [
            DeliveryRequest(
                origin="rule",
                origin_name=rule_name,
                target=target.target,
                payload=target.input.render(
                    event, rule_name=rule_name, ingestion_time=ingested.isoformat()
                ),
                idempotency_key=f"{prefix}rule:{rule_name}:{target.id}:{event['id']}",
                policy=target.retry_policy,
                dead_letter=target.dead_letter,
            )
            for rule_name, target in routing.matching(event)
        ]

    def _current_routing(self) -> PatternSet[tuple[str, RuleTarget]]:
        # One cheap read tells whether any rule changed since the set was compiled.
        with self.store.connect() as connection:
            stamp = tuple(
                connection.execute(
                    select(triggers_rules.c.name, triggers_rules.c.updated_at).order_by(
                        triggers_rules.c.name
                    )
                ).all()
            )
        if self._routing is not None and self._routing[0] == stamp:
            return self._routing[1]
        entries = [
            ((rule.name, target), rule.pattern)
            for rule in self.list_rules()
            if rule.state == "ENABLED"
            for target in rule.targets
        ]
        routing: PatternSet[tuple[str, RuleTarget]] = PatternSet(entries)
        self._routing = (stamp, routing)
        return routing


def _rule(row: Any) -> Rule:
    return Rule(
        name=row.name,
        pattern=compile_pattern(json.loads(row.pattern)),
        targets=tuple(
            RuleTarget.from_dict(t, f"targets[{i}]") for i, t in enumerate(json.loads(row.targets))
        ),
        state=row.state,
        description=row.description,
    )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _parse_time(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


_MALFORMED = {"error_code": "MalformedDetail"}  # EventBridge's code for a bad `detail`


def _envelope(entry: Mapping[str, Any], index: int, ingested: datetime) -> dict[str, Any]:
    where = f"entries[{index}]"
    if not isinstance(entry, Mapping):
        raise ValidationError(f"{where}: an event entry is an object")
    source = entry.get("source")
    detail_type = entry.get("detail-type", entry.get("detail_type"))
    detail = entry.get("detail", {})
    if not isinstance(source, str) or not source:
        raise ValidationError(f"{where}.source: a non-empty string is required")
    if not isinstance(detail_type, str) or not detail_type:
        raise ValidationError(f"{where}.detail-type: a non-empty string is required")
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"{where}.detail: not valid JSON ({exc.msg})", details=dict(_MALFORMED)
            ) from None
    if not isinstance(detail, Mapping):
        raise ValidationError(f"{where}.detail: must be a JSON object", details=dict(_MALFORMED))
    resources = entry.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise ValidationError(f"{where}.resources: must be an array of strings")
    when = entry.get("time")
    if when is None:
        moment = ingested
    elif isinstance(when, datetime):
        moment = as_utc(when)
    else:
        try:
            moment = _parse_time(str(when))
        except ValueError:
            raise ValidationError(f"{where}.time: not an ISO 8601 time ({when!r})") from None
    try:
        # A JSON round trip: what rules see is exactly what the archive will hold.
        detail = json.loads(json.dumps(detail))
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{where}.detail: not JSON-serialisable ({exc})", details=dict(_MALFORMED)
        ) from None
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": list(resources),
        "detail": detail,
    }
