"""The report's inline SVG plots."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from podium.demo.report import bar_chart, line_chart, traffic_series


def test_traffic_series_gives_the_share_of_each_config_per_bucket() -> None:
    replies = [(100.0, 200, "blue"), (100.1, 200, "blue"), (100.6, 200, "blue"), (100.7, 200, "green"),
               (101.2, 200, "green")]
    series = traffic_series(replies, bucket=0.5)
    assert series["blue"] == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)]
    assert series["green"] == [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0)]
    assert traffic_series([]) == {}


def test_charts_are_well_formed_svg_with_their_data() -> None:
    line = ET.fromstring(line_chart("AUC", {"night 1": [(1, 0.6), (2, 0.7)]}, "step", "auc"))
    assert line.tag.endswith("svg")
    assert len([e for e in line.iter() if e.tag.endswith("circle")]) == 2
    bars = ET.fromstring(bar_chart("rows", ["a", "b"], {"written": [10, 20], "quarantined": [1, 0]}, log=True))
    assert len([e for e in bars.iter() if e.tag.endswith("rect")]) == 4


def test_empty_data_says_so() -> None:
    assert "no data" in line_chart("AUC", {}, "x", "y")
    assert "no data" in bar_chart("rows", [], {})
