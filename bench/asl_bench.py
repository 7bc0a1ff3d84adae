"""ASL interpreter throughput: state transitions per second, Podium vs moto's Step Functions.

Workloads: (a) a 1,000-state Pass chain using Parameters and ResultPath, (b) an inline Map
over 10,000 items with a Pass iterator, (c) a Choice-driven loop of 10,000 iterations,
(d) the same three in JSONata. Podium runs in memory (`podium.asl.execute`). The baseline is
moto's executor (`moto[stepfunctions]==5.2.5`, LocalStack-derived), enabled with moto's
`execute_state_machine` config; it is far slower, so it runs smaller sizes of the same
definitions and the ratio compares transitions per second. Both are timed in wall-clock
seconds and in CPU seconds (`time.process_time`, all threads of the process), which a
machine shared with other work disturbs much less.

moto runs in its own virtualenv, so that its dependencies never meet Podium's:

    python3 -m venv bench/peers/.venv-moto
    bench/peers/.venv-moto/bin/pip install 'moto[stepfunctions]==5.2.5'

(this script re-runs itself there with --moto-peer); without it, a moto installed beside
Podium (`pip install -e '.[bench]'`) is used in-process.

Usage: .venv/bin/python bench/asl_bench.py [--quick]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MOTO_PYTHON = Path(__file__).parent / "peers" / ".venv-moto" / "bin" / "python"


def pass_chain(n: int, jsonata: bool = False) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for i in range(n):
        name = f"S{i}"
        st: dict[str, Any] = {"Type": "Pass"}
        if jsonata:
            st["Output"] = {"counter": "{% $states.input.counter %}", "last": {"step": i, "value": "{% $states.input.counter %}"}}
        else:
            st["Parameters"] = {"step": i, "value.$": "$.counter"}
            st["ResultPath"] = "$.last"
        if i + 1 < n:
            st["Next"] = f"S{i + 1}"
        else:
            st["End"] = True
        states[name] = st
    doc: dict[str, Any] = {"StartAt": "S0", "States": states}
    if jsonata:
        doc["QueryLanguage"] = "JSONata"
    return doc


def inline_map(jsonata: bool = False) -> dict[str, Any]:
    if jsonata:
        return {
            "QueryLanguage": "JSONata",
            "StartAt": "M",
            "States": {"M": {
                "Type": "Map", "Items": "{% $states.input.items %}", "End": True,
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Output": {"v": "{% $states.input %}"}, "End": True}}},
            }},
        }
    return {
        "StartAt": "M",
        "States": {"M": {
            "Type": "Map", "ItemsPath": "$.items", "End": True,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True}}},
        }},
    }


def choice_loop(jsonata: bool = False) -> dict[str, Any]:
    if jsonata:
        return {
            "QueryLanguage": "JSONata",
            "StartAt": "Inc",
            "States": {
                "Inc": {"Type": "Pass", "Output": {"i": "{% $states.input.i + 1 %}", "n": "{% $states.input.n %}"}, "Next": "Check"},
                "Check": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.i < $states.input.n %}", "Next": "Inc"}], "Default": "Done"},
                "Done": {"Type": "Succeed"},
            },
        }
    return {
        "StartAt": "Inc",
        "States": {
            "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)", "n.$": "$.n"}, "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThanPath": "$.n", "Next": "Inc"}], "Default": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }


def workloads(scale: float) -> list[tuple[str, dict[str, Any], Any, int]]:
    """(label, definition, input, transitions) for each workload at a size scale."""
    chain = max(int(1000 * scale), 10)
    items = max(int(10_000 * scale), 10)
    loops = max(int(10_000 * scale), 10)
    out = []
    for jsonata in (False, True):
        tag = "JSONata" if jsonata else "JSONPath"
        out.append((f"(a) Pass chain x{chain} [{tag}]", pass_chain(chain, jsonata), {"counter": 1}, chain))
        out.append((f"(b) inline Map x{items} [{tag}]", inline_map(jsonata), {"items": list(range(items))}, items + 1))
        out.append((f"(c) Choice loop x{loops} [{tag}]", choice_loop(jsonata), {"i": 0, "n": loops}, 2 * loops + 1))
    return out


def podium_rate(definition: dict[str, Any], data: Any, transitions: int, repeat: int) -> tuple[float, float]:
    """Transitions per wall-clock second and per CPU second, best of `repeat` runs."""
    from podium.asl import compile_definition, execute

    machine = compile_definition(definition)
    wall = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = execute(machine, data)
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
        assert result.status == "SUCCEEDED", (result.error, result.cause)
    return transitions / wall, transitions / max(cpu, 1e-9)


def moto_rates_here(scale: float) -> dict[str, Any]:
    """moto's rates for each workload, measured in this process (needs boto3 and moto)."""
    import logging

    import boto3
    from moto import mock_aws

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # moto logs every failed execution at length; its failures are reported below instead.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.disable(logging.ERROR)

    def run(definition: dict[str, Any], data: Any) -> tuple[float, float]:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            client = boto3.client("stepfunctions", region_name="us-east-1")
            arn = client.create_state_machine(
                name="bench", definition=json.dumps(definition),
                roleArn="arn:aws:iam::123456789012:role/bench",
            )["stateMachineArn"]
            t0, c0 = time.perf_counter(), time.process_time()
            execution = client.start_execution(stateMachineArn=arn, input=json.dumps(data))["executionArn"]
            while True:
                status = client.describe_execution(executionArn=execution)["status"]
                if status != "RUNNING":
                    break
                time.sleep(0.005)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            if status != "SUCCEEDED":
                raise RuntimeError(f"moto execution ended {status}")
            return wall, cpu

    rates: dict[str, Any] = {}
    for label, definition, data, transitions in workloads(scale):
        try:
            wall, cpu = run(definition, data)
            rates[label] = {"wall": transitions / wall, "cpu": transitions / max(cpu, 1e-9)}
        except Exception as exc:  # noqa: BLE001 - moto lacks some features; say so and go on
            rates[label] = {"error": f"{type(exc).__name__}: {str(exc)[:60]}"}
    return rates


def moto_rates(scale: float) -> tuple[dict[str, Any] | None, str]:
    """moto's rates and where they were measured; None (and why) when moto is unavailable."""
    if MOTO_PYTHON.exists():
        proc = subprocess.run([str(MOTO_PYTHON), __file__, "--moto-peer", str(scale)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return None, f"the moto peer failed: {proc.stderr.strip()[-300:]}"
        return json.loads(proc.stdout.strip().splitlines()[-1]), f"{MOTO_PYTHON.parent.parent}"
    try:
        return moto_rates_here(scale), "in-process"
    except ImportError:
        return None, ("moto is not installed: python3 -m venv bench/peers/.venv-moto && "
                      "bench/peers/.venv-moto/bin/pip install 'moto[stepfunctions]==5.2.5'")


def _key(label: str) -> str:
    """The workload's letter and query language, the same at every size."""
    return label[:3] + label.split("[")[1]


def main() -> int:
    if "--moto-peer" in sys.argv:
        print(json.dumps(moto_rates_here(float(sys.argv[sys.argv.index("--moto-peer") + 1]))))
        return 0
    quick = "--quick" in sys.argv
    podium_scale = 0.1 if quick else 1.0
    moto_scale = 0.01 if quick else 0.05
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'workload':42} {'Podium tr/s':>12} {'tr/CPU-s':>12}")
    podium: dict[str, tuple[float, float]] = {}
    for label, definition, data, transitions in workloads(podium_scale):
        wall, cpu = podium_rate(definition, data, transitions, repeat=3)
        podium[_key(label)] = (wall, cpu)
        print(f"{label:42} {wall:12,.0f} {cpu:12,.0f}")
    moto, where = moto_rates(moto_scale)
    if moto is None:
        print(f"\n{where}")
        return 0
    print(f"\nbaseline: moto 5.2.5 executor ({where}; smaller sizes, same definitions)")
    print(f"{'workload':42} {'moto tr/s':>12} {'tr/CPU-s':>12} {'ratio wall':>11} {'ratio CPU':>10}")
    for label, rate in moto.items():
        if "error" in rate:
            print(f"{label:42} {'failed':>12}   ({rate['error']})")
            continue
        ours = podium[_key(label)]
        print(f"{label:42} {rate['wall']:12,.0f} {rate['cpu']:12,.0f} "
              f"{ours[0] / rate['wall']:10,.0f}x {ours[1] / rate['cpu']:9,.0f}x")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
