"""Feature group definitions: validation, and create/describe/list/add/delete in the store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.features import FeatureStore, define_group
from podium.features.group import parse_ttl

BASE = {"customer_id": "int64", "ts": "timestamp", "spend": "Fractional", "tags": "list<string>"}


def test_definition_is_validated_and_canonicalised() -> None:
    group = define_group("customers", record_identifiers="customer_id", event_time="ts",
                         features=BASE, ttl={"Unit": "Days", "Value": 7}, tags={"team": "risk"})
    assert group.ttl_seconds == 7 * 86400
    assert [f.type for f in group.features] == ["int64", "timestamp", "float64", "list<string>"]
    assert [f.name for f in group.value_features] == ["spend", "tags"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "1bad"}, "name"),
        ({"record_identifiers": "missing"}, "record identifier 'missing'"),
        ({"record_identifiers": "spend"}, "int64"),
        ({"event_time": "spend"}, "must have type timestamp"),
        ({"features": {**BASE, "write_time": "timestamp"}}, "reserved"),
        ({"features": {**BASE, "x": "decimal"}}, "unknown feature type"),
        ({"ttl": -3}, "positive"),
        ({"online_enabled": False, "offline_enabled": False}, "enable"),
    ],
)
def test_bad_definitions_name_the_problem(change: dict, message: str) -> None:
    arguments = {"name": "customers", "record_identifiers": "customer_id", "event_time": "ts",
                 "features": BASE, **change}
    with pytest.raises(ValidationError, match=message):
        define_group(arguments.pop("name"), **arguments)


def test_ttl_forms() -> None:
    assert parse_ttl(timedelta(hours=2)) == 7200
    assert parse_ttl({"Unit": "Weeks", "Value": 1}) == 604800
    assert parse_ttl(None) is None
    with pytest.raises(ValidationError):
        parse_ttl({"Unit": "Years", "Value": 1})


def test_create_describe_list_add_delete(fs: FeatureStore) -> None:
    fs.create_group("customers", record_identifiers="customer_id", event_time="ts",
                    features=BASE, description="who buys", tags={"team": "risk"})
    with pytest.raises(ConflictError):
        fs.create_group("customers", record_identifiers="customer_id", event_time="ts", features=BASE)
    described = fs.describe_group("customers")
    assert described.description == "who buys" and described.tags == {"team": "risk"}
    assert [g.name for g in fs.list_groups()] == ["customers"]
    updated = fs.add_features("customers", {"visits": "int64"})
    assert updated.version == 2 and updated.features[-1].name == "visits"
    assert fs.describe_group("customers", version=1).version == 1
    assert [v.version for v in fs.registry.versions("customers")] == [1, 2]
    with pytest.raises(ValidationError, match="twice"):
        fs.add_features("customers", {"spend": "float64"})
    fs.delete_group("customers")
    with pytest.raises(NotFoundError):
        fs.describe_group("customers")


def test_recreating_a_group_with_offline_data_left_needs_a_purge(fs: FeatureStore) -> None:
    definition = {"record_identifiers": "customer_id", "event_time": "ts", "features": BASE}
    fs.create_group("customers", **definition)
    fs.put_record("customers", {"customer_id": 1, "ts": "2024-01-01T00:00:00Z", "spend": 1.0})
    fs.delete_group("customers")
    with pytest.raises(ConflictError, match="purge_data"):
        fs.create_group("customers", **definition)
    fs.create_group("other", **definition)
    fs.delete_group("other", purge_data=True)
    fs.create_group("other", **definition)
