"""Metrics and alarms (the CloudWatch stand-in): counters and latency samples in time windows,
threshold alarms with OK / ALARM / INSUFFICIENT_DATA, Prometheus text exposition."""

from podium.metrics.alarms import Alarm, AlarmState, alarm_from_aws, alarm_to_aws
from podium.metrics.series import MetricStore

__all__ = ["Alarm", "AlarmState", "MetricStore", "alarm_from_aws", "alarm_to_aws"]
