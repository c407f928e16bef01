"""The shared config reader: null only where a key documents it, list items named by index, misspellings found."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from pipeline_core.config import ConfigError, ConfigReader, misspelling_of
from pipeline_core.manifest import InvalidManifest, RunDefaults, parse_manifest


def test_a_present_null_is_refused_and_an_absent_key_takes_its_default() -> None:
    assert ConfigReader({}).number("n", 3, 1, 10, integer=True) == 3
    with pytest.raises(ConfigError) as err:
        ConfigReader({"n": None}, "doc").number("n", 3, 1, 10, integer=True)
    assert (
        str(err.value)
        == "doc.n = null is not allowed: expected an integer from 1 to 10 (remove the key to use the default)"
    )
    assert err.value.key == "doc.n"


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        (
            lambda r: r.boolean("k", True),
            "k = null is not allowed: expected true or false (remove the key to use the default)",
        ),
        (lambda r: r.choice("k", "a", ("a", "b")), "k = null is not allowed: expected one of a, b"),
        (
            lambda r: r.string("k", "x", r"x", "the letter x"),
            "k = null is not allowed: expected the letter x (remove the key to use the default)",
        ),
        (
            lambda r: r.string("k", None, r"x", "the letter x"),
            "k = null is not allowed: expected the letter x (remove the key to leave it unset)",
        ),
        (lambda r: r.string_list("k", [], 2, "a short list"), "k = null is not allowed: expected a short list"),
        (
            lambda r: r.section("k", lambda c: c.raw),
            "k = null is not allowed: expected an object (remove the key to use the default)",
        ),
    ],
    ids=["boolean", "choice", "string", "string-without-default", "list", "section"],
)
def test_every_kind_of_value_refuses_null(read: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        read(ConfigReader({"k": None}))
    assert str(err.value).startswith(expected)


def test_null_is_accepted_only_where_the_key_documents_it() -> None:
    reader = ConfigReader({"email": None, "loss": None})
    assert reader.string("email", None, r".+@.+", "an address", nullable=True) is None
    assert reader.optional_number("loss", 0.0, 10.0) is None
    reader.finish()  # both keys count as used
    assert ConfigReader({"loss": 2}).optional_number("loss", 0.0, 10.0) == 2.0
    with pytest.raises(ConfigError, match=r"expected a number from 0\.0 to 10\.0"):
        ConfigReader({"loss": 11}).optional_number("loss", 0.0, 10.0)


def test_a_bad_list_item_is_named_by_its_index_under_the_lists_key() -> None:
    reader = ConfigReader({"ids": ["ab", "a b"]}, "doc")
    with pytest.raises(ConfigError) as err:
        reader.string_list("ids", [], 3, "up to 3 ids", item_pattern=r"[a-z]+", item_described="lower-case letters")
    assert str(err.value) == "doc.ids[1] = 'a b' is not allowed: expected lower-case letters"
    assert err.value.key == "doc.ids"  # a manifest error finds the list's line
    with pytest.raises(ConfigError, match=r"^doc\.ids\[0\] = null is not allowed"):
        ConfigReader({"ids": [None]}, "doc").string_list("ids", [], 3, "up to 3 ids")
    with pytest.raises(ConfigError, match=r"^doc\.ids\[0\] = '' is not allowed: expected a non-empty string"):
        ConfigReader({"ids": [""]}, "doc").string_list("ids", [], 3, "up to 3 ids")


@pytest.mark.parametrize("items", [[], ["a"], ["a", "b", "c"]], ids=["none", "one", "at-the-maximum"])
def test_a_list_up_to_its_maximum_is_read(items: list[str]) -> None:
    assert ConfigReader({"ids": items}).string_list("ids", [], 3, "up to 3 ids") == items


def test_a_list_above_its_maximum_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^ids = \['a', 'b', 'c', 'd'\] is not allowed: expected up to 3 ids$"):
        ConfigReader({"ids": ["a", "b", "c", "d"]}).string_list("ids", [], 3, "up to 3 ids")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("pipline", True),
        ("Pipeline", True),
        ("PIPELINE", True),
        ("pipelines", True),
        ("pipeline", False),  # the key itself
        ("team", False),
        ("@aws-cdk/core:stackRelativeExports", False),
        ("pip", False),
    ],
)
def test_misspelling_of(key: str, expected: bool) -> None:
    assert misspelling_of(key, "pipeline") is expected


# ---- run.json reads through the same reader ----------------------------------------------------------------------

DEFAULTS = RunDefaults(
    pipeline_name="finetune",
    base_model_id="anthropic.claude-3-haiku-20240307-v1:0:200k",
    hyperparameters={"epochCount": "2"},
    split={"validation_share": 0.1, "test_share": 0.1, "seed": 13},
    evaluation={"metric": "token_f1", "max_tokens": 512, "concurrency": 4, "reference_models": [], "gate": {}},
    throughput={"keep_after_promotion": True},
    max_validation_loss=2.0,
    price_per_1k_training_tokens=None,
    poll={},
)


def _parse(manifest: dict[str, Any]) -> Any:
    text = json.dumps({"train": "train.jsonl", **manifest}, indent=2)
    return parse_manifest(text, source="runs/x/run.json", defaults=DEFAULTS, region="us-west-2")


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ({"keepThroughput": None}, "line 3: keepThroughput = null is not allowed: expected true or false"),
        ({"evaluation": None}, "line 3: evaluation = null is not allowed: expected an object"),
        ({"evaluation": {"maxTokens": None}}, "line 4: evaluation.maxTokens = null is not allowed"),
        ({"validation": None}, "line 3: validation = null is not allowed: expected a file name beside run.json"),
    ],
)
def test_run_json_refuses_null_where_it_is_not_documented(manifest: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidManifest) as err:
        _parse(manifest)
    assert str(err.value).startswith(f"runs/x/run.json {expected}")


def test_run_json_keeps_its_documented_null() -> None:
    # docs/manifest.md: `"maxValidationLoss": null` turns off the cdk.json threshold for this run, where the stack
    # allows loosening (pipeline.allowLooseningOverrides); otherwise null loosens the gate and is refused.
    loose = dataclasses.replace(DEFAULTS, allow_loosening=True)
    text = json.dumps({"train": "train.jsonl", "maxValidationLoss": None}, indent=2)
    parsed = parse_manifest(text, source="runs/x/run.json", defaults=loose, region="us-west-2")
    assert parsed.max_validation_loss is None
    assert _parse({}).max_validation_loss == 2.0
    with pytest.raises(InvalidManifest, match=r"line 3: maxValidationLoss = null loosens the gate"):
        _parse({"maxValidationLoss": None})
