"""Settings validation: every bad value stops synthesis with one line naming the key, value and range."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipeline_core.models import CATALOGUE, DEFAULT_BASE_MODEL_ID
from stacks.settings import PipelineSettings, SettingsError, load_settings, load_settings_from_context

ROOT = Path(__file__).resolve().parents[2]


def shipped() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]["pipeline"]
    return context


def test_shipped_settings_are_the_safe_cheap_defaults() -> None:
    s = load_settings(shipped())
    assert s == load_settings({}), "cdk.json should spell out exactly the defaults"
    assert s.region == "us-west-2"
    assert s.base_model_id == DEFAULT_BASE_MODEL_ID == "meta.llama3-1-70b-instruct-v1:0:128k"
    assert s.throughput.model_units == 1
    assert s.vpc_enabled is True
    # Llama 3.1's documented defaults (docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-meta-llama31.html).
    assert s.hyperparameters == {"epochCount": "5", "batchSize": "1", "learningRate": "0.0001"}
    assert s.lifecycle_warning is None, "the default base model is documented as Active"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"hyperparameters": {"epochCount": 11}},
            "pipeline.hyperparameters.epochCount = 11 is not allowed: expected an integer from 1 to 10",
        ),
        (
            {"hyperparameters": {"batchSize": 2}},
            "pipeline.hyperparameters.batchSize = 2 is not allowed: expected an integer from 1 to 1",
        ),
        (
            {"hyperparameters": {"learningRate": "1"}},
            "pipeline.hyperparameters.learningRate = '1' is not allowed",
        ),
        (
            {"evaluation": {"maxFailedShare": 1.5}},
            "pipeline.evaluation.maxFailedShare = 1.5 is not allowed: expected a number from 0.0 to 1.0",
        ),
        (
            {"evaluation": {"metric": "bleu"}},
            "pipeline.evaluation.metric = 'bleu' is not allowed: expected one of token_f1",
        ),
        ({"provisionedThroughput": {"modelUnits": 0}}, "pipeline.provisionedThroughput.modelUnits = 0 is not allowed"),
        (
            {"provisionedThroughput": {"keepAfterPromotion": "yes"}},
            "keepAfterPromotion = 'yes' is not allowed: expected true or false",
        ),
        ({"retention": {"logDays": 100}}, "pipeline.retention.logDays = 100 is not allowed: expected one of 1, 3, 5"),
        (
            {"notificationEmail": "not-an-email"},
            "pipeline.notificationEmail = 'not-an-email' is not allowed: expected an email",
        ),
        ({"name": "Bad_Name"}, "pipeline.name = 'Bad_Name' is not allowed"),
        ({"vpcEnabled": 1}, "pipeline.vpcEnabled = 1 is not allowed: expected true or false"),
        ({"split": {"validationShare": 0.4, "testShare": 0.4}}, "validationShare + testShare = 0.8"),
        ({"evaluation": {"referenceModels": ["a", "b", "c", "d"]}}, "pipeline.evaluation.referenceModels"),
        (
            {"executionTimeoutHours": 1},
            "pipeline.executionTimeoutHours = 1 is not allowed: expected an integer from 2 to 168",
        ),
        (
            {"provisionedThroughput": {"timeToLiveHours": 2, "maxWaitMinutes": 120}},
            "pipeline.provisionedThroughput.timeToLiveHours = 2 is not allowed: expected at least",
        ),
    ],
)
def test_bad_values_name_key_value_and_range(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(overrides)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_keys_are_errors_not_silently_ignored() -> None:
    with pytest.raises(SettingsError, match=r"pipeline\.evaluation\.maxFailedShar is not a known setting"):
        load_settings({"evaluation": {"maxFailedShar": 0.1}})
    with pytest.raises(SettingsError, match=r"pipeline\.vpc is not a known setting"):
        load_settings({"vpc": True})


def test_unknown_base_model_lists_the_choices() -> None:
    with pytest.raises(SettingsError, match=r"unknown base model 'anthropic\.claude-v2'.*customizable models are"):
        load_settings({"baseModelId": "anthropic.claude-v2"})


def test_region_where_the_model_cannot_be_customized_fails() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"region": "us-east-1"})
    assert "Llama 3.1 70B Instruct" in str(err.value) and "cannot be fine-tuned in us-east-1" in str(err.value)
    assert "supported Regions: us-west-2" in str(err.value)


@pytest.mark.parametrize("model_id", sorted(CATALOGUE))
def test_every_catalogued_model_loads_in_its_first_region(model_id: str) -> None:
    model = CATALOGUE[model_id]
    # Before any documented end of life, every catalogued model synthesizes in its first Region.
    s = load_settings({"baseModelId": model_id, "region": model.regions[0]}, today=date(2025, 1, 1))
    assert isinstance(s, PipelineSettings)
    assert set(s.hyperparameters) == {hp.name for hp in model.hyperparameters}


def test_hyperparameter_names_follow_the_base_model() -> None:
    with pytest.raises(SettingsError, match="learningRateMultiplier is not a known setting"):
        load_settings(
            {"baseModelId": "meta.llama3-1-8b-instruct-v1:0:128k", "hyperparameters": {"learningRateMultiplier": 1}}
        )


def test_synth_prints_one_line_and_fails_on_a_bad_setting(tmp_path: Path) -> None:
    """The app entry point turns a SettingsError into one line on stderr and exit status 1."""
    bad = json.dumps({**shipped(), "hyperparameters": {"epochCount": 0}})
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        cwd=ROOT,
        env={
            "CDK_CONTEXT_JSON": json.dumps({"pipeline": json.loads(bad)}),
            "CDK_OUTDIR": str(tmp_path),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "cdk.json settings error: pipeline.hyperparameters.epochCount = 0 is not allowed: "
        "expected an integer from 1 to 10"
    )


def test_on_demand_prices_default_to_haiku_and_reach_the_run_spec() -> None:
    from pipeline_core.manifest import RunDefaults
    from stacks.pipeline_stack import run_defaults

    s = load_settings({})
    haiku = s.pricing.on_demand["anthropic.claude-3-haiku-20240307-v1:0"]
    assert (haiku.input_per_1k, haiku.output_per_1k) == (0.00025, 0.00125)
    assert s.pricing.source and s.pricing.date
    defaults = RunDefaults.from_json(json.dumps(run_defaults(s)))
    assert defaults.pricing is not None
    assert defaults.pricing["models"]["anthropic.claude-3-haiku-20240307-v1:0"] == {
        "input_per_1k": 0.00025,
        "output_per_1k": 0.00125,
    }


def test_bad_prices_name_the_model_key() -> None:
    with pytest.raises(SettingsError, match=r"pipeline\.pricing\.onDemand\.m1\.inputPer1k = -1 is not allowed"):
        load_settings({"pricing": {"onDemand": {"m1": {"inputPer1k": -1, "outputPer1k": 0.1}}}})
    with pytest.raises(SettingsError, match=r"pipeline\.pricing\.date = 'yesterday' is not allowed"):
        load_settings({"pricing": {"date": "yesterday"}})


def test_a_price_for_a_model_the_pipeline_never_calls_is_refused() -> None:
    prices = {"inputPer1k": 0.001, "outputPer1k": 0.002}
    with pytest.raises(SettingsError, match=r"onDemand: 'anthropic.claude-3-haiku-20240307-v1:0:200k' is neither"):
        load_settings({"pricing": {"onDemand": {"anthropic.claude-3-haiku-20240307-v1:0:200k": prices}}})
    runtime = "anthropic.claude-3-haiku-20240307-v1:0"
    assert runtime in load_settings({"pricing": {"onDemand": {runtime: prices}}}).pricing.on_demand
    # A manifest may choose another catalogued base model, so its runtime id may be priced too.
    llama = "meta.llama3-1-8b-instruct-v1:0"
    assert llama in load_settings({"pricing": {"onDemand": {llama: prices}}}).pricing.on_demand
    reference = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
    settings = load_settings(
        {"evaluation": {"referenceModels": [reference]}, "pricing": {"onDemand": {runtime: prices, reference: prices}}}
    )
    assert set(settings.pricing.on_demand) == {runtime, reference}


# ---- null only where a setting documents it -----------------------------------------------------------------

# The settings whose null means something ("no subscription", "no threshold", "no estimate").
DOCUMENTED_NULL = {"notificationEmail", "maxValidationLoss", "pricing.trainingPer1kTokens", "pricing.modelUnitPerHour"}


def _paths(node: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key of the shipped settings, objects and their members alike, as a path."""
    found: list[tuple[str, ...]] = []
    for key, value in node.items():
        found.append((*prefix, key))
        if isinstance(value, dict):
            found.extend(_paths(value, (*prefix, key)))
    return found


def _with_null(settings: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    changed = copy.deepcopy(settings)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = None
    return changed


@pytest.mark.parametrize("path", _paths(shipped()), ids=".".join)
def test_null_is_refused_unless_the_setting_documents_it(path: tuple[str, ...]) -> None:
    dotted = ".".join(path)
    if dotted in DOCUMENTED_NULL:
        load_settings(_with_null(shipped(), path))  # accepted: null switches the feature off
        return
    with pytest.raises(SettingsError) as err:
        load_settings(_with_null(shipped(), path))
    message = str(err.value)
    assert message.startswith(f"pipeline.{dotted} = null is not allowed: expected "), message
    assert message.endswith("(remove the key to use the default)") and "\n" not in message


def test_a_refused_null_names_what_is_expected() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"region": None})
    assert str(err.value) == (
        "pipeline.region = null is not allowed: expected an AWS Region code such as us-west-2 "
        "(remove the key to use the default)"
    )
    with pytest.raises(
        SettingsError, match=r"^pipeline\.provisionedThroughput\.keepAfterPromotion = null .*true or false"
    ):
        load_settings({"provisionedThroughput": {"keepAfterPromotion": None}})
    with pytest.raises(SettingsError, match=r"^pipeline\.evaluation = null is not allowed: expected an object"):
        load_settings({"evaluation": None})


def test_documented_nulls_mean_off() -> None:
    s = load_settings({key: None for key in ("notificationEmail", "maxValidationLoss")})
    assert s.notification_email is None and s.max_validation_loss is None
    p = load_settings({"pricing": {"trainingPer1kTokens": None, "modelUnitPerHour": None}}).pricing
    assert p.training_per_1k_tokens is None and p.model_unit_per_hour is None
    # A documented null takes a value as well.
    assert load_settings({"maxValidationLoss": 1.5}).max_validation_loss == 1.5


def test_the_readme_documents_exactly_the_settings_that_accept_null() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    documented: set[str] = set()
    for row in section.splitlines():
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) < 2 or cells[1] != "null":
            continue
        keys = re.findall(r"`([^`]+)`", cells[0])
        parent = keys[0].rpartition(".")[0]
        documented.update(k if "." in k or not parent else f"{parent}.{k}" for k in keys)
    assert documented == DOCUMENTED_NULL


# ---- the context around the settings ------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["pipline", "pipeline_", "Pipeline", "PIPELINE", "pipelines", "piepline"])
def test_a_misspelt_settings_section_fails_instead_of_taking_every_default(key: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings_from_context({key: {"name": "custom"}})
    assert str(err.value) == f"context key {key!r} is not used; did you mean 'pipeline'?"


def test_the_cdks_own_context_keys_and_unrelated_keys_are_allowed() -> None:
    context = {
        "pipeline": {"name": "custom"},
        "@aws-cdk/core:defaultCrossStackReferences": "strong",
        "@aws-cdk/aws-s3:publicAccessBlockedByDefault": True,
        "aws:cdk:enable-path-metadata": True,
        "aws-cdk:enableDiffNoFail": True,
        "acknowledged-issue-numbers": [34892],
        "cdk-migrate": True,
        "availability-zones:account=123456789012:region=us-west-2": ["us-west-2a"],
        "team": "ml-platform",  # nothing like `pipeline`: someone else's key
    }
    assert load_settings_from_context(context).name == "custom"
    assert load_settings_from_context({}) == load_settings({})


def test_a_null_settings_section_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"^pipeline = null is not allowed: expected an object"):
        load_settings_from_context({"pipeline": None})


# ---- reference models ---------------------------------------------------------------------------------------


def test_a_reference_model_that_is_not_a_model_id_fails_at_synth_naming_its_index() -> None:
    refs = ["us.anthropic.claude-3-5-sonnet-20240620-v1:0", "not a model id !!"]
    with pytest.raises(SettingsError) as err:
        load_settings({"evaluation": {"referenceModels": refs}})
    message = str(err.value)
    assert message.startswith(
        "pipeline.evaluation.referenceModels[1] = 'not a model id !!' is not allowed: expected a Bedrock model id"
    )
    assert "\n" not in message


def test_reference_models_of_every_documented_shape_load() -> None:
    refs = [
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "global.anthropic.claude-sonnet-4-20250514-v1:0",
        "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdef123456",
    ]
    assert load_settings({"evaluation": {"referenceModels": refs}}).evaluation.reference_models == tuple(refs)


# ---- through the app entry point, as `cdk synth` runs it -----------------------------------------------------


def _run_app(tmp_path: Path, context: dict[str, Any], overflow: dict[str, Any] | None = None) -> Any:
    env = {"CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    if overflow is not None:
        # What the CDK CLI does when the context is too large for one environment variable.
        location = tmp_path / "context-overflow.json"
        location.write_text(json.dumps(overflow))
        env["CONTEXT_OVERFLOW_LOCATION_ENV"] = str(location)
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("context", "overflow", "expected"),
    [
        ({"pipline": {"name": "x"}}, None, "context key 'pipline' is not used; did you mean 'pipeline'?"),
        # A null must reach the settings as null: through jsii an object member that is null disappears.
        (
            {"pipeline": {"region": None}},
            None,
            "pipeline.region = null is not allowed: expected an AWS Region code such as us-west-2 "
            "(remove the key to use the default)",
        ),
        (
            {"@aws-cdk/core:defaultCrossStackReferences": "strong"},
            {"pipeline": {"provisionedThroughput": {"keepAfterPromotion": None}}},
            "pipeline.provisionedThroughput.keepAfterPromotion = null is not allowed: expected true or false "
            "(remove the key to use the default)",
        ),
    ],
    ids=["misspelt-section", "null-region", "null-in-overflow-file"],
)
def test_synth_refuses_what_would_silently_do_nothing(
    tmp_path: Path, context: dict[str, Any], overflow: dict[str, Any] | None, expected: str
) -> None:
    result = _run_app(tmp_path, context, overflow)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [f"cdk.json settings error: {expected}"]


# ---- serving: auto, provisionedThroughput or onDemand, checked against the base model and Region ---------------
NOVA = {"region": "us-east-1", "baseModelId": "amazon.nova-lite-v1:0:300k"}


@pytest.mark.parametrize(
    ("overrides", "serving", "on_demand_allowed"),
    [
        # The default model in us-west-2 allows only Provisioned Throughput: no deployment calls are granted.
        ({}, "auto", False),
        ({"serving": "provisionedThroughput"}, "provisionedThroughput", False),
        (NOVA, "auto", True),
        ({**NOVA, "serving": "onDemand"}, "onDemand", True),
        ({**NOVA, "serving": "provisionedThroughput"}, "provisionedThroughput", False),
        # auto with a model that cannot serve on demand, in a Region where another catalogued model can.
        ({"region": "us-east-1", "baseModelId": "amazon.titan-text-express-v1:0:8k"}, "auto", True),
    ],
)
def test_serving_setting_and_whether_the_stack_allows_on_demand(
    overrides: dict[str, Any], serving: str, on_demand_allowed: bool
) -> None:
    settings = load_settings(overrides, today=date(2026, 12, 1))
    assert settings.serving == serving and settings.on_demand_allowed is on_demand_allowed


def test_on_demand_where_the_model_cannot_serve_it_fails_in_one_line_naming_model_region_and_where() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"serving": "onDemand"})
    message = str(err.value)
    assert "\n" not in message and message.startswith("pipeline.serving = 'onDemand': Llama 3.1 70B Instruct")
    assert "cannot be served on demand in us-west-2" in message
    assert "Nova Lite (us-east-1)" in message and "deploy-custom-model-on-demand" in message
    assert message.endswith("set it to auto or provisionedThroughput")


def test_serving_accepts_only_its_three_values() -> None:
    with pytest.raises(SettingsError, match=r"pipeline.serving = 'ondemand' is not allowed: expected one of auto, "):
        load_settings({"serving": "ondemand"})


def test_synth_with_on_demand_for_the_default_model_prints_one_line_and_fails(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        cwd=ROOT,
        env={
            "CDK_CONTEXT_JSON": json.dumps({"pipeline": {**shipped(), "serving": "onDemand"}}),
            "CDK_OUTDIR": str(tmp_path),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("cdk.json settings error: pipeline.serving = 'onDemand': Llama 3.1 70B Instruct")
    assert "in us-west-2" in line and "Nova Micro (us-east-1)" in line
