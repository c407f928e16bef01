"""The evaluation settings read from the run spec: defaults, null switches a gate check off, prices."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_core.evaluation import DEFAULT_BATCH_SIZE, EvaluationSpec, PriceTable, SpecError
from pipeline_core.metrics import GateThresholds, TokenPrice


def run(**evaluation: Any) -> dict[str, Any]:
    base = {"metric": "token_f1", "max_tokens": 256, "concurrency": 4, "max_examples": 100}
    return {"evaluation": base | evaluation}


def test_defaults_and_secondary_metric() -> None:
    spec = EvaluationSpec.from_run(run())
    assert spec.batch_size == DEFAULT_BATCH_SIZE
    assert spec.reference_models == ()
    assert spec.gate == GateThresholds(metric="token_f1")
    assert spec.metric_names == ("token_f1", "exact_match")
    assert EvaluationSpec.from_run(run(metric="accuracy")).metric_names == ("accuracy",)


def test_gate_keys_null_and_negative_improvement() -> None:
    gate = EvaluationSpec.from_run(
        run(metric="exact_match", gate={"min_score": 50, "max_p_value": None, "min_improvement_points": -2})
    ).gate
    assert gate == GateThresholds(metric="exact_match", min_score=50.0, min_improvement_points=-2.0, max_p_value=None)


@pytest.mark.parametrize(
    "evaluation",
    [
        {"metric": "bleu"},
        {"concurrency": 0},
        {"max_tokens": True},
        {"gate": {"min_scroe": 1}},
        {"gate": {"max_p_value": -0.1}},
        {"gate": {"min_score": "high"}},
        {"reference_models": "a"},
    ],
)
def test_bad_settings_are_refused(evaluation: dict[str, Any]) -> None:
    with pytest.raises(SpecError):
        EvaluationSpec.from_run(run(**evaluation))


def test_price_table() -> None:
    table = PriceTable.from_run(
        {"pricing": {"models": {"m": {"input_per_1k": 0.25, "output_per_1k": 1.25}}, "source": "s", "date": "d"}}
    )
    assert table == PriceTable({"m": TokenPrice(0.25, 1.25)}, "s", "d")
    assert PriceTable.from_run({}).prices == {}
    with pytest.raises(SpecError):
        PriceTable.from_run({"pricing": {"models": {"m": {"input_per_1k": 1}}}})


def test_tatqa_f1_is_reported_beside_its_exact_match_and_plain_token_f1() -> None:
    from pipeline_core.evaluation.spec import SECONDARY_METRICS

    assert SECONDARY_METRICS["tatqa_f1"] == ("tatqa_em", "token_f1")
    assert SECONDARY_METRICS["token_f1"] == ("exact_match",)
