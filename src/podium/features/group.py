"""Feature group definitions: what a group holds, validated once into a frozen object."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from podium.errors import ValidationError
from podium.features.types import KEY_TYPES, canonical_type

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
# Columns the offline store adds to every row; SageMaker reserves the first three too.
RESERVED_NAMES = frozenset(
    {"write_time", "api_invocation_time", "is_deleted", "ingestion_id", "ingestion_row", "event_date"}
)
TTL_UNITS = {"Seconds": 1, "Minutes": 60, "Hours": 3600, "Days": 86400, "Weeks": 604800}


@dataclass(frozen=True)
class Feature:
    """One column of a feature group: its name, canonical type and description."""

    name: str
    type: str
    description: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "description": self.description}


@dataclass(frozen=True)
class FeatureGroup:
    """A validated feature group definition.

    `features` lists every column, including the record identifiers and the event-time
    column, in order. `ttl_seconds` (None = no TTL) limits how old a value may be, relative to
    the time it is asked for, and still be returned (training sets and online reads).
    """

    name: str
    record_identifiers: tuple[str, ...]
    event_time: str
    features: tuple[Feature, ...]
    ttl_seconds: int | None = None
    online_enabled: bool = True
    offline_enabled: bool = True
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    version: int = 1

    @property
    def value_features(self) -> tuple[Feature, ...]:
        """The features that are neither record identifiers nor the event time."""
        fixed = {*self.record_identifiers, self.event_time}
        return tuple(f for f in self.features if f.name not in fixed)

    def feature(self, name: str) -> Feature:
        for candidate in self.features:
            if candidate.name == name:
                return candidate
        raise ValidationError(
            f"feature group '{self.name}' has no feature '{name}'; "
            f"it has: {', '.join(f.name for f in self.features)}"
        )

    def with_features(self, added: Sequence[Feature]) -> FeatureGroup:
        """The next schema version with `added` appended; existing features never change."""
        return replace(self, features=self.features + tuple(added), version=self.version + 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "record_identifiers": list(self.record_identifiers),
            "event_time": self.event_time,
            "features": [f.to_dict() for f in self.features],
            "ttl_seconds": self.ttl_seconds,
            "online_enabled": self.online_enabled,
            "offline_enabled": self.offline_enabled,
            "description": self.description,
            "tags": dict(self.tags),
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureGroup:
        return define_group(
            data["name"],
            record_identifiers=data["record_identifiers"],
            event_time=data["event_time"],
            features=data["features"],
            ttl=data.get("ttl_seconds"),
            online_enabled=data.get("online_enabled", True),
            offline_enabled=data.get("offline_enabled", True),
            description=data.get("description", ""),
            tags=data.get("tags") or {},
            version=data.get("version", 1),
        )


def parse_ttl(ttl: Any) -> int | None:
    """TTL in whole seconds from seconds, a timedelta or SageMaker's {"Unit", "Value"}."""
    if ttl is None:
        return None
    if isinstance(ttl, timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, Mapping):
        unit, value = ttl.get("Unit"), ttl.get("Value")
        if unit not in TTL_UNITS or not isinstance(value, int) or value < 1:
            raise ValidationError(
                f"TTL {dict(ttl)!r} must be {{'Unit': one of {', '.join(TTL_UNITS)}, 'Value': >= 1}}"
            )
        seconds = TTL_UNITS[unit] * value
    elif isinstance(ttl, int | float) and not isinstance(ttl, bool):
        seconds = float(ttl)
    else:
        raise ValidationError(f"TTL {ttl!r} must be seconds, a timedelta or {{'Unit', 'Value'}}")
    if seconds <= 0 or seconds != int(seconds):
        raise ValidationError(f"TTL {ttl!r} must be a positive whole number of seconds")
    return int(seconds)


def parse_features(features: Any) -> tuple[Feature, ...]:
    """Features from a {name: type} mapping or a list of Feature / {"name","type"} items."""
    items: list[Feature] = []
    if isinstance(features, Mapping):
        items = [Feature(str(n), canonical_type(str(t))) for n, t in features.items()]
    else:
        for entry in features:
            if isinstance(entry, Feature):
                items.append(replace(entry, type=canonical_type(entry.type)))
            elif isinstance(entry, Mapping) and "name" in entry and "type" in entry:
                items.append(
                    Feature(str(entry["name"]), canonical_type(str(entry["type"])),
                            str(entry.get("description", "")))
                )
            else:
                raise ValidationError(f"feature {entry!r} must be a Feature or {{'name', 'type'}}")
    return tuple(items)


def check_feature_names(group: str, features: Sequence[Feature]) -> None:
    seen: set[str] = set()
    for position, feature in enumerate(features):
        where = f"feature group '{group}': features[{position}] '{feature.name}'"
        if not NAME_PATTERN.match(feature.name):
            raise ValidationError(f"{where}: names are a letter then letters, digits or _ (max 63)")
        if feature.name in RESERVED_NAMES:
            raise ValidationError(f"{where}: the name is reserved for the offline store; rename it")
        if feature.name in seen:
            raise ValidationError(f"{where}: the name appears twice")
        seen.add(feature.name)


def define_group(
    name: str,
    *,
    record_identifiers: str | Sequence[str],
    event_time: str,
    features: Any,
    ttl: Any = None,
    online_enabled: bool = True,
    offline_enabled: bool = True,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    version: int = 1,
) -> FeatureGroup:
    """Validate a feature group definition; every problem names the field and the fix."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValidationError(
            f"feature group name {name!r}: use a letter then letters, digits or _ (max 63)"
        )
    keys = (record_identifiers,) if isinstance(record_identifiers, str) else tuple(record_identifiers)
    parsed = parse_features(features)
    check_feature_names(name, parsed)
    by_name = {f.name: f for f in parsed}
    if not keys:
        raise ValidationError(f"feature group '{name}': record_identifiers must name at least one feature")
    for key in keys:
        if key not in by_name:
            raise ValidationError(f"feature group '{name}': record identifier '{key}' is not a feature")
        if by_name[key].type not in KEY_TYPES:
            raise ValidationError(
                f"feature group '{name}': record identifier '{key}' has type {by_name[key].type}; "
                f"use {' or '.join(KEY_TYPES)}"
            )
    if len(set(keys)) != len(keys):
        raise ValidationError(f"feature group '{name}': record identifiers repeat a feature")
    if event_time not in by_name:
        raise ValidationError(f"feature group '{name}': event time feature '{event_time}' is not a feature")
    if by_name[event_time].type != "timestamp":
        raise ValidationError(
            f"feature group '{name}': event time feature '{event_time}' must have type timestamp "
            "(ISO-8601 strings and epoch seconds are converted on ingestion)"
        )
    if event_time in keys:
        raise ValidationError(f"feature group '{name}': the event time cannot be a record identifier")
    if not (online_enabled or offline_enabled):
        raise ValidationError(f"feature group '{name}': enable the online store, the offline store or both")
    return FeatureGroup(
        name=name,
        record_identifiers=keys,
        event_time=event_time,
        features=parsed,
        ttl_seconds=parse_ttl(ttl),
        online_enabled=bool(online_enabled),
        offline_enabled=bool(offline_enabled),
        description=description or "",
        tags=dict(tags or {}),
        version=version,
    )


def key_from_text(group: FeatureGroup, text: str) -> tuple[Any, ...]:
    """A key typed on the command line or in a URL, as the group's identifier types."""
    parts: list[Any]
    if text.startswith("["):
        try:
            parts = list(json.loads(text))
        except json.JSONDecodeError:
            raise ValidationError(f"key {text!r} is not a JSON list") from None
    else:
        parts = [text]
    typed: list[Any] = []
    for part, name in zip(parts, group.record_identifiers, strict=False):
        if group.feature(name).type == "int64":
            try:
                typed.append(int(part))
            except (TypeError, ValueError):
                raise ValidationError(f"key part {part!r} for '{name}' must be an integer") from None
        else:
            typed.append(str(part))
    if len(parts) != len(group.record_identifiers):
        raise ValidationError(
            f"key {text!r}: feature group '{group.name}' has {len(group.record_identifiers)} "
            f"identifier part(s): {', '.join(group.record_identifiers)}"
        )
    return tuple(typed)
