"""How the report states the candidate's serving: the kind, Provisioned Throughput hours and their cost, and the
on-demand custom-model price; the arithmetic is pinned at the hour boundaries."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline_core import contracts
from pipeline_core.metrics import TokenPrice
from pipeline_core.report import (
    EvaluationReport,
    ServingInfo,
    billed_hours,
    render_html,
    render_json,
    render_markdown,
)

CREATED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NOVA_LITE = "amazon.nova-lite-v1:0"


@pytest.mark.parametrize(
    ("elapsed", "hours"),
    [
        (timedelta(0), 1),  # created this instant: its first hour has started
        (timedelta(minutes=1), 1),
        (timedelta(minutes=59, seconds=59), 1),
        (timedelta(minutes=60), 1),  # exactly one hour
        (timedelta(minutes=60, seconds=1), 2),  # one second into the second hour
        (timedelta(minutes=61), 2),
        (timedelta(minutes=120), 2),
        (timedelta(minutes=121), 3),
        (timedelta(hours=25, minutes=30), 26),
    ],
)
def test_billed_hours_round_every_started_hour_up(elapsed: timedelta, hours: int) -> None:
    """Catches floor instead of ceiling (61 min -> 1), or +1 on a whole hour (60 min -> 2)."""
    assert billed_hours(CREATED, CREATED + elapsed) == hours


def run(**pricing: Any) -> dict[str, Any]:
    return {"runtime_model_id": NOVA_LITE, "throughput": {"model_units": 3}, "pricing": pricing or None}


def throughput(kind: str | None, created: datetime | None = CREATED) -> dict[str, Any]:
    state: dict[str, Any] = {"arn": "arn:x", "status": "InService"}
    if kind is not None:
        state["kind"] = kind
    if created is not None:
        state["created_at"] = created.isoformat(timespec="seconds")
    return state


def test_provisioned_throughput_hours_and_cost() -> None:
    """61 minutes is 2 billed hours; 2 h x 3 model units x $20 = $120. Catches units or hours left out."""
    pricing = {"model_unit_per_hour": 20.0, "source": "my price list", "date": "2026-11-30"}
    serving = ServingInfo.from_state(
        run(**pricing), throughput(contracts.SERVING_PROVISIONED), CREATED + timedelta(minutes=61)
    )
    assert serving.description == "Provisioned Throughput, 3 model units"
    assert serving.hours_billed == 2
    assert serving.throughput_cost_usd == pytest.approx(120.0)
    text = " ".join(serving.sentences())
    assert "Hours billed by the time of this report: 2" in text
    assert "$120.00" in text and "my price list" in text and "2026-11-30" in text
    assert serving.to_dict()["hours_billed"] == 2 and serving.to_dict()["throughput_cost_usd"] == 120.0


def test_provisioned_throughput_exactly_one_hour_costs_one_hour() -> None:
    serving = ServingInfo.from_state(
        run(model_unit_per_hour=20.0), throughput(contracts.SERVING_PROVISIONED), CREATED + timedelta(minutes=60)
    )
    assert serving.hours_billed == 1
    assert serving.throughput_cost_usd == pytest.approx(60.0)


def test_provisioned_throughput_without_a_price_states_hours_but_no_cost() -> None:
    serving = ServingInfo.from_state(run(), throughput(contracts.SERVING_PROVISIONED), CREATED + timedelta(hours=3))
    assert serving.hours_billed == 3 and serving.throughput_cost_usd is None
    assert "pricing.modelUnitPerHour" in " ".join(serving.sentences())


def test_a_throughput_state_without_kind_is_provisioned_throughput() -> None:
    """The state written before on-demand serving existed has no kind."""
    serving = ServingInfo.from_state(run(), throughput(None), CREATED + timedelta(minutes=5))
    assert serving.kind == contracts.SERVING_PROVISIONED and serving.hours_billed == 1


def test_one_model_unit_is_singular() -> None:
    serving = ServingInfo(contracts.SERVING_PROVISIONED, model_units=1)
    assert serving.description == "Provisioned Throughput, 1 model unit"


def test_without_a_creation_time_hours_are_not_guessed() -> None:
    serving = ServingInfo.from_state(
        run(model_unit_per_hour=20.0), throughput(contracts.SERVING_PROVISIONED, None), CREATED
    )
    assert serving.hours_billed is None and serving.throughput_cost_usd is None
    assert "n/a" in " ".join(serving.sentences())


def custom_models(price: dict[str, Any]) -> dict[str, Any]:
    return {"models": {NOVA_LITE: price}, "source": "https://aws.amazon.com/bedrock/pricing/", "date": "2026-12-01"}


def test_on_demand_uses_the_custom_model_price_of_the_run_base_model() -> None:
    pricing = {"custom_models": custom_models({"input_per_1k": 0.001, "output_per_1k": 0.004})}
    serving = ServingInfo.from_state(run(**pricing), throughput(contracts.SERVING_ON_DEMAND), CREATED)
    assert serving.description == "on-demand custom model deployment"
    assert serving.token_price == TokenPrice(0.001, 0.004)
    assert (serving.price_source, serving.price_date) == ("https://aws.amazon.com/bedrock/pricing/", "2026-12-01")
    assert serving.hours_billed is None and serving.throughput_cost_usd is None, "no hours for a deployment"
    text = " ".join(serving.sentences())
    assert "costs nothing while idle" in text and "$0.001 / $0.004" in text and "2026-12-01" in text


def test_on_demand_without_a_price_for_this_base_model_says_so() -> None:
    other = {"custom_models": {"models": {"amazon.nova-pro-v1:0": {"input_per_1k": 1, "output_per_1k": 1}}}}
    serving = ServingInfo.from_state(run(**other), throughput(contracts.SERVING_ON_DEMAND), CREATED)
    assert serving.token_price is None
    assert "pricing.onDemandCustomModel" in " ".join(serving.sentences())


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"kind": "serverless"}, "neither of the two serving modes"),
        ({"kind": contracts.SERVING_PROVISIONED, "created_at": "2026-12-01T08:00:00"}, "no time zone"),
    ],
)
def test_a_malformed_throughput_state_is_refused(state: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServingInfo.from_state(run(), state, CREATED)


def test_a_negative_custom_model_price_is_refused() -> None:
    pricing = {"custom_models": custom_models({"input_per_1k": -1, "output_per_1k": 0.004})}
    with pytest.raises(ValueError, match="input_per_1k"):
        ServingInfo.from_state(run(**pricing), throughput(contracts.SERVING_ON_DEMAND), CREATED)


def test_every_rendering_states_the_serving(report: EvaluationReport) -> None:
    serving = ServingInfo.from_state(
        run(model_unit_per_hour=20.0), throughput(contracts.SERVING_PROVISIONED), CREATED + timedelta(minutes=61)
    )
    served = dataclasses.replace(report, run=dataclasses.replace(report.run, serving=serving))
    assert "- Hours billed by the time of this report: 2" in render_markdown(served)
    assert "Provisioned Throughput, 3 model units" in render_html(served)
    assert json.loads(render_json(served))["run"]["serving"]["throughput_cost_usd"] == 120.0
    assert json.loads(render_json(report))["run"]["serving"] is None, "a report made without a workflow"
    assert "Hours billed" not in render_markdown(report)
