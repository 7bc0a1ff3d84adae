"""Batch job definitions and their storage in the metadata store.

A job names a source (files or a catalog table), an optional recipe and contract, and
an output dataset in the lake with partition columns and a bookmark option (Glue's
`job-bookmark-enable | disable | pause`; disable is the default, as in Glue).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import delete, insert, select, update

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.ingest.batch.contracts import Contract
from podium.prep.readers import ReadOptions
from podium.prep.recipe import Recipe
from podium.store import Store
from podium.store.tables.ingest import (
    ingest_bookmarks,
    ingest_jobs,
)

BookmarkOption = Literal["enable", "disable", "pause"]
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_DATASET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*(/[A-Za-z0-9][A-Za-z0-9_\-]*)*$")


class SourceSpec(BaseModel):
    """Files at `path` (file, directory, glob or fsspec URL), or a catalog `table` read
    incrementally by a monotonically increasing `bookmark_key`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str | None = None
    table: str | None = None
    read: ReadOptions = Field(default_factory=ReadOptions)
    bookmark_key: str | None = None

    @model_validator(mode="after")
    def _one(self) -> SourceSpec:
        if (self.path is None) == (self.table is None):
            raise ValueError("give exactly one of 'path' (files) or 'table' (a catalog table)")
        if self.table is not None and self.bookmark_key is None:
            raise ValueError("a table source needs bookmark_key, a monotonically increasing column")
        if self.path is not None and self.bookmark_key is not None:
            raise ValueError("file sources are bookmarked by path, size and mtime; remove bookmark_key")
        return self


class OutputSpec(BaseModel):
    """Where rows go: `<lake>/<dataset>/`, partitioned by `partition_by` (key=value folders)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str
    partition_by: tuple[str, ...] = ()
    catalog_table: str | None = Field(
        default=None, description="Catalog table to register the output as (default: the dataset name)."
    )

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, v: str) -> str:
        if not _DATASET_RE.match(v) or v.split("/")[0] in ("quarantine", "_staging"):
            raise ValueError(f"'{v}' is not a dataset name (letters, digits, _ - and /; not 'quarantine')")
        return v

    @property
    def table_name(self) -> str:
        return self.catalog_table or self.dataset.replace("/", "_")


class JobDefinition(BaseModel):
    """Everything a batch job run needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str | None = None
    source: SourceSpec
    recipe: Recipe | None = None
    contract: Contract | None = None
    output: OutputSpec
    bookmark: BookmarkOption = "disable"
    max_retries: int = Field(
        default=0, ge=0, le=10, description="Runs again after a failure, up to this many times (Glue's MaxRetries)."
    )
    timeout_minutes: float = Field(
        default=2880, gt=0, le=10_080,
        description="A run still going after this many minutes is stopped with state TIMEOUT (Glue's default: 48 h).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError(f"'{v}' is not a job name (a letter, then letters, digits, _ or -; at most 64)")
        return v

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def parse_job(data: Any) -> JobDefinition:
    """Validate a job definition; errors name the field path."""
    if isinstance(data, dict) and isinstance(data.get("recipe"), (str, list)):
        from podium.prep.recipe import load_recipe, parse_recipe

        raw = data["recipe"]
        data = {**data, "recipe": (load_recipe(raw) if isinstance(raw, str) else parse_recipe(raw)).to_dict()}
    try:
        return JobDefinition.model_validate(data)
    except pydantic.ValidationError as exc:
        reasons = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            reasons.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        raise ValidationError("invalid job: " + "; ".join(reasons), details={"errors": reasons}) from None


def create_job(store: Store, job: JobDefinition, *, replace: bool = False) -> int:
    """Store `job`; with `replace` an existing job gets a new version. Returns the version."""
    now = datetime.now(UTC)
    with store.begin() as conn:
        row = conn.execute(select(ingest_jobs.c.version).where(ingest_jobs.c.name == job.name)).first()
        if row is None:
            conn.execute(
                insert(ingest_jobs).values(
                    name=job.name, version=1, definition=job.to_dict(), bookmark_option=job.bookmark,
                    created_at=now, updated_at=now,
                )
            )
            conn.execute(insert(ingest_bookmarks).values(job_name=job.name, head_run_id=None, version=0, updated_at=now))
            return 1
        if not replace:
            raise ConflictError(f"job '{job.name}' exists; use replace (podium job create --replace) to update it")
        version = int(row.version) + 1
        conn.execute(
            update(ingest_jobs)
            .where(ingest_jobs.c.name == job.name)
            .values(version=version, definition=job.to_dict(), bookmark_option=job.bookmark, updated_at=now)
        )
        return version


def get_job(store: Store, name: str) -> tuple[JobDefinition, int]:
    """The job's definition and version."""
    with store.connect() as conn:
        row = conn.execute(select(ingest_jobs).where(ingest_jobs.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"job '{name}' does not exist; see `podium job list`")
    return JobDefinition.model_validate(row.definition), int(row.version)


def list_jobs(store: Store) -> list[dict[str, Any]]:
    with store.connect() as conn:
        rows = conn.execute(select(ingest_jobs).order_by(ingest_jobs.c.name)).all()
    return [
        {
            "name": r.name,
            "version": r.version,
            "bookmark": r.bookmark_option,
            "source": r.definition["source"].get("path") or r.definition["source"].get("table"),
            "dataset": r.definition["output"]["dataset"],
            "updated_at": r.updated_at,
        }
        for r in rows
    ]


def set_bookmark_option(store: Store, name: str, option: BookmarkOption) -> None:
    """Enable, disable or pause the job's bookmark for future runs."""
    job, _ = get_job(store, name)
    create_job(store, job.model_copy(update={"bookmark": option}), replace=True)


def delete_job(store: Store, name: str) -> None:
    """Delete the job and its bookmark (as Glue does); runs and output data are kept."""
    with store.begin() as conn:
        gone = conn.execute(delete(ingest_jobs).where(ingest_jobs.c.name == name)).rowcount
        conn.execute(delete(ingest_bookmarks).where(ingest_bookmarks.c.job_name == name))
    if not gone:
        raise NotFoundError(f"job '{name}' does not exist")
