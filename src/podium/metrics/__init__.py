"""Metrics and alarms (the CloudWatch stand-in): counters and latency samples in time windows,
threshold alarms with OK / ALARM / INSUFFICIENT_DATA, Prometheus text exposition."""

from podium.metrics.alarms import Alarm, AlarmState
from podium.metrics.series import MetricStore

__all__ = ["Alarm", "AlarmState", "MetricStore"]
