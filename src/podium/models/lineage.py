"""The lineage graph: artifacts (datasets, training sets, models, endpoints), actions (job runs,
training jobs, deployments) and typed associations between them, queryable both ways.

Entities are identified by (kind, type, name), so recording the same thing twice is harmless.
Training jobs, the registry and serving record their part as they go; what batch jobs, the
feature store, the workflow engine (which execution ran which job) and serving's deployment
records keep is brought in by `Lineage.sync` (podium.models.harvest), which every query runs first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, insert, or_, select
from sqlalchemy.exc import IntegrityError

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
            "properties": self.entity.properties,
            "association": self.association,
            "children": [child.to_dict() for child in self.children],
        }


def entity_id(kind: str, type_: str, name: str) -> str:
    return hashlib.sha256(f"{kind}\x00{type_}\x00{name}".encode()).hexdigest()[:32]


def canonical_uri(uri: str) -> str:
    """One spelling per location, so that producers that name the same data meet in one node:
    local paths (with or without file://) become absolute, resolved, without a trailing slash;
    other URLs lose their trailing slash."""
    text = str(uri).strip()
    if text.startswith("file://"):
        text = text[len("file://"):]
    if "://" in text:
        return text.rstrip("/")
    return str(Path(text).expanduser().resolve())


def is_within(uri: str, folder: str) -> bool:
    """Whether canonical `uri` is `folder` itself or lies under it."""
    return uri == folder or uri.startswith(folder.rstrip("/") + "/")


@dataclass(frozen=True)
class NewEntity:
    """An entity to merge into the graph (see Lineage.merge)."""

    kind: str
    type: str
    name: str
    uri: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    @property
    def id(self) -> str:
        return entity_id(self.kind, self.type, self.name)


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

    def merge(self, entities: Sequence[NewEntity], edges: Sequence[tuple[str, str, str]]) -> int:
        """Add every entity and (source id, destination id, type) edge not there yet, in one
        transaction; returns how many rows were added. Safe to run from several processes."""
        for _, _, type_ in edges:
            if type_ not in ASSOCIATION_TYPES:
                raise ValidationError(f"association type {type_!r} is not one of {', '.join(ASSOCIATION_TYPES)}")
        for attempt in range(3):
            try:
                return self._merge_once(entities, edges)
            except IntegrityError:  # another process added the same rows first: look again
                if attempt == 2:
                    raise
        return 0  # pragma: no cover - the loop returns or raises

    def _merge_once(self, entities: Sequence[NewEntity], edges: Sequence[tuple[str, str, str]]) -> int:
        now = datetime.now(UTC)
        wanted = {entity.id: entity for entity in entities}
        with self.store.begin() as conn:
            known = set()
            for chunk in _chunks(sorted(wanted)):
                known |= set(conn.scalars(select(lineage_entities.c.id).where(lineage_entities.c.id.in_(chunk))))
            rows = [
                {"id": e.id, "kind": e.kind, "type": e.type, "name": e.name, "uri": e.uri,
                 "properties": e.properties, "created_at": e.created_at or now}
                for key, e in wanted.items() if key not in known
            ]
            if rows:
                conn.execute(insert(lineage_entities), rows)
            candidates = {edge for edge in edges if edge[0] != edge[1]}
            endpoints = {i for edge in candidates for i in edge[:2]} - set(wanted)
            present = set(wanted)
            for chunk in _chunks(sorted(endpoints)):
                present |= set(conn.scalars(select(lineage_entities.c.id).where(lineage_entities.c.id.in_(chunk))))
            linked = set()
            for chunk in _chunks(sorted({edge[0] for edge in candidates})):
                linked |= {(r.source_id, r.destination_id, r.type) for r in conn.execute(
                    select(lineage_associations.c.source_id, lineage_associations.c.destination_id,
                           lineage_associations.c.type).where(lineage_associations.c.source_id.in_(chunk)))}
            new_edges = sorted(
                edge for edge in candidates if edge not in linked and edge[0] in present and edge[1] in present
            )
            if new_edges:
                conn.execute(insert(lineage_associations), [
                    {"source_id": s, "destination_id": d, "type": t, "created_at": now} for s, d, t in new_edges
                ])
        return len(rows) + len(new_edges)

    def sync(self) -> int:
        """Bring in the lineage that batch job runs, feature store writes, workflow executions and
        endpoint deployments keep in their own records (podium.models.harvest); returns how many
        entities and links were added."""
        from podium.models.harvest import harvest

        return harvest(self)

    def get(self, entity: str) -> Entity:
        with self.store.connect() as conn:
            row = conn.execute(select(lineage_entities).where(lineage_entities.c.id == entity)).first()
        if row is None:
            raise NotFoundError(f"lineage entity {entity!r} does not exist")
        return _row_entity(row)

    def find(self, type_: str | None = None, name: str | None = None, *, sync: bool = True) -> list[Entity]:
        """Entities by type and/or name (a name also matches a URI, as given or canonical)."""
        if sync:
            self.sync()
        query = select(lineage_entities)
        if type_:
            query = query.where(lineage_entities.c.type == type_)
        if name:
            spellings = {name} | ({canonical_uri(name)} if "/" in name or name.startswith(".") else set())
            query = query.where(or_(lineage_entities.c.name.in_(spellings), lineage_entities.c.uri.in_(spellings)))
        with self.store.connect() as conn:
            return [_row_entity(row) for row in conn.execute(query.order_by(lineage_entities.c.created_at))]

    def upstream(self, entity: str, max_depth: int = 30, *, sync: bool = True) -> LineageNode:
        """The tree of everything that flowed into `entity` (raw files at the leaves)."""
        if sync:
            self.sync()
        return self._walk(entity, upstream=True, max_depth=max_depth)

    def downstream(self, entity: str, max_depth: int = 30, *, sync: bool = True) -> LineageNode:
        """The tree of everything `entity` flowed into (endpoints at the leaves)."""
        if sync:
            self.sync()
        return self._walk(entity, upstream=False, max_depth=max_depth)

    def _walk(self, start: str, *, upstream: bool, max_depth: int) -> LineageNode:
        """Read the reachable part of the graph level by level (one query per level, on the
        associations' key or destination index), then build the tree."""
        near, far = (
            (lineage_associations.c.destination_id, lineage_associations.c.source_id) if upstream
            else (lineage_associations.c.source_id, lineage_associations.c.destination_id)
        )
        neighbours: dict[str, list[tuple[str, str]]] = {}
        entities: dict[str, Entity] = {}
        with self.store.connect() as conn:
            seen, frontier = {start}, [start]
            for _ in range(max_depth):
                if not frontier:
                    break
                found: list[str] = []
                for chunk in _chunks(frontier):
                    for row in conn.execute(select(near, far, lineage_associations.c.type).where(near.in_(chunk))):
                        neighbours.setdefault(row[0], []).append((row[1], row[2]))
                        if row[1] not in seen:
                            seen.add(row[1])
                            found.append(row[1])
                frontier = found
            for chunk in _chunks(sorted(seen)):
                for row in conn.execute(select(lineage_entities).where(lineage_entities.c.id.in_(chunk))):
                    entities[row.id] = _row_entity(row)
        if start not in entities:
            raise NotFoundError(f"lineage entity {start!r} does not exist")

        def build(node_id: str, association: str | None, depth: int, path: frozenset[str]) -> LineageNode:
            node = LineageNode(entities[node_id], association)
            if depth < max_depth:
                links = [(other, kind) for other, kind in neighbours.get(node_id, []) if other in entities]
                for other, kind in sorted(links, key=lambda item: (entities[item[0]].name, item[1])):
                    if other not in path:  # a cycle would otherwise recurse forever
                        node.children.append(build(other, kind, depth + 1, path | {other}))
            return node

        return build(start, None, 0, frozenset({start}))

    def _transaction(self, connection: Connection | None) -> Any:
        if connection is not None:
            from contextlib import nullcontext

            return nullcontext(connection)
        return self.store.begin()


def _chunks(values: Sequence[str], size: int = 500) -> Iterable[list[str]]:
    """Slices small enough for an IN (...) list on every database."""
    for index in range(0, len(values), size):
        yield list(values[index:index + size])


def flatten(node: LineageNode) -> Iterable[Entity]:
    yield node.entity
    for child in node.children:
        yield from flatten(child)
