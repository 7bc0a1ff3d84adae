"""Rule target input: constant, input path, input transformer templates."""

import pytest

from podium.errors import ValidationError
from podium.triggers.transform import JsonPath, TargetInput

EVENT = {
    "id": "e1",
    "source": "podium.lake",
    "detail-type": "Object Created",
    "resources": ["lake://raw/a.parquet"],
    "detail": {"bucket": "raw", "key": "a.parquet", "size": 42, "tags": {"x": 1}},
}


def render(target: TargetInput):
    return target.render(EVENT, rule_name="on-file", ingestion_time="2026-01-05T10:00:00+00:00")


def test_paths():
    assert JsonPath.parse("$.detail.key", "p").select(EVENT) == "a.parquet"
    assert JsonPath.parse("$['detail-type']", "p").select(EVENT) == "Object Created"
    assert JsonPath.parse("$.resources[0]", "p").select(EVENT) == "lake://raw/a.parquet"
    assert JsonPath.parse("$", "p").select(EVENT) == EVENT
    with pytest.raises(ValidationError, match="starts with"):
        JsonPath.parse("detail.key", "p")
    with pytest.raises(ValidationError, match="cannot read"):
        JsonPath.parse("$.detail..key", "p")


def test_whole_event_constant_and_input_path():
    assert render(TargetInput.create()) == EVENT
    assert render(TargetInput.create(input={"fixed": True})) == {"fixed": True}
    assert render(TargetInput.create(input_path="$.detail.tags")) == {"x": 1}
    with pytest.raises(ValidationError, match="at most one"):
        TargetInput.create(input={}, input_path="$.detail")


def test_json_template_inserts_json_values():
    target = TargetInput.create(
        input_transformer={
            "input_paths_map": {"key": "$.detail.key", "size": "$.detail.size", "tags": "$.detail.tags"},
            "input_template": '{"file": <key>, "bytes": <size>, "tags": <tags>, "rule": <aws.events.rule-name>}',
        }
    )
    assert render(target) == {"file": "a.parquet", "bytes": 42, "tags": {"x": 1}, "rule": "on-file"}


def test_variables_inside_strings_are_inserted_as_text():
    target = TargetInput.create(
        input_transformer={
            "input_paths_map": {"key": "$.detail.key", "size": "$.detail.size", "gone": "$.detail.nope"},
            "input_template": '{"message": "file <key> has <size> bytes<gone>", "missing": <gone>}',
        }
    )
    assert render(target) == {"message": "file a.parquet has 42 bytes", "missing": None}


def test_plain_text_template():
    target = TargetInput.create(
        input_transformer={"input_paths_map": {"k": "$.detail.key"}, "input_template": "new file <k>"}
    )
    assert render(target) == "new file a.parquet"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"input_paths_map": {}}, "needs input_template"),
        ({"input_template": "<nope>"}, "<nope> is not in input_paths_map"),
        ({"input_template": "x", "input_paths_map": {"aws.x": "$.a"}}, "not 'aws.'"),
        ({"input_template": "x", "input_paths_map": {"a": "a"}}, r"starts with '\$'"),
        ({"input_template": "x", "extra": 1}, "unknown keys"),
    ],
)
def test_invalid_transformers(spec, message):
    with pytest.raises(ValidationError, match=message):
        TargetInput.create(input_transformer=spec)


def test_round_trip_to_dict():
    spec = {"input_paths_map": {"k": "$.detail.key"}, "input_template": "<k>"}
    assert TargetInput.create(input_transformer=spec).to_dict() == {"input_transformer": spec}
    assert TargetInput.create(input_path="$.detail").to_dict() == {"input_path": "$.detail"}
    assert TargetInput.create().to_dict() == {}
