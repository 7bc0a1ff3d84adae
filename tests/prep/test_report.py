"""The HTML data-quality report, parsed: columns, plots, duplicates, leakage and correlation."""

from __future__ import annotations

from html.parser import HTMLParser

import pyarrow as pa

from podium.prep import parse_recipe
from podium.prep.report import recipe_report, render_html


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _data() -> pa.Table:
    n = 200
    x = [float(i % 50) for i in range(n)]
    return pa.table(
        {
            "x": x,
            "x2": [v * 2 + 1 for v in x],  # perfectly correlated with x
            "leak": [v * 10 for v in x],  # leaks the target
            "city": ["paris" if i % 3 else None for i in range(n)],
            "target": x,
            "label": ["hi" if v > 25 else "lo" for v in x],
            "code": [("H" if v > 25 else "L") for v in x],
        }
    )


def test_report_contents_and_plots() -> None:
    report = recipe_report(None, _data(), target="target")
    html = render_html(report)
    parsed = _Collect()
    parsed.feed(html)
    svgs = [a for t, a in parsed.tags if t == "svg"]
    rects = [a for t, a in parsed.tags if t == "rect"]
    assert len(svgs) >= 2 * 5 and len(rects) > 50  # a histogram and top values per numeric column
    text = " ".join(parsed.text)
    assert "duplicate rows" in text
    assert report.rows == 200 and report.duplicate_rows == 100  # (x, city) repeats every 150 rows
    cols = {c.name: c for c in report.columns}
    assert cols["city"].missing == 67 and cols["x"].distinct in range(48, 53)
    assert sum(n for _, n in cols["x"].histogram) == 200
    assert cols["city"].top == [("paris", 133)]
    leaks = {h["column"] for h in report.hints if h["kind"] == "leakage"}
    assert {"leak", "x", "x2"} <= leaks
    assert any((a, b) == ("x", "x2") for a, b, _ in report.correlations)
    assert "likely target leakage" in text


def test_categorical_leakage_by_purity_and_recipe_applied() -> None:
    recipe = parse_recipe([{"op": "drop", "columns": ["leak", "x2"]}])
    report = recipe_report(recipe, _data(), target="label")
    names = [c.name for c in report.columns]
    assert "leak" not in names
    leaks = {h["column"] for h in report.hints if h["kind"] == "leakage"}
    assert "code" in leaks and "city" not in leaks


def test_outliers_use_robust_std() -> None:
    values = [float(i % 10) for i in range(100)] + [1000.0]
    report = recipe_report(None, pa.table({"v": values}))
    assert report.columns[0].outliers == 1
