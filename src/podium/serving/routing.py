"""The router's decision, as a pure function: which fleet and variant serves a request.

An endpoint's table lists fleets (one per endpoint config still serving: blue, and green during
a deployment) with their traffic share, and each fleet's variants with their weights. The
decision is made once, at admission, from two uniform random numbers passed in.

`Placement`s are the routing state as committed in the metadata store: per fleet, the endpoint
config it runs, its traffic share and the part of its instances started. Every router process
on the store builds its table from them with its own fleets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.errors import NotFoundError, ValidationError


@dataclass(frozen=True)
class VariantRoute:
    name: str
    weight: float
    fleet: Any  # podium.serving.pool.Fleet; kept opaque so this module stays pure


@dataclass(frozen=True)
class ShadowRoute:
    """A shadow variant: gets a copy of `sampling` (0..1) of this fleet's requests; its answers
    are recorded and compared, never returned."""

    name: str
    sampling: float
    fleet: Any


@dataclass(frozen=True)
class FleetShare:
    config_name: str
    share: float
    variants: tuple[VariantRoute, ...]
    shadows: tuple[ShadowRoute, ...] = ()


@dataclass(frozen=True)
class RoutingTable:
    endpoint: str
    fleets: tuple[FleetShare, ...]

    def shares(self) -> dict[str, float]:
        return {fleet.config_name: fleet.share for fleet in self.fleets}


@dataclass(frozen=True)
class Placement:
    """One fleet of an endpoint's committed routing state. `key` names the fleet (its config and
    the deployment that started it, so a redeploy of the same config is another fleet);
    `capacity` is the part (0..1) of each variant's instance count running (rolling updates)."""

    key: str
    config_name: str
    share: float
    capacity: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "config": self.config_name, "share": self.share, "capacity": self.capacity}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Placement:
        return cls(data["key"], data["config"], float(data["share"]), float(data.get("capacity", 1.0)))


def _pick(weights: list[float], draw: float) -> int:
    total = sum(weights)
    if total <= 0:
        raise ValidationError("every weight is zero: no variant can take traffic")
    point, running = draw * total, 0.0
    for index, weight in enumerate(weights):
        running += weight
        if point < running:
            return index
    return len(weights) - 1


def choose(
    table: RoutingTable, draw_fleet: float, draw_variant: float, target_variant: str | None = None
) -> tuple[FleetShare, VariantRoute]:
    """The fleet and variant for one request. A TargetVariant pins the variant (in the fleet
    with the largest share that has it)."""
    if target_variant is not None:
        for fleet in sorted(table.fleets, key=lambda f: -f.share):
            for variant in fleet.variants:
                if variant.name == target_variant:
                    return fleet, variant
        raise NotFoundError(f"endpoint '{table.endpoint}' has no variant named '{target_variant}'")
    live = [fleet for fleet in table.fleets if fleet.share > 0]
    if not live:
        raise NotFoundError(f"endpoint '{table.endpoint}' has no fleet taking traffic")
    fleet = live[_pick([f.share for f in live], draw_fleet)]
    variant = fleet.variants[_pick([v.weight for v in fleet.variants], draw_variant)]
    return fleet, variant
