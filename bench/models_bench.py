"""Training-job overhead: start to script running, and artifact packing, against baselines.

Baselines measured in the same run: launching the same script with a bare subprocess (start),
and `tar czf` through Python's tarfile without Podium (packing).
Run: .venv/bin/python bench/models_bench.py [--runs 10] [--model-mb 50]
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
from podium.models import TrainingJobs
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
    t0 = time.perf_counter()
    result = jobs.create({"name": "pack", "entry_point": str(script), "environment": {"MODEL_BYTES": str(size)}})
    pack_total = time.perf_counter() - t0
    model_dir = work / "home" / "artifacts" / "training" / "pack" / "model"
    t0 = time.perf_counter()
    with tarfile.open(work / "baseline.tar.gz", "w:gz") as archive:
        archive.add(model_dir / "weights.bin", arcname="weights.bin")
    baseline_pack = time.perf_counter() - t0
    assert result["TrainingJobStatus"] == "Completed"

    b50, p50 = statistics.median(bare) * 1000, statistics.median(podium) * 1000
    print(f"start to script running (median of {args.runs}): bare subprocess {b50:.1f} ms, "
          f"Podium training job {p50:.1f} ms, overhead {p50 - b50:.1f} ms, ratio {p50 / b50:.2f}x "
          f"(target: under 1000 ms)")
    print(f"whole job with a {args.model_mb} MB model: {pack_total:.2f} s; packing alone with tarfile "
          f"(baseline): {baseline_pack:.2f} s; ratio {pack_total / baseline_pack:.2f}x")
    store.dispose()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
