"""Settings validation: every bad value stops synthesis with one line naming the key, value and range."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipeline_core.models import CATALOGUE, DEFAULT_BASE_MODEL_ID
from stacks.settings import PipelineSettings, SettingsError, load_settings

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
