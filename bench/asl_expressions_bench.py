"""ASL expression layer: per-call cost of paths, payload templates and JSONata, vs baselines.

Each row evaluates one compiled expression many times and prints nanoseconds per call for a
baseline and for Podium, measured in the same run, and their ratio (baseline / Podium).

- JSONPath select: jsonpath-ng (what moto's executor uses), parsed once, `find()` per call,
  vs `podium.asl.jsonpath.compile_path(...).select`.
- Parameters render: a template rendered by evaluating each `.$` key with jsonpath-ng
  (parsed once) vs `podium.asl.payload.compile_template(...).render`.
- JSONata: jsonata-python evaluating the same expression vs `podium.asl.jsonata` (which walks
  simple paths natively and falls back to the library otherwise).

Usage: .venv/bin/python bench/asl_expressions_bench.py [--quick]
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from typing import Any

import jsonata as jsonata_lib
from jsonpath_ng.ext import parse as jsonpath_ng_parse

from podium.asl.jsonata import compile_jsonata
from podium.asl.jsonpath import compile_path
from podium.asl.payload import compile_template

DOC: dict[str, Any] = {
    "counter": 7,
    "order": {"id": "o-1", "customer": {"name": "Ada", "tier": "gold"}},
    "items": [{"sku": f"s{i}", "price": i * 1.5, "qty": i % 3} for i in range(20)],
}


def per_call_ns(fn: Callable[[], Any], number: int) -> float:
    best = min(timeit.repeat(fn, number=number, repeat=3))
    return best / number * 1e9


def row(label: str, baseline: Callable[[], Any], podium: Callable[[], Any], number: int) -> None:
    b = per_call_ns(baseline, number)
    p = per_call_ns(podium, number)
    print(f"{label:44s} {b:10.0f} {p:10.0f} {b / p:8.1f}x")


def jsonpath_rows(number: int) -> None:
    for text in ("$.counter", "$.order.customer.name", "$.items[3].price", "$.items[?(@.qty == 1)].sku"):
        baseline = jsonpath_ng_parse(text)
        path = compile_path(text)
        if path.definite:
            assert [m.value for m in baseline.find(DOC)] == [path.select(DOC)]
        else:
            assert [m.value for m in baseline.find(DOC)] == path.select(DOC)
        row(f"select {text}", lambda b=baseline: b.find(DOC), lambda p=path: p.select(DOC), number)


def template_row(number: int) -> None:
    source = {"step": 3, "value.$": "$.counter", "who.$": "$.order.customer.name", "const": {"a": 1}}
    compiled = {k[:-2]: jsonpath_ng_parse(v) for k, v in source.items() if k.endswith(".$")}
    statics = {k: v for k, v in source.items() if not k.endswith(".$")}

    def baseline() -> dict[str, Any]:
        out = dict(statics)
        for key, expr in compiled.items():
            out[key] = expr.find(DOC)[0].value
        return out

    template = compile_template(source)
    assert baseline() == template.render(DOC)
    row("render Parameters (2 paths, 2 constants)", baseline, lambda: template.render(DOC), number)


def jsonata_rows(number: int) -> None:
    states = {"input": DOC, "context": {}}
    for text in ("$states.input.order.customer.name", "$sum($states.input.items.price)"):
        library = jsonata_lib.Jsonata(text)
        expression = compile_jsonata("{% " + text + " %}")
        assert library.evaluate(None, {"states": states}) == expression.evaluate(states, {})
        row(
            f"jsonata {text}",
            lambda lib=library: lib.evaluate(None, {"states": states}),
            lambda e=expression: e.evaluate(states, {}),
            max(1, number // 20),
        )


def main() -> None:
    number = 2_000 if "--quick" in sys.argv else 20_000
    print(f"{'expression (ns per call)':44s} {'baseline':>10s} {'podium':>10s} {'ratio':>9s}")
    jsonpath_rows(number)
    template_row(number)
    jsonata_rows(number)


if __name__ == "__main__":
    main()
