"""The lineage graph: artifacts (datasets, training sets, models, endpoints), actions (job runs,
training jobs, deployments) and typed associations between them, queryable both ways.

Entities are identified by (kind, type, name), so recording the same thing twice is harmless:
every package that creates something records it as it goes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, insert, or_, select

from podium.errors import NotFoundError, ValidationError
from podium.store import Store
from podium.store.tables.models import lineage_associations, lineage_entities

Kind = Literal["artifact", "action"]
# SageMaker's association types, plus DeployedAs for a model version serving behind an endpoint.
ASSOCIATION_TYPES = ("ContributedTo", "AssociatedWith", "DerivedFrom", "Produced", "SameAs", "DeployedAs")


@dataclass(frozen=True)
class Entity:
    id: str
    kind: str
    type: str
    name: str
    uri: str | None
    properties: dict[str, Any]
    created_at: datetime


@dataclass
class LineageNode:
    """One entity in an upstream/downstream tree, with how it links to its parent in the tree."""

    entity: Entity
    association: str | None = None
    children: list[LineageNode] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.entity.id,
            "kind": self.entity.kind,
            "type": self.entity.type,
            "name": self.entity.name,
            "uri": self.entity.uri,
            "association": self.association,
            "children": [child.to_dict() for child in self.children],
        }


def entity_id(kind: str, type_: str, name: str) -> str:
    return hashlib.sha256(f"{kind}\x00{type_}\x00{name}".encode()).hexdigest()[:32]


def _row_entity(row: Any) -> Entity:
    return Entity(
        id=row.id, kind=row.kind, type=row.type, name=row.name, uri=row.uri,
        properties=dict(row.properties or {}), created_at=row.created_at,
    )


class Lineage:
    """Record and query the lineage graph in the metadata store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self,
        kind: Kind,
        type_: str,
        name: str,
        *,
        uri: str | None = None,
        properties: dict[str, Any] | None = None,
        connection: Connection | None = None,
    ) -> str:
        """Add an entity if it is not there yet; returns its id either way."""
        if kind not in ("artifact", "action"):
            raise ValidationError(f"lineage kind must be 'artifact' or 'action', got {kind!r}")
        new_id = entity_id(kind, type_, name)
        values = {
            "id": new_id, "kind": kind, "type": type_, "name": name, "uri": uri,
            "properties": properties or {}, "created_at": datetime.now(UTC),
        }
        with self._transaction(connection) as conn:
            exists = conn.execute(
                select(lineage_entities.c.id).where(lineage_entities.c.id == new_id)
            ).first()
            if exists is None:
                conn.execute(insert(lineage_entities).values(**values))
        return new_id

    def artifact(self, type_: str, name: str, **kwargs: Any) -> str:
        return self.record("artifact", type_, name, **kwargs)

    def action(self, type_: str, name: str, **kwargs: Any) -> str:
        return self.record("action", type_, name, **kwargs)

    def associate(
        self, source_id: str, destination_id: str, type_: str, *, connection: Connection | None = None
    ) -> None:
        """Link two entities: data flows from source to destination (source ContributedTo dest)."""
        if type_ not in ASSOCIATION_TYPES:
            raise ValidationError(
                f"association type {type_!r} is not one of {', '.join(ASSOCIATION_TYPES)}"
            )
        with self._transaction(connection) as conn:
            exists = conn.execute(
                select(lineage_associations.c.type).where(
                    lineage_associations.c.source_id == source_id,
                    lineage_associations.c.destination_id == destination_id,
                    lineage_associations.c.type == type_,
                )
            ).first()
            if exists is None:
                conn.execute(
                    insert(lineage_associations).values(
                        source_id=source_id, destination_id=destination_id, type=type_,
                        created_at=datetime.now(UTC),
                    )
                )

    def get(self, entity: str) -> Entity:
        with self.store.connect() as conn:
            row = conn.execute(select(lineage_entities).where(lineage_entities.c.id == entity)).first()
        if row is None:
            raise NotFoundError(f"lineage entity {entity!r} does not exist")
        return _row_entity(row)

    def find(self, type_: str | None = None, name: str | None = None) -> list[Entity]:
        query = select(lineage_entities)
        if type_:
            query = query.where(lineage_entities.c.type == type_)
        if name:
            query = query.where(or_(lineage_entities.c.name == name, lineage_entities.c.uri == name))
        with self.store.connect() as conn:
            return [_row_entity(row) for row in conn.execute(query.order_by(lineage_entities.c.created_at))]

    def upstream(self, entity: str, max_depth: int = 20) -> LineageNode:
        """The tree of everything that flowed into `entity` (raw files at the leaves)."""
        return self._walk(entity, upstream=True, max_depth=max_depth)

    def downstream(self, entity: str, max_depth: int = 20) -> LineageNode:
        """The tree of everything `entity` flowed into (endpoints at the leaves)."""
        return self._walk(entity, upstream=False, max_depth=max_depth)

    def _walk(self, start: str, *, upstream: bool, max_depth: int) -> LineageNode:
        with self.store.connect() as conn:
            edges = conn.execute(select(lineage_associations)).all()
            entities = {row.id: _row_entity(row) for row in conn.execute(select(lineage_entities))}
        if start not in entities:
            raise NotFoundError(f"lineage entity {start!r} does not exist")
        neighbours: dict[str, list[tuple[str, str]]] = {}
        for edge in edges:
            key, other = (
                (edge.destination_id, edge.source_id) if upstream else (edge.source_id, edge.destination_id)
            )
            neighbours.setdefault(key, []).append((other, edge.type))

        def build(node_id: str, association: str | None, depth: int, path: frozenset[str]) -> LineageNode:
            node = LineageNode(entities[node_id], association)
            if depth < max_depth:
                for other, kind in sorted(neighbours.get(node_id, []), key=lambda item: entities[item[0]].name):
                    if other not in path:  # a cycle would otherwise recurse forever
                        node.children.append(build(other, kind, depth + 1, path | {other}))
            return node

        return build(start, None, 0, frozenset({start}))

    def _transaction(self, connection: Connection | None) -> Any:
        if connection is not None:
            from contextlib import nullcontext

            return nullcontext(connection)
        return self.store.begin()


def flatten(node: LineageNode) -> Iterable[Entity]:
    yield node.entity
    for child in node.children:
        yield from flatten(child)
