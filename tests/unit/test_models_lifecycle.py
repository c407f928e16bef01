"""The catalogue's documented lifecycles: what synthesis refuses, what it only warns about, and the alternatives."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline_core.models import (
    CATALOGUE,
    DEFAULT_BASE_MODEL_ID,
    Lifecycle,
    LifecycleStatus,
    alternatives,
    lifecycle_verdict,
)
from stacks.settings import SettingsError, load_settings

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
TODAY = date(2026, 12, 1)


def test_end_of_life_applies_from_its_date_not_a_day_earlier() -> None:
    facts = Lifecycle(LifecycleStatus.LEGACY, "src", end_of_life="2026-09-10")
    assert facts.status_on(date(2026, 9, 9)) is LifecycleStatus.LEGACY
    assert facts.status_on(date(2026, 9, 10)) is LifecycleStatus.END_OF_LIFE
    assert facts.status_on(date(2026, 9, 11)) is LifecycleStatus.END_OF_LIFE


def test_haiku_in_us_west_2_fails_synth_with_one_line_naming_date_source_and_alternatives() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"baseModelId": HAIKU, "hyperparameters": {}}, today=TODAY)
    message = str(err.value)
    assert "\n" not in message
    assert "reached end of life in us-west-2 on 2026-09-10" in message
    assert "model-card-anthropic-claude-3-haiku" in message and "read 2026-12-01" in message
    assert "meta.llama3-1-70b-instruct-v1:0:128k" in message and "meta.llama3-1-8b-instruct-v1:0:128k" in message
    assert HAIKU + " (" not in message.split("choose one of:")[1], "the refused model is not its own alternative"


def test_haiku_the_day_before_its_end_of_life_synthesizes_with_a_warning() -> None:
    s = load_settings({"baseModelId": HAIKU, "hyperparameters": {}}, today=date(2026, 9, 9))
    assert s.lifecycle_warning is not None and "is Legacy in us-west-2" in s.lifecycle_warning
    assert "2026-09-10" in s.lifecycle_warning and "Provisioned Throughput" in s.lifecycle_warning


def test_haiku_lifecycle_differs_by_region() -> None:
    haiku = CATALOGUE[HAIKU]
    assert haiku.lifecycle_in("us-west-2").status_on(TODAY) is LifecycleStatus.END_OF_LIFE
    assert haiku.lifecycle_in("ca-central-1").status_on(TODAY) is LifecycleStatus.ACTIVE
    assert haiku.lifecycle_in("ap-northeast-2").status_on(TODAY) is LifecycleStatus.LEGACY


def test_unconfirmed_end_of_life_warns_but_does_not_block() -> None:
    llama32 = CATALOGUE["meta.llama3-2-1b-instruct-v1:0:128k"]
    blocking, message = lifecycle_verdict(llama32, "us-west-2", TODAY)
    assert blocking is False
    assert message is not None and "UNCONFIRMED" in message and "2026-07-07" in message
    s = load_settings({"baseModelId": llama32.model_id}, today=TODAY)
    assert s.lifecycle_warning == message


def test_default_is_active_and_fine_tunable_in_the_default_region() -> None:
    model = CATALOGUE[DEFAULT_BASE_MODEL_ID]
    assert "us-west-2" in model.regions
    assert model.lifecycle_in("us-west-2").status_on(TODAY) is LifecycleStatus.ACTIVE
    assert model.lifecycle_in("us-west-2").confirmed, "the default's lifecycle must come from AWS's own page"
    assert lifecycle_verdict(model, "us-west-2", TODAY) == (False, None)


def test_alternatives_are_active_models_of_the_region_only() -> None:
    west = {m.model_id for m in alternatives("us-west-2", TODAY)}
    assert west == {"meta.llama3-1-8b-instruct-v1:0:128k", "meta.llama3-1-70b-instruct-v1:0:128k"}
    east = {m.model_id for m in alternatives("us-east-1", TODAY)}
    assert "amazon.nova-2-lite-v1:0:256k" in east and "amazon.titan-text-express-v1:0:8k" not in east


def test_every_entry_cites_a_source_and_a_read_date() -> None:
    for model in CATALOGUE.values():
        for facts in (model.lifecycle, *model.lifecycle_by_region.values()):
            assert facts.source and facts.source != "not reviewed", model.model_id
            date.fromisoformat(facts.read_on)


def test_foundation_model_id_drops_the_context_suffix() -> None:
    assert CATALOGUE[HAIKU].foundation_model_id == "anthropic.claude-3-haiku-20240307-v1:0"
    nova2 = CATALOGUE["amazon.nova-2-lite-v1:0:256k"]
    assert nova2.foundation_model_id == "amazon.nova-2-lite-v1:0"
    assert nova2.runtime_model_id == "us.amazon.nova-2-lite-v1:0", "Nova 2 Lite is served through a profile only"


def test_reference_models_named_by_arn_are_granted_on_that_arn() -> None:
    from stacks.pipeline_stack import reference_model_arns

    arn = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefghijkl"
    assert reference_model_arns((arn,)) == [arn]


def test_one_list_of_profile_geographies_serves_synth_iam_and_resolve_run() -> None:
    from pipeline_core.models import is_inference_profile_id
    from stacks.reference_model_ids import is_reference_model_id

    assert is_inference_profile_id("us.anthropic.claude-3-5-sonnet-20240620-v1:0")
    assert is_inference_profile_id("arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.x.y-v1:0")
    assert not is_inference_profile_id("anthropic.claude-3-5-sonnet-20240620-v1:0")
    # A geography the stack grants no InvokeModel for is refused at synth, so Resolve run never meets it.
    assert not is_reference_model_id("jp.anthropic.claude-3-5-sonnet-20240620-v1:0")
    assert not is_inference_profile_id("jp.anthropic.claude-3-5-sonnet-20240620-v1:0")
