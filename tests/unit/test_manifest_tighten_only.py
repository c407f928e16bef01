"""run.json may make the quality gate stricter, never looser, unless the stack allows loosening.

Every gate key is tried at, below and above the stack's value, with loosening allowed and not; the refusal is one
line naming the key, the requested and the allowed value.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline_core.manifest import (
    LOOSENING_HINT,
    InvalidManifest,
    RunChoices,
    RunDefaults,
    loosens,
    parse_manifest,
)

SOURCE = "runs/x/run.json"
# Stack values away from each key's range ends, so a value below and above each is in range.
STACK_GATE = {
    "min_score": 50.0,
    "min_improvement_points": 1.0,
    "min_improvement_percent": 5.0,
    "max_p_value": 0.05,
    "max_failed_share": 0.02,
}


def _defaults(*, allow: bool | None, keep: bool = True, loss: float | None = 2.5) -> RunDefaults:
    raw: dict[str, Any] = {
        "pipeline_name": "finetune",
        "base_model_id": "anthropic.claude-3-haiku-20240307-v1:0:200k",
        "hyperparameters": {"epochCount": "2", "batchSize": "32", "learningRateMultiplier": "1.0"},
        "split": {"validation_share": 0.1, "test_share": 0.1, "seed": 13},
        "evaluation": {
            "metric": "token_f1",
            "max_tokens": 512,
            "concurrency": 4,
            "max_examples": 5000,
            "batch_size": 50,
            "reference_models": [],
            "gate": dict(STACK_GATE),
        },
        "throughput": {"model_units": 1, "keep_after_promotion": keep, "max_wait_minutes": 60},
        "max_validation_loss": loss,
        "price_per_1k_training_tokens": None,
        "poll": {"job_seconds": 600, "throughput_seconds": 120},
    }
    if allow is not None:
        raw["allow_loosening_overrides"] = allow
    return RunDefaults.from_json(json.dumps(raw))


def _parse(manifest: dict[str, Any], defaults: RunDefaults) -> RunChoices:
    text = json.dumps({"train": "train.jsonl", **manifest}, indent=2)
    return parse_manifest(text, source=SOURCE, defaults=defaults, region="us-west-2")


def _refusal(manifest: dict[str, Any], defaults: RunDefaults) -> str:
    with pytest.raises(InvalidManifest) as err:
        _parse(manifest, defaults)
    message = str(err.value)
    assert "\n" not in message and message.startswith(SOURCE)
    return message


def test_defaults_without_the_setting_tighten_only() -> None:
    # PIPELINE_DEFAULTS written before the setting existed: the safe reading is "tighten only".
    assert _defaults(allow=None).allow_loosening is False
    assert _defaults(allow=True).allow_loosening is True
    assert _defaults(allow=False).allow_loosening is False


# (run.json key, gate field, stricter when, a value below the stack's, a value above it)
GATE_CASES = [
    ("minScore", "min_score", "higher", 49.5, 50.5),
    ("minImprovementPoints", "min_improvement_points", "higher", 0.5, 1.5),
    ("minImprovementPercent", "min_improvement_percent", "higher", 4.0, 6.0),
    ("maxPValue", "max_p_value", "lower", 0.04, 0.06),
    ("maxFailedShare", "max_failed_share", "lower", 0.01, 0.03),
]


@pytest.mark.parametrize(("key", "field", "stricter", "below", "above"), GATE_CASES)
def test_each_gate_key_at_below_and_above_the_stack_value_without_loosening(
    key: str, field: str, stricter: str, below: float, above: float
) -> None:
    defaults = _defaults(allow=False)
    stack = STACK_GATE[field]
    tighter, looser = (above, below) if stricter == "higher" else (below, above)
    # At the stack's value: neither tighter nor looser, accepted.
    assert _parse({"evaluation": {key: stack}}, defaults).evaluation["gate"][field] == stack
    # Tighter: accepted and used.
    assert _parse({"evaluation": {key: tighter}}, defaults).evaluation["gate"][field] == tighter
    # Looser: refused on its line, naming the key, the requested and the allowed value.
    bound = "requires at least" if stricter == "higher" else "allows at most"
    message = _refusal({"evaluation": {key: looser}}, defaults)
    assert message == (
        f"{SOURCE} line 4: evaluation.{key} = {looser:g} loosens the gate (stack {bound} {stack:g}); {LOOSENING_HINT}"
    )


@pytest.mark.parametrize(("key", "field", "stricter", "below", "above"), GATE_CASES)
def test_each_gate_key_in_both_directions_when_the_stack_allows_loosening(
    key: str, field: str, stricter: str, below: float, above: float
) -> None:
    defaults = _defaults(allow=True)
    for value in (below, STACK_GATE[field], above):
        assert _parse({"evaluation": {key: value}}, defaults).evaluation["gate"][field] == value


@pytest.mark.parametrize("allow", [False, True])
def test_the_range_still_applies_whatever_the_setting(allow: bool) -> None:
    message = _refusal({"evaluation": {"maxPValue": 1.5}}, _defaults(allow=allow))
    assert "evaluation.maxPValue = 1.5 is not allowed: expected a number from 0.0 to 1.0" in message


def test_the_loosest_values_of_the_old_ranges_are_refused() -> None:
    defaults = _defaults(allow=False)
    for key, value in (
        ("minImprovementPoints", -100),
        ("maxPValue", 1),
        ("maxFailedShare", 1),
        ("minScore", 0),
        ("minImprovementPercent", -100),
    ):
        assert "loosens the gate" in _refusal({"evaluation": {key: value}}, defaults)


def test_the_first_loosening_key_is_named_and_a_tightening_one_beside_it_does_not_hide_it() -> None:
    message = _refusal({"evaluation": {"maxPValue": 0.01, "maxFailedShare": 0.5}}, _defaults(allow=False))
    assert "evaluation.maxFailedShare = 0.5 loosens the gate (stack allows at most 0.02)" in message


# ---- maxValidationLoss: lower is stricter; null ("no threshold") is the loosest ------------------------------------


@pytest.mark.parametrize(
    ("requested", "allowed_loosening", "outcome"),
    [
        (2.0, False, 2.0),  # below: tighter
        (2.5, False, 2.5),  # at
        (3.0, False, "maxValidationLoss = 3 loosens the gate (stack allows at most 2.5)"),
        (None, False, "maxValidationLoss = null loosens the gate (stack allows at most 2.5)"),
        (2.0, True, 2.0),
        (2.5, True, 2.5),
        (3.0, True, 3.0),
        (None, True, None),
    ],
)
def test_max_validation_loss_against_a_stack_threshold(
    requested: float | None, allowed_loosening: bool, outcome: float | str | None
) -> None:
    defaults = _defaults(allow=allowed_loosening, loss=2.5)
    if isinstance(outcome, str):
        message = _refusal({"maxValidationLoss": requested}, defaults)
        assert message == f"{SOURCE} line 3: {outcome}; {LOOSENING_HINT}"
    else:
        assert _parse({"maxValidationLoss": requested}, defaults).max_validation_loss == outcome


@pytest.mark.parametrize("allow", [False, True])
def test_max_validation_loss_without_a_stack_threshold_may_add_one(allow: bool) -> None:
    defaults = _defaults(allow=allow, loss=None)
    assert _parse({"maxValidationLoss": 0.5}, defaults).max_validation_loss == 0.5
    assert _parse({"maxValidationLoss": None}, defaults).max_validation_loss is None
    assert _parse({}, defaults).max_validation_loss is None


# ---- keepThroughput: keeping is the looser choice (an hourly bill with no end, and the candidate serves) -----------


@pytest.mark.parametrize(
    ("stack_keep", "requested", "allow", "outcome"),
    [
        (True, True, False, True),
        (True, False, False, False),  # not keeping never starts a bill: accepted
        (False, False, False, False),
        (False, True, False, "refused"),
        (True, True, True, True),
        (True, False, True, False),
        (False, False, True, False),
        (False, True, True, True),
    ],
)
def test_keep_throughput_follows_the_stack_unless_loosening_is_allowed(
    stack_keep: bool, requested: bool, allow: bool, outcome: bool | str
) -> None:
    defaults = _defaults(allow=allow, keep=stack_keep)
    if outcome == "refused":
        message = _refusal({"keepThroughput": requested}, defaults)
        assert message == (
            f"{SOURCE} line 3: keepThroughput = true loosens the gate (stack setting "
            f"provisionedThroughput.keepAfterPromotion is false: a promoted model keeps no throughput); "
            f"{LOOSENING_HINT}"
        )
    else:
        assert _parse({"keepThroughput": requested}, defaults).keep_after_promotion is outcome
    assert _parse({}, defaults).keep_after_promotion is stack_keep


def test_the_hint_names_the_setting_that_allows_loosening() -> None:
    assert "pipeline.allowLooseningOverrides" in LOOSENING_HINT


@pytest.mark.parametrize(
    ("direction", "requested", "allowed", "expected"),
    [
        ("at least", 1.0, 1.0, False),
        ("at least", 0.9, 1.0, True),
        ("at least", 1.1, 1.0, False),
        ("at most", 0.05, 0.05, False),
        ("at most", 0.06, 0.05, True),
        ("at most", 0.04, 0.05, False),
        ("at most", None, 0.05, True),
        ("at most", None, None, False),
        ("at most", 3.0, None, False),
    ],
)
def test_loosens(direction: str, requested: float | None, allowed: float | None, expected: bool) -> None:
    assert loosens(direction, requested, allowed) is expected


# ---- the stack setting: pipeline.allowLooseningOverrides, carried to Resolve run in PIPELINE_DEFAULTS --------------


def test_the_setting_defaults_to_tighten_only_and_reaches_resolve_run() -> None:
    from stacks.pipeline_stack import run_defaults
    from stacks.settings import load_settings

    for context, expected in (({}, False), ({"allowLooseningOverrides": False}, False),
                              ({"allowLooseningOverrides": True}, True)):  # fmt: skip
        settings = load_settings(context)
        assert settings.allow_loosening_overrides is expected
        defaults = RunDefaults.from_json(json.dumps(run_defaults(settings)))
        assert defaults.allow_loosening is expected


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_the_setting_names_itself_when_wrong(value: object) -> None:
    from stacks.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as err:
        load_settings({"allowLooseningOverrides": value})
    assert str(err.value).startswith("pipeline.allowLooseningOverrides = ")
    assert "expected true or false" in str(err.value)


def test_a_misspelt_setting_is_an_error() -> None:
    from stacks.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match=r"pipeline\.allowLooseningOverride is not a known setting"):
        load_settings({"allowLooseningOverride": True})


# ---- evaluation.metric: the gate's thresholds were set for the stack's metric --------------------------------------


@pytest.mark.parametrize("allow", [False, True])
def test_the_stacks_own_metric_is_accepted_whatever_the_setting(allow: bool) -> None:
    assert _parse({"evaluation": {"metric": "token_f1"}}, _defaults(allow=allow)).evaluation["metric"] == "token_f1"


def test_another_metric_loosens_the_gate_without_the_setting() -> None:
    message = _refusal({"evaluation": {"metric": "exact_match"}}, _defaults(allow=False))
    assert message == (
        f"{SOURCE} line 4: evaluation.metric = exact_match loosens the gate (stack requires metric token_f1, the one "
        f"its thresholds were set for); {LOOSENING_HINT}"
    )


def test_another_metric_is_used_where_the_stack_allows_loosening() -> None:
    assert (
        _parse({"evaluation": {"metric": "exact_match"}}, _defaults(allow=True)).evaluation["metric"] == "exact_match"
    )
