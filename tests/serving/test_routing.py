"""The routing decision: shares and weights respected, TargetVariant pins, zero shares excluded."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.errors import NotFoundError
from podium.serving.routing import FleetShare, RoutingTable, VariantRoute, choose


def table(blue: float, green: float) -> RoutingTable:
    return RoutingTable("ep", (
        FleetShare("blue", blue, (VariantRoute("a", 3.0, "fa"), VariantRoute("b", 1.0, "fb"))),
        FleetShare("green", green, (VariantRoute("a", 1.0, "ga"),)),
    ))


def test_fractions_follow_shares_and_weights() -> None:
    rng = random.Random(7)
    counts = Counter()
    for _ in range(40_000):
        fleet, variant = choose(table(0.8, 0.2), rng.random(), rng.random())
        counts[(fleet.config_name, variant.name)] += 1
    assert counts[("green", "a")] / 40_000 == pytest.approx(0.2, abs=0.01)
    assert counts[("blue", "a")] / 40_000 == pytest.approx(0.6, abs=0.01)
    assert counts[("blue", "b")] / 40_000 == pytest.approx(0.2, abs=0.01)


@given(st.floats(0, 0.999999), st.floats(0, 0.999999))
def test_zero_share_fleet_never_chosen(a: float, b: float) -> None:
    fleet, _ = choose(table(1.0, 0.0), a, b)
    assert fleet.config_name == "blue"


def test_target_variant_pins_and_unknown_is_not_found() -> None:
    fleet, variant = choose(table(0.3, 0.7), 0.0, 0.0, target_variant="b")
    assert (fleet.config_name, variant.name) == ("blue", "b")
    fleet, variant = choose(table(0.3, 0.7), 0.0, 0.0, target_variant="a")
    assert fleet.config_name == "green"  # the larger share wins when both fleets have it
    with pytest.raises(NotFoundError, match="no variant named 'zz'"):
        choose(table(0.5, 0.5), 0.0, 0.0, target_variant="zz")
