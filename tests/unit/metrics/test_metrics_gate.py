"""The quality gate: each threshold's verdict and its plain-English reason."""

from __future__ import annotations

from pipeline_core.metrics import GateEvidence, GateThresholds, ModelEvidence, Verdict, evaluate_gate


def _evidence(candidate: float | None, base: float | None, p: float | None = 0.001, failed: int = 0) -> GateEvidence:
    return GateEvidence(
        ModelEvidence("ft", candidate, examples=1000, failed=failed),
        ModelEvidence("haiku", base, examples=1000, failed=0),
        p,
    )


def test_clear_improvement_is_promoted_with_reasons() -> None:
    result = evaluate_gate(GateThresholds(), _evidence(91.2, 73.2))
    assert result.verdict is Verdict.PROMOTE
    assert result.verdict.value == "promote"
    assert "candidate token_f1 91.2 improves on base 73.2 by +18.0 points; required improvement \u2265 1.0 point" in (
        result.reasons
    )
    assert all(check.passed for check in result.checks)


def test_worse_candidate_is_rejected_with_the_documented_sentence() -> None:
    result = evaluate_gate(GateThresholds(), _evidence(71.2, 73.2, p=0.02))
    assert result.verdict is Verdict.REJECT
    assert result.reasons[0] == (
        "candidate token_f1 71.2 is below base 73.2 (\u22122.0 points); required improvement \u2265 1.0 point"
    )
    # A significant change in the wrong direction never counts for the candidate.
    assert any("not better than base" in reason for reason in result.reasons)


def test_small_gain_is_rejected() -> None:
    result = evaluate_gate(GateThresholds(max_p_value=None), _evidence(73.7, 73.2))
    assert result.reasons == (
        "candidate token_f1 73.7 improves on base 73.2 by only +0.5 points; required improvement \u2265 1.0 point",
    )


def test_min_score_and_relative_improvement() -> None:
    thresholds = GateThresholds(min_score=95, min_improvement_points=None, min_improvement_percent=30)
    result = evaluate_gate(thresholds, _evidence(91.2, 73.2))
    assert result.reasons == (
        "candidate token_f1 91.2 is below the minimum 95.0",
        "candidate token_f1 changes by +24.6% relative to base; required \u2265 30.0%",
    )


def test_not_significant() -> None:
    result = evaluate_gate(GateThresholds(), _evidence(76.0, 73.2, p=0.21))
    assert result.reasons == (
        "the improvement is not statistically significant: p = 0.21 (paired permutation test); required p \u2264 0.05",
    )


def test_failed_share() -> None:
    result = evaluate_gate(GateThresholds(), _evidence(91.2, 73.2, failed=31))
    assert result.reasons == ("candidate failed 3.1% of calls (31 of 1000); allowed at most 1.0%",)


def test_nothing_scored_is_rejected() -> None:
    result = evaluate_gate(GateThresholds(), _evidence(None, 73.2, p=None))
    assert result.verdict is Verdict.REJECT
    assert result.reasons[0] == "candidate has no scored examples on token_f1"


def test_checks_can_be_switched_off() -> None:
    thresholds = GateThresholds(min_improvement_points=None, max_p_value=None, max_failed_share=None)
    result = evaluate_gate(thresholds, _evidence(10.0, 90.0, p=None))
    assert result.verdict is Verdict.PROMOTE
    assert result.checks == ()
