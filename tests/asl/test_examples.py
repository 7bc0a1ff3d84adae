"""The example workflows in examples/workflows/ validate and run as documented."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from podium.asl import execute
from podium.asl.loader import load_definition_file
from podium.asl.validate import validate

EXAMPLES = Path(__file__).parents[2] / "examples" / "workflows"
DEFINITIONS = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".json", ".yaml") and ".input" not in p.name)


def _handlers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_workflow_handlers", EXAMPLES / "handlers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _input(name: str) -> Any:
    return json.loads((EXAMPLES / f"{name}.input.json").read_text())


def _states_used(doc: Any) -> set[str]:
    found: set[str] = set()
    for state in doc["States"].values():
        found.add(state["Type"])
        for branch in state.get("Branches", []):
            found |= _states_used(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                found |= _states_used(state[key])
    return found


def test_there_are_examples() -> None:
    assert {p.name for p in DEFINITIONS} >= {
        "every_state.json", "jsonata_variables.json", "intrinsics.json", "polling_loop.yaml",
    }


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.name)
def test_every_example_validates(path: Path) -> None:
    assert validate(load_definition_file(path)) == []


def test_every_state_type_with_retry_and_catch() -> None:
    doc = load_definition_file(EXAMPLES / "every_state.json")
    assert _states_used(doc) == {"Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}
    functions = {"score": _handlers().score}

    ok = execute(doc, _input("every_state"), functions=functions)
    assert ok.status == "SUCCEEDED", (ok.error, ok.cause)
    assert ok.output["risk"] == {"score": 0.06}
    assert ok.output["fulfilment"] == {
        "stock": {"reserved": True},
        "parcels": [{"sku": "mug", "packed": True}, {"sku": "tea", "packed": True}],
    }

    # A medium score on a big order waits for review (virtual clock: no real wait).
    held = execute(doc, {"order": {"id": "o-2", "amount": 1500, "items": [{"sku": "a"}, {"sku": "b"}]}},
                   functions=functions)
    assert held.status == "SUCCEEDED"
    assert "WaitStateEntered" in [e["type"] for e in held.events]

    # The handler raises; Catch sends the run to the Fail state.
    failed = execute(doc, {"order": {"id": "o-3", "amount": None, "items": []}}, functions=functions)
    assert (failed.status, failed.error) == ("FAILED", "OrderRejected")


def test_jsonata_with_variables() -> None:
    doc = load_definition_file(EXAMPLES / "jsonata_variables.json")
    run = execute(doc, _input("jsonata_variables"))
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert run.output == {
        "customer": "Ada", "items": 3, "total": 114.6, "basket": "large",
        "message": "Thanks Ada, you paid 114.6",
    }
    small = execute(doc, {"customer": "Bo", "prices": [1, 2]})
    assert small.output["basket"] == "small"


def test_intrinsic_functions() -> None:
    run = execute(load_definition_file(EXAMPLES / "intrinsics.json"), _input("intrinsics"))
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    out = run.output
    assert out["title"] == "Order 41 for Ada"
    assert out["itemCount"] == 3
    assert out["distinctItems"] == ["tea", "mug"]
    assert out["boxes"] == [["tea", "mug"], ["tea"]]
    assert out["tags"] == ["gift", "fragile"]
    assert out["nextOrderId"] == 42
    assert out["evenNumbers"] == [0, 2, 4, 6]
    assert out["customerBase64"] == "QWRh"
    assert out["order"] == {"id": 41, "status": "paid"}


def test_polling_loop_in_yaml() -> None:
    doc = load_definition_file(EXAMPLES / "polling_loop.yaml")
    run = execute(doc, {"job": "j-1"}, functions={"job_status": _handlers().job_status})
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert run.output == {"job": "j-1", "last": {"status": "DONE"}}
    assert [e["type"] for e in run.events].count("TaskScheduled") == 3

    never = execute(doc, {"job": "j-2"}, functions={"job_status": lambda event, context: {"status": "RUNNING"}})
    assert (never.status, never.error) == ("FAILED", "JobTimeout")
