"""Event patterns: AWS's documented examples for every operator, validation errors with
their path, the indexed PatternSet, and a property test against a naive matcher."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.errors import ValidationError
from podium.triggers.patterns import PatternSet, compile_pattern

EC2_EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}


def matches(pattern, event) -> bool:
    return compile_pattern(pattern).matches(event)


def test_exact_values_and_nesting():
    assert matches({"source": ["aws.ec2"]}, EC2_EVENT)
    assert matches({"source": ["aws.s3", "aws.ec2"], "detail": {"state": ["terminated"]}}, EC2_EVENT)
    assert not matches({"source": ["AWS.EC2"]}, EC2_EVENT)  # case-sensitive
    assert not matches({"detail": {"state": ["running"]}}, EC2_EVENT)
    # Every field in the pattern must exist in the event.
    assert not matches({"detail": {"reason": ["x"]}}, EC2_EVENT)


def test_event_arrays_match_if_any_element_matches():
    pattern = {
        "resources": [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            "arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0",
        ]
    }
    assert matches(pattern, EC2_EVENT)
    assert not matches({"resources": ["arn:other"]}, EC2_EVENT)


def test_null_empty_string_numbers_and_booleans():
    event = {"detail": {"responseElements": None, "eventVersion": "", "count": 300, "ok": True}}
    assert matches({"detail": {"responseElements": [None]}}, event)
    assert matches({"detail": {"eventVersion": [""]}}, event)
    assert matches({"detail": {"count": [300.0]}}, event)
    assert not matches({"detail": {"count": ["300"]}}, event)
    assert matches({"detail": {"ok": [True]}}, event)
    assert not matches({"detail": {"ok": [1]}}, event)
    assert not matches({"detail": {"count": [True]}}, {"detail": {"count": 1}})
    assert not matches({"detail": {"missing": [None]}}, event)


def test_prefix_and_suffix():
    assert matches({"time": [{"prefix": "2017-12-22"}]}, EC2_EVENT)
    assert not matches({"time": [{"prefix": "2018"}]}, EC2_EVENT)
    assert matches({"FileName": [{"suffix": ".png"}]}, {"FileName": "image.png"})
    assert not matches({"FileName": [{"suffix": ".png"}]}, {"FileName": "image.PNG"})
    service = {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}
    for name in ("EventBridge", "EVENTBRIDGE", "eventbridge"):
        assert matches(service, {"detail": {"service": name}})
    assert not matches(service, {"detail": {"service": "Lambda"}})
    png = {"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}
    assert matches(png, {"detail": {"FileName": "A.PNG"}})
    # Prefix is a string operator: numbers never match.
    assert not matches({"n": [{"prefix": "1"}]}, {"n": 12})


def test_anything_but():
    state = {"detail": {"state": [{"anything-but": "initializing"}]}}
    assert matches(state, {"detail": {"state": "running"}})
    assert not matches(state, {"detail": {"state": "initializing"}})
    assert not matches(state, {"detail": {}})  # absent fields never match anything-but
    limit = {"detail": {"x-limit": [{"anything-but": 123}]}}
    assert matches(limit, {"detail": {"x-limit": 456}})
    assert not matches(limit, {"detail": {"x-limit": 123}})
    states = {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}
    assert matches(states, {"detail": {"state": "pending"}})
    assert not matches(states, {"detail": {"state": "stopped"}})
    limits = {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}
    assert matches(limits, {"detail": {"x-limit": 150}})
    assert not matches(limits, {"detail": {"x-limit": 300.0}})


def test_anything_but_with_operators():
    prefix = {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}
    assert matches(prefix, {"detail": {"state": "running"}})
    assert not matches(prefix, {"detail": {"state": "initializing"}})
    suffix = {"detail": {"FileName": [{"anything-but": {"suffix": ".txt"}}]}}
    assert matches(suffix, {"detail": {"FileName": "data.csv"}})
    assert not matches(suffix, {"detail": {"FileName": "notes.txt"}})
    case = {"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]}}
    assert matches(case, {"detail": {"state": "running"}})
    assert not matches(case, {"detail": {"state": "STOPPED"}})
    wildcard = {"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}}
    assert matches(wildcard, {"detail": {"FilePath": "/usr/bin/python"}})
    assert not matches(wildcard, {"detail": {"FilePath": "/usr/lib/python"}})


def test_numeric_ranges():
    pattern = {
        "detail": {
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"numeric": ["=", 3.018e2]}],
        }
    }
    assert matches(pattern, {"detail": {"c-count": 5, "d-count": 7, "x-limit": 301.8}})
    assert not matches(pattern, {"detail": {"c-count": 0, "d-count": 7, "x-limit": 301.8}})
    assert not matches(pattern, {"detail": {"c-count": 5, "d-count": 10, "x-limit": 301.8}})
    assert not matches(pattern, {"detail": {"c-count": "5", "d-count": 7, "x-limit": 301.8}})
    assert matches({"n": [{"numeric": [">=", -1.5]}]}, {"n": [-10, -1.5]})


def test_cidr():
    pattern = {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}
    assert matches(pattern, {"detail": {"sourceIPAddress": "10.0.0.255"}})
    assert not matches(pattern, {"detail": {"sourceIPAddress": "10.0.1.0"}})
    assert not matches(pattern, {"detail": {"sourceIPAddress": "not-an-ip"}})
    assert matches({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::1"})


def test_exists():
    present = {"detail": {"state": [{"exists": True}]}}
    absent = {"detail": {"c-count": [{"exists": False}]}}
    assert matches(present, EC2_EVENT)
    assert not matches(present, {"detail": {}})
    assert matches(absent, EC2_EVENT)
    assert not matches(absent, {"detail": {"c-count": 3}})
    assert matches(absent, {"other": 1})  # no detail at all: c-count is absent
    # exists looks at leaves only: a field that holds an object is not a leaf.
    assert not matches({"detail": [{"exists": True}]}, EC2_EVENT)
    assert matches({"detail": [{"exists": False}]}, EC2_EVENT)
    assert matches({"d": {"list": [{"exists": False}]}}, {"d": {"list": []}})
    assert matches({"d": {"v": [{"exists": True}]}}, {"d": {"v": None}})


def test_equals_ignore_case():
    pattern = {"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]}
    assert matches(pattern, EC2_EVENT)
    assert not matches(pattern, {"detail-type": "ec2 instance"})


@pytest.mark.parametrize(
    ("wildcard", "value", "expected"),
    [
        ("*.png", "image.png", True),
        ("*.png", "image.jpg", False),
        ("dir/*.png", "dir/a/b.png", True),
        ("dir/*/*.png", "dir/a/b.png", True),
        ("dir/*/*.png", "dir/b.png", False),
        ("arn:aws:events:us-east-1:*:event-bus/*", "arn:aws:events:us-east-1:123:event-bus/default", True),
        ("a\\*b", "a*b", True),
        ("a\\*b", "axxb", False),
        ("a.c", "abc", False),  # '.' is literal
    ],
)
def test_wildcard(wildcard, value, expected):
    assert matches({"f": [{"wildcard": wildcard}]}, {"f": value}) is expected


def test_or():
    pattern = {
        "detail": {
            "$or": [
                {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                {"d-count": [{"numeric": ["<", 10]}]},
                {"x-limit": [{"numeric": ["=", 3.018e2]}]},
            ]
        }
    }
    assert matches(pattern, {"detail": {"c-count": 3}})
    assert matches(pattern, {"detail": {"d-count": 3}})
    assert matches(pattern, {"detail": {"x-limit": 301.8}})
    assert not matches(pattern, {"detail": {"c-count": 30, "d-count": 30}})
    top = {"source": ["aws.ec2"], "$or": [{"detail-type": ["A"]}, {"detail": {"state": ["terminated"]}}]}
    assert matches(top, EC2_EVENT)
    assert not matches(top, {**EC2_EVENT, "source": "aws.s3"})


def test_arrays_of_objects_match_one_element_entirely():
    event = {"items": [{"name": "a", "qty": 1}, {"name": "b", "qty": 2}]}
    assert matches({"items": {"name": ["b"], "qty": [2]}}, event)
    assert not matches({"items": {"name": ["a"], "qty": [2]}}, event)


def test_several_values_mix_operators():
    pattern = {"state": ["stopped", {"prefix": "run"}, {"exists": False}]}
    assert matches(pattern, {"state": "stopped"})
    assert matches(pattern, {"state": "running"})
    assert matches(pattern, {})
    assert not matches(pattern, {"state": "pending"})


@pytest.mark.parametrize(
    ("pattern", "path", "reason"),
    [
        ("{not json", "pattern", "not valid JSON"),
        ([], "pattern", "JSON object"),
        ({}, "pattern", "at least one field"),
        ({"source": "aws.ec2"}, "source", "must be an array"),
        ({"source": []}, "source", "cannot be empty"),
        ({"detail": {}}, "detail", "at least one field"),
        ({"detail": {"state": [["x"]]}}, "detail.state[0]", "allowed values"),
        ({"a": [{"prefix": 1}]}, "a[0].prefix", "takes a string"),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, "a[0]", "exactly one operator"),
        ({"a": [{"contains": "x"}]}, "a[0].contains", "unknown operator 'contains'"),
        ({"a": [{"numeric": [">", "5"]}]}, "a[0].numeric[1]", "not a number"),
        ({"a": [{"numeric": ["~", 5]}]}, "a[0].numeric[0]", "unknown comparison"),
        ({"a": [{"numeric": [">", 5, "<", 1]}]}, "a[0].numeric", "below the upper bound"),
        ({"a": [{"numeric": [">", 5, ">", 1]}]}, "a[0].numeric", "two lower bounds"),
        ({"a": [{"numeric": [">", 5, "<"]}]}, "a[0].numeric", "[op, number]"),
        ({"a": [{"exists": "yes"}]}, "a[0].exists", "true or false"),
        ({"a": [{"anything-but": []}]}, "a[0].anything-but", "non-empty"),
        ({"a": [{"anything-but": ["x", 1]}]}, "a[0].anything-but", "only strings or only numbers"),
        ({"a": [{"anything-but": {"numeric": [">", 1]}}]}, "a[0].anything-but.numeric", "cannot wrap"),
        ({"a": [{"anything-but": {"prefix": ["x"]}}]}, "a[0].anything-but.prefix", "takes a string"),
        ({"a": [{"wildcard": "a**b"}]}, "a[0].wildcard", "consecutive"),
        ({"a": [{"wildcard": "a\\b"}]}, "a[0].wildcard", "may only escape"),
        ({"a": [{"cidr": "10.0.0.0/33"}]}, "a[0].cidr", "not a CIDR"),
        ({"$or": []}, "$or", "non-empty array"),
        ({"$or": [{"a": ["x"]}, {}]}, "$or[1]", "at least one field"),
    ],
)
def test_invalid_patterns_say_what_and_where(pattern, path, reason):
    with pytest.raises(ValidationError) as caught:
        compile_pattern(pattern)
    assert caught.value.code == "InvalidEventPattern"
    assert caught.value.details["path"] == path
    assert reason in caught.value.message


def test_compiled_pattern_accepts_json_text():
    assert compile_pattern('{"source": ["aws.ec2"]}').matches(EC2_EVENT)


def test_pattern_set_uses_the_index_and_keeps_rule_order():
    rules = [
        ("by-source", compile_pattern({"source": ["aws.ec2"]})),
        ("by-type", compile_pattern({"detail-type": ["EC2 Instance State-change Notification"]})),
        ("other-source", compile_pattern({"source": ["aws.s3"]})),
        ("unindexed", compile_pattern({"detail": {"state": ["terminated"]}})),
        ("prefix-source", compile_pattern({"source": [{"prefix": "aws."}]})),
    ]
    patterns = PatternSet(rules)
    assert patterns.matching(EC2_EVENT) == ["by-source", "by-type", "unindexed", "prefix-source"]
    candidates = [key for _, key, _ in patterns.candidates(EC2_EVENT)]
    assert "other-source" not in candidates
    assert patterns.matching({"detail": {"state": "terminated"}}) == ["unindexed"]
    # An event whose source is not a string falls back to trying every rule.
    assert patterns.matching({"source": ["aws.s3"]}) == ["other-source", "prefix-source"]


# ---- property: compiled matcher == a naive dict walk --------------------------------


def naive_match(pattern, event) -> bool:
    """Straightforward reference matcher for exact values, prefix, exists and nesting."""
    for key, expected in pattern.items():
        value = event.get(key) if isinstance(event, dict) else None
        present = isinstance(event, dict) and key in event
        if isinstance(expected, dict):
            if not naive_match(expected, value if isinstance(value, dict) else {}):
                return False
            continue
        leaves = [] if not present or isinstance(value, dict) else (value if isinstance(value, list) else [value])
        ok = False
        for allowed in expected:
            if isinstance(allowed, dict) and "exists" in allowed:
                ok = ok or (bool(leaves) == allowed["exists"])
            elif isinstance(allowed, dict):
                ok = ok or any(isinstance(v, str) and v.startswith(allowed["prefix"]) for v in leaves)
            else:
                ok = ok or any(type(v) is type(allowed) and v == allowed for v in leaves)
        if not ok:
            return False
    return True


keys = st.sampled_from(["a", "b", "c"])
scalars = st.one_of(st.sampled_from(["x", "xy", "y", ""]), st.integers(0, 3))
allowed_values = st.one_of(
    scalars,
    st.sampled_from(["x", "y"]).map(lambda p: {"prefix": p}),
    st.booleans().map(lambda b: {"exists": b}),
)
patterns = st.recursive(
    st.dictionaries(keys, st.lists(allowed_values, min_size=1, max_size=3), min_size=1, max_size=2),
    lambda inner: st.dictionaries(keys, inner, min_size=1, max_size=2),
    max_leaves=4,
)
events = st.recursive(
    st.dictionaries(keys, st.one_of(scalars, st.lists(scalars, max_size=2)), max_size=3),
    lambda inner: st.dictionaries(keys, st.one_of(scalars, inner), max_size=3),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(patterns, events)
def test_compiled_matcher_agrees_with_a_naive_walk(pattern, event):
    assert compile_pattern(pattern).matches(event) == naive_match(pattern, event)
