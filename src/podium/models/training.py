"""Training jobs: run a SageMaker script-mode training script unchanged, in its own subprocess.

The script sees the environment SageMaker gives it (SM_MODEL_DIR, SM_CHANNEL_<NAME>, SM_HPS,
hyperparameters as `--name value` arguments, ...). Podium enforces the stopping condition,
streams and stores the log, turns metric definitions (a name and a regex over the log) into
time series, and packs the model directory as `model.tar.gz` with its checksum.

Layout of a job under PODIUM_HOME/artifacts/training/<job>/:
  input/config/hyperparameters.json, input/data/<channel>/ (remote channels are copied here),
  model/ (SM_MODEL_DIR), output/data/ (SM_OUTPUT_DATA_DIR), output/failure, checkpoints/,
  logs.txt, model.tar.gz, output.tar.gz
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import insert, select, update

from podium.config import Settings
from podium.errors import ConflictError, NotFoundError, ValidationError
from podium.models.lineage import Lineage, canonical_uri
from podium.store import Store
from podium.store.tables.models import models_training_jobs, models_training_metrics

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9\.\-_]+$")
TERMINAL = ("Completed", "Failed", "Stopped")
LOG_TAIL_LINES = 20


class MetricDefinition(BaseModel):
    """A metric read from the training log: the first group of `regex` is its value."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    name: str = Field(alias="Name", min_length=1, max_length=255)
    regex: str = Field(alias="Regex", min_length=1, max_length=500)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression: {exc}") from None
        if pattern.groups < 1:
            raise ValueError("needs one capture group around the metric value, e.g. 'loss=([0-9.]+)'")
        return value


class TrainingJobSpec(BaseModel):
    """What to run. Field names follow SageMaker's CreateTrainingJob where one exists."""

    model_config = ConfigDict(frozen=True)

    name: str
    entry_point: str
    source_dir: str | None = None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    channels: dict[str, str] = Field(default_factory=dict)
    metric_definitions: list[MetricDefinition] = Field(default_factory=list)
    max_runtime_seconds: int = Field(default=86_400, gt=0)
    python: str | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    checkpoint_dir: str | None = None
    stop_grace_seconds: float = Field(default=10.0, ge=0)

    @field_validator("name")
    @classmethod
    def _job_name(cls, value: str) -> str:
        if not JOB_NAME.match(value):
            raise ValueError(
                "must be 1-63 letters, digits or hyphens, starting and ending with a letter or digit"
            )
        return value

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not CHANNEL_NAME.match(name):
                raise ValueError(f"channel name {name!r} may use only letters, digits, '.', '-' and '_'")
        return value

    def script_path(self) -> Path:
        path = Path(self.entry_point)
        if not path.is_absolute() and self.source_dir:
            path = Path(self.source_dir) / path
        return path.resolve()


def parse_spec(data: dict[str, Any]) -> TrainingJobSpec:
    """A TrainingJobSpec from plain data, with a clear error naming the field."""
    try:
        return TrainingJobSpec.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValidationError(
            f"training job spec: field '{where}' {first['msg'].removeprefix('Value error, ')}"
        ) from None


def _format_hyperparameter(value: Any) -> str:
    # SageMaker passes hyperparameters as strings; JSON for anything that is not already one.
    return value if isinstance(value, str) else json.dumps(value)


def _catalog_table(uri: str) -> str | None:
    """The table a `catalog:<table>` channel names, else None."""
    return uri.split(":", 1)[1] if uri.startswith("catalog:") else None


def _pack(directory: Path, target: Path) -> tuple[str, int]:
    """Tar+gzip the contents of `directory` to `target`; returns (sha256, size in bytes)."""
    temporary = target.with_name(target.name + ".partial")
    with tarfile.open(temporary, "w:gz") as archive:
        for path in sorted(directory.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    digest = hashlib.sha256()
    with open(temporary, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    os.replace(temporary, target)
    return digest.hexdigest(), target.stat().st_size


class TrainingJobs:
    """Create, run, stop, retry and describe training jobs."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.root = settings.path("artifacts", "training")
        self._threads: dict[str, threading.Thread] = {}

    # ---- public API -------------------------------------------------------------------
    def create(
        self, spec: TrainingJobSpec | dict[str, Any], *, wait: bool = True,
        on_log: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Start a job; with `wait` return once it ends, else at once (it runs in a thread)."""
        spec = spec if isinstance(spec, TrainingJobSpec) else parse_spec(spec)
        script = spec.script_path()
        if not script.is_file():
            raise ValidationError(f"training job '{spec.name}': entry point {script} does not exist")
        job_dir = self.root / spec.name
        now = datetime.now(UTC)
        with self.store.begin() as conn:
            existing = conn.execute(
                select(models_training_jobs.c.name).where(models_training_jobs.c.name == spec.name)
            ).first()
            if existing is not None:
                raise ConflictError(
                    f"training job '{spec.name}' already exists; use retry to run a failed or "
                    "stopped job again, or choose a new name",
                    code="ResourceInUse",
                )
            conn.execute(insert(models_training_jobs).values(
                name=spec.name, status="InProgress", secondary_status="Starting",
                spec=spec.model_dump(mode="json", by_alias=False), attempt=1, job_dir=str(job_dir),
                stop_requested=False, created_at=now,
            ))
        return self._launch(spec, wait=wait, on_log=on_log)

    def retry(
        self, name: str, *, wait: bool = True, on_log: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """Run a Failed or Stopped job again with the same spec; its checkpoints are kept."""
        row = self._row(name)
        if row.status not in ("Failed", "Stopped"):
            raise ConflictError(
                f"training job '{name}' is {row.status}; only Failed or Stopped jobs can be retried"
            )
        with self.store.begin() as conn:
            conn.execute(update(models_training_jobs).where(models_training_jobs.c.name == name).values(
                status="InProgress", secondary_status="Starting", attempt=row.attempt + 1,
                failure_reason=None, exit_code=None, stop_requested=False, started_at=None,
                ended_at=None, model_artifact=None, artifact_sha256=None, artifact_bytes=None,
                final_metrics=None,
            ))
            conn.execute(models_training_metrics.delete().where(models_training_metrics.c.job_name == name))
        return self._launch(TrainingJobSpec.model_validate(row.spec), wait=wait, on_log=on_log)

    def stop(self, name: str) -> dict[str, Any]:
        """Ask a running job to stop (SIGTERM, then SIGKILL after the grace period)."""
        row = self._row(name)
        if row.status in TERMINAL:
            return self.describe(name)
        with self.store.begin() as conn:
            conn.execute(update(models_training_jobs).where(models_training_jobs.c.name == name)
                         .values(stop_requested=True, secondary_status="Stopping"))
        return self.describe(name)

    def wait(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        thread = self._threads.get(name)
        if thread is not None:
            thread.join(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._row(name).status not in TERMINAL:
            if deadline is not None and time.monotonic() > deadline:
                break
            time.sleep(0.1)
        return self.describe(name)

    def describe(self, name: str) -> dict[str, Any]:
        """The job as SageMaker's DescribeTrainingJob shapes it (the fields that apply locally)."""
        row = self._row(name)
        spec = row.spec
        described: dict[str, Any] = {
            "TrainingJobName": row.name,
            "TrainingJobStatus": row.status,
            "SecondaryStatus": row.secondary_status,
            "HyperParameters": {k: _format_hyperparameter(v) for k, v in spec["hyperparameters"].items()},
            "AlgorithmSpecification": {
                "TrainingInputMode": "File",
                "EntryPoint": spec["entry_point"],
                "SourceDir": spec["source_dir"],
                "MetricDefinitions": [
                    {"Name": m["name"], "Regex": m["regex"]} for m in spec["metric_definitions"]
                ],
            },
            "InputDataConfig": [
                {"ChannelName": channel, "DataSource": {"Uri": uri}} for channel, uri in spec["channels"].items()
            ],
            "StoppingCondition": {"MaxRuntimeInSeconds": spec["max_runtime_seconds"]},
            "CheckpointConfig": {"LocalPath": str(self._checkpoint_dir(TrainingJobSpec.model_validate(spec)))},
            "CreationTime": row.created_at,
            "TrainingStartTime": row.started_at,
            "TrainingEndTime": row.ended_at,
            "Attempt": row.attempt,
        }
        if row.started_at and row.ended_at:
            described["TrainingTimeInSeconds"] = int((row.ended_at - row.started_at).total_seconds())
        if row.failure_reason:
            described["FailureReason"] = row.failure_reason
        if row.exit_code is not None:
            described["ExitCode"] = row.exit_code
        if row.model_artifact:
            described["ModelArtifacts"] = {
                "S3ModelArtifacts": row.model_artifact,
                "Sha256": row.artifact_sha256,
                "SizeBytes": row.artifact_bytes,
            }
        if row.final_metrics:
            described["FinalMetricDataList"] = row.final_metrics
        return described

    def list_jobs(self, status: str | None = None) -> list[dict[str, Any]]:
        query = select(models_training_jobs).order_by(models_training_jobs.c.created_at.desc())
        if status:
            query = query.where(models_training_jobs.c.status == status)
        with self.store.connect() as conn:
            return [
                {"TrainingJobName": r.name, "TrainingJobStatus": r.status, "SecondaryStatus": r.secondary_status,
                 "CreationTime": r.created_at, "TrainingEndTime": r.ended_at}
                for r in conn.execute(query)
            ]

    def metrics(self, name: str) -> dict[str, list[dict[str, Any]]]:
        """Every captured metric value, per metric, in log order."""
        self._row(name)
        query = (select(models_training_metrics)
                 .where(models_training_metrics.c.job_name == name)
                 .order_by(models_training_metrics.c.metric, models_training_metrics.c.step))
        series: dict[str, list[dict[str, Any]]] = {}
        with self.store.connect() as conn:
            for row in conn.execute(query):
                series.setdefault(row.metric, []).append(
                    {"step": row.step, "value": row.value, "timestamp": row.timestamp}
                )
        return series

    def logs(self, name: str) -> str:
        row = self._row(name)
        path = Path(row.job_dir) / "logs.txt"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    # ---- running ------------------------------------------------------------------------
    def _row(self, name: str) -> Any:
        with self.store.connect() as conn:
            row = conn.execute(
                select(models_training_jobs).where(models_training_jobs.c.name == name)
            ).first()
        if row is None:
            raise NotFoundError(f"training job '{name}' does not exist")
        return row

    def _checkpoint_dir(self, spec: TrainingJobSpec) -> Path:
        return Path(spec.checkpoint_dir) if spec.checkpoint_dir else self.root / spec.name / "checkpoints"

    def _launch(
        self, spec: TrainingJobSpec, *, wait: bool, on_log: Callable[[str], None] | None
    ) -> dict[str, Any]:
        if wait:
            self._run(spec, on_log)
            return self.describe(spec.name)
        thread = threading.Thread(target=self._run, args=(spec, on_log), name=f"training-{spec.name}",
                                  daemon=True)
        self._threads[spec.name] = thread
        thread.start()
        return self.describe(spec.name)

    def _prepare(self, spec: TrainingJobSpec) -> tuple[Path, dict[str, str], list[str]]:
        job_dir = self.root / spec.name
        model_dir = job_dir / "model"
        output_dir = job_dir / "output"
        # A new attempt starts with empty model and output folders; checkpoints stay.
        for directory in (model_dir, output_dir):
            shutil.rmtree(directory, ignore_errors=True)
        for directory in (model_dir, output_dir / "data", job_dir / "input" / "config"):
            directory.mkdir(parents=True, exist_ok=True)
        checkpoints = self._checkpoint_dir(spec)
        checkpoints.mkdir(parents=True, exist_ok=True)
        channel_paths = {name: self._materialise_channel(job_dir, name, uri) for name, uri in spec.channels.items()}
        hps = {k: _format_hyperparameter(v) for k, v in spec.hyperparameters.items()}
        (job_dir / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hps))
        resource_config = {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "lo"}
        (job_dir / "input" / "config" / "resourceconfig.json").write_text(json.dumps(resource_config))
        arguments: list[str] = []
        for key, value in hps.items():
            arguments += [f"--{key}", value]
        cpus = os.cpu_count() or 1
        env = {
            **os.environ,
            **spec.environment,
            "SM_MODEL_DIR": str(model_dir),
            "SM_OUTPUT_DIR": str(output_dir),
            "SM_OUTPUT_DATA_DIR": str(output_dir / "data"),
            "SM_INPUT_DIR": str(job_dir / "input"),
            "SM_INPUT_CONFIG_DIR": str(job_dir / "input" / "config"),
            "SM_CHECKPOINT_DIR": str(checkpoints),
            "SM_CHANNELS": json.dumps(sorted(channel_paths)),
            "SM_HPS": json.dumps(hps),
            "SM_USER_ARGS": json.dumps(arguments),
            "SM_NUM_CPUS": str(cpus),
            "SM_NUM_GPUS": "0",
            "SM_CURRENT_HOST": "algo-1",
            "SM_HOSTS": json.dumps(["algo-1"]),
            "SM_MODULE_NAME": Path(spec.entry_point).stem,
            "SM_TRAINING_ENV": json.dumps({
                "job_name": spec.name, "hyperparameters": hps, "channel_input_dirs": channel_paths,
                "model_dir": str(model_dir), "output_data_dir": str(output_dir / "data"),
                "current_host": "algo-1", "hosts": ["algo-1"], "num_cpus": cpus, "num_gpus": 0,
            }),
            "PYTHONUNBUFFERED": "1",
        }
        for name, path in channel_paths.items():
            env[f"SM_CHANNEL_{name.upper()}"] = path
        for key, value in hps.items():
            env[f"SM_HP_{key.upper()}"] = value
        return job_dir, env, arguments

    def _materialise_channel(self, job_dir: Path, name: str, uri: str) -> str:
        """A local path for a channel: local paths are used in place, remote ones are copied,
        and a catalog table (`catalog:<table>`) is written as `<table>.parquet` in its folder
        (for a batch job's table, only the rows its committed runs wrote)."""
        table = _catalog_table(uri)
        if table is not None:
            return self._materialise_table(job_dir, name, table)
        local = uri.removeprefix("file://")
        if "://" not in local:
            path = Path(local).resolve()
            if not path.exists():
                raise ValidationError(f"channel '{name}': {path} does not exist")
            return str(path)
        import fsspec

        target = job_dir / "input" / "data" / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        fs, _, paths = fsspec.get_fs_token_paths(uri)
        fs.get(paths[0], str(target) + "/", recursive=True)
        return str(target)

    def _materialise_table(self, job_dir: Path, name: str, table: str) -> str:
        import duckdb

        from podium.catalog.tables import scan_sql

        target = job_dir / "input" / "data" / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        con = duckdb.connect()
        try:
            relation = scan_sql(self.store, table, con)
            destination = str(target / f"{table}.parquet").replace("'", "''")
            con.execute(f"COPY (SELECT * FROM {relation}) TO '{destination}' (FORMAT parquet)")
        finally:
            con.close()
        return str(target)

    def _set(self, name: str, **values: Any) -> None:
        with self.store.begin() as conn:
            conn.execute(update(models_training_jobs).where(models_training_jobs.c.name == name).values(**values))

    def _run(self, spec: TrainingJobSpec, on_log: Callable[[str], None] | None) -> None:
        try:
            job_dir, env, arguments = self._prepare(spec)
        except Exception as exc:  # a bad channel or unwritable folder fails the job, not the caller
            self._set(spec.name, status="Failed", secondary_status="Failed",
                      failure_reason=f"ClientError: {exc}", ended_at=datetime.now(UTC))
            return
        command = [spec.python or sys.executable, str(spec.script_path()), *arguments]
        started = datetime.now(UTC)
        self._set(spec.name, secondary_status="Training", started_at=started)
        tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        patterns = [(m.name, re.compile(m.regex)) for m in spec.metric_definitions]
        steps: dict[str, int] = {}
        last: dict[str, tuple[float, datetime]] = {}
        stop_reason: list[str] = []
        process = subprocess.Popen(
            command, cwd=spec.source_dir or str(spec.script_path().parent), env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            start_new_session=True,
        )
        watchdog = threading.Thread(
            target=self._watch, args=(spec, process, time.monotonic(), stop_reason), daemon=True
        )
        watchdog.start()
        assert process.stdout is not None
        with open(job_dir / "logs.txt", "a", encoding="utf-8", buffering=1) as log:  # readable live
            for line in process.stdout:
                log.write(line)
                text = line.rstrip("\n")
                tail.append(text)
                if on_log is not None:
                    on_log(text)
                for metric, pattern in patterns:
                    match = pattern.search(text)
                    if match is None:
                        continue
                    try:
                        value = float(match.group(1))
                    except (TypeError, ValueError):
                        continue
                    now = datetime.now(UTC)
                    steps[metric] = steps.get(metric, -1) + 1
                    last[metric] = (value, now)
                    with self.store.begin() as conn:
                        conn.execute(insert(models_training_metrics).values(
                            job_name=spec.name, metric=metric, value=value, step=steps[metric], timestamp=now,
                        ))
        exit_code = process.wait()
        watchdog.join()
        ended = datetime.now(UTC)
        final = [
            {"MetricName": metric, "Value": value, "Timestamp": when.isoformat()}
            for metric, (value, when) in sorted(last.items())
        ]
        if stop_reason:
            self._set(spec.name, status="Stopped", secondary_status=stop_reason[0], exit_code=exit_code,
                      failure_reason=self._stop_message(spec, stop_reason[0]), final_metrics=final,
                      ended_at=ended)
            return
        if exit_code != 0:
            self._set(spec.name, status="Failed", secondary_status="Failed", exit_code=exit_code,
                      failure_reason=self._failure_reason(job_dir, exit_code, tail), final_metrics=final,
                      ended_at=ended)
            return
        self._set(spec.name, secondary_status="Uploading", exit_code=0)
        sha, size = _pack(job_dir / "model", job_dir / "model.tar.gz")
        _pack(job_dir / "output" / "data", job_dir / "output.tar.gz")
        artifact = str(job_dir / "model.tar.gz")
        self._set(spec.name, status="Completed", secondary_status="Completed", model_artifact=artifact,
                  artifact_sha256=sha, artifact_bytes=size, final_metrics=final, ended_at=datetime.now(UTC))
        self._record_lineage(spec, artifact, sha)

    def _watch(
        self, spec: TrainingJobSpec, process: subprocess.Popen[str], started: float, reason: list[str]
    ) -> None:
        """Enforce MaxRuntimeInSeconds and stop requests: SIGTERM the process group, then SIGKILL."""
        last_poll = 0.0
        while process.poll() is None:
            now = time.monotonic()
            if now - started > spec.max_runtime_seconds:
                reason.append("MaxRuntimeExceeded")
            elif now - last_poll >= 0.5:
                last_poll = now
                if self._row(spec.name).stop_requested:
                    reason.append("Stopped")
            if reason:
                self._terminate(process, spec.stop_grace_seconds)
                return
            time.sleep(0.05)

    @staticmethod
    def _terminate(process: subprocess.Popen[str], grace: float) -> None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    @staticmethod
    def _stop_message(spec: TrainingJobSpec, reason: str) -> str:
        if reason == "MaxRuntimeExceeded":
            return (f"Training job reached its stopping condition: MaxRuntimeInSeconds "
                    f"({spec.max_runtime_seconds} s) exceeded")
        return "Training job stopped on request"

    @staticmethod
    def _failure_reason(job_dir: Path, exit_code: int, tail: deque[str]) -> str:
        failure_file = job_dir / "output" / "failure"
        written = failure_file.read_text(errors="replace").strip() if failure_file.exists() else ""
        how = f"killed by signal {-exit_code}" if exit_code < 0 else f"exit code {exit_code}"
        reason = f"AlgorithmError: the training script failed ({how})"
        if written:
            reason += f": {written}"
        if tail:
            reason += "\nLast log lines:\n" + "\n".join(tail)
        return reason

    def _table_location(self, table: str) -> str:
        from podium.catalog.tables import get_table

        return get_table(self.store, table).location

    def _record_lineage(self, spec: TrainingJobSpec, artifact: str, sha: str) -> None:
        # The canonical spelling of each channel, so that the batch runs, training sets and
        # files that wrote into its folder meet it in one node (podium.models.harvest); a
        # catalog table is the dataset at its location.
        channels = {}
        for channel, given in spec.channels.items():
            table = _catalog_table(given)
            channels[channel] = canonical_uri(self._table_location(table) if table else given)
        lineage = Lineage(self.store)
        with self.store.begin() as conn:
            job = lineage.action("training-job", spec.name, properties={"entry_point": spec.entry_point},
                                 connection=conn)
            for channel, uri in channels.items():
                data = lineage.artifact("dataset", uri, uri=uri, properties={"channel": channel},
                                        connection=conn)
                lineage.associate(data, job, "ContributedTo", connection=conn)
            model = lineage.artifact("model", artifact, uri=artifact, properties={"sha256": sha},
                                     connection=conn)
            lineage.associate(job, model, "Produced", connection=conn)
