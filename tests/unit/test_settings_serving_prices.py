"""pricing.onDemandCustomModel and pricing.modelUnitPerHour: validated at synth and handed to every run, where the
report prices the candidate's serving with them."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.pipeline_stack import run_defaults
from stacks.settings import SettingsError, load_settings

NOVA_LITE = "amazon.nova-lite-v1:0"


def custom(models: dict[str, Any], **extra: Any) -> dict[str, Any]:
    section = {"models": models, "source": "https://aws.amazon.com/bedrock/pricing/", "date": "2026-12-01"}
    return {"pricing": {"onDemandCustomModel": section | extra}}


def test_no_custom_model_price_by_default() -> None:
    pricing = run_defaults(load_settings({}))["pricing"]
    assert pricing["custom_models"] is None and pricing["model_unit_per_hour"] is None


def test_custom_model_and_model_unit_prices_reach_the_run() -> None:
    settings = load_settings(custom({NOVA_LITE: {"inputPer1k": 0.001, "outputPer1k": 0.004}}))
    pricing = run_defaults(settings)["pricing"]
    assert pricing["custom_models"] == {
        "models": {NOVA_LITE: {"input_per_1k": 0.001, "output_per_1k": 0.004}},
        "source": "https://aws.amazon.com/bedrock/pricing/",
        "date": "2026-12-01",
    }
    per_hour = run_defaults(load_settings({"pricing": {"modelUnitPerHour": 23.5}}))["pricing"]["model_unit_per_hour"]
    assert per_hour == 23.5


def test_a_model_that_cannot_be_served_on_demand_is_refused() -> None:
    llama = "meta.llama3-1-70b-instruct-v1:0"
    with pytest.raises(SettingsError, match=r"pipeline\.pricing\.onDemandCustomModel\.models\.meta\.llama3-1-70b"):
        load_settings(custom({llama: {"inputPer1k": 0.001, "outputPer1k": 0.004}}))


@pytest.mark.parametrize("missing", ["source", "date"])
def test_source_and_date_are_required_with_custom_model_prices(missing: str) -> None:
    context = custom({NOVA_LITE: {"inputPer1k": 0.001, "outputPer1k": 0.004}})
    del context["pricing"]["onDemandCustomModel"][missing]
    with pytest.raises(SettingsError, match=rf"pipeline\.pricing\.onDemandCustomModel\.{missing}.*required"):
        load_settings(context)


def test_a_negative_custom_model_price_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"onDemandCustomModel\.models\.amazon\.nova-lite-v1:0\.inputPer1k = -1"):
        load_settings(custom({NOVA_LITE: {"inputPer1k": -1, "outputPer1k": 0.004}}))


def test_an_unknown_key_in_the_section_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"onDemandCustomModel\.currency"):
        load_settings(custom({}, currency="EUR"))
