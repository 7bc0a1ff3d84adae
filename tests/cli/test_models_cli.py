"""The training, models and lineage commands end to end, as a user types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def podium(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "podium.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_train_register_approve_and_show_lineage(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("1\n")
    script = tmp_path / "train.py"
    script.write_text(
        "import os\nprint('val_auc=0.81')\n"
        "open(os.path.join(os.environ['SM_MODEL_DIR'], 'm.bin'), 'w').write('x')\n"
    )
    run = podium(tmp_path, "--json", "training", "run", "job-1", str(script),
                 "--channel", f"train={data}", "--hp", "C=2", "--metric", "auc=val_auc=([0-9.]+)")
    assert run.returncode == 0, run.stderr
    described = json.loads(run.stdout)
    assert described["TrainingJobStatus"] == "Completed"
    assert described["FinalMetricDataList"][0]["Value"] == 0.81

    assert podium(tmp_path, "models", "create-group", "propensity").returncode == 0
    registered = podium(tmp_path, "--json", "models", "register", "propensity", "--training-job", "job-1")
    assert json.loads(registered.stdout)["ModelPackage"] == "propensity/1"
    approved = podium(tmp_path, "--json", "models", "approve", "propensity/1", "--by", "ana", "--reason", "ok")
    assert json.loads(approved.stdout)["ModelApprovalStatus"] == "Approved"

    listing = podium(tmp_path, "models", "list", "propensity")
    assert "propensity/1" in listing.stdout and "Approved" in listing.stdout

    tree = json.loads(podium(tmp_path, "--json", "lineage", "show", "propensity/1").stdout)["upstream"]
    chain = []
    node = tree
    while node:
        chain.append(node["type"])
        node = node["children"][0] if node["children"] else None
    assert chain == ["model-version", "model", "training-job", "dataset"]

    failing = tmp_path / "fail.py"
    failing.write_text("raise SystemExit('boom')\n")
    failed = podium(tmp_path, "training", "run", "job-2", str(failing))
    assert failed.returncode == 1
    assert "boom" in failed.stdout


def test_unknown_version_is_one_line_error(tmp_path: Path) -> None:
    result = podium(tmp_path, "models", "describe", "nope/1")
    assert result.returncode == 1
    assert result.stderr.strip() == "error [NotFound]: model version nope/1 does not exist"
