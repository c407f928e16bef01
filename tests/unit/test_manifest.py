"""run.json validation: every problem is one line naming the file, the line, the key, the value and the range."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from pipeline_core import contracts
from pipeline_core.config import ConfigError, ConfigReader
from pipeline_core.manifest import (
    InvalidManifest,
    RunDefaults,
    build_run_spec,
    default_choices,
    parse_manifest,
    referenced_files,
)

SOURCE = "runs/x/run.json"
DEFAULTS = RunDefaults.from_json(
    json.dumps(
        {
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
                "gate": {
                    "min_score": 0.0,
                    "min_improvement_points": 1.0,
                    "min_improvement_percent": 0.0,
                    "max_p_value": 0.05,
                    "max_failed_share": 0.02,
                },
            },
            "throughput": {"model_units": 1, "keep_after_promotion": True, "max_wait_minutes": 60},
            "max_validation_loss": 2.5,
            "price_per_1k_training_tokens": None,
            "poll": {"job_seconds": 600, "throughput_seconds": 120},
        }
    )
)


def parse(text: str, region: str = "us-west-2") -> Any:
    return parse_manifest(text, source=SOURCE, defaults=DEFAULTS, region=region)


def error(text: str, region: str = "us-west-2") -> str:
    with pytest.raises(InvalidManifest) as err:
        parse(text, region)
    message = str(err.value)
    assert "\n" not in message and message.startswith(SOURCE)
    return message


def test_minimal_manifest_takes_every_default() -> None:
    choices = parse('{"train": "train.jsonl"}')
    assert choices.files == {"train": "train.jsonl"}
    assert choices.hyperparameters == DEFAULTS.hyperparameters
    assert choices.split == DEFAULTS.split
    assert choices.max_validation_loss == 2.5
    assert choices.keep_after_promotion is True
    assert choices.epochs == 2


def test_full_manifest_overrides_and_renders_hyperparameters_as_strings() -> None:
    text = json.dumps(
        {
            "train": "train.jsonl",
            "validation": "validation.jsonl",
            "test": "test.jsonl",
            "hyperparameters": {"epochCount": 3, "learningRateMultiplier": 0.5},
            "evaluation": {
                "metric": "exact_match",
                "maxTokens": 64,
                "minImprovementPoints": 2,
                "systemPrompt": "Be brief.",
            },
            "keepThroughput": False,
            "maxValidationLoss": None,
        }
    )
    # null loosens the stack's loss threshold: allowed only where the stack allows loosening.
    choices = parse_manifest(
        text, source=SOURCE, defaults=dataclasses.replace(DEFAULTS, allow_loosening=True), region="us-west-2"
    )
    assert choices.hyperparameters["epochCount"] == "3"
    assert choices.hyperparameters["learningRateMultiplier"] == "0.5"
    assert choices.hyperparameters["batchSize"] == "32"
    assert choices.epochs == 3
    assert choices.evaluation["metric"] == "exact_match" and choices.evaluation["max_tokens"] == 64
    assert choices.evaluation["gate"]["min_improvement_points"] == 2.0
    assert choices.evaluation["system_prompt"] == "Be brief."
    assert choices.keep_after_promotion is False
    assert choices.max_validation_loss is None  # null switches the deployment's threshold off


def test_syntax_error_names_the_line() -> None:
    message = error('{\n  "train": "train.jsonl",\n  "test": \n}\n')
    assert message.startswith(f"{SOURCE} line 4: not valid JSON")


def test_out_of_range_hyperparameter_names_its_line_key_value_and_range() -> None:
    text = '{\n  "train": "train.jsonl",\n  "hyperparameters": {\n    "epochCount": 20\n  }\n}\n'
    assert error(text) == (
        f"{SOURCE} line 4: hyperparameters.epochCount = 20 is not allowed: expected an integer from 1 to 10"
    )


def test_unknown_key_names_its_line() -> None:
    text = '{\n  "train": "train.jsonl",\n  "epochs": 3\n}\n'
    message = error(text)
    assert message.startswith(f"{SOURCE} line 3: epochs is not a known run.json key")
    assert "known keys here" in message


def test_nested_unknown_key_is_found_inside_its_parent() -> None:
    text = '{\n  "train": "t.jsonl",\n  "evaluation": {\n    "metric": "token_f1",\n    "maxToken": 5\n  }\n}'
    assert error(text).startswith(f"{SOURCE} line 5: evaluation.maxToken is not a known run.json key")


def test_hyperparameter_of_another_model_is_unknown() -> None:
    text = '{"train": "t.jsonl", "hyperparameters": {"learningRate": 0.001}}'
    assert "hyperparameters.learningRate is not a known run.json key" in error(text)


def test_unsupported_model_and_wrong_region() -> None:
    assert "unknown base model 'anthropic.claude-v2'" in error(
        '{"train": "t.jsonl", "baseModelId": "anthropic.claude-v2"}'
    )
    message = error('{"train": "t.jsonl"}', region="eu-west-1")
    assert "cannot be fine-tuned in eu-west-1" in message


def test_other_model_starts_from_its_own_catalogue_defaults() -> None:
    choices = parse('{"train": "t.jsonl", "baseModelId": "meta.llama3-1-8b-instruct-v1:0:128k"}')
    assert choices.hyperparameters == {"epochCount": "5", "batchSize": "1", "learningRate": "0.0001"}
    assert choices.epochs == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}", "train is required"),
        ("[1, 2]", "expected a JSON object"),
        ('{"train": "../other/train.jsonl"}', "train = '../other/train.jsonl' is not allowed: expected a file name"),
        ('{"train": "run.json"}', "train = 'run.json' is not allowed"),
        ('{"train": "a.jsonl", "validation": "b.jsonl"}', "validation is named but test is not"),
        ('{"train": "a.jsonl", "test": "c.jsonl", "split": {"seed": 1}}', "split is allowed only when"),
        ('{"train": "a.jsonl", "split": {"validationShare": 0.4, "testShare": 0.4}}', "validationShare + testShare"),
        (
            '{"train": "a.jsonl", "keepThroughput": "no"}',
            "keepThroughput = 'no' is not allowed: expected true or false",
        ),
        ('{"train": "a.jsonl", "evaluation": {"metric": "bleu"}}', "evaluation.metric = 'bleu' is not allowed"),
        ('{"train": "a.jsonl", "train": "b.jsonl"}', "train appears twice"),
    ],
)
def test_bad_manifests(text: str, expected: str) -> None:
    assert expected in error(text)


def test_single_upload_uses_the_defaults() -> None:
    choices = default_choices(DEFAULTS, "us-west-2")
    assert choices.files == {} and choices.hyperparameters == DEFAULTS.hyperparameters


def test_run_spec_has_the_documented_shape() -> None:
    spec = build_run_spec(
        parse('{"train": "t.jsonl", "keepThroughput": false}'),
        DEFAULTS,
        run_name="x",
        execution_name="x-abc",
        data_bucket="d",
        artifacts_bucket="a",
        source={"kind": "manifest", "train_key": "runs/x/t.jsonl", "validation_key": None, "test_key": None},
    )
    assert set(spec) >= {
        "pipeline_name", "run_name", "execution_name", "base_model_id", "runtime_model_id", "data_bucket",
        "artifacts_bucket", "artifacts_prefix", "source", "split", "hyperparameters", "epochs", "evaluation",
        "throughput", "max_validation_loss", "price_per_1k_training_tokens", "poll",
    }  # fmt: skip
    assert spec["artifacts_prefix"] == "runs/x/x-abc/"
    assert spec["runtime_model_id"] == "anthropic.claude-3-haiku-20240307-v1:0"
    assert spec["throughput"] == {"model_units": 1, "keep_after_promotion": False, "max_wait_minutes": 60}
    assert spec["max_training_hours"] == 24


def test_run_spec_names_are_unique_per_execution_and_stable_for_it() -> None:
    """Bedrock names and client tokens: a reused execution name 90 days on gets new ones, a retry the same."""

    def spec(start: str | None) -> dict[str, Any]:
        return build_run_spec(
            parse('{"train": "t.jsonl"}'),
            DEFAULTS,
            run_name="x",
            execution_name="x-0123456789abcdef",
            data_bucket="d",
            artifacts_bucket="a",
            source={"kind": "manifest", "train_key": "runs/x/t.jsonl", "validation_key": None, "test_key": None},
            execution_start_time=start,
        )

    first, later, again = (
        spec("2026-12-01T10:00:00.000Z"),
        spec("2027-03-02T10:00:00.000Z"),
        spec("2026-12-01T10:00:00.000Z"),
    )
    assert first["resource_name"] != later["resource_name"] and first["token_seed"] != later["token_seed"]
    assert (again["resource_name"], again["token_seed"]) == (first["resource_name"], first["token_seed"])
    assert first["resource_name"].startswith("x-0123456789abcdef-") and len(first["resource_name"]) <= 63
    assert first["execution_start_time"] == "2026-12-01T10:00:00.000Z"
    # Without a start time (a state machine defined before the field): the names the execution name always gave.
    legacy = spec(None)
    assert (legacy["resource_name"], legacy["token_seed"]) == ("x-0123456789abcdef", "x-0123456789abcdef")


def test_trigger_reads_file_names_leniently() -> None:
    assert referenced_files('{"train": "a.jsonl", "test": "c.jsonl", "x": 1}') == ["a.jsonl", "c.jsonl"]
    assert referenced_files("{oops") == []
    assert referenced_files('{"train": "../escape"}') == []


def test_config_reader_without_a_root_path_names_bare_keys() -> None:
    reader = ConfigReader({"a": 5})
    with pytest.raises(ConfigError) as err:
        reader.number("a", 1, 0, 1, integer=True)
    assert str(err.value) == "a = 5 is not allowed: expected an integer from 0 to 1" and err.value.key == "a"


def test_reference_models_must_be_ones_deployed_with_the_stack() -> None:
    # None deployed: the evaluation role may invoke no reference model, so a run may not ask for one.
    message = error('{"train": "t.jsonl", "evaluation": {"referenceModels": ["us.anthropic.claude-3-5-sonnet"]}}')
    assert "us.anthropic.claude-3-5-sonnet is not a deployed reference model (none are deployed)" in message
    assert "pipeline.evaluation.referenceModels in cdk.json" in message and "line 1" in message
    deployed = RunDefaults.from_json(json.dumps({**_raw_defaults(), "evaluation": {
        **_raw_defaults()["evaluation"], "reference_models": ["ref-a", "ref-b"]}}))  # fmt: skip
    choices = parse_manifest(
        '{"train": "t.jsonl", "evaluation": {"referenceModels": ["ref-b"]}}',
        source=SOURCE,
        defaults=deployed,
        region="us-west-2",
    )
    assert choices.evaluation["reference_models"] == ["ref-b"]
    with pytest.raises(InvalidManifest, match=r"ref-c is not a deployed reference model \(ref-a, ref-b\)"):
        parse_manifest(
            '{"train": "t.jsonl", "evaluation": {"referenceModels": ["ref-c"]}}',
            source=SOURCE,
            defaults=deployed,
            region="us-west-2",
        )


def _raw_defaults() -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(DEFAULTS)


# ---- serving: the stack setting bounds what a run may choose; the model and Region bound both -----------------
NOVA_LITE = "amazon.nova-lite-v1:0:300k"


def _serving_defaults(setting: str | None, **serving: Any) -> RunDefaults:
    raw = _raw_defaults()
    raw["serving"] = {"setting": setting, **serving} if setting else None
    return RunDefaults.from_json(json.dumps(raw))


def _mode(text: str, setting: str | None, region: str) -> str:
    choices = parse_manifest(text, source=SOURCE, defaults=_serving_defaults(setting), region=region)
    return str(choices.serving_mode)


def _serving_error(text: str, setting: str | None, region: str) -> str:
    with pytest.raises(InvalidManifest) as err:
        parse_manifest(text, source=SOURCE, defaults=_serving_defaults(setting), region=region)
    message = str(err.value)
    assert "\n" not in message and message.startswith(SOURCE)
    return message


NOVA_RUN = f'{{"train": "t.jsonl", "baseModelId": "{NOVA_LITE}"}}'


@pytest.mark.parametrize(
    ("text", "setting", "region", "expected"),
    [
        # auto: on demand where the run's model allows it in the Region, Provisioned Throughput elsewhere.
        ('{"train": "t.jsonl"}', "auto", "us-west-2", contracts.SERVING_PROVISIONED),
        (NOVA_RUN, "auto", "us-east-1", contracts.SERVING_ON_DEMAND),
        # A run may pick either mode the model allows when the stack says auto.
        (NOVA_RUN[:-1] + ', "serving": "provisionedThroughput"}', "auto", "us-east-1", contracts.SERVING_PROVISIONED),
        (NOVA_RUN[:-1] + ', "serving": "onDemand"}', "auto", "us-east-1", contracts.SERVING_ON_DEMAND),
        # A fixed setting is every run's default.
        (NOVA_RUN, "provisionedThroughput", "us-east-1", contracts.SERVING_PROVISIONED),
        (NOVA_RUN, "onDemand", "us-east-1", contracts.SERVING_ON_DEMAND),
        # Defaults from a stack that predates the setting grant no deployment calls: Provisioned Throughput.
        (NOVA_RUN, None, "us-east-1", contracts.SERVING_PROVISIONED),
    ],
)
def test_the_serving_mode_follows_the_setting_the_manifest_and_the_model(
    text: str, setting: str | None, region: str, expected: str
) -> None:
    assert _mode(text, setting, region) == expected


def test_on_demand_for_a_model_that_cannot_serve_it_names_the_line_model_region_and_where() -> None:
    message = _serving_error('{\n  "train": "t.jsonl",\n  "serving": "onDemand"\n}\n', "auto", "us-west-2")
    assert message.startswith(f"{SOURCE} line 3: serving: Claude 3 Haiku")
    assert "cannot be served on demand in us-west-2" in message and "Nova Lite (us-east-1)" in message
    assert "remove serving" in message


def test_a_run_may_not_choose_a_mode_the_stack_setting_does_not_allow() -> None:
    message = _serving_error(NOVA_RUN[:-1] + ', "serving": "onDemand"}', "provisionedThroughput", "us-east-1")
    assert (
        "serving = 'onDemand' is not allowed: this pipeline's setting pipeline.serving is 'provisionedThroughput'"
        in (message)
    )
    message = _serving_error(NOVA_RUN[:-1] + ', "serving": "provisionedThroughput"}', "onDemand", "us-east-1")
    assert "pipeline.serving is 'onDemand'; use 'onDemand'" in message


def test_an_on_demand_only_stack_refuses_a_model_that_cannot_be_served_on_demand() -> None:
    text = '{"train": "t.jsonl", "baseModelId": "amazon.titan-text-express-v1:0:8k"}'
    message = _serving_error(text, "onDemand", "us-east-1")
    assert "line 1: baseModelId: Titan Text G1 - Express" in message and "serves only on demand" in message
    assert _mode(text, "auto", "us-east-1") == contracts.SERVING_PROVISIONED


def test_serving_accepts_only_the_two_modes() -> None:
    message = _serving_error(NOVA_RUN[:-1] + ', "serving": "auto"}', "auto", "us-east-1")
    assert "serving = 'auto' is not allowed: expected one of provisionedThroughput, onDemand" in message


def test_the_run_spec_carries_the_serving_mode_and_its_wait_bound() -> None:
    def spec(defaults: RunDefaults, region: str = "us-east-1") -> dict[str, Any]:
        return build_run_spec(
            parse_manifest(NOVA_RUN, source=SOURCE, defaults=defaults, region=region),
            defaults,
            run_name="x",
            execution_name="x-abc",
            data_bucket="d",
            artifacts_bucket="a",
            source={"kind": "manifest", "train_key": "runs/x/t.jsonl", "validation_key": None, "test_key": None},
        )

    # The bound defaults to Provisioned Throughput's maxWaitMinutes (60 in these defaults).
    assert spec(_serving_defaults("auto"))["serving"] == {"mode": contracts.SERVING_ON_DEMAND, "max_wait_minutes": 60}
    assert spec(_serving_defaults("auto", max_wait_minutes=45))["serving"]["max_wait_minutes"] == 45
    assert spec(_serving_defaults(None))["serving"] == {"mode": contracts.SERVING_PROVISIONED, "max_wait_minutes": 60}


def test_a_single_upload_takes_the_stacks_serving_default() -> None:
    raw = _raw_defaults()
    raw["base_model_id"], raw["serving"] = NOVA_LITE, {"setting": "auto"}
    raw["hyperparameters"] = {}
    choices = default_choices(RunDefaults.from_json(json.dumps(raw)), "us-east-1")
    assert choices.serving_mode == contracts.SERVING_ON_DEMAND
