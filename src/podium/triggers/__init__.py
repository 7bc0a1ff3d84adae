"""Schedules, the event bus and its rules, and their targets (the EventBridge stand-in).

Pure parts (expressions, timing, patterns) import nothing of the store; the durable
parts (Scheduler, EventBus, FolderWatcher) live in their own modules and are imported
from there: `podium.triggers.scheduler`, `podium.triggers.bus`, `podium.triggers.watch`.
"""

from podium.triggers.cron import CronExpression, parse_cron
from podium.triggers.expressions import (
    AtExpression,
    RateExpression,
    ScheduleExpression,
    parse_expression,
)
from podium.triggers.patterns import EventPattern, PatternSet, compile_pattern
from podium.triggers.timing import ScheduleTiming, next_fire

__all__ = [
    "AtExpression",
    "CronExpression",
    "EventPattern",
    "PatternSet",
    "RateExpression",
    "ScheduleExpression",
    "ScheduleTiming",
    "compile_pattern",
    "next_fire",
    "parse_cron",
    "parse_expression",
]
