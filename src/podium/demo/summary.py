"""The flagship's stage results, read back from the records each service keeps: batch runs and
quarantine files, delivery counts, feature ingestions and training-set status counts, training
metrics, registry versions, deployment history and lineage."""

from __future__ import annotations

from collections import Counter
from typing import Any

from podium.demo.run import BRANCH_STATES, STATE_STAGE, WORKFLOW_STAGES, DemoRun


def summarise(run: DemoRun) -> None:
    from podium.config import Settings
    from podium.store import open_store

    settings = Settings.for_home(run.home)
    store = open_store(settings)
    try:
        _orchestration(run)
        failed = {STATE_STAGE.get(n.get("failed_state") or "", "") for n in run.nights if n["status"] != "SUCCEEDED"}
        outputs = [n for n in run.nights if n.get("output")]  # a failed night: what it finished
        for stage, fn in (("batch job", _batch), ("streaming", _streaming), ("features", _features),
                          ("training", _training), ("evaluation", _evaluation), ("register + deploy", _deploy)):
            try:
                fn(run, store, settings, outputs)
            except Exception as exc:  # report what could not be read back instead of hiding it
                run.stage(stage, "failed", f"could not read the results back: {type(exc).__name__}: {exc}")
        for stage in WORKFLOW_STAGES:
            if stage in failed:
                night = next(n for n in run.nights if STATE_STAGE.get(n.get("failed_state") or "") == stage)
                before = run.stages[stage].summary + "; but " if stage in run.stages else ""
                run.stage(stage, "failed", f"{before}night {night['index']} failed in {night['failed_state']}: "
                          f"{night['error']}: {(night['cause'] or '')[:400]}")
            elif stage not in run.stages:
                run.stage(stage, "failed", "no night reached this stage")
        _stage_seconds(run)
    finally:
        store.dispose()


def _stage_seconds(run: DemoRun) -> None:
    """The workflow stages ran inside the executions: their time is that of their top-level
    states (branch states run inside BuildFeatures/BuildTrainingSets, so they are not added)."""
    totals: Counter[str] = Counter()
    for night in run.nights:
        for name, seconds in night["states"]:
            if name in STATE_STAGE and name not in BRANCH_STATES:
                totals[STATE_STAGE[name]] += seconds
    for stage, seconds in totals.items():
        if stage in run.stages and not run.stages[stage].seconds:
            run.stages[stage].seconds = seconds
    if "orchestration" in run.stages:
        run.stages["orchestration"].seconds = sum(n["seconds"] for n in run.nights)


def _orchestration(run: DemoRun) -> None:
    ok = [n for n in run.nights if n["status"] == "SUCCEEDED"]
    parts = [f"night {n['index']} {n['execution']} {n['status']} in {n['seconds']} s "
             f"({len(n['states'])} states)" for n in run.nights]
    crash = run.facts.get("crash")
    if crash:
        parts.append(f"the demo stopped: {crash}")
    done = bool(ok) and len(ok) == len(run.nights) and not crash
    run.stage("orchestration", "done" if done else "failed",
              "examples/nightly-retrain/workflow.asl.json on the durable engine: " + "; ".join(parts))
    if crash and "predictions" not in run.stages:
        run.stage("predictions", "failed", f"not reached: {crash}")


def _batch(run: DemoRun, store: Any, settings: Any, outputs: list[dict[str, Any]]) -> None:
    import pandas as pd

    from podium.ingest.batch.runner import get_run

    per_night = []
    for night in [n for n in outputs if "ingest" in n["output"]]:
        record = get_run(store, night["output"]["ingest"]["RunId"])
        reasons: Counter[str] = Counter()
        path = (record.get("details") or {}).get("quarantine_path")
        if path:
            quarantined = pd.read_parquet(path)
            for kind, reason in zip(quarantined["kind"], quarantined["reason"], strict=True):
                reasons[f"{kind}: {str(reason)[:80]}"] += 1
        per_night.append({"night": night["day"], "files_read": record["files_read"], "rows_read": record["rows_read"],
                          "rows_written": record["rows_written"], "rows_quarantined": record["rows_quarantined"],
                          "rows_filtered": record["rows_filtered"], "run_id": record["id"],
                          "reasons": dict(reasons)})
    run.facts["batch"] = per_night
    if not per_night:
        return
    text = "; ".join(f"night {i + 1}: {n['files_read']} new file(s), {n['rows_read']:,} read = "
                     f"{n['rows_written']:,} written + {n['rows_quarantined']} quarantined"
                     for i, n in enumerate(per_night))
    kinds = sorted({r for n in per_night for r in n["reasons"]})
    run.stage("batch job", "done", f"{text} (bookmark: each night read only its new files); "
              f"quarantine reasons: {' | '.join(kinds)}")


def _streaming(run: DemoRun, store: Any, settings: Any, outputs: list[dict[str, Any]]) -> None:
    from pathlib import Path

    delivered = [n["output"]["clickstream"] for n in outputs if "clickstream" in n["output"]]
    if not delivered:
        return
    hours = sorted({p.parent.name for p in (Path(settings.lake_url) / "raw" / "clickstream").glob("date=*/hour=*/*")})
    partitions = len(list((Path(settings.lake_url) / "raw" / "clickstream").glob("date=*/hour=*")))
    run.facts["streaming"] = delivered
    run.stage("streaming", "done",
              "; ".join(f"night {i + 1}: {d['RecordsIn']:,} events from stream clickstream → "
                        f"{d['Delivered']:,} delivered in {d['ObjectsWritten']} Parquet objects"
                        for i, d in enumerate(delivered))
              + f"; lake raw/clickstream has {partitions} date/hour partitions ({len(hours)} distinct hours)")


def _features(run: DemoRun, store: Any, settings: Any, outputs: list[dict[str, Any]]) -> None:
    facts = []
    for night in [n for n in outputs if "training_sets" in n["output"]]:
        out = night["output"]
        ingested = {r["FeatureGroupName"]: r["Rows"] for r in out["ingested"]}
        sets = out["training_sets"]
        facts.append({"night": night["day"], "ingested": ingested, "train_rows": sets[0]["Rows"],
                      "validation_rows": sets[1]["Rows"], "status_counts": sets[0]["StatusCounts"]})
    run.facts["features"] = facts
    if not facts:
        return
    last = facts[-1]
    coverage = ", ".join(f"{group} {counts.get('ok', 0):,} ok/{sum(counts.values()):,}"
                         for group, counts in last["status_counts"].items())
    run.stage("features", "done",
              "; ".join(f"night {i + 1}: ingested " + ", ".join(f"{g} {r:,}" for g, r in f["ingested"].items())
                        for i, f in enumerate(facts))
              + f"; point-in-time training set {last['train_rows']:,} rows + validation "
                f"{last['validation_rows']:,} (entity = rating event, label = rating >= 4); coverage {coverage}")


def _training(run: DemoRun, store: Any, settings: Any, outputs: list[dict[str, Any]]) -> None:
    from podium.models import TrainingJobs

    jobs = TrainingJobs(settings, store)
    facts = []
    for night in [n for n in outputs if "training" in n["output"]]:
        name = night["output"]["training"]["job"]
        described = jobs.describe(name)
        facts.append({"night": night["day"], "job": name, "status": described["TrainingJobStatus"],
                      "final": {m["MetricName"]: m["Value"] for m in described.get("FinalMetricDataList") or []},
                      "curve": jobs.metrics(name), "seconds": described.get("TrainingTimeInSeconds")})
    run.facts["training"] = facts
    if facts:
        run.stage("training", "done", "; ".join(
            f"night {i + 1}: job {f['job']} {f['status']}, " + ", ".join(f"{k}={v:.4f}" for k, v in f["final"].items())
            for i, f in enumerate(facts)))


def _evaluation(run: DemoRun, store: Any, settings: Any, outputs: list[dict[str, Any]]) -> None:
    results = [(n, n["output"]["evaluation"]) for n in outputs if "evaluation" in n["output"]]
    if results:
        run.stage("evaluation", "done", "; ".join(
            f"night {n['index']}: {e['reason']} → {'passed' if e['passed'] else 'failed'} (Choice state QualityGate)"
            for n, e in results))


def _deploy(run: DemoRun, store: Any, settings: Any, outputs: list[dict[str, Any]]) -> None:
    from podium.demo.scenario import ENDPOINT
    from podium.models import Lineage, ModelRegistry, parse_ref

    registry = ModelRegistry(store)
    parts, deployments = [], []
    outputs = [n for n in outputs if "deployment" in n["output"]]
    for night in outputs:
        package = night["output"]["package"]["ModelPackage"]
        group, version = parse_ref(package)
        described = registry.describe(group, version)
        outcome = night["output"]["deployment"]
        parts.append(f"night {night['index']}: {package} {described['ModelApprovalStatus']} → "
                     f"{outcome.get('Outcome')}")
        deployments.append({"night": night["day"], "package": package, "outcome": outcome.get("Outcome"),
                            "events": outcome.get("Events") or []})
    run.facts["deployments"] = deployments
    if not outputs:
        return
    last_package = outputs[-1]["output"]["package"]["ModelPackage"]
    lineage = Lineage(store)
    found = lineage.find(name=last_package)
    tree = lineage.upstream(found[-1].id).to_dict() if found else None
    downstream = lineage.downstream(found[-1].id).to_dict() if found else None
    run.facts["lineage"] = {"model": last_package, "upstream": tree, "downstream": downstream}
    steps = [e for d in deployments for e in d["events"]]
    shifts = [f"{e.get('kind')} {e.get('green_share')}" for e in steps if e.get("kind") == "TrafficShifted"]
    traffic = run.facts.get("traffic") or []
    failed = sum(1 for _, status, _ in traffic if status != 200)
    load = f" under {len(traffic):,} prediction requests ({failed} failed)" if traffic else ""
    run.stage("register + deploy", "done", "; ".join(parts)
              + (f"; canary traffic shifts: {', '.join(shifts)}{load}" if shifts else "")
              + f"; endpoint {ENDPOINT} serves {last_package}")
