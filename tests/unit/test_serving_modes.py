"""Which base models the catalogue lets a candidate be served on demand, and where (the AWS page it cites)."""

from __future__ import annotations

import pytest

from pipeline_core import contracts
from pipeline_core.models import (
    CATALOGUE,
    DEFAULT_BASE_MODEL_ID,
    UnsupportedModelError,
    get_base_model,
    on_demand_anywhere,
    on_demand_where,
    require_on_demand,
)

BOTH = (contracts.SERVING_PROVISIONED, contracts.SERVING_ON_DEMAND)
NOVA = ("amazon.nova-micro-v1:0:128k", "amazon.nova-lite-v1:0:300k", "amazon.nova-pro-v1:0:300k")


@pytest.mark.parametrize("model_id", [*NOVA, "amazon.nova-2-lite-v1:0:256k"])
def test_nova_models_are_served_on_demand_in_us_east_1_only(model_id: str) -> None:
    model = get_base_model(model_id)
    assert model.serving_modes("us-east-1") == BOTH
    assert model.serving_modes("us-west-2") == (contracts.SERVING_PROVISIONED,)
    require_on_demand(model, "us-east-1")  # no error


def test_no_other_catalogued_model_is_served_on_demand_anywhere() -> None:
    on_demand = {
        m.model_id for m in CATALOGUE.values() for r in m.regions if contracts.SERVING_ON_DEMAND in m.serving_modes(r)
    }
    assert on_demand == {*NOVA, "amazon.nova-2-lite-v1:0:256k"}


def test_the_default_model_allows_only_provisioned_throughput() -> None:
    model = get_base_model(DEFAULT_BASE_MODEL_ID)
    assert model.serving_modes("us-west-2") == (contracts.SERVING_PROVISIONED,)
    with pytest.raises(UnsupportedModelError) as err:
        require_on_demand(model, "us-west-2")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(
        "Llama 3.1 70B Instruct (meta.llama3-1-70b-instruct-v1:0:128k) cannot be served on demand"
    )
    assert f"available for {on_demand_where()}" in message and "read 2026-12-01" in message


@pytest.mark.parametrize(("region", "expected"), [("us-east-1", True), ("us-west-2", False), ("eu-west-1", False)])
def test_on_demand_anywhere_in_a_region(region: str, expected: bool) -> None:
    assert on_demand_anywhere(region) is expected
