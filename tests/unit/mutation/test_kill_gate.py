"""The quality gate's every sentence, pinned whole: the operator decides from these whether a paid run was wasted.

Written against the mutants `make mutate` found surviving in metrics/gate.py (docs/mutation.md): each test names the
one-line bug it catches. Figures are chosen so a wrong scale (101 instead of 100), a wrong rounding or a flipped
comparison changes the printed text.
"""

from __future__ import annotations

import pytest

from pipeline_core.metrics.gate import (
    MINUS,
    GateCheck,
    GateEvidence,
    GateThresholds,
    ModelEvidence,
    Verdict,
    evaluate_gate,
    signed,
)

ALL_ON = GateThresholds(
    min_score=80.0,
    min_improvement_points=1.0,
    min_improvement_percent=5.0,
    max_p_value=0.05,
    max_failed_share=0.2,
)


def _evidence(
    cand: float | None, base: float | None, p: float | None = 0.001, cand_failed: int = 0, cand_examples: int = 1000
) -> GateEvidence:
    return GateEvidence(
        ModelEvidence("ft", cand, examples=cand_examples, failed=cand_failed),
        ModelEvidence("haiku", base, examples=1000, failed=0),
        p,
    )


def test_a_promotion_lists_every_check_with_its_exact_sentence() -> None:
    """Catches any check's sentence, name or scale changing (e.g. `101 * share`, "meets" -> "MEETS")."""
    result = evaluate_gate(ALL_ON, _evidence(91.2, 73.2, cand_failed=100))
    expected = (
        GateCheck("min_score", True, "candidate token_f1 91.2 meets the minimum 80.0"),
        GateCheck(
            "min_improvement_points",
            True,
            "candidate token_f1 91.2 improves on base 73.2 by +18.0 points; required improvement \u2265 1.0 point",
        ),
        GateCheck(
            "min_improvement_percent",
            True,
            "candidate token_f1 changes by +24.6% relative to base; required \u2265 5.0%",
        ),
        GateCheck(
            "max_p_value",
            True,
            "the improvement is significant: p = 0.001 (paired permutation test); required p \u2264 0.05",
        ),
        GateCheck(
            "max_failed_share_candidate",
            True,
            "candidate failed 10.0% of calls (100 of 1000), within the allowed 20.0%",
        ),
    )
    assert result.checks == expected
    assert result.verdict is Verdict.PROMOTE
    assert result.reasons == tuple(check.reason for check in expected)


def test_a_rejection_gives_each_failed_check_its_exact_sentence() -> None:
    """Catches "is below" / "not statistically significant" / "allowed at most" wording or scale changing."""
    result = evaluate_gate(ALL_ON, _evidence(50.0, 49.5, p=0.2, cand_failed=300))
    assert result.verdict is Verdict.REJECT
    assert result.reasons == (
        "candidate token_f1 50.0 is below the minimum 80.0",
        "candidate token_f1 50.0 improves on base 49.5 by only +0.5 points; required improvement \u2265 1.0 point",
        "candidate token_f1 changes by +1.0% relative to base; required \u2265 5.0%",
        "the improvement is not statistically significant: p = 0.2 (paired permutation test); required p \u2264 0.05",
        "candidate failed 30.0% of calls (300 of 1000); allowed at most 20.0%",
    )


def test_a_model_that_answered_nothing_fails_its_share_check_with_a_sentence() -> None:
    """Catches the no-examples sentence being dropped (reason None)."""
    result = evaluate_gate(ALL_ON, _evidence(91.2, 73.2, cand_examples=0))
    assert GateCheck("max_failed_share_candidate", False, "candidate ft answered no examples") in result.checks


def test_no_paired_examples_fails_the_p_value_check_with_a_sentence() -> None:
    """Catches the no-pairs sentence being dropped or altered."""
    result = evaluate_gate(ALL_ON, _evidence(91.2, 73.2, p=None))
    assert GateCheck("max_p_value", False, "no example has answers from both models to test") in result.checks


@pytest.mark.parametrize(("cand", "base", "missing"), [(None, 70.0, "candidate"), (70.0, None, "base")])
def test_an_unscored_model_is_named(cand: float | None, base: float | None, missing: str) -> None:
    """Catches the missing side always being reported as "candidate", and the check's name or False flag changing."""
    result = evaluate_gate(GateThresholds(max_failed_share=None), _evidence(cand, base))
    assert result.checks == (GateCheck("scored", False, f"{missing} has no scored examples on token_f1"),)
    assert result.checks[0].passed is False
    assert result.verdict is Verdict.REJECT


@pytest.mark.parametrize(("cand", "word"), [(3.0, "unbounded"), (0.0, "undefined")])
def test_a_zero_base_explains_the_relative_change(cand: float, word: str) -> None:
    """Catches the unbounded/undefined wording being swapped, forced or dropped."""
    only_percent = GateThresholds(min_improvement_points=None, min_improvement_percent=5.0, max_p_value=None)
    result = evaluate_gate(only_percent, _evidence(cand, 0.0))
    assert result.checks[0].reason == f"base token_f1 is 0.0, so the relative change is {word}; required \u2265 5.0%"
    assert result.checks[0].passed is (cand > 0)


def test_a_tie_is_reported_as_no_improvement_not_as_below_base() -> None:
    """Catches `diff < 0` turned into `diff <= 0` (a tie would read as "below base")."""
    only_points = GateThresholds(max_p_value=None, max_failed_share=None)
    result = evaluate_gate(only_points, _evidence(73.2, 73.2))
    assert result.reasons == (
        "candidate token_f1 73.2 improves on base 73.2 by only 0.0 points; required improvement \u2265 1.0 point",
    )


@pytest.mark.parametrize(
    ("cand", "figure"),
    [
        (74.16, "+1.0 point"),  # 0.96 prints as 1.0: singular, though still below the 1.0 required
        (74.6, "+1.4 points"),  # rounding to a whole number would make this singular
    ],
)
def test_the_unit_follows_the_printed_figure(cand: float, figure: str) -> None:
    """Catches `round(x, 1)` turned into `round(x)`, `round(x, 2)` or `round(x, None)` in the point/points choice."""
    only_points = GateThresholds(max_p_value=None, max_failed_share=None)
    (check,) = evaluate_gate(only_points, _evidence(cand, 73.2)).checks
    assert check.reason.endswith(f" {figure}; required improvement \u2265 1.0 point")


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0.0"), (-0.04, "0.0"), (0.04, "0.0"), (1.0, "+1.0"), (-1.0, f"{MINUS}1.0")],
)
def test_signed_marks_only_nonzero_figures(value: float, text: str) -> None:
    """Catches `float(text) == 0` turned into `== 1` (zero would get a sign, one would lose it)."""
    assert signed(value) == text
