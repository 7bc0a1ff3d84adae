"""ASL expression layer: per-call cost of paths, payload templates and JSONata, vs baselines.

Each row evaluates one compiled expression many times and prints nanoseconds per call for a
baseline and for Podium, measured in the same run, and their ratio (baseline / Podium).

- JSONPath select: jsonpath-ng (what moto's executor uses), parsed once, `find()` per call,
  vs `podium.asl.jsonpath.compile_path(...).select`.
- Parameters render: a template rendered by evaluating each `.$` key with jsonpath-ng
  (parsed once) vs `podium.asl.payload.compile_template(...).render`.
- JSONata: jsonata-python evaluating the same expression vs `podium.asl.jsonata` (which walks
  simple paths natively and falls back to the library otherwise).

jsonpath-ng is not one of Podium's dependencies: when it is not installed beside Podium, the
jsonpath-ng rows are measured by re-running this script (--baseline-peer) in the moto
virtualenv of asl_bench.py, bench/peers/.venv-moto, which has it (moto depends on it).

Usage: .venv/bin/python bench/asl_expressions_bench.py [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

PEER_PYTHON = Path(__file__).parent / "peers" / ".venv-moto" / "bin" / "python"

DOC: dict[str, Any] = {
    "counter": 7,
    "order": {"id": "o-1", "customer": {"name": "Ada", "tier": "gold"}},
    "items": [{"sku": f"s{i}", "price": i * 1.5, "qty": i % 3} for i in range(20)],
}
PATHS = ("$.counter", "$.order.customer.name", "$.items[3].price", "$.items[?(@.qty == 1)].sku")
TEMPLATE = {"step": 3, "value.$": "$.counter", "who.$": "$.order.customer.name", "const": {"a": 1}}
TEMPLATE_LABEL = "render Parameters (2 paths, 2 constants)"


def per_call_ns(fn: Callable[[], Any], number: int) -> float:
    best = min(timeit.repeat(fn, number=number, repeat=3))
    return best / number * 1e9


def jsonpath_ng_rows(number: int) -> dict[str, dict[str, Any]]:
    """The baseline: jsonpath-ng, parsed once, per label {"ns": per call, "value": result}."""
    from jsonpath_ng.ext import parse as jsonpath_ng_parse

    rows: dict[str, dict[str, Any]] = {}
    for text in PATHS:
        expr = jsonpath_ng_parse(text)
        rows[f"select {text}"] = {"ns": per_call_ns(lambda e=expr: e.find(DOC), number),
                                  "value": [m.value for m in expr.find(DOC)]}
    compiled = {k[:-2]: jsonpath_ng_parse(v) for k, v in TEMPLATE.items() if k.endswith(".$")}
    statics = {k: v for k, v in TEMPLATE.items() if not k.endswith(".$")}

    def render() -> dict[str, Any]:
        out = dict(statics)
        for key, expr in compiled.items():
            out[key] = expr.find(DOC)[0].value
        return out

    rows[TEMPLATE_LABEL] = {"ns": per_call_ns(render, number), "value": render()}
    return rows


def baseline_rows(number: int) -> dict[str, dict[str, Any]] | None:
    try:
        return jsonpath_ng_rows(number)
    except ImportError:
        pass
    if not PEER_PYTHON.exists():
        return None
    proc = subprocess.run([str(PEER_PYTHON), __file__, "--baseline-peer", str(number)],
                          capture_output=True, text=True, check=True)
    rows: dict[str, dict[str, Any]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return rows


def row(label: str, baseline_ns: float, podium: Callable[[], Any], number: int) -> None:
    p = per_call_ns(podium, number)
    print(f"{label:44s} {baseline_ns:10.0f} {p:10.0f} {baseline_ns / p:8.1f}x")


def jsonpath_rows(number: int, baseline: dict[str, dict[str, Any]]) -> None:
    from podium.asl.jsonpath import compile_path
    from podium.asl.payload import compile_template

    for text in PATHS:
        path = compile_path(text)
        expected = baseline[f"select {text}"]["value"]
        assert expected == ([path.select(DOC)] if path.definite else path.select(DOC))
        row(f"select {text}", baseline[f"select {text}"]["ns"], lambda p=path: p.select(DOC), number)
    template = compile_template(TEMPLATE)
    assert baseline[TEMPLATE_LABEL]["value"] == template.render(DOC)
    row(TEMPLATE_LABEL, baseline[TEMPLATE_LABEL]["ns"], lambda: template.render(DOC), number)


def jsonata_rows(number: int) -> None:
    import jsonata as jsonata_lib

    from podium.asl.jsonata import compile_jsonata

    states = {"input": DOC, "context": {}}
    for text in ("$states.input.order.customer.name", "$sum($states.input.items.price)"):
        library = jsonata_lib.Jsonata(text)
        expression = compile_jsonata("{% " + text + " %}")
        assert library.evaluate(None, {"states": states}) == expression.evaluate(states, {})
        n = max(1, number // 20)
        baseline_ns = per_call_ns(lambda lib=library: lib.evaluate(None, {"states": states}), n)
        row(f"jsonata {text}", baseline_ns, lambda e=expression: e.evaluate(states, {}), n)


def main() -> None:
    if "--baseline-peer" in sys.argv:
        print(json.dumps(jsonpath_ng_rows(int(sys.argv[sys.argv.index("--baseline-peer") + 1]))))
        return
    number = 2_000 if "--quick" in sys.argv else 20_000
    print(f"{'expression (ns per call)':44s} {'baseline':>10s} {'podium':>10s} {'ratio':>9s}")
    baseline = baseline_rows(number)
    if baseline is None:
        print("jsonpath-ng rows skipped: install jsonpath-ng, or build bench/peers/.venv-moto (see asl_bench.py)")
    else:
        jsonpath_rows(number, baseline)
    jsonata_rows(number)


if __name__ == "__main__":
    main()
