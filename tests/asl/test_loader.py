"""Loading definitions from JSON/YAML text: line-aware errors, duplicate keys, line index."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.asl.loader import line_index, load_definition_file, load_definition_text
from podium.errors import NotFoundError, ValidationError

JSON_TEXT = """{
  "StartAt": "A",
  "States": {
    "A": {
      "Type": "Pass",
      "End": true
    }
  }
}"""


def test_json_and_yaml_give_the_same_document() -> None:
    yaml_text = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n"
    assert load_definition_text(JSON_TEXT) == load_definition_text(yaml_text)


def test_json_error_names_line_and_column() -> None:
    with pytest.raises(ValidationError) as info:
        load_definition_text('{\n  "StartAt": "A",\n  "States": {"A": }\n}', source="flow.json")
    assert info.value.code == "PARSE_ERROR"
    assert "flow.json" in info.value.message and "line 3" in info.value.message


def test_yaml_error_names_the_line() -> None:
    with pytest.raises(ValidationError) as info:
        load_definition_text("StartAt: A\nStates:\n  A: [unclosed\n")
    assert info.value.code == "PARSE_ERROR"
    assert "line" in info.value.message


@pytest.mark.parametrize(
    "text",
    ['{"StartAt": "A", "StartAt": "B", "States": {}}', "StartAt: A\nStates: {}\nStartAt: B\n"],
)
def test_duplicate_keys_are_rejected(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        load_definition_text(text)
    assert info.value.code == "DUPLICATE_KEY"
    assert "StartAt" in info.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_definition_file(tmp_path / "nope.json")


def test_line_index_maps_pointers_to_lines() -> None:
    lines = line_index(JSON_TEXT)
    assert lines["/StartAt"] == 2
    assert lines["/States/A"] == 4
    assert lines["/States/A/End"] == 6
    assert line_index("{not json: [") == {}


def test_yaml_timestamps_and_dates_stay_strings() -> None:
    doc = load_definition_text("StartAt: W\nStates:\n  W:\n    Type: Wait\n    Timestamp: 2016-03-14T01:59:00Z\n"
                               "    End: true\nComment: 2024-01-01\n")
    assert doc["States"]["W"]["Timestamp"] == "2016-03-14T01:59:00Z"
    assert doc["Comment"] == "2024-01-01"
