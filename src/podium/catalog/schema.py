"""Table schemas and how one version differs from the next."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Column:
    """A column name and its DuckDB type."""

    name: str
    type: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


@dataclass(frozen=True)
class SchemaChange:
    """Columns added, removed and retyped between two schema versions."""

    added: tuple[Column, ...] = ()
    removed: tuple[Column, ...] = ()
    retyped: tuple[tuple[str, str, str], ...] = field(default=())  # (name, from, to)
    partition_keys: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.retyped or self.partition_keys)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "added": [c.to_dict() for c in self.added],
            "removed": [c.to_dict() for c in self.removed],
            "retyped": [{"name": n, "from": a, "to": b} for n, a, b in self.retyped],
        }
        if self.partition_keys is not None:
            out["partition_keys"] = {"from": list(self.partition_keys[0]), "to": list(self.partition_keys[1])}
        return out

    def summary(self) -> str:
        parts = [f"+{c.name} {c.type}" for c in self.added]
        parts += [f"-{c.name}" for c in self.removed]
        parts += [f"~{n} {a}->{b}" for n, a, b in self.retyped]
        if self.partition_keys is not None:
            parts.append(f"partitions {list(self.partition_keys[0])}->{list(self.partition_keys[1])}")
        return ", ".join(parts) or "no change"


def diff(
    old: list[Column], new: list[Column], old_keys: tuple[str, ...] = (), new_keys: tuple[str, ...] = ()
) -> SchemaChange:
    """What changed from `old` to `new` (column order alone is not a change)."""
    before = {c.name: c.type for c in old}
    after = {c.name: c.type for c in new}
    return SchemaChange(
        added=tuple(c for c in new if c.name not in before),
        removed=tuple(c for c in old if c.name not in after),
        retyped=tuple((n, before[n], t) for n, t in after.items() if n in before and before[n] != t),
        partition_keys=(tuple(old_keys), tuple(new_keys)) if tuple(old_keys) != tuple(new_keys) else None,
    )


def columns_from(raw: list[dict[str, str]]) -> list[Column]:
    return [Column(c["name"], c["type"]) for c in raw]
