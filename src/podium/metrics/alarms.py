"""Threshold alarms over metric statistics, evaluated with a clock passed in.

An alarm looks at `period_seconds` windows; it goes to ALARM when the last
`datapoints_to_alarm` of `evaluation_periods` windows breach the threshold, OK when they do
not, and INSUFFICIENT_DATA when a window has no samples. A rate alarm compares the ratio of
two metrics (e.g. 5xx errors / invocations) instead of one statistic.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from enum import StrEnum

from podium.errors import ValidationError
from podium.metrics.series import STATISTICS, Dimensions, MetricSource

_COMPARISONS = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass
class Alarm:
    """A CloudWatch-style metric alarm. `denominator` makes it a ratio alarm (Sum/Sum)."""

    name: str
    metric: str
    dimensions: Dimensions
    statistic: str
    threshold: float
    comparison: str = "GreaterThanThreshold"
    period_seconds: float = 60.0
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    denominator: str | None = None
    min_samples: int = 1
    state: AlarmState = AlarmState.INSUFFICIENT_DATA
    reason: str = "not evaluated yet"
    history: list[tuple[float, AlarmState, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise ValidationError(f"alarm '{self.name}': statistic must be one of {', '.join(STATISTICS)}")
        if self.comparison not in _COMPARISONS:
            raise ValidationError(f"alarm '{self.name}': comparison must be one of {', '.join(_COMPARISONS)}")
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise ValidationError(f"alarm '{self.name}': need 1 <= datapoints_to_alarm <= evaluation_periods")
        if self.period_seconds <= 0:
            raise ValidationError(f"alarm '{self.name}': period_seconds must be positive")

    def _value(self, store: MetricSource, end: float) -> float | None:
        if self.denominator is None:
            count = store.statistic(self.metric, self.dimensions, "SampleCount", self.period_seconds, end)
            if count is None or count < self.min_samples:
                return None
            return store.statistic(self.metric, self.dimensions, self.statistic, self.period_seconds, end)
        total = store.statistic(self.denominator, self.dimensions, "Sum", self.period_seconds, end)
        if not total or total < self.min_samples:
            return None
        part = store.statistic(self.metric, self.dimensions, "Sum", self.period_seconds, end) or 0.0
        return part / total

    def evaluate(self, store: MetricSource, now: float) -> AlarmState:
        """Re-evaluate at `now`; records a history entry when the state changes."""
        compare = _COMPARISONS[self.comparison]
        values = [self._value(store, now - i * self.period_seconds) for i in range(self.evaluation_periods)]
        breaching = [v for v in values if v is not None and compare(v, self.threshold)]
        if len(breaching) >= self.datapoints_to_alarm:
            new_state = AlarmState.ALARM
            reason = (f"{len(breaching)} of the last {self.evaluation_periods} periods breached "
                      f"{self.comparison} {self.threshold:g} (latest {values[0]})")
        elif values[0] is None:
            new_state = AlarmState.INSUFFICIENT_DATA
            reason = "no data in the latest period"
        else:
            new_state = AlarmState.OK
            reason = f"latest value {values[0]:g} within threshold {self.threshold:g}"
        if new_state != self.state:
            self.history.append((now, new_state, reason))
        self.state, self.reason = new_state, reason
        return new_state


def alarm_from_aws(body: dict[str, object]) -> Alarm:
    """An alarm from CloudWatch PutMetricAlarm fields (AlarmName, MetricName, Dimensions as
    [{"Name", "Value"}], Statistic or ExtendedStatistic, Threshold, ComparisonOperator, Period,
    EvaluationPeriods, DatapointsToAlarm) plus Podium's DenominatorMetricName (a ratio alarm)
    and MinSamples."""
    def need(key: str) -> object:
        if key not in body:
            raise ValidationError(f"alarm: {key} is required")
        return body[key]

    name = str(need("AlarmName"))
    raw_dimensions = body.get("Dimensions") or []
    if isinstance(raw_dimensions, dict):
        pairs = [(str(k), str(v)) for k, v in raw_dimensions.items()]
    elif isinstance(raw_dimensions, list) and all(isinstance(d, dict) and {"Name", "Value"} <= d.keys()
                                                  for d in raw_dimensions):
        pairs = [(str(d["Name"]), str(d["Value"])) for d in raw_dimensions]
    else:
        raise ValidationError(f"alarm '{name}': Dimensions must be [{{'Name': ..., 'Value': ...}}] or an object")
    try:
        return Alarm(
            name=name, metric=str(need("MetricName")), dimensions=tuple(sorted(pairs)),
            statistic=str(body.get("ExtendedStatistic") or body.get("Statistic") or "Sum"),
            threshold=float(need("Threshold")),  # type: ignore[arg-type]
            comparison=str(body.get("ComparisonOperator", "GreaterThanThreshold")),
            period_seconds=float(body.get("Period", 60)),  # type: ignore[arg-type]
            evaluation_periods=int(body.get("EvaluationPeriods", 1)),  # type: ignore[call-overload]
            datapoints_to_alarm=int(body.get("DatapointsToAlarm", 1)),  # type: ignore[call-overload]
            denominator=str(body["DenominatorMetricName"]) if body.get("DenominatorMetricName") else None,
            min_samples=int(body.get("MinSamples", 1)),  # type: ignore[call-overload]
        )
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"alarm '{name}': {exc}") from None


def alarm_to_aws(alarm: Alarm) -> dict[str, object]:
    """The alarm as DescribeAlarms shows it, with its current state and reason."""
    return {
        "AlarmName": alarm.name, "MetricName": alarm.metric,
        "Dimensions": [{"Name": k, "Value": v} for k, v in alarm.dimensions],
        "Statistic": alarm.statistic, "Threshold": alarm.threshold,
        "ComparisonOperator": alarm.comparison, "Period": alarm.period_seconds,
        "EvaluationPeriods": alarm.evaluation_periods, "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "DenominatorMetricName": alarm.denominator, "MinSamples": alarm.min_samples,
        "StateValue": alarm.state.value, "StateReason": alarm.reason,
    }
