"""Retry policy of a target: how many attempts, for how long, and the back-off between them.

Mirrors EventBridge's RetryPolicy (MaximumRetryAttempts 0-185, MaximumEventAgeInSeconds
60-86,400; default 185 attempts over 24 hours) with exponential back-off and jitter. The
jitter is derived from the delivery's key rather than a random draw, so retries of many
deliveries spread out yet a test can predict each delay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from podium.errors import ValidationError

MAX_RETRY_ATTEMPTS = 185
MIN_EVENT_AGE_SECONDS = 60
MAX_EVENT_AGE_SECONDS = 86_400


@dataclass(frozen=True)
class RetryPolicy:
    max_retry_attempts: int = MAX_RETRY_ATTEMPTS
    max_event_age_seconds: int = MAX_EVENT_AGE_SECONDS
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 300.0

    def __post_init__(self) -> None:
        if not 0 <= self.max_retry_attempts <= MAX_RETRY_ATTEMPTS:
            raise ValidationError(
                f"max_retry_attempts must be 0-{MAX_RETRY_ATTEMPTS} (got {self.max_retry_attempts})",
                details={"field": "max_retry_attempts"},
            )
        if not MIN_EVENT_AGE_SECONDS <= self.max_event_age_seconds <= MAX_EVENT_AGE_SECONDS:
            raise ValidationError(
                f"max_event_age_seconds must be {MIN_EVENT_AGE_SECONDS}-{MAX_EVENT_AGE_SECONDS} "
                f"(got {self.max_event_age_seconds})",
                details={"field": "max_event_age_seconds"},
            )

    def delay(self, attempt: int, key: str) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): exponential,
        capped, with "equal jitter" (between half and all of the exponential delay)."""
        exponential = min(self.max_delay_seconds, self.base_delay_seconds * 2.0 ** (attempt - 1))
        digest = hashlib.sha256(f"{key}|{attempt}".encode()).digest()
        fraction = int.from_bytes(digest[:4], "big") / 2**32
        return float(exponential / 2 + fraction * exponential / 2)
