"""Podium's one exception hierarchy.

Every error a user can cause is a `PodiumError` with a stable `code`: the CLI prints
`code: message` and exits non-zero, the HTTP API answers `{"code", "message"}` with
the status given by `http_status`. Messages name the thing, the place and the fix.
"""

from __future__ import annotations

from typing import Any


class PodiumError(Exception):
    """Root of every error Podium raises on purpose."""

    code = "PodiumError"
    http_status = 500

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body

    def __str__(self) -> str:
        return self.message


class ValidationError(PodiumError):
    """Input that breaks a rule: a bad definition, record, argument or pattern."""

    code = "ValidationError"
    http_status = 400


class NotFoundError(PodiumError):
    """A named resource does not exist."""

    code = "NotFound"
    http_status = 404


class ConflictError(PodiumError):
    """The request contradicts what already exists (a name taken, a state that forbids it)."""

    code = "Conflict"
    http_status = 409


class ConfigError(PodiumError):
    """Configuration that cannot be used: unknown key, bad value, unreachable backend."""

    code = "ConfigError"
    http_status = 500


class AuthError(PodiumError):
    """Missing or wrong API token."""

    code = "Unauthorized"
    http_status = 401


class BackendUnavailableError(PodiumError):
    """An engine Podium was configured to use (PostgreSQL, Redis, Ray, …) cannot be reached."""

    code = "BackendUnavailable"
    http_status = 503


class MissingDependencyError(PodiumError):
    """An optional engine's Python package is not installed; the message gives the pip command."""

    code = "MissingDependency"
    http_status = 500

    @classmethod
    def for_extra(cls, package: str, extra: str, purpose: str) -> MissingDependencyError:
        return cls(
            f"{purpose} needs the Python package '{package}', which is not installed; "
            f"run: pip install 'podium[{extra}]'"
        )
