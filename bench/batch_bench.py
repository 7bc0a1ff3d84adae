"""Batch data preparation: a ten-step Podium recipe (DuckDB) against the same steps
written as a plain pandas script, on N generated rows read from CSV and from Parquet
and written to Parquet. A third variant runs the recipe as a Podium batch job (plus a
contract check, quarantine split, output partitioned by part of day and the commit)
and prints its stages.

Each variant runs in its own child process; we report wall time, rows/s and the
child's peak RSS and CPU time, and the Podium/pandas ratios. Both variants produce the same rows
(checked on row count and column sums).

    python bench/batch_bench.py                 # 10 million rows
    python bench/batch_bench.py --rows 1000000 --repeat 3   # best of three per variant
    python bench/batch_bench.py --floors        # CPU floors per stage, DuckDB and pandas
    python bench/batch_bench.py --cpus 0        # every child pinned to core 0

`--floors` times each stage on its own, in one child per engine, in the same run: DuckDB
parsing the CSV, reading the Parquet, the recipe on rows already in memory and the Parquet
write (with other codecs for comparison), and pandas' read_csv, read_parquet, the steps
and to_parquet. Their sums are the least CPU either side can spend.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = [
    {"op": "filter", "expr": "qty > 0"},
    {"op": "fill", "columns": ["amount"], "strategy": "mean"},
    {"op": "text", "column": "note", "func": "trim"},
    {"op": "text", "column": "note", "func": "lower"},
    {"op": "datetime", "column": "ts", "timezone": "Europe/Paris",
     "features": ["hour", "day_of_week", "is_weekend", "part_of_day"]},
    {"op": "onehot", "column": "city", "categories": ["paris", "lyon", "nice", "lille", "nantes", "brest", "metz", "pau"]},
    {"op": "scale", "columns": ["amount"], "method": "standard"},
    {"op": "bin", "column": "qty", "method": "width", "bins": 5},
    {"op": "ordinal", "column": "tier", "order": ["bronze", "silver", "gold"]},
    {"op": "drop", "columns": ["user"]},
]
CITIES = ["paris", "lyon", "nice", "lille", "nantes", "brest", "metz", "pau"]
PARTS = [("night", 0, 7), ("morning_rush", 7, 10), ("midday", 10, 16), ("evening_rush", 16, 19), ("evening", 19, 24)]


def generate(rows: int, folder: Path) -> tuple[Path, Path]:
    import duckdb

    con = duckdb.connect()
    con.execute(f"""
        CREATE TABLE gen AS SELECT
            i AS id,
            CAST(hash(i) % 100000 AS BIGINT) AS "user",
            ['paris','lyon','nice','lille','nantes','brest','metz','pau'][CAST(hash(i * 7) % 8 AS INTEGER) + 1] AS city,
            CASE WHEN hash(i * 3) % 20 = 0 THEN NULL ELSE round((hash(i * 5) % 100000) / 100.0, 2) END AS amount,
            CAST(hash(i * 11) % 12 AS INTEGER) - 1 AS qty,
            TIMESTAMP '2024-01-01' + to_seconds(CAST(hash(i * 13) % 31536000 AS BIGINT)) AS ts,
            '  Note ' || CAST(hash(i * 17) % 1000 AS VARCHAR) || ' Mixed CASE ' AS note,
            ['bronze','silver','gold'][CAST(hash(i * 19) % 3 AS INTEGER) + 1] AS tier
        FROM range({rows}) t(i)
    """)
    csv, parquet = folder / "data.csv", folder / "data.parquet"
    con.execute(f"COPY gen TO '{csv}' (HEADER, DELIMITER ',')")
    con.execute(f"COPY gen TO '{parquet}' (FORMAT parquet)")
    con.close()
    return csv, parquet


def run_podium(source: str, output: str) -> int:
    from podium.prep import parse_recipe
    from podium.prep.executor import run_recipe

    return run_recipe(parse_recipe(STEPS), source, output)


CONTRACT = {"columns": {"id": {"type": "BIGINT", "required": True}, "qty": {"min": 1, "max": 10},
                        "tier": {"allowed": [0, 1, 2]}}}


JOB_TIMES: list[float] = []  # the run's own wall and CPU seconds (store setup excluded)


def run_job(source: str, output: str) -> int:
    """The same recipe as a Podium batch job: read, recipe, contract check, quarantine
    split, output partitioned by part of day, atomic commit into a throwaway home. Prints
    each stage's wall and CPU seconds to stderr."""
    from podium.config import Settings
    from podium.ingest.batch.jobs import create_job, parse_job
    from podium.ingest.batch.runner import run_job as run
    from podium.store import open_store

    home = Path(output).with_suffix(".home")
    settings = Settings.for_home(home)
    store = open_store(settings)
    create_job(store, parse_job({"name": "bench", "source": {"path": source}, "recipe": STEPS, "contract": CONTRACT,
                                 "output": {"dataset": "bench", "partition_by": ["ts_part_of_day"]}}))
    stages: dict[str, list[float]] = {}
    mark = [time.perf_counter(), time.process_time(), ""]

    def tell(phase: str, done: int, total: int) -> None:
        if phase != mark[2]:
            now, cpu = time.perf_counter(), time.process_time()
            if mark[2]:
                stages[mark[2]] = [now - mark[0], cpu - mark[1]]
            mark[:] = [now, cpu, phase]

    started, cpu = time.perf_counter(), time.process_time()
    result = run(settings, store, "bench", progress=tell)
    tell("done", 0, 0)
    JOB_TIMES[:] = [time.perf_counter() - started, time.process_time() - cpu]
    print("job stages (wall s, cpu s): " + ", ".join(f"{k} {w:.2f}/{c:.2f}" for k, (w, c) in stages.items()),
          file=sys.stderr)
    store.dispose()
    return result.rows_written


def output_glob(variant: str, output: Path) -> str:
    """Where a variant's rows are: one file, or the job's partitioned dataset in its lake."""
    if variant != "job":
        return str(output)
    from podium.config import Settings

    return f"{Settings.for_home(output.with_suffix('.home')).lake_url}/bench/**/*.parquet"


def run_pandas(source: str, output: str) -> int:
    import pandas as pd

    df = pd.read_csv(source, parse_dates=["ts"]) if source.endswith(".csv") else pd.read_parquet(source)
    df = pandas_steps(df)
    df.to_parquet(output, index=False)
    return len(df)


def pandas_steps(df):  # type: ignore[no-untyped-def]
    import numpy as np

    df = df[df["qty"] > 0]
    df["amount"] = df["amount"].fillna(df["amount"].mean())
    df["note"] = df["note"].str.strip()
    df["note"] = df["note"].str.lower()
    local = df["ts"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris")
    df["ts_hour"] = local.dt.hour
    df["ts_day_of_week"] = local.dt.day_of_week
    df["ts_is_weekend"] = local.dt.day_of_week >= 5
    hour = df["ts_hour"]
    df["ts_part_of_day"] = np.select([(hour >= lo) & (hour < hi) for _, lo, hi in PARTS], [p for p, _, _ in PARTS], "other")
    for city in CITIES:
        df[f"city_{city}"] = (df["city"] == city).astype("int32")
    df = df.drop(columns=["city"])
    df["amount"] = (df["amount"] - df["amount"].mean()) / (df["amount"].std() or 1.0)
    lo, hi = df["qty"].min(), df["qty"].max()
    df["qty_bin"] = np.minimum(np.floor((df["qty"] - lo) / (hi - lo) * 5), 4).astype("int32")
    df["tier"] = df["tier"].map({"bronze": 0, "silver": 1, "gold": 2}).fillna(-1).astype("int32")
    return df.drop(columns=["user"])


TYPES = {"id": "BIGINT", "user": "BIGINT", "city": "VARCHAR", "amount": "DOUBLE", "qty": "INTEGER",
         "ts": "TIMESTAMP", "note": "VARCHAR", "tier": "VARCHAR"}


def floors(engine: str, csv: str, parquet: str, output: str) -> dict[str, float]:
    """CPU seconds of each stage on its own (see the module docstring)."""
    times: dict[str, float] = {}

    def timed(name: str, fn):  # type: ignore[no-untyped-def]
        cpu = time.process_time()
        value = fn()
        times[name] = time.process_time() - cpu
        return value

    if engine == "pandas":
        import pandas as pd

        timed("csv parse", lambda: pd.read_csv(csv, parse_dates=["ts"]))
        df = timed("parquet read", lambda: pd.read_parquet(parquet))
        out = timed("recipe", lambda: pandas_steps(df))
        timed("parquet write", lambda: out.to_parquet(output, index=False))
        return times
    from podium.prep import parse_recipe
    from podium.prep.engine import connect
    from podium.prep.executor import prepare, source_from

    # DuckDB streams: a stage is timed as the difference between two queries that differ
    # by it (EXPLAIN ANALYZE runs a query to the end and discards its rows).
    con = connect()
    con.execute("SET preserve_insertion_order = false")

    def run(sql: str) -> None:
        con.execute(sql).fetchall()

    csv_src = source_from(con, csv, "csv_source")
    pq_src = source_from(con, parquet, "pq_source")
    recipe = parse_recipe(STEPS)
    on_csv, on_pq = prepare(recipe, con, csv_src).sql, prepare(recipe, con, pq_src).sql
    timed("csv parse", lambda: run(f"EXPLAIN ANALYZE SELECT * FROM {csv_src}"))
    timed("parquet read", lambda: run(f"EXPLAIN ANALYZE SELECT * FROM {pq_src}"))
    timed("read + recipe (parquet)", lambda: run(f"EXPLAIN ANALYZE {on_pq}"))
    timed("read + recipe + write (parquet)", lambda: run(f"COPY ({on_pq}) TO '{output}' (FORMAT parquet)"))
    timed("read + recipe + write (csv)", lambda: run(f"COPY ({on_csv}) TO '{output}' (FORMAT parquet)"))
    timed("plain COPY parquet->parquet", lambda: run(f"COPY (SELECT * FROM {pq_src}) TO '{output}' (FORMAT parquet)"))
    con.execute(f"CREATE TABLE r AS {on_pq}")
    for codec in ("snappy", "lz4_raw", "zstd", "uncompressed"):
        timed(f"write only, {codec}", lambda c=codec: run(f"COPY r TO '{output}' (FORMAT parquet, COMPRESSION {c})"))
    times["recipe"] = times["read + recipe (parquet)"] - times["parquet read"]
    times["parquet write"] = times["read + recipe + write (parquet)"] - times["read + recipe (parquet)"]
    con.close()
    return times


def child(variant: str, source: str, output: str) -> None:
    if variant.startswith("floors-"):
        csv, parquet = source.split(",")
        times = floors(variant.split("-", 1)[1], csv, parquet, output)
        print(json.dumps({"floors": times, "peak_mib": peak_rss_kib() / 1024}))
        return
    started, cpu = time.perf_counter(), time.process_time()
    run = {"podium": run_podium, "pandas": run_pandas, "job": run_job}[variant]
    rows = run(source, output)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if variant == "job":
        elapsed, cpu = JOB_TIMES
    print(json.dumps({"rows_out": rows, "seconds": elapsed, "cpu_seconds": cpu, "peak_mib": peak_rss_kib() / 1024}))


def peak_rss_kib() -> int:
    """This process's peak RSS since it started. getrusage's ru_maxrss survives exec on
    Linux (a child would report its parent's peak), so /proc's VmHWM is used when present."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


CPUS: list[str] = []  # --cpus: taskset list for every child


def measure(variant: str, source: Path | str, output: Path) -> dict:
    pin = ["taskset", "-c", CPUS[0]] if CPUS else []
    proc = subprocess.run(
        [*pin, sys.executable, __file__, "--child", variant, "--source", str(source), "--output", str(output)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{variant} on {source} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["stages"] = [line for line in proc.stderr.splitlines() if line.startswith("job stages")]
    return result


def print_floors(csv: Path, parquet: Path, folder: Path) -> None:
    results = {}
    for engine in ("pandas", "duckdb"):
        results[engine] = measure(f"floors-{engine}", f"{csv},{parquet}", folder / f"floor-{engine}.parquet")
        print(f"{engine}: peak {results[engine]['peak_mib']:.0f} MiB, load {os.getloadavg()[0]:.1f}")
        for stage, cpu in results[engine]["floors"].items():
            print(f"  {stage:34} {cpu:7.2f} cpu s")
    pd_f, dk_f = results["pandas"]["floors"], results["duckdb"]["floors"]
    for source in ("csv parse", "parquet read"):
        pandas_total = pd_f[source] + pd_f["recipe"] + pd_f["parquet write"]
        duck_total = dk_f[source] + dk_f["recipe"] + dk_f["parquet write"]
        print(f"{source.split()[0]}: sum of stages pandas {pandas_total:.2f} / DuckDB {duck_total:.2f} cpu s "
              f"-> CPU ratio {pandas_total / duck_total:.1f}x; if DuckDB only wrote the output: "
              f"{pandas_total / dk_f['parquet write']:.1f}x")


def checksum(path: Path | str) -> tuple[int, float, int]:
    import duckdb

    row = duckdb.sql(
        f"SELECT count(*), round(sum(amount), 3), sum(qty_bin) + sum(tier) + sum(ts_hour) + sum(city_paris) "
        f"FROM read_parquet('{path}')"
    ).fetchall()[0]
    return int(row[0]), float(row[1]), int(row[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant; the fastest is reported")
    parser.add_argument("--variants", default="pandas,podium,job",
                        help="pandas (baseline), podium (the recipe to one file), job (the recipe as a batch job)")
    parser.add_argument("--floors", action="store_true", help="time each stage on its own (see above)")
    parser.add_argument("--cpus", help="run every child under taskset -c CPUS, e.g. 0 for one core")
    parser.add_argument("--child")
    parser.add_argument("--source")
    parser.add_argument("--output")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.source, args.output)
        return
    if args.cpus:
        CPUS[:] = [args.cpus]
    with tempfile.TemporaryDirectory(prefix="podium-batch-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        csv, parquet = generate(args.rows, folder)
        os.sync()  # measure reading, not the write-back of the files just generated
        print(f"generated {args.rows:,} rows in {time.perf_counter() - t0:.1f}s "
              f"(CSV {csv.stat().st_size / 2**20:.0f} MiB, Parquet {parquet.stat().st_size / 2**20:.0f} MiB); "
              f"recipe: {len(STEPS)} steps")
        print(f"load average {os.getloadavg()[0]:.2f}" + (f"; children pinned to CPUs {args.cpus}" if args.cpus else ""))
        if args.floors:
            print_floors(csv, parquet, folder)
            return
        print(f"{'input':8} {'variant':8} {'seconds':>8} {'cpu s':>8} {'rows/s':>12} {'peak MiB':>9}")
        for source in (csv, parquet):
            print(f"load average {os.getloadavg()[0]:.2f}")
            results = {}
            for variant in args.variants.split(","):
                out = folder / f"{variant}-{source.suffix[1:]}.parquet"
                runs = [measure(variant, source, out) for _ in range(max(1, args.repeat))]
                r = min(runs, key=lambda x: x["seconds"])
                r["peak_mib"] = max(x["peak_mib"] for x in runs)
                r["rate"] = args.rows / r["seconds"]
                results[variant] = (r, checksum(output_glob(variant, out)))
                print(f"{source.suffix[1:]:8} {variant:8} {r['seconds']:8.2f} {r['cpu_seconds']:8.2f} "
                      f"{r['rate']:12,.0f} {r['peak_mib']:9.0f}  load {os.getloadavg()[0]:.1f}")
                for line in r["stages"]:
                    print(f"{'':18}{line}")
            if "pandas" not in results:
                continue
            pd_r, pd_sum = results["pandas"]
            for variant, (po_r, po_sum) in results.items():
                if variant == "pandas":
                    continue
                same = pd_sum[0] == po_sum[0] and pd_sum[2] == po_sum[2] and abs(pd_sum[1] - po_sum[1]) < 1e-3 * max(1, pd_sum[0])
                print(f"{source.suffix[1:]:8} {variant:8} vs pandas: throughput {po_r['rate'] / pd_r['rate']:.1f}x, "
                      f"cpu time {pd_r['cpu_seconds'] / po_r['cpu_seconds']:.1f}x less, "
                      f"peak memory {po_r['peak_mib'] / pd_r['peak_mib']:.2f}x, "
                      f"same result: {'yes' if same else f'NO {pd_sum} vs {po_sum}'}")


if __name__ == "__main__":
    main()
