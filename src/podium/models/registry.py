"""The model registry: package groups, numbered versions, approval with who/when/why.

Every approval change writes an event to the models_events outbox in the same transaction,
so triggers and release pipelines see exactly the changes that were committed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.models.lineage import Lineage
from podium.store import Store
from podium.store.tables.models import (
    models_events,
    models_package_groups,
    models_packages,
    models_training_jobs,
)

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")
GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
EVENT_DETAIL_TYPE = "Model Package State Change"


def package_ref(group: str, version: int) -> str:
    """How a model version is named everywhere in Podium: `group/version`."""
    return f"{group}/{version}"


def parse_ref(reference: str) -> tuple[str, int]:
    group, _, version = reference.rpartition("/")
    if not group or not version.isdigit():
        raise ValidationError(f"model version {reference!r} must look like 'group/3'")
    return group, int(version)


class ModelRegistry:
    """Register, list, describe and approve model versions."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- groups ---------------------------------------------------------------------------
    def create_group(
        self, name: str, description: str | None = None, tags: dict[str, str] | None = None,
        *, exist_ok: bool = False,
    ) -> dict[str, Any]:
        if not GROUP_NAME.match(name):
            raise ValidationError(
                f"model package group name {name!r} must be 1-63 letters, digits or hyphens"
            )
        with self.store.begin() as conn:
            if self._group_row(conn, name) is not None:
                if exist_ok:
                    return self.describe_group(name)
                raise ConflictError(f"model package group '{name}' already exists")
            conn.execute(insert(models_package_groups).values(
                name=name, description=description, tags=tags or {}, created_at=datetime.now(UTC),
            ))
        return self.describe_group(name)

    def describe_group(self, name: str) -> dict[str, Any]:
        with self.store.connect() as conn:
            row = self._group_row(conn, name)
            if row is None:
                raise NotFoundError(f"model package group '{name}' does not exist")
            count = conn.execute(
                select(func.count()).select_from(models_packages).where(models_packages.c.group_name == name)
            ).scalar_one()
        return {"ModelPackageGroupName": row.name, "Description": row.description, "Tags": row.tags,
                "CreationTime": row.created_at, "Versions": count}

    def list_groups(self) -> list[dict[str, Any]]:
        with self.store.connect() as conn:
            names = list(conn.scalars(select(models_package_groups.c.name).order_by(models_package_groups.c.name)))
        return [self.describe_group(name) for name in names]

    # ---- versions -------------------------------------------------------------------------
    def register(
        self,
        group: str,
        *,
        artifact_uri: str | None = None,
        training_job: str | None = None,
        metrics: dict[str, float] | None = None,
        hyperparameters: dict[str, Any] | None = None,
        inference: dict[str, Any] | None = None,
        input_example: Any = None,
        output_example: Any = None,
        signature: dict[str, Any] | None = None,
        description: str | None = None,
        approval_status: str = "PendingManualApproval",
        approved_by: str | None = None,
    ) -> dict[str, Any]:
        """Add the next version to `group`. With `training_job`, its artifact, final metrics and
        hyperparameters are taken from the job (which must have Completed).

        `inference` references the inference code ({"entry_point", "source_dir"}); the input and
        output examples are JSON values (a request and its response); `signature` is the schema
        ({"inputs": [{"name", "type"}], "outputs": [...]})."""
        if approval_status not in APPROVAL_STATUSES:
            raise ValidationError(f"approval status must be one of {', '.join(APPROVAL_STATUSES)}")
        _check_signature(signature)
        sha = None
        with self.store.begin() as conn:
            if self._group_row(conn, group) is None:
                raise NotFoundError(f"model package group '{group}' does not exist")
            if training_job is not None:
                job = conn.execute(
                    select(models_training_jobs).where(models_training_jobs.c.name == training_job)
                ).first()
                if job is None:
                    raise NotFoundError(f"training job '{training_job}' does not exist")
                if job.status != "Completed":
                    raise ConflictError(
                        f"training job '{training_job}' is {job.status}; only a Completed job can be registered"
                    )
                artifact_uri = artifact_uri or job.model_artifact
                sha = job.artifact_sha256
                metrics = {**{m["MetricName"]: m["Value"] for m in job.final_metrics or []}, **(metrics or {})}
                hyperparameters = {**job.spec.get("hyperparameters", {}), **(hyperparameters or {})}
            if not artifact_uri:
                raise ValidationError("a model version needs an artifact_uri or a completed training_job")
            version = (conn.execute(
                select(func.max(models_packages.c.version)).where(models_packages.c.group_name == group)
            ).scalar_one() or 0) + 1
            now = datetime.now(UTC)
            conn.execute(insert(models_packages).values(
                group_name=group, version=version, description=description, artifact_uri=artifact_uri,
                artifact_sha256=sha, training_job=training_job, metrics=metrics or {},
                hyperparameters=hyperparameters or {}, inference=inference or {},
                input_example=input_example, output_example=output_example, signature=signature,
                approval_status=approval_status,
                approval_by=approved_by if approval_status != "PendingManualApproval" else None,
                approval_at=now if approval_status != "PendingManualApproval" else None,
                created_at=now,
            ))
            self._emit(conn, group, version, approval_status, previous=None)
            lineage = Lineage(self.store)
            package = lineage.artifact("model-version", package_ref(group, version), uri=artifact_uri,
                                       connection=conn)
            model = lineage.artifact("model", artifact_uri, uri=artifact_uri, connection=conn)
            lineage.associate(model, package, "DerivedFrom", connection=conn)
        return self.describe(group, version)

    def describe(self, group: str, version: int) -> dict[str, Any]:
        with self.store.connect() as conn:
            row = conn.execute(select(models_packages).where(
                models_packages.c.group_name == group, models_packages.c.version == version
            )).first()
        if row is None:
            raise NotFoundError(f"model version {package_ref(group, version)} does not exist")
        return _describe_row(row)

    def list_versions(self, group: str, status: str | None = None) -> list[dict[str, Any]]:
        query = select(models_packages).where(models_packages.c.group_name == group)
        if status:
            query = query.where(models_packages.c.approval_status == status)
        with self.store.connect() as conn:
            if self._group_row(conn, group) is None:
                raise NotFoundError(f"model package group '{group}' does not exist")
            return [_describe_row(r) for r in conn.execute(query.order_by(models_packages.c.version))]

    def latest_approved(self, group: str) -> dict[str, Any] | None:
        approved = self.list_versions(group, status="Approved")
        return approved[-1] if approved else None

    def set_approval(
        self, group: str, version: int, status: str, *, by: str, reason: str | None = None
    ) -> dict[str, Any]:
        """Change a version's approval status; records who, when and why, and emits an event."""
        if status not in APPROVAL_STATUSES:
            raise ValidationError(f"approval status must be one of {', '.join(APPROVAL_STATUSES)}")
        if not by:
            raise ValidationError("an approval change needs the name of who made it")
        with self.store.begin() as conn:
            row = conn.execute(select(models_packages).where(
                models_packages.c.group_name == group, models_packages.c.version == version
            )).first()
            if row is None:
                raise NotFoundError(f"model version {package_ref(group, version)} does not exist")
            if row.approval_status == status:
                return _describe_row(row)
            conn.execute(update(models_packages).where(models_packages.c.id == row.id).values(
                approval_status=status, approval_by=by, approval_at=datetime.now(UTC), approval_reason=reason,
            ))
            self._emit(conn, group, version, status, previous=row.approval_status, by=by, reason=reason)
        return self.describe(group, version)

    def approve(self, group: str, version: int, *, by: str, reason: str | None = None) -> dict[str, Any]:
        return self.set_approval(group, version, "Approved", by=by, reason=reason)

    def reject(self, group: str, version: int, *, by: str, reason: str | None = None) -> dict[str, Any]:
        return self.set_approval(group, version, "Rejected", by=by, reason=reason)

    def compare(self, first: str, second: str) -> dict[str, Any]:
        """Metrics and hyperparameters of two versions (`group/N`) side by side."""
        a, b = (self.describe(*parse_ref(first)), self.describe(*parse_ref(second)))

        def side_by_side(key: str) -> list[dict[str, Any]]:
            names = sorted(set(a[key]) | set(b[key]))
            return [{"name": n, first: a[key].get(n), second: b[key].get(n)} for n in names]

        return {"metrics": side_by_side("Metrics"), "hyperparameters": side_by_side("HyperParameters")}

    def events(self, after_id: int = 0) -> list[dict[str, Any]]:
        with self.store.connect() as conn:
            rows = conn.execute(select(models_events).where(models_events.c.id > after_id)
                                .order_by(models_events.c.id))
            return [{"id": r.id, "time": r.time, "detail-type": r.detail_type, "resources": [r.resource],
                     "source": "podium.models", "detail": r.detail} for r in rows]

    # ---- internals ------------------------------------------------------------------------
    @staticmethod
    def _group_row(conn: Connection, name: str) -> Any:
        return conn.execute(select(models_package_groups).where(models_package_groups.c.name == name)).first()

    @staticmethod
    def _emit(
        conn: Connection, group: str, version: int, status: str, *, previous: str | None,
        by: str | None = None, reason: str | None = None,
    ) -> None:
        conn.execute(insert(models_events).values(
            time=datetime.now(UTC), detail_type=EVENT_DETAIL_TYPE, resource=package_ref(group, version),
            detail={"ModelPackageGroupName": group, "ModelPackageVersion": version,
                    "ModelApprovalStatus": status, "PreviousApprovalStatus": previous,
                    "ChangedBy": by, "Reason": reason},
            published=False,
        ))


def _check_signature(signature: Any) -> None:
    """A signature is {"inputs": [...], "outputs": [...]} (and optionally "params"), each a list
    of columns such as {"name": "spend", "type": "double"}."""
    if signature is None:
        return
    if not isinstance(signature, dict) or not signature:
        raise ValidationError('signature must be an object like {"inputs": [...], "outputs": [...]}')
    unknown = sorted(set(signature) - {"inputs", "outputs", "params"})
    if unknown:
        raise ValidationError(f"signature: unknown key(s) {', '.join(unknown)}; use inputs, outputs, params")
    for key, columns in signature.items():
        if not isinstance(columns, list) or not all(isinstance(c, dict) and c.get("type") for c in columns):
            raise ValidationError(f'signature.{key} must be a list of columns like {{"name": "x", "type": "double"}}')


def _describe_row(row: Any) -> dict[str, Any]:
    return {
        "ModelPackageGroupName": row.group_name,
        "ModelPackageVersion": row.version,
        "ModelPackage": package_ref(row.group_name, row.version),
        "Description": row.description,
        "ModelApprovalStatus": row.approval_status,
        "ApprovedBy": row.approval_by,
        "ApprovalTime": row.approval_at,
        "ApprovalDescription": row.approval_reason,
        "ArtifactUri": row.artifact_uri,
        "ArtifactSha256": row.artifact_sha256,
        "TrainingJobName": row.training_job,
        "Metrics": row.metrics,
        "HyperParameters": row.hyperparameters,
        "InferenceSpecification": row.inference,
        "InputExample": row.input_example,
        "OutputExample": row.output_example,
        "Signature": row.signature,
        "CreationTime": row.created_at,
    }
