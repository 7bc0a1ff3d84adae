"""Feature group definitions kept in the metadata store, with every schema version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.features.group import Feature, FeatureGroup, check_feature_names
from podium.store import Store
from podium.store.tables.features import features_group_versions, features_groups


class GroupRegistry:
    """Create, read, list, extend and delete feature group definitions."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, group: FeatureGroup) -> FeatureGroup:
        now = datetime.now(UTC)
        try:
            with self.store.begin() as conn:
                conn.execute(insert(features_groups).values(
                    name=group.name, version=group.version, definition=group.to_dict(),
                    description=group.description, online_enabled=group.online_enabled,
                    offline_enabled=group.offline_enabled, created_at=now, updated_at=now,
                ))
                conn.execute(insert(features_group_versions).values(
                    group_name=group.name, version=group.version,
                    definition=group.to_dict(), created_at=now,
                ))
        except IntegrityError:
            raise ConflictError(
                f"feature group '{group.name}' already exists; describe it, or delete it first"
            ) from None
        return group

    def get(self, name: str, version: int | None = None) -> FeatureGroup:
        with self.store.connect() as conn:
            if version is None:
                row = conn.execute(
                    select(features_groups.c.definition).where(features_groups.c.name == name)
                ).scalar_one_or_none()
            else:
                row = conn.execute(
                    select(features_group_versions.c.definition).where(
                        features_group_versions.c.group_name == name,
                        features_group_versions.c.version == version,
                    )
                ).scalar_one_or_none()
        if row is None:
            what = f"feature group '{name}'" + (f" version {version}" if version else "")
            raise NotFoundError(f"{what} does not exist; `podium features list` shows the groups")
        return FeatureGroup.from_dict(row)

    def all(self) -> list[FeatureGroup]:
        with self.store.connect() as conn:
            rows = conn.execute(
                select(features_groups.c.definition).order_by(features_groups.c.name)
            ).scalars()
            return [FeatureGroup.from_dict(row) for row in rows]

    def versions(self, name: str) -> list[FeatureGroup]:
        with self.store.connect() as conn:
            rows = conn.execute(
                select(features_group_versions.c.definition)
                .where(features_group_versions.c.group_name == name)
                .order_by(features_group_versions.c.version)
            ).scalars().all()
        if not rows:
            self.get(name)
        return [FeatureGroup.from_dict(row) for row in rows]

    def add_features(self, name: str, added: Sequence[Feature]) -> FeatureGroup:
        """Append features as a new schema version; the version check makes racing adds conflict."""
        current = self.get(name)
        if not added:
            raise ValidationError(f"feature group '{name}': give at least one feature to add")
        updated = current.with_features(added)
        check_feature_names(name, updated.features)
        now = datetime.now(UTC)
        with self.store.begin() as conn:
            changed = conn.execute(
                update(features_groups)
                .where(features_groups.c.name == name, features_groups.c.version == current.version)
                .values(version=updated.version, definition=updated.to_dict(), updated_at=now)
            ).rowcount
            if changed != 1:
                raise ConflictError(
                    f"feature group '{name}' changed while adding features; read it and try again"
                )
            conn.execute(insert(features_group_versions).values(
                group_name=name, version=updated.version,
                definition=updated.to_dict(), created_at=now,
            ))
        return updated

    def delete(self, name: str) -> None:
        with self.store.begin() as conn:
            removed = conn.execute(
                delete(features_groups).where(features_groups.c.name == name)
            ).rowcount
            conn.execute(
                delete(features_group_versions).where(features_group_versions.c.group_name == name)
            )
        if not removed:
            raise NotFoundError(f"feature group '{name}' does not exist")
