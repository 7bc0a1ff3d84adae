"""Training-job overhead: start to script running, and artifact packing, against baselines.

Baselines measured in the same run: launching the same script with a bare subprocess (start),
and `tar czf` through Python's tarfile without Podium (packing). Also the cost of a lineage
query, which first harvests the batch/feature records (podium.models.harvest), on a synthetic
graph of --lineage-nodes entities, against the same walk without the harvest.
Run: .venv/bin/python bench/models_bench.py [--runs 10] [--model-mb 50] [--lineage-nodes 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from podium.config import Settings
from podium.models import Lineage, TrainingJobs
from podium.models.lineage import NewEntity
from podium.store import open_store

SCRIPT = """
import os, sys, time
print(f"started_at={time.time()!r}", flush=True)
size = int(os.environ.get("MODEL_BYTES", "0"))
if size:
    with open(os.path.join(os.environ.get("SM_MODEL_DIR", "."), "weights.bin"), "wb") as f:
        f.write(os.urandom(size // 2) + bytes(size - size // 2))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--model-mb", type=int, default=50)
    parser.add_argument("--lineage-nodes", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="podium-models-bench-"))
    script = work / "train.py"
    script.write_text(SCRIPT)
    settings = Settings.for_home(work / "home")
    store = open_store(settings)
    jobs = TrainingJobs(settings, store)

    bare, podium = [], []
    for run in range(args.runs):
        t0 = time.time()
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
        bare.append(float(out.split("=")[1]) - t0)
        t0 = time.time()
        jobs.create({"name": f"start-{run}", "entry_point": str(script)})
        first = jobs.logs(f"start-{run}").splitlines()[0]
        podium.append(float(first.split("=")[1]) - t0)

    size = args.model_mb * 1024 * 1024
    t0, c0 = time.perf_counter(), time.process_time()
    result = jobs.create({"name": "pack", "entry_point": str(script), "environment": {"MODEL_BYTES": str(size)}})
    pack_total, pack_cpu = time.perf_counter() - t0, time.process_time() - c0
    model_dir = work / "home" / "artifacts" / "training" / "pack" / "model"
    t0, c0 = time.perf_counter(), time.process_time()
    with tarfile.open(work / "baseline.tar.gz", "w:gz") as archive:
        archive.add(model_dir / "weights.bin", arcname="weights.bin")
    baseline_pack, baseline_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert result["TrainingJobStatus"] == "Completed"

    b50, p50 = statistics.median(bare) * 1000, statistics.median(podium) * 1000
    print(f"start to script running (median of {args.runs}): bare subprocess {b50:.1f} ms, "
          f"Podium training job {p50:.1f} ms, overhead {p50 - b50:.1f} ms, ratio {p50 / b50:.2f}x "
          f"(target: under 1000 ms)")
    print(f"whole job with a {args.model_mb} MB model: {pack_total:.2f} s ({pack_cpu:.2f} s CPU in this "
          f"process); packing alone with tarfile (baseline): {baseline_pack:.2f} s ({baseline_cpu:.2f} s CPU); "
          f"ratio {pack_total / baseline_pack:.2f}x")
    lineage_query(store, args.lineage_nodes)
    store.dispose()


def lineage_query(store, nodes: int) -> None:  # type: ignore[no-untyped-def]
    """Chains of 10 entities (file -> ... -> model-version); time one model's upstream query."""
    lineage = Lineage(store)
    entities, edges = [], []
    for chain in range(max(nodes // 10, 1)):
        ids = []
        for depth in range(10):
            entity = NewEntity("artifact", f"level-{depth}", f"chain-{chain}/{depth}")
            entities.append(entity)
            ids.append(entity.id)
        edges += [(ids[i], ids[i + 1], "ContributedTo") for i in range(9)]
    lineage.merge(entities, edges)
    target = entities[-1].id
    timings: dict[str, list[float]] = {"with harvest": [], "walk only": []}
    for _ in range(5):
        for label, sync in (("with harvest", True), ("walk only", False)):
            t0 = time.perf_counter()
            tree = lineage.upstream(target, sync=sync)
            timings[label].append(time.perf_counter() - t0)
    depth = 0
    while tree.children:
        tree, depth = tree.children[0], depth + 1
    assert depth == 9
    harvest, walk = (statistics.median(timings[k]) * 1000 for k in ("with harvest", "walk only"))
    print(f"lineage upstream query on {len(entities)} entities (median of 5): {harvest:.0f} ms with the "
          f"harvest, {walk:.0f} ms walk only (baseline); ratio {harvest / walk:.2f}x")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
