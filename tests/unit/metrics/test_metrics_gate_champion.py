"""The gate against the champion (the model in production), and the fewest paired examples a comparison decides on.

Each threshold exactly at, just below and just above it, with figures exact in binary floating point; each test
names the one-line bug it catches.
"""

from __future__ import annotations

import pytest

from pipeline_core.evaluation import EvaluationSpec, SpecError
from pipeline_core.metrics import (
    MIN_PAIRED_EXAMPLES,
    ChampionThresholds,
    GateEvidence,
    GateThresholds,
    ModelEvidence,
    Verdict,
    evaluate_gate,
)

# Every base check off, so the champion's checks (and the paired minimum) alone decide.
BASE_OFF = GateThresholds(
    min_score=None, min_improvement_points=None, min_improvement_percent=None, max_p_value=None, max_failed_share=None
)


def _gate(
    candidate: float,
    champion: float = 50.0,
    *,
    p: float | None = 0.001,
    paired: int = 100,
    base_paired: int | None = None,
    limits: ChampionThresholds | None = None,
    **thresholds: object,
) -> tuple[Verdict, dict[str, bool]]:
    evidence = GateEvidence(
        ModelEvidence("ft", candidate, examples=100, failed=0),
        ModelEvidence("base", 10.0, examples=100, failed=0),
        0.001,
        paired=base_paired,
        champion=ModelEvidence("champion", champion, examples=100, failed=0),
        champion_p_value=p,
        champion_paired=paired,
    )
    gate = GateThresholds(**{**BASE_OFF.__dict__, "champion": limits or ChampionThresholds(), **thresholds})
    result = evaluate_gate(gate, evidence)
    return result.verdict, {check.name: check.passed for check in result.checks}


# ---- champion min_improvement_points: diff >= need ------------------------------------------------------------
@pytest.mark.parametrize(
    ("candidate", "passed"),
    [(51.0, True), (50.9375, False), (51.0625, True)],  # at +1.0 point, just below, just above
)
def test_champion_min_improvement_points_at_below_above(candidate: float, passed: bool) -> None:
    """Catches `diff >= need` turned into `diff > need`, or the base's score compared instead of the champion's."""
    limits = ChampionThresholds(min_improvement_points=1.0, max_p_value=None)
    verdict, checks = _gate(candidate, limits=limits)
    assert checks == {"min_paired_examples_champion": True, "champion_min_improvement_points": passed}
    assert verdict is (Verdict.PROMOTE if passed else Verdict.REJECT)


@pytest.mark.parametrize(("candidate", "passed"), [(50.0, True), (49.9375, False), (50.0625, True)])
def test_the_default_zero_point_minimum_accepts_a_tie_on_points(candidate: float, passed: bool) -> None:
    limits = ChampionThresholds(max_p_value=None)
    assert _gate(candidate, limits=limits)[1]["champion_min_improvement_points"] is passed


# ---- champion max_p_value: p <= limit, and only for an improvement ---------------------------------------------
@pytest.mark.parametrize(("p", "passed"), [(0.05, True), (0.0499, True), (0.0501, False)])
def test_champion_max_p_value_at_below_above(p: float, passed: bool) -> None:
    """Catches `p <= limit` turned into `p < limit` (the "at" case)."""
    limits = ChampionThresholds(min_improvement_points=None, max_p_value=0.05)
    assert _gate(51.0, p=p, limits=limits)[1] == {"min_paired_examples_champion": True, "champion_max_p_value": passed}


@pytest.mark.parametrize("candidate", [50.0, 40.0])
def test_a_significant_difference_in_the_champions_favour_never_passes(candidate: float) -> None:
    """Catches the two-sided p-value counted for the candidate when it is no better than the champion."""
    limits = ChampionThresholds(min_improvement_points=None, max_p_value=0.05)
    verdict, checks = _gate(candidate, p=0.0001, limits=limits)
    assert checks["champion_max_p_value"] is False and verdict is Verdict.REJECT


def test_no_paired_test_fails_the_champion_significance_check() -> None:
    limits = ChampionThresholds(min_improvement_points=None, max_p_value=0.05)
    assert _gate(60.0, p=None, limits=limits)[1]["champion_max_p_value"] is False


def test_an_unscored_champion_rejects_rather_than_compares_with_nothing() -> None:
    evidence = GateEvidence(
        ModelEvidence("ft", 60.0, 100, 0),
        ModelEvidence("base", 10.0, 100, 0),
        0.001,
        champion=ModelEvidence("champion", None, 100, 100),
        champion_paired=0,
    )
    result = evaluate_gate(BASE_OFF, evidence)
    assert result.verdict is Verdict.REJECT
    assert "champion has no scored examples on token_f1" in result.reasons


def test_the_rejection_names_the_champion_with_exact_sentences() -> None:
    verdict, _ = _gate(40.0)
    evidence = GateEvidence(
        ModelEvidence("ft", 40.0, 100, 0),
        ModelEvidence("base", 10.0, 100, 0),
        0.001,
        champion=ModelEvidence("champion", 50.0, 100, 0),
        champion_p_value=0.002,
        champion_paired=100,
    )
    result = evaluate_gate(BASE_OFF, evidence)
    assert verdict is Verdict.REJECT
    assert result.reasons == (
        "candidate token_f1 40.0 is below the champion's 50.0 (\u221210.0 points); required improvement over the "
        "champion \u2265 0.0 points",
        "candidate is not better than the champion on token_f1 (p = 0.002); significance cannot count for it",
    )
    assert result.notes == (
        "the gate compared the candidate with base and with the champion (the model in production)",
    )


# ---- switched off, or no champion ------------------------------------------------------------------------------
def test_a_switched_off_comparison_ignores_the_champion_and_says_so() -> None:
    verdict, checks = _gate(40.0, limits=ChampionThresholds(enabled=False))
    assert verdict is Verdict.PROMOTE and checks == {}


def test_without_a_champion_the_notes_say_base_only_and_why() -> None:
    evidence = GateEvidence(
        ModelEvidence("ft", 60.0, 100, 0),
        ModelEvidence("base", 10.0, 100, 0),
        0.001,
        champion_note="the champion (run first) is no longer served",
    )
    result = evaluate_gate(BASE_OFF, evidence)
    assert result.notes == (
        "the champion (run first) is no longer served; the gate compared the candidate with base only",
    )
    off = evaluate_gate(GateThresholds(champion=ChampionThresholds(enabled=False)), evidence)
    assert off.notes[0].startswith("the comparison with the champion (the model in production) is switched off")


# ---- min_paired_examples: paired >= minimum, per gated comparison ----------------------------------------------
@pytest.mark.parametrize(
    ("paired", "passed"),
    [(MIN_PAIRED_EXAMPLES, True), (MIN_PAIRED_EXAMPLES - 1, False), (MIN_PAIRED_EXAMPLES + 1, True)],
)
def test_min_paired_examples_at_below_above_for_base_and_champion(paired: int, passed: bool) -> None:
    """Catches `paired >= minimum` turned into `>`, or one comparison's pairs checked for the other."""
    limits = ChampionThresholds(min_improvement_points=None, max_p_value=None)
    verdict, checks = _gate(60.0, paired=paired, base_paired=100, limits=limits)
    assert checks == {"min_paired_examples_base": True, "min_paired_examples_champion": passed}
    assert verdict is (Verdict.PROMOTE if passed else Verdict.REJECT)
    verdict, checks = _gate(60.0, paired=100, base_paired=paired, limits=limits)
    assert checks == {"min_paired_examples_base": passed, "min_paired_examples_champion": True}
    assert verdict is (Verdict.PROMOTE if passed else Verdict.REJECT)


def test_the_minimum_is_ten_so_the_permutation_test_can_decide() -> None:
    """At 5 pairs the sign-flip test's best two-sided p is 2/32 > 0.05; at 10 it is 2/1024."""
    assert MIN_PAIRED_EXAMPLES == 10
    assert GateThresholds().min_paired_examples == 10


# ---- the run spec's champion settings ---------------------------------------------------------------------------
def _run(gate: dict[str, object], champion: object = None) -> dict[str, object]:
    evaluation = {"metric": "token_f1", "max_tokens": 8, "concurrency": 1, "max_examples": 10, "gate": gate}
    return {"evaluation": {**evaluation, "champion": champion}}


def test_the_run_spec_carries_the_champion_thresholds() -> None:
    spec = EvaluationSpec.from_run(
        _run({"champion": {"enabled": True, "min_improvement_points": -1.5, "max_p_value": None}})
    )
    assert spec.gate.champion == ChampionThresholds(True, -1.5, None)
    assert EvaluationSpec.from_run(_run({})).gate.champion == ChampionThresholds()  # resolved before the feature


@pytest.mark.parametrize(
    ("champion_gate", "message"),
    [
        ({"enabeld": True}, "unknown key"),
        ({"enabled": "yes"}, "enabled must be true or false"),
        ({"max_p_value": -0.1}, "max_p_value must be a non-negative number"),
        ("on", "must be an object"),
    ],
)
def test_bad_champion_thresholds_are_refused(champion_gate: object, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        EvaluationSpec.from_run(_run({"champion": champion_gate}))


@pytest.mark.parametrize(
    ("champion", "expected"),
    [
        (None, None),
        ({"model_id": "arn:x", "kind": "provisionedThroughput", "run_name": "r", "served": True, "note": ""}, "arn:x"),
        ({"model_id": "arn:x", "kind": "provisionedThroughput", "run_name": "r", "served": False, "note": ""}, None),
    ],
)
def test_only_a_served_champion_is_called(champion: object, expected: str | None) -> None:
    assert EvaluationSpec.from_run(_run({}, champion)).champion_to_call == expected
    off = {"champion": {"enabled": False}}
    assert EvaluationSpec.from_run(_run(off, champion)).champion_to_call is None


def test_a_served_champion_without_a_model_id_is_refused() -> None:
    with pytest.raises(SpecError, match="model_id must name the served champion"):
        EvaluationSpec.from_run(_run({}, {"model_id": None, "served": True}))
