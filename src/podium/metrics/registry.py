"""Alarms kept in the metadata store: their definitions, last state and state history.

Evaluation reads a MetricSource: a process's MetricStore, or podium.metrics.shared's view of
every router process on the store (what deployments use); what the store keeps is what
must survive a restart — which alarms exist, the state each was last seen in and every change of
state with its reason (CloudWatch's DescribeAlarmHistory). Definitions are re-read from the store
at most every `refresh_seconds`, so an alarm put through another server process on the same
store is seen here too; a state change is written through when it happens, not on every
evaluation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from podium.errors import NotFoundError
from podium.metrics.alarms import Alarm, AlarmState, alarm_from_aws, alarm_to_aws
from podium.metrics.series import MetricSource
from podium.store import Store
from podium.store.tables.serving import serving_alarm_history, serving_alarms

_STATE_FIELDS = ("StateValue", "StateReason")


def definition(alarm: Alarm) -> dict[str, Any]:
    """The alarm's PutMetricAlarm fields, without its state."""
    return {key: value for key, value in alarm_to_aws(alarm).items() if key not in _STATE_FIELDS}


def _now() -> datetime:
    return datetime.now(UTC)


class AlarmRegistry:
    """Alarms of one metadata store, with their state evaluated against `metrics`."""

    def __init__(self, store: Store, refresh_seconds: float = 1.0) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._alarms: dict[str, tuple[Alarm, dict[str, Any]]] = {}
        self._loaded_at = -float("inf")
        self._lock = threading.RLock()

    # ---- definitions --------------------------------------------------------------------
    def put(self, alarm: Alarm) -> Alarm:
        """Create or replace an alarm. A new or changed definition starts INSUFFICIENT_DATA."""
        spec = definition(alarm)
        with self._lock:
            with self.store.connect() as conn:
                row = conn.execute(select(serving_alarms.c.definition)
                                   .where(serving_alarms.c.name == alarm.name)).first()
            if row is not None and row.definition == spec:
                self._refresh(force=alarm.name not in self._alarms)
                return self._alarms[alarm.name][0]  # unchanged: keeps its state
            with self.store.begin() as conn:
                reason = "alarm created" if row is None else "alarm definition updated"
                alarm.state, alarm.reason = AlarmState.INSUFFICIENT_DATA, reason
                values = {"definition": spec, "state": alarm.state.value, "reason": reason,
                          "updated_at": _now()}
                if row is None:
                    conn.execute(insert(serving_alarms).values(name=alarm.name, **values))
                else:
                    conn.execute(update(serving_alarms).where(serving_alarms.c.name == alarm.name)
                                 .values(**values))
                conn.execute(insert(serving_alarm_history).values(
                    alarm=alarm.name, time=_now(), state=alarm.state.value, reason=reason))
            self._alarms[alarm.name] = (alarm, spec)
        return alarm

    def get(self, name: str) -> Alarm:
        self._refresh()
        with self._lock:
            found = self._alarms.get(name)
        if found is None:
            raise NotFoundError(f"alarm '{name}' does not exist")
        return found[0]

    def names(self) -> list[str]:
        self._refresh()
        with self._lock:
            return sorted(self._alarms)

    def missing(self, names: Iterable[str]) -> list[str]:
        """Which of `names` are not defined (re-reading the store first)."""
        self._refresh(force=True)
        with self._lock:
            return [name for name in names if name not in self._alarms]

    def delete(self, name: str) -> None:
        with self._lock:
            with self.store.begin() as conn:
                deleted = conn.execute(delete(serving_alarms).where(serving_alarms.c.name == name)).rowcount
                conn.execute(delete(serving_alarm_history).where(serving_alarm_history.c.alarm == name))
            self._alarms.pop(name, None)
        if not deleted:
            raise NotFoundError(f"alarm '{name}' does not exist")

    def _refresh(self, force: bool = False) -> None:
        """Re-read the definitions when the cache is older than refresh_seconds. An alarm whose
        definition did not change keeps its in-memory object (and state)."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._loaded_at < self.refresh_seconds:
                return
            with self.store.connect() as conn:
                rows = conn.execute(select(serving_alarms)).all()
            fresh: dict[str, tuple[Alarm, dict[str, Any]]] = {}
            for row in rows:
                cached = self._alarms.get(row.name)
                if cached is not None and cached[1] == row.definition:
                    fresh[row.name] = cached
                    continue
                alarm = alarm_from_aws({**row.definition, "AlarmName": row.name})
                alarm.state, alarm.reason = AlarmState(row.state), row.reason
                fresh[row.name] = (alarm, row.definition)
            self._alarms = fresh
            self._loaded_at = now

    # ---- state --------------------------------------------------------------------------
    def evaluate(self, metrics: MetricSource, names: Iterable[str] | None = None,
                 now: float | None = None) -> list[Alarm]:
        """Evaluate the named alarms (default: all) at `now`; state changes are stored with
        their reason. Names not defined are skipped."""
        self._refresh()
        at = time.time() if now is None else now
        evaluated: list[Alarm] = []
        with self._lock:
            wanted = sorted(self._alarms) if names is None else list(names)
            for name in wanted:
                found = self._alarms.get(name)
                if found is None:
                    continue
                alarm = found[0]
                before = alarm.state
                if alarm.evaluate(metrics, at) != before:
                    self._record(alarm, at)
                evaluated.append(alarm)
        return evaluated

    def _record(self, alarm: Alarm, at: float) -> None:
        when = datetime.fromtimestamp(at, UTC)
        with self.store.begin() as conn:
            conn.execute(update(serving_alarms).where(serving_alarms.c.name == alarm.name)
                         .values(state=alarm.state.value, reason=alarm.reason, updated_at=when))
            conn.execute(insert(serving_alarm_history).values(
                alarm=alarm.name, time=when, state=alarm.state.value, reason=alarm.reason))

    def history(self, name: str) -> list[dict[str, Any]]:
        """Every state the alarm entered, oldest first (DescribeAlarmHistory)."""
        self.get(name)
        with self.store.connect() as conn:
            rows = conn.execute(select(serving_alarm_history).where(serving_alarm_history.c.alarm == name)
                                .order_by(serving_alarm_history.c.id)).all()
        return [{"AlarmName": name, "Timestamp": row.time, "StateValue": row.state, "StateReason": row.reason}
                for row in rows]
