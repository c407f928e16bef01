"""The aggregator: failed calls counted but never scored, retries folded once, bad records refused."""

from __future__ import annotations

from typing import Any

import pytest
from report_fixtures import BASE, CANDIDATE, REFERENCE

from pipeline_core.metrics import GateThresholds, Verdict, get_metric
from pipeline_core.report import Aggregator, EvaluationReport, ModelRoles, RunInfo


def test_means_counts_and_costs(report: EvaluationReport) -> None:
    cand, base, ref = report.models
    assert (cand.name, base.name, ref.name) == (CANDIDATE, BASE, REFERENCE)
    assert report.metrics == ("exact_match", "token_f1")  # the gate's metric leads
    for model, mean in ((cand, 91.2), (base, 73.2), (ref, 83.0)):
        estimate = model.metrics["exact_match"]
        assert estimate is not None
        assert estimate.value == pytest.approx(mean)
        assert estimate.n == 1000  # the failed example is not scored
        assert model.examples == 1001
        assert model.failed_calls == 1
        assert model.missing_calls == 0
    assert cand.latency is not None
    assert (cand.latency.p50_ms, cand.latency.p95_ms) == (149.0, 194.0)
    assert cand.cost is not None
    assert cand.cost.per_1000_requests == pytest.approx(1000 * 0.25 + 200 * 1.25)
    assert ref.cost is None  # no price given


def test_comparisons_and_gate(report: EvaluationReport) -> None:
    vs_base = report.comparison("exact_match", BASE)
    assert vs_base is not None and vs_base.test is not None
    assert vs_base.test.difference == pytest.approx(18.0)
    assert vs_base.test.p_value < 0.01
    assert vs_base.relative_change_percent == pytest.approx(100 * 18 / 73.2)
    assert report.gate.verdict is Verdict.PROMOTE


def test_top_differences_are_the_ten_largest(report: EvaluationReport) -> None:
    assert len(report.top_differences) == 10
    assert all(d.difference == 100.0 for d in report.top_differences)
    assert [d.id for d in report.top_differences][:2] == ["ex-0732", "ex-0733"]


def _record(i: str, model: str, prediction: str = "yes", error: str | None = None) -> dict[str, Any]:
    return {
        "id": i,
        "model": model,
        "prediction": prediction,
        "references": ["yes"],
        "latency_ms": 10,
        "input_tokens": 5,
        "output_tokens": 1,
        "error": error,
    }


def _aggregator(**gate: Any) -> Aggregator:
    return Aggregator(
        roles=ModelRoles("ft", "base"),
        metrics=[get_metric("exact_match")],
        thresholds=GateThresholds(metric="exact_match", **gate),
        resamples=50,
    )


RUN = RunInfo(run_name="r", dataset_sha256="0" * 64, simulated=True)


def test_a_retry_that_succeeds_replaces_the_failure_and_missing_answers_count_as_failed() -> None:
    aggregator = _aggregator()
    aggregator.add_batch([_record("1", "ft", error="ModelTimeoutException"), _record("1", "base")])
    aggregator.add_batch([_record("1", "ft"), _record("1", "ft", prediction="no")])  # retry, then a duplicate
    aggregator.add_batch([_record("2", "ft")])  # base never answered example 2
    result = aggregator.finish(RUN)
    ft, base = result.models
    assert ft.failed_calls == 0
    assert ft.metrics["exact_match"] is not None and ft.metrics["exact_match"].value == 100.0
    assert base.missing_calls == 1
    assert result.gate.verdict is Verdict.REJECT
    # The base model's missing answer is not held against the candidate; too few paired examples to decide is.
    assert not any(reason.startswith("base failed") for reason in result.gate.reasons)
    assert "only 1 example with answers from both the candidate and base; at least 10 are needed to decide" in (
        result.gate.reasons
    )
    assert (
        "comparison with base base: 1 of 2 examples paired; left out 1 that base base failed or did not answer "
        "(no record \u00d7 1)" in result.gate.notes
    )


def test_a_model_with_only_failures_has_no_scores() -> None:
    aggregator = _aggregator()
    aggregator.add_batch([_record("1", "ft", error="boom"), _record("1", "base")])
    result = aggregator.finish(RUN)
    assert result.models[0].metrics["exact_match"] is None
    assert result.models[0].latency is None
    assert result.gate.reasons[0] == "candidate has no scored examples on exact_match"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "other"}, "unknown model"),
        ({"references": []}, "references"),
        ({"prediction": 3}, "prediction"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"id": None}, "id"),
    ],
)
def test_bad_records_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _aggregator().add_batch([{**_record("1", "ft"), **change}])


def test_conflicting_references_are_refused() -> None:
    aggregator = _aggregator()
    aggregator.add_batch([_record("1", "ft")])
    with pytest.raises(ValueError, match="references differ"):
        aggregator.add_batch([{**_record("1", "base"), "references": ["no"]}])


def test_gate_metric_must_be_computed() -> None:
    with pytest.raises(ValueError, match="token_f1"):
        Aggregator(roles=ModelRoles("ft", "base"), metrics=[get_metric("exact_match")], thresholds=GateThresholds())
