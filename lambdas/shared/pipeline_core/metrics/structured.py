"""Structured-output metrics: is the answer valid JSON, and does it conform to a small JSON-schema subset.

We write the validator ourselves rather than bundle the `jsonschema` package because the Lambda asset
must stay dependency-free, and the subset a fine-tuning task needs (type, required, properties, enum,
items) is about fifty lines. Schemas using any other validation keyword are refused, never half-checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

JsonValue = Any  # what json.loads returns; the validator inspects it at run time

# Keywords we check, and annotations we accept and ignore because they never affect validity.
SUPPORTED_KEYWORDS = frozenset({"type", "required", "properties", "enum", "items"})
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "examples", "default", "$comment"})
_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


class SchemaError(ValueError):
    """The schema itself uses something outside the supported subset or is malformed."""


def _reject_constant(name: str) -> JsonValue:
    # json.loads accepts NaN and Infinity, which are not JSON (RFC 8259); a consumer would choke on them.
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str) -> tuple[bool, JsonValue]:
    """(True, value) when the whole text, less surrounding whitespace, is one strict JSON value."""
    try:
        return True, json.loads(text.strip(), parse_constant=_reject_constant)
    except ValueError:  # json.JSONDecodeError is a ValueError
        return False, None


def json_valid(prediction: str, references: Sequence[str]) -> float:
    """100 when the prediction is strict JSON (no code fences, no NaN), else 0; references are unused."""
    del references  # same signature as every metric
    return 100.0 if parse_json(prediction)[0] else 0.0


def check_schema(schema: JsonValue, path: str = "#") -> None:
    """Raise SchemaError unless the schema stays within the supported subset."""
    if not isinstance(schema, Mapping):
        raise SchemaError(f"{path}: a schema must be a JSON object")
    unknown = set(schema) - SUPPORTED_KEYWORDS - _ANNOTATIONS
    if unknown:
        supported = ", ".join(sorted(SUPPORTED_KEYWORDS))
        raise SchemaError(f"{path}: unsupported keyword(s) {', '.join(sorted(unknown))}; supported: {supported}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not types or any(t not in _TYPES for t in types):
            raise SchemaError(f"{path}/type: must be one of {', '.join(sorted(_TYPES))} or a list of them")
    if "required" in schema and not (
        isinstance(schema["required"], list) and all(isinstance(k, str) for k in schema["required"])
    ):
        raise SchemaError(f"{path}/required: must be a list of strings")
    if "enum" in schema and not isinstance(schema["enum"], list):
        raise SchemaError(f"{path}/enum: must be a list")
    if "properties" in schema:
        if not isinstance(schema["properties"], Mapping):
            raise SchemaError(f"{path}/properties: must be an object")
        for key, sub in schema["properties"].items():
            check_schema(sub, f"{path}/properties/{key}")
    if "items" in schema:
        check_schema(schema["items"], f"{path}/items")


def _has_type(value: JsonValue, type_name: str) -> bool:
    # bool is an int subclass in Python but a distinct type in JSON.
    if type_name == "object":
        return isinstance(value, dict)
    if type_name == "array":
        return isinstance(value, list)
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if type_name == "integer":
        # JSON Schema counts 1.0 as an integer: it is a number with a zero fractional part.
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return isinstance(value, int | float)  # "number"


def _json_equal(a: JsonValue, b: JsonValue) -> bool:
    """Equality as JSON sees it: true is not 1, and 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def schema_violations(value: JsonValue, schema: Mapping[str, JsonValue], path: str = "$") -> list[str]:
    """Every way the value breaks the schema, as 'path: problem' strings; empty when it conforms."""
    problems: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_has_type(value, t) for t in types):
            problems.append(f"{path}: expected {' or '.join(types)}")
            return problems  # deeper checks would only repeat the type error
    if "enum" in schema and not any(_json_equal(value, option) for option in schema["enum"]):
        problems.append(f"{path}: not one of the allowed values")
    if isinstance(value, dict):
        problems.extend(
            f"{path}: missing required key {key!r}" for key in schema.get("required", []) if key not in value
        )
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                problems.extend(schema_violations(value[key], sub, f"{path}.{key}"))
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems.extend(schema_violations(item, schema["items"], f"{path}[{index}]"))
    return problems


def infer_schema(example: JsonValue) -> dict[str, JsonValue]:
    """The schema of an example answer's shape: its types, every object key required, array items like the first."""
    if isinstance(example, dict):
        return {
            "type": "object",
            "required": sorted(example),
            "properties": {key: infer_schema(value) for key, value in example.items()},
        }
    if isinstance(example, list):
        return {"type": "array", "items": infer_schema(example[0])} if example else {"type": "array"}
    if isinstance(example, bool):
        return {"type": "boolean"}
    if isinstance(example, int | float):
        return {"type": "number"}  # 3 and 3.5 are the same kind of answer
    if isinstance(example, str):
        return {"type": "string"}
    return {"type": "null"}


def conforms(prediction: str, schema: Mapping[str, JsonValue]) -> bool:
    """True when the prediction is strict JSON and breaks nothing in the schema."""
    ok, value = parse_json(prediction)
    return ok and not schema_violations(value, schema)


def json_schema(prediction: str, references: Sequence[str]) -> float:
    """100 when the prediction is JSON shaped like a reference answer (schema inferred from it), else 0.

    This is the registry's `json_schema` with no schema configured: each reference that is itself JSON
    supplies a schema by `infer_schema`, and the best reference counts. Use `json_schema_metric(schema)`
    to check against an explicit schema instead.
    """
    for reference in references:
        ok, example = parse_json(reference)
        if ok and conforms(prediction, infer_schema(example)):
            return 100.0
    return 0.0


class SchemaConformance:
    """The `json_schema` metric bound to an explicit schema (checked once, when bound)."""

    def __init__(self, schema: Mapping[str, JsonValue]) -> None:
        check_schema(schema)
        self.schema = schema

    def __call__(self, prediction: str, references: Sequence[str]) -> float:
        del references  # the schema, not the reference, defines a correct shape here
        return 100.0 if conforms(prediction, self.schema) else 0.0
