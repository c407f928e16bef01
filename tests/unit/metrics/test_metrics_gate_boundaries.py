"""Every threshold the quality gate and the training-loss check enforce, exactly at, just below and just above it.

The report promises "required improvement >= N", "required p <= N", "allowed at most N%" and "meets the minimum";
a candidate sitting exactly on a threshold must get what the sentence promises. The figures are chosen so that the
arithmetic is exact in binary floating point (51.0 - 50.0 == 1.0, 100 * 5.0 / 50.0 == 10.0, 1 / 100 == 0.01), so
each "at" case really is on the threshold. Each test names the one-line bug it catches.
"""

from __future__ import annotations

import pytest

from pipeline_core.metrics import GateEvidence, GateThresholds, ModelEvidence, Verdict, evaluate_gate
from pipeline_core.training_metrics import TrainingMetrics, check_threshold, read_metrics

# Every check off; each test switches on the one it is about, so no other check decides the verdict.
OFF = GateThresholds(
    min_score=None, min_improvement_points=None, min_improvement_percent=None, max_p_value=None, max_failed_share=None
)


def _gate(
    candidate: float,
    base: float = 50.0,
    *,
    p: float | None = 0.001,
    failed: int = 0,
    base_failed: int = 0,
    examples: int = 100,
    **thresholds: float,
) -> tuple[Verdict, dict[str, bool]]:
    evidence = GateEvidence(
        ModelEvidence("ft", candidate, examples=examples, failed=failed),
        ModelEvidence("base", base, examples=examples, failed=base_failed),
        p,
    )
    result = evaluate_gate(GateThresholds(**{**OFF.__dict__, **thresholds}), evidence)
    return result.verdict, {check.name: check.passed for check in result.checks}


# ---- min_improvement_points: diff >= need --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("candidate", "passed"),
    [
        (51.0, True),  # exactly +1.0 point: "required improvement >= 1.0 point" is met
        (50.9375, False),  # just below (+0.9375, exact in binary)
        (51.0625, True),  # just above
    ],
)
def test_min_improvement_points_at_below_above(candidate: float, passed: bool) -> None:
    """Catches `diff >= need` turned into `diff > need` (the "at" case) or a wrong sign (below/above)."""
    verdict, checks = _gate(candidate, min_improvement_points=1.0)
    assert checks == {"min_improvement_points": passed}
    assert verdict is (Verdict.PROMOTE if passed else Verdict.REJECT)


def test_min_improvement_points_of_zero_accepts_an_equal_score() -> None:
    """Catches `>=` turned into `>` at a zero threshold: "no worse than base" must promote a tie."""
    assert _gate(50.0, min_improvement_points=0.0)[1] == {"min_improvement_points": True}
    assert _gate(49.9375, min_improvement_points=0.0)[1] == {"min_improvement_points": False}


# ---- min_improvement_percent: rel >= need ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("candidate", "passed"),
    [
        (55.0, True),  # 100 * 5 / 50 = 10.0% exactly
        (54.96875, False),  # 9.9375%
        (55.03125, True),  # 10.0625%
    ],
)
def test_min_improvement_percent_at_below_above(candidate: float, passed: bool) -> None:
    """Catches `rel >= need` turned into `rel > need`, or the relative change taken against the candidate."""
    verdict, checks = _gate(candidate, min_improvement_percent=10.0)
    assert checks == {"min_improvement_percent": passed}
    assert verdict is (Verdict.PROMOTE if passed else Verdict.REJECT)


@pytest.mark.parametrize(("candidate", "passed"), [(0.0, False), (0.0625, True)])
def test_min_improvement_percent_from_a_zero_base(candidate: float, passed: bool) -> None:
    """From 0 any gain is unbounded and passes, no gain does not: catches `diff > 0` turned into `diff >= 0`."""
    assert _gate(candidate, 0.0, min_improvement_percent=10.0)[1] == {"min_improvement_percent": passed}


# ---- max_p_value: p <= limit, and only for a candidate that is better -----------------------------------------
@pytest.mark.parametrize(
    ("p", "passed"),
    [
        (0.05, True),  # exactly the limit: "required p <= 0.05" is met
        (0.049, True),
        (0.051, False),
        (0.05000000000000001, False),  # the next double above 0.05
    ],
)
def test_max_p_value_at_below_above(p: float, passed: bool) -> None:
    """Catches `p <= limit` turned into `p < limit` (the "at" case) or `>` for `<`."""
    verdict, checks = _gate(60.0, p=p, max_p_value=0.05)
    assert checks == {"max_p_value": passed}
    assert verdict is (Verdict.PROMOTE if passed else Verdict.REJECT)


@pytest.mark.parametrize(("candidate", "passed"), [(50.0, False), (49.9375, False), (50.0625, True)])
def test_significance_counts_only_for_a_better_candidate(candidate: float, passed: bool) -> None:
    """A tie with a tiny p-value is not an improvement: catches `diff <= 0` turned into `diff < 0`."""
    assert _gate(candidate, p=0.001, max_p_value=0.05)[1] == {"max_p_value": passed}


def test_no_paired_examples_fail_the_significance_check() -> None:
    """Catches a missing p-value being treated as significant (for example compared as 0)."""
    assert _gate(60.0, p=None, max_p_value=0.05)[1] == {"max_p_value": False}


# ---- max_failed_share: share > limit fails, the candidate's only ----------------------------------------------
@pytest.mark.parametrize(
    ("failed", "passed"),
    [
        (1, True),  # 1 of 100 = 1.0% exactly: "allowed at most 1.0%" is met
        (0, True),
        (2, False),
    ],
)
def test_max_failed_share_at_below_above_for_the_candidate(failed: int, passed: bool) -> None:
    """Catches `share > limit` turned into `share >= limit`."""
    _, checks = _gate(60.0, failed=failed, max_failed_share=0.01)
    assert checks == {"max_failed_share_candidate": passed}


@pytest.mark.parametrize("base_failed", [0, 1, 2, 50])
def test_the_base_models_failed_calls_never_reject_the_candidate(base_failed: int) -> None:
    """Catches the base model's bad luck judged as the candidate's: its failures only leave examples unpaired."""
    verdict, checks = _gate(60.0, base_failed=base_failed, max_failed_share=0.01)
    assert checks == {"max_failed_share_candidate": True}
    assert verdict is Verdict.PROMOTE


def test_max_failed_share_just_above_with_a_large_run() -> None:
    """1,001 failures of 100,000 is 1.001%: just over the limit, so it fails (catches rounding the share)."""
    _, checks = _gate(60.0, failed=1001, examples=100_000, max_failed_share=0.01)
    assert checks["max_failed_share_candidate"] is False
    _, checks = _gate(60.0, failed=999, examples=100_000, max_failed_share=0.01)
    assert checks["max_failed_share_candidate"] is True


def test_a_model_that_answered_nothing_fails_even_with_no_failures() -> None:
    """Zero examples is no evidence: catches a 0/0 share treated as 0 (within any limit)."""
    _, checks = _gate(60.0, examples=0, max_failed_share=0.01)
    assert checks == {"max_failed_share_candidate": False}


# ---- min_score: cand >= min ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("candidate", "passed"), [(60.0, True), (59.9375, False), (60.0625, True)])
def test_min_score_at_below_above(candidate: float, passed: bool) -> None:
    """Catches `cand >= min_score` turned into `cand > min_score`, or the base's score compared instead."""
    verdict, checks = _gate(candidate, 70.0, min_score=60.0)
    assert checks == {"min_score": passed}
    assert verdict is (Verdict.PROMOTE if passed else Verdict.REJECT)


def test_defaults_promote_a_candidate_exactly_on_every_default_threshold() -> None:
    """The shipped defaults (+1.0 point, p <= 0.05, at most 1% failed) met exactly: promoted, with every reason."""
    evidence = GateEvidence(
        ModelEvidence("ft", 51.0, examples=100, failed=1), ModelEvidence("base", 50.0, examples=100, failed=1), 0.05
    )
    result = evaluate_gate(GateThresholds(), evidence)
    assert result.verdict is Verdict.PROMOTE, result.reasons
    assert [c.name for c in result.checks] == ["min_improvement_points", "max_p_value", "max_failed_share_candidate"]


# ---- training metrics: maxValidationLoss (loss > max fails) ---------------------------------------------------
@pytest.mark.parametrize(("loss", "passed"), [(1.25, True), (1.2499, True), (1.2501, False)])
def test_max_validation_loss_at_below_above(loss: float, passed: bool) -> None:
    """Catches `loss > max` turned into `loss >= max` (the "at" case, which the reason calls "within")."""
    ok, reason = check_threshold(TrainingMetrics(0.5, loss, 10, 2), 1.25)
    assert ok is passed
    assert ("within the threshold" if passed else "exceeds the threshold") in reason


def test_max_validation_loss_reads_the_final_row_of_the_csv() -> None:
    """The final (highest epoch, then step) row decides: catches using the first, the minimum or the mean."""
    csv = "step_number,epoch_number,validation_loss\n1,1,0.9\n2,1,2.0\n1,2,1.25\n"
    metrics = read_metrics(None, csv)
    assert metrics.final_validation_loss == 1.25 and metrics.validation_steps == 3
    assert check_threshold(metrics, 1.25)[0] is True
    assert check_threshold(metrics, 1.2499)[0] is False


def test_missing_validation_loss_fails_a_set_threshold_and_passes_none() -> None:
    """Catches a missing loss treated as passing (no evidence must not promote past a set threshold)."""
    assert check_threshold(TrainingMetrics(0.5, None, 10, 0), 1.25)[0] is False
    assert check_threshold(TrainingMetrics(0.5, None, 10, 0), None)[0] is True
