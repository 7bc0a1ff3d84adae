"""The Podium functions (Lambda handlers) the nightly workflow calls.

- `build_features`: from the committed transactions and the delivered clickstream, the rows
  to ingest into the three feature groups (only snapshots newer than what each group holds,
  so a second night adds only its own days) and the labelled entity rows of the training
  and validation sets — validation is the rows the batch job committed tonight.
- `evaluate`: the quality gate's check of a training metric against a threshold.

They run in Podium's function worker processes; the event carries the PODIUM_HOME.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podium.functions import function

# Snapshots describe a whole UTC day: they take effect at its last microsecond, so an event
# during that day never sees its own day's aggregates (no label leakage).
_END_OF_DAY = "CAST(day AS TIMESTAMP) + INTERVAL 1 DAY - INTERVAL 1 MICROSECOND"

USER_SQL = f"""
WITH daily AS (
  SELECT user_id, CAST(event_time AS DATE) AS day, count(*) AS n, sum(rating) AS total,
         sum(label) AS high, sum(CAST(is_weekend AS INTEGER)) AS weekend, sum(is_morning_rush) AS rush
  FROM transactions GROUP BY ALL)
SELECT user_id, CAST({_END_OF_DAY} AS TIMESTAMPTZ) AS snapshot_time,
       CAST(sum(n) OVER w AS BIGINT) AS user_ratings,
       CAST(count(*) OVER w AS BIGINT) AS user_active_days,
       sum(total) OVER w / sum(n) OVER w AS user_mean_rating,
       sum(high) OVER w / sum(n) OVER w AS user_high_share,
       sum(weekend) OVER w / sum(n) OVER w AS user_weekend_share,
       sum(rush) OVER w / sum(n) OVER w AS user_morning_rush_share,
       CAST(date_diff('day', lag(day) OVER (PARTITION BY user_id ORDER BY day), day) AS DOUBLE)
         AS user_days_since_previous
FROM daily
WINDOW w AS (PARTITION BY user_id ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
"""

ITEM_SQL = f"""
WITH daily AS (
  SELECT item_id, CAST(event_time AS DATE) AS day, count(*) AS n, sum(rating) AS total,
         sum(label) AS high, max(year) AS item_year
  FROM transactions GROUP BY ALL)
SELECT item_id, CAST({_END_OF_DAY} AS TIMESTAMPTZ) AS snapshot_time,
       CAST(sum(n) OVER w AS BIGINT) AS item_ratings,
       sum(total) OVER w / sum(n) OVER w AS item_mean_rating,
       sum(high) OVER w / sum(n) OVER w AS item_high_share,
       CAST(date_diff('day', lag(day) OVER (PARTITION BY item_id ORDER BY day), day) AS DOUBLE)
         AS item_days_since_previous,
       CAST(item_year AS DOUBLE) AS item_year
FROM daily
WINDOW w AS (PARTITION BY item_id ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
"""

CLICKS_SQL = f"""
WITH daily AS (
  SELECT user_id, CAST(CAST(event_time AS TIMESTAMPTZ) AS DATE) AS day, count(*) AS views,
         count(DISTINCT item_id) AS items, avg(dwell_seconds) AS dwell
  FROM clicks GROUP BY ALL)
SELECT user_id, CAST({_END_OF_DAY} AS TIMESTAMPTZ) AS snapshot_time,
       CAST(views AS BIGINT) AS day_views, CAST(items AS BIGINT) AS day_items_viewed,
       CAST(dwell AS DOUBLE) AS day_mean_dwell_seconds
FROM daily
"""

ENTITY_COLUMNS = ("event_id, user_id, item_id, event_time, hour, day_of_week, "
                  "CAST(is_weekend AS INTEGER) AS is_weekend, is_morning_rush, label")


def _latest_snapshot(features: Any, group: str) -> Any:
    """The newest snapshot_time a group holds (None when empty)."""
    value = features.query(f"SELECT max(snapshot_time) AS latest FROM {group}", groups=[group]).column(0)[0]
    return value.as_py()


@function("nightly-build-features", timeout_seconds=300,
          description="Feature rows and entity rows for tonight's nightly retrain")
def build_features(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import duckdb

    from podium.config import Settings
    from podium.features import FeatureStore
    from podium.ingest.batch.datasets import committed_files
    from podium.store import open_store

    settings = Settings.for_home(Path(event["home"]))
    store = open_store(settings)
    features = FeatureStore(settings, store)
    out = Path(settings.lake_url) / "staging" / "nightly" / str(event["run"])
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        files = committed_files(store, "retail/transactions")
        if not files:
            raise ValueError("no committed transactions in retail/transactions: nothing to train on")
        tonight = [f for f in files if f"part-{event['ingest_run_id']}-" in f.rsplit("/", 1)[-1]]
        if not tonight:
            raise ValueError(f"batch run {event['ingest_run_id']} committed no rows: no new data tonight")
        con.execute("CREATE VIEW transactions AS SELECT *, filename IN ({}) AS tonight FROM "
                    "read_parquet({}, hive_partitioning = true, filename = true)".format(
                        ", ".join(_quote(f) for f in tonight), "[" + ", ".join(_quote(f) for f in files) + "]"))
        clicks_root = Path(settings.lake_url) / "raw" / "clickstream"
        click_files = sorted(str(p) for p in clicks_root.glob("date=*/hour=*/*") if p.is_file())
        if click_files:
            con.execute("CREATE VIEW clicks AS SELECT * FROM read_parquet([{}], hive_partitioning = true)".format(
                ", ".join(_quote(f) for f in click_files)))
        written: dict[str, Any] = {}
        counts: dict[str, int] = {}
        for group, sql, needs in (("user_features", USER_SQL, None), ("item_features", ITEM_SQL, None),
                                  ("user_clicks", CLICKS_SQL, "clicks")):
            if needs == "clicks" and not click_files:
                sql = CLICKS_SQL.replace("FROM clicks", "FROM (SELECT NULL::BIGINT AS user_id, NULL::VARCHAR AS "
                                         "event_time, NULL::BIGINT AS item_id, NULL::BIGINT AS dwell_seconds "
                                         "WHERE false)")
            latest = _latest_snapshot(features, group)
            where = f" WHERE snapshot_time > {_quote(latest.isoformat())}::TIMESTAMPTZ" if latest else ""
            target = out / f"{group}.parquet"
            con.execute(f"COPY (SELECT * FROM ({sql}){where} ORDER BY snapshot_time) TO {_quote(str(target))} "
                        "(FORMAT parquet)")
            counts[group] = int(_scalar(con, f"SELECT count(*) FROM read_parquet({_quote(str(target))})"))
            written[group] = str(target)
        # Validation: the last `validation_days` up to tonight's newest rating (tonight included);
        # one night alone holds too few users (MovieLens has 1-7 raters a day) to judge a model.
        days = int(event.get("validation_days", 30))
        cut = _scalar(con, f"SELECT max(event_time) - INTERVAL {days} DAY FROM transactions")
        counts["tonight"] = int(_scalar(con, "SELECT count(*) FROM transactions WHERE tonight"))
        recent = f"event_time >= {_quote(cut.isoformat())}::TIMESTAMPTZ"
        for name, condition in (("train_entities", f"NOT ({recent})"), ("validation_entities", recent)):
            target = out / f"{name}.parquet"
            con.execute(f"COPY (SELECT {ENTITY_COLUMNS} FROM transactions WHERE {condition} "
                        f"ORDER BY event_time, event_id) TO {_quote(str(target))} (FORMAT parquet)")
            counts[name] = int(_scalar(con, f"SELECT count(*) FROM read_parquet({_quote(str(target))})"))
            written[name] = str(target)
        lake = str(settings.lake_url).rstrip("/")
        _record_lineage(store, [f"{lake}/retail/transactions"]
                        + ([str(clicks_root)] if click_files else []), list(written.values()))
        return {**written, "counts": counts}
    finally:
        con.close()
        features.close()
        store.dispose()


def _record_lineage(store: Any, sources: list[str], outputs: list[str]) -> None:
    """The lake datasets read ContributedTo every file written (feature rows, entity rows)."""
    from podium.models import Lineage

    lineage = Lineage(store)
    with store.begin() as conn:
        source_ids = [lineage.artifact("dataset", s, uri=s, connection=conn) for s in sources]
        for output in outputs:
            target = lineage.artifact("dataset", output, uri=output, connection=conn)
            for source_id in source_ids:
                lineage.associate(source_id, target, "ContributedTo", connection=conn)


def _scalar(con: Any, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return None if row is None else row[0]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@function("nightly-evaluate", timeout_seconds=30, description="Quality gate: a training metric vs a threshold")
def evaluate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """{"metrics": FinalMetricDataList, "metric": name, "threshold": number} -> passed, value, reason."""
    name, threshold = event["metric"], float(event["threshold"])
    values = {m["MetricName"]: float(m["Value"]) for m in event.get("metrics") or []}
    if name not in values:
        return {"passed": False, "value": None,
                "reason": f"the training job reported no {name} (it reported {sorted(values) or 'no metrics'})"}
    value = values[name]
    passed = value >= threshold
    verdict = ">=" if passed else "<"
    return {"passed": passed, "value": value, "reason": f"{name} {value:.4f} {verdict} threshold {threshold:.4f}"}
