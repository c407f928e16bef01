"""JSON validity and the JSON-schema subset: hand-built cases for each supported keyword."""

from __future__ import annotations

import pytest

from pipeline_core.metrics import SchemaError, check_schema, get_metric, json_schema, json_valid, schema_violations

SCHEMA = {
    "type": "object",
    "required": ["label", "score"],
    "properties": {
        "label": {"type": "string", "enum": ["pos", "neg"]},
        "score": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "count": {"type": "integer"},
    },
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', 100.0),
        ("  [1, 2]\n", 100.0),
        ('"text"', 100.0),
        ('```json\n{"a": 1}\n```', 0.0),  # fences are not JSON
        ("{'a': 1}", 0.0),
        ("NaN", 0.0),  # Python's json accepts it; RFC 8259 does not
        ('{"a": Infinity}', 0.0),
        ("", 0.0),
    ],
)
def test_json_valid(text: str, expected: float) -> None:
    assert json_valid(text, ["ignored"]) == expected


def test_schema_conformance() -> None:
    metric = get_metric("json_schema", schema=SCHEMA)
    assert metric.score('{"label": "pos", "score": 0.9, "tags": ["x"], "count": 2.0}', []) == 100.0
    assert metric.score('{"label": "maybe", "score": 0.9}', []) == 0.0  # enum
    assert metric.score('{"label": "pos"}', []) == 0.0  # required
    assert metric.score('{"label": "pos", "score": "high"}', []) == 0.0  # property type
    assert metric.score('{"label": "pos", "score": 1, "tags": [1]}', []) == 0.0  # items
    assert metric.score('{"label": "pos", "score": 1, "count": 1.5}', []) == 0.0  # integer
    assert metric.score('{"label": "pos", "score": true}', []) == 0.0  # a boolean is not a number
    assert metric.score("not json", []) == 0.0


def test_violations_name_the_path() -> None:
    problems = schema_violations({"label": "pos", "tags": ["a", 3]}, SCHEMA)
    assert problems == ["$: missing required key 'score'", "$.tags[1]: expected string"]


def test_enum_distinguishes_true_from_one() -> None:
    assert schema_violations(True, {"enum": [1]}) == ["$: not one of the allowed values"]
    assert schema_violations(1.0, {"enum": [1]}) == []


def test_unsupported_keywords_are_refused() -> None:
    with pytest.raises(SchemaError, match="minimum"):
        check_schema({"type": "number", "minimum": 0})
    with pytest.raises(SchemaError, match="type"):
        check_schema({"type": "decimal"})
    check_schema({"$schema": "x", "title": "t", "type": ["string", "null"]})  # annotations are fine


def test_json_schema_without_a_schema_uses_the_reference_shape() -> None:
    reference = '{"label": "pos", "score": 0.5, "tags": ["a"]}'
    assert json_schema('{"label": "neg", "score": 1, "tags": []}', [reference]) == 100.0
    assert json_schema('{"label": "neg", "score": 1}', [reference]) == 0.0  # missing key
    assert json_schema('{"label": "neg", "score": "1", "tags": []}', [reference]) == 0.0
    assert json_schema('{"a": 1}', ["not json"]) == 0.0  # no JSON reference, nothing to conform to
