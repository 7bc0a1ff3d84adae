"""ASL interpreter throughput: state transitions per second, Podium vs moto's Step Functions.

Workloads: (a) a 1,000-state Pass chain using Parameters and ResultPath, (b) an inline Map
over 10,000 items with a Pass iterator, (c) a Choice-driven loop of 10,000 iterations,
(d) the same three in JSONata. Podium runs in memory (`podium.asl.execute`). The baseline is
moto's executor (`moto[stepfunctions]==5.2.5`, LocalStack-derived), enabled with moto's
`execute_state_machine` config; it is far slower, so it runs smaller sizes of the same
definitions and the ratio compares transitions per second.

Usage: .venv/bin/python bench/asl_bench.py [--quick]
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from podium.asl import compile_definition, execute


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


def podium_rate(definition: dict[str, Any], data: Any, transitions: int, repeat: int) -> float:
    machine = compile_definition(definition)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = execute(machine, data)
        elapsed = time.perf_counter() - t0
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        best = min(best, elapsed)
    return transitions / best


def moto_runner() -> Callable[[dict[str, Any], Any], float] | None:
    try:
        import boto3
        from moto import mock_aws
    except ImportError:
        return None
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    import logging

    # moto logs every failed execution at length; its failures are reported below instead.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.disable(logging.ERROR)

    def run(definition: dict[str, Any], data: Any) -> float:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            client = boto3.client("stepfunctions", region_name="us-east-1")
            arn = client.create_state_machine(
                name="bench", definition=json.dumps(definition),
                roleArn="arn:aws:iam::123456789012:role/bench",
            )["stateMachineArn"]
            t0 = time.perf_counter()
            execution = client.start_execution(stateMachineArn=arn, input=json.dumps(data))["executionArn"]
            while True:
                status = client.describe_execution(executionArn=execution)["status"]
                if status != "RUNNING":
                    break
                time.sleep(0.005)
            elapsed = time.perf_counter() - t0
            if status != "SUCCEEDED":
                raise RuntimeError(f"moto execution ended {status}")
            return elapsed

    return run


def main() -> int:
    quick = "--quick" in sys.argv
    podium_scale = 0.1 if quick else 1.0
    moto_scale = 0.01 if quick else 0.05
    print(f"{'workload':42} {'Podium tr/s':>12}")
    podium: dict[str, float] = {}
    for label, definition, data, transitions in workloads(podium_scale):
        rate = podium_rate(definition, data, transitions, repeat=3)
        podium[label[:3] + label.split("[")[1]] = rate
        print(f"{label:42} {rate:12,.0f}")
    moto = moto_runner()
    if moto is None:
        print("\nmoto is not installed: pip install 'moto[stepfunctions]==5.2.5' to print the baseline ratio")
        return 0
    print(f"\nbaseline: moto 5.2.5 executor (smaller sizes, same definitions)\n{'workload':42} {'moto tr/s':>12} {'Podium/moto':>12}")
    for label, definition, data, transitions in workloads(moto_scale):
        try:
            rate = transitions / moto(definition, data)
        except Exception as exc:  # noqa: BLE001 - moto lacks some features; say so and go on
            print(f"{label:42} {'failed':>12}   ({type(exc).__name__}: {str(exc)[:60]})")
            continue
        ours = podium[label[:3] + label.split("[")[1]]
        print(f"{label:42} {rate:12,.0f} {ours / rate:11,.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
