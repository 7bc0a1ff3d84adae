"""Glue job Task resources over Podium batch jobs (`podium.ingest.batch`).

  arn:aws:states:::glue:startJobRun.sync   runs the job and returns its JobRun when it ends;
                                           a run that fails fails the task (States.TaskFailed,
                                           the JobRun or the error as the cause)
  arn:aws:states:::glue:startJobRun        starts the run in the background and returns
                                           {"JobRunId", "JobName"} once the run is recorded

Parameters are Glue's StartJobRun: `JobName` and `Arguments` (the `--job-bookmark-*` ones).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from podium.asl.errors import AslRuntimeError
from podium.config import Settings
from podium.errors import PodiumError, ValidationError
from podium.store import Store

TASK_FAILED = "States.TaskFailed"
# How long startJobRun (without .sync) waits for the background run to be recorded.
START_TIMEOUT_SECONDS = 30.0


class GlueIntegration:
    """Handlers for the Glue resources, bound to one Podium home."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store

    def start_job_run_sync(self, params: dict[str, Any]) -> dict[str, Any]:
        from podium.ingest.batch.glue import start_job_run

        if not isinstance(params, dict) or not isinstance(params.get("JobName"), str) or not params["JobName"]:
            raise ValidationError("glue:startJobRun needs Parameters.JobName")
        try:
            run = start_job_run(self.settings, self.store, params)
        except PodiumError as exc:  # a run that failed (bad input, broken contract): the task failed
            raise AslRuntimeError(TASK_FAILED, json.dumps({"JobName": params.get("JobName"),
                                                           "ErrorMessage": exc.message})) from exc
        if run["JobRunState"] != "SUCCEEDED":
            raise AslRuntimeError(TASK_FAILED, json.dumps(run, default=str))
        self._record_lineage(params["JobName"], run["Id"])
        return run

    def _record_lineage(self, job_name: str, run_id: str) -> None:
        """source ContributedTo the job run, which Produced the output dataset (lake URL)."""
        from podium.ingest.batch.jobs import get_job
        from podium.models import Lineage

        job, _ = get_job(self.store, job_name)
        source = job.source.path or f"table:{job.source.table}"
        output = f"{str(self.settings.lake_url).rstrip('/')}/{job.output.dataset}"
        lineage = Lineage(self.store)
        with self.store.begin() as conn:
            action = lineage.action("batch-job-run", run_id, properties={"job": job_name}, connection=conn)
            lineage.associate(lineage.artifact("dataset", source, uri=source, connection=conn), action,
                              "ContributedTo", connection=conn)
            lineage.associate(action, lineage.artifact("dataset", output, uri=output, connection=conn),
                              "Produced", connection=conn)

    def start_job_run(self, params: dict[str, Any]) -> dict[str, Any]:
        """Start the run on a thread; answer as soon as it is recorded, as Glue answers at once."""
        from podium.ingest.batch.runner import list_runs

        name = params.get("JobName")
        if not isinstance(name, str) or not name:
            raise ValidationError("glue:startJobRun needs Parameters.JobName")
        before = {run["id"] for run in list_runs(self.store, name, limit=5)}
        failure: list[BaseException] = []

        def run() -> None:
            try:
                self.start_job_run_sync(params)
            except BaseException as exc:  # reported to the caller below if the run never started
                failure.append(exc)

        thread = threading.Thread(target=run, name=f"glue-{name}", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            started = [r for r in list_runs(self.store, name, limit=5) if r["id"] not in before]
            if started:
                return {"JobRunId": started[0]["id"], "JobName": name}
            if not thread.is_alive():
                if failure:
                    raise failure[0]
                break
            time.sleep(0.05)
        raise AslRuntimeError(TASK_FAILED, f"job '{name}' did not start within {START_TIMEOUT_SECONDS:.0f} s")

    def handlers(self) -> dict[str, Any]:
        prefix = "arn:aws:states:::glue:"
        return {prefix + "startJobRun.sync": self.start_job_run_sync, prefix + "startJobRun": self.start_job_run}
