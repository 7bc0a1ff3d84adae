"""Step Functions-shaped ARNs for state machines, versions, aliases and executions.

Podium runs one local "region" and "account" so definitions and tools that expect ARNs work:
`arn:aws:states:local:000000000000:stateMachine:<name>[:<version>|:<alias>]` and
`arn:aws:states:local:000000000000:execution:<state machine>:<execution name>`
(`express:` instead of `execution:` for EXPRESS executions, as AWS does).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass

from podium.errors import ValidationError

PREFIX = "arn:aws:states:local:000000000000:"
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")


def check_name(kind: str, name: str) -> str:
    """AWS names: 1-80 characters, letters, digits, `-`, `_` and `.`."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            f"{kind} name {name!r} is invalid: use 1-80 letters, digits, '-', '_' or '.'",
            code="InvalidName",
        )
    return name


def execution_name() -> str:
    """A default execution name: a UUID, version 7 (RFC 9562: Unix time in milliseconds, then a
    1/4096 ms fraction, then 62 random bits), so names taken later sort later.

    An execution's row, tasks and timers are keyed by its ARN: a random name would put each
    new execution's entries in the middle of those indexes, where an insert splits pages that
    the transaction must then write; a later name appends near the end.
    """
    now = time.time_ns()
    millis, fraction = divmod(now, 1_000_000)
    random = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | ((fraction * 4096 // 1_000_000) << 64) | (0b10 << 62) | random
    return str(uuid.UUID(int=value))


def state_machine_arn(name: str) -> str:
    return f"{PREFIX}stateMachine:{name}"


def execution_arn(state_machine: str, name: str, express: bool = False) -> str:
    kind = "express" if express else "execution"
    return f"{PREFIX}{kind}:{state_machine}:{name}"


@dataclass(frozen=True)
class Target:
    """What StartExecution names: a state machine, optionally one version or one alias."""

    state_machine: str
    version: int | None = None
    alias: str | None = None


def parse_target(text: str) -> Target:
    """`name`, `name:3`, `name:alias`, or any of those as a stateMachine ARN."""
    rest = text
    if text.startswith("arn:"):
        marker = ":stateMachine:"
        if marker not in text:
            raise ValidationError(f"{text!r} is not a state machine ARN", code="InvalidArn")
        rest = text.split(marker, 1)[1]
    name, _, qualifier = rest.partition(":")
    check_name("state machine", name)
    if not qualifier:
        return Target(name)
    if qualifier.isdigit():
        return Target(name, version=int(qualifier))
    return Target(name, alias=check_name("alias", qualifier))


def parse_execution(text: str) -> tuple[str, str] | None:
    """(state machine, execution name) of an execution ARN, or None for something else."""
    for kind in (":execution:", ":express:"):
        if text.startswith("arn:") and kind in text:
            machine, _, name = text.split(kind, 1)[1].partition(":")
            return machine, name
    return None
