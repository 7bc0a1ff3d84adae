"""Which functions exist: name -> importable handler plus its limits (timeout, memory, concurrency).

Functions come from two places: the `[functions]` table of `podium.toml` and the
`@function(...)` decorator. In `podium.toml` a function is either its handler
(`score = "mypkg.jobs:score"`, default limits) or a table with its limits:

    [functions.train]
    handler = "mypkg.jobs:train"
    timeout_seconds = 900
    memory_mb = 4096
    concurrency = 2
    description = "Fit the nightly model"
 The decorator only marks the
callable; `FunctionRegistry.add_decorated(module)` or `register(callable)` records it, so nothing
is registered as a side effect of importing a module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, TypeVar

from podium.errors import NotFoundError, ValidationError

# Lambda's own default is 3 s; ML functions (scoring a batch, writing a report) need longer.
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MEMORY_MB = 1024
_SPEC_ATTRIBUTE = "__podium_function__"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class FunctionSpec:
    """One registered function.

    `memory_mb` is a note and a recycling threshold: a worker process whose peak RSS grew past it
    is replaced after the invocation (so a leak cannot grow without bound); it is not a hard cap.
    `concurrency` limits simultaneous invocations of this function (None = only the pool size).
    """

    name: str
    target: str  # "module.path:callable"
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    memory_mb: int = DEFAULT_MEMORY_MB
    concurrency: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        module, _, attr = self.target.partition(":")
        if not module or not attr:
            raise ValidationError(
                f"function {self.name!r}: target must be 'module.path:callable', got {self.target!r}"
            )
        if self.timeout_seconds <= 0:
            raise ValidationError(f"function {self.name!r}: timeout_seconds must be > 0")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValidationError(f"function {self.name!r}: concurrency must be >= 1")

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.name}"


# The keys of a `[functions.<name>]` table and the type each takes.
SETTING_KEYS: dict[str, str] = {
    "handler": "a 'module.path:callable' string",
    "timeout_seconds": "a number of seconds > 0",
    "memory_mb": "a whole number of MB >= 1",
    "concurrency": "a whole number >= 1",
    "description": "a string",
}


def spec_from_setting(name: str, value: Any) -> FunctionSpec:
    """The FunctionSpec of one `[functions]` entry: a handler string or a table of settings.

    Raises ValidationError naming the function and the key at fault.
    """
    if isinstance(value, str):
        return FunctionSpec(name=name, target=value)
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"function '{name}' must be \"module.path:callable\" or a table with "
            f"handler = \"module.path:callable\", got {type(value).__name__}"
        )
    unknown = sorted(set(value) - set(SETTING_KEYS))
    if unknown:
        raise ValidationError(
            f"function '{name}': unknown key '{unknown[0]}' (known: {', '.join(SETTING_KEYS)})"
        )
    if "handler" not in value:
        raise ValidationError(f"function '{name}': the table needs handler = \"module.path:callable\"")

    def check(key: str, ok: bool) -> None:
        if key in value and not ok:
            raise ValidationError(f"function '{name}': {key} must be {SETTING_KEYS[key]}, got {value[key]!r}")

    def whole(key: str) -> bool:
        return isinstance(value.get(key), int) and not isinstance(value.get(key), bool) and value[key] >= 1

    timeout = value.get("timeout_seconds")
    check("handler", isinstance(value["handler"], str))
    check("timeout_seconds", isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0)
    check("memory_mb", whole("memory_mb"))
    check("concurrency", whole("concurrency"))
    check("description", isinstance(value.get("description"), str))
    return FunctionSpec(
        name=name,
        target=value["handler"],
        timeout_seconds=float(value.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)),
        memory_mb=int(value.get("memory_mb", DEFAULT_MEMORY_MB)),
        concurrency=value.get("concurrency"),
        description=value.get("description", ""),
    )


def function(
    name: str | None = None,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    memory_mb: int = DEFAULT_MEMORY_MB,
    concurrency: int | None = None,
    description: str = "",
) -> Callable[[F], F]:
    """Mark `handler(event, context)` as a Podium function (it stays a plain callable).

    Example:
        @function("score", timeout_seconds=30, concurrency=4)
        def score(event, context):
            return {"score": 0.9}
    """

    def mark(handler: F) -> F:
        spec = FunctionSpec(
            name=name or handler.__name__,
            target=f"{handler.__module__}:{handler.__qualname__}",
            timeout_seconds=timeout_seconds,
            memory_mb=memory_mb,
            concurrency=concurrency,
            description=description or (handler.__doc__ or "").strip().split("\n")[0],
        )
        setattr(handler, _SPEC_ATTRIBUTE, spec)
        return handler

    return mark


class FunctionRegistry:
    """Functions by name. Build it from settings, then add decorated callables."""

    def __init__(self, specs: Iterable[FunctionSpec] = ()) -> None:
        self._specs: dict[str, FunctionSpec] = {}
        for spec in specs:
            self.add(spec)

    @classmethod
    def from_settings(cls, settings: Any) -> FunctionRegistry:
        """Functions named in `[functions]`, each a handler string or a table with its limits."""
        functions: Mapping[str, Any] = getattr(settings, "functions", {}) or {}
        return cls(spec_from_setting(name, value) for name, value in functions.items())

    def add(self, spec: FunctionSpec) -> FunctionSpec:
        self._specs[spec.name] = spec
        return spec

    def register(self, handler: Callable[..., Any], name: str | None = None) -> FunctionSpec:
        """Add a callable; its @function limits apply when it has them."""
        spec = getattr(handler, _SPEC_ATTRIBUTE, None)
        if spec is None:
            spec = FunctionSpec(
                name=name or handler.__name__, target=f"{handler.__module__}:{handler.__qualname__}"
            )
        elif name is not None:
            spec = replace(spec, name=name)
        return self.add(spec)

    def add_decorated(self, module: ModuleType | str) -> list[FunctionSpec]:
        """Add every @function-marked callable defined at the top of `module`."""
        if isinstance(module, str):
            module = importlib.import_module(module)
        found = []
        for value in vars(module).values():
            spec = getattr(value, _SPEC_ATTRIBUTE, None)
            if isinstance(spec, FunctionSpec):
                found.append(self.add(spec))
        return found

    def get(self, name: str) -> FunctionSpec:
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(sorted(self._specs)) or "none registered"
            raise NotFoundError(
                f"function {name!r} is not registered (known: {known}); add it under "
                f"[functions] in podium.toml as {name} = \"module.path:callable\" (or as a "
                f"[functions.{name}] table with handler, timeout_seconds, memory_mb, concurrency)",
                code="FunctionNotFound",
            ) from None

    def find(self, name: str) -> FunctionSpec | None:
        """The function named `name`, or None (`get` raises instead)."""
        return self._specs.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def specs(self) -> list[FunctionSpec]:
        return [self._specs[name] for name in sorted(self._specs)]
