"""The quality gate: decides from the evaluation figures whether the fine-tuned model is promoted or rejected.

A pure function of typed inputs, so the workflow, the rehearsal and the tests reach the same verdict from
the same numbers. Every check yields one plain-English sentence; a rejection lists the failed ones.

The gate judges the candidate. The candidate must beat the base model and, when one is recorded and still served,
the champion (the model in production); each comparison is paired, on the examples both models answered. A failed
call of the base model, the champion or a reference only leaves that example out of its comparison (the notes say
how many and why); what rejects is the candidate's own failed share, or too few paired examples to decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pipeline_core.metrics.registry import DEFAULT_METRIC
from pipeline_core.metrics.stats import relative_change

MINUS = "\u2212"  # a real minus sign (U+2212) reads better than a hyphen in "-2.0 points"
# Fewest examples both models must have answered for a comparison to decide. A two-sided sign-flip permutation test
# on n pairs can reach p = 2 / 2**n at best: at most 5 pairs no improvement is significant at 0.05, whatever the
# answers. 10 pairs (best p ~ 0.002) keeps the decision with the test rather than with the floor of its p-value, and
# equals the smallest test set the settings allow (evaluation.maxExamples >= 10).
MIN_PAIRED_EXAMPLES = 10


class Verdict(StrEnum):
    PROMOTE = "promote"
    REJECT = "reject"


@dataclass(frozen=True)
class ChampionThresholds:
    """What the candidate must achieve against the champion, the model in production. None switches a check off."""

    enabled: bool = True
    min_improvement_points: float | None = 0.0  # candidate mean minus champion mean
    max_p_value: float | None = 0.05  # paired permutation test, candidate vs champion


@dataclass(frozen=True)
class GateThresholds:
    """What the candidate must achieve on the primary metric. None switches a check off."""

    metric: str = DEFAULT_METRIC  # the primary metric the gate (and the report's headline) uses
    min_score: float | None = None  # candidate mean, 0..100
    min_improvement_points: float | None = 1.0  # candidate mean minus base mean
    min_improvement_percent: float | None = None  # the same, relative to base mean
    max_p_value: float | None = 0.05  # paired permutation test, candidate vs base
    max_failed_share: float | None = 0.01  # the candidate's failed or missing calls / examples (0..1)
    min_paired_examples: int = MIN_PAIRED_EXAMPLES  # per gated comparison (base, champion)
    champion: ChampionThresholds = field(default_factory=ChampionThresholds)


@dataclass(frozen=True)
class ModelEvidence:
    """One model's figures as the gate sees them."""

    name: str
    score: float | None  # mean of the primary metric; None when nothing could be scored
    examples: int
    failed: int  # failed plus missing calls


@dataclass(frozen=True)
class GateEvidence:
    candidate: ModelEvidence
    base: ModelEvidence
    p_value: float | None  # None when no example had answers from both models
    # Examples the candidate and base both answered; None (a caller that does not count them) checks no minimum.
    paired: int | None = None
    # The model in production, when one is recorded and served: its figures, the paired test against it.
    champion: ModelEvidence | None = None
    champion_p_value: float | None = None
    champion_paired: int = 0
    # What Resolve run found of the champion (which run, what serves it, or why nothing does): shown in the notes.
    champion_note: str | None = None
    # Sentences about the data behind the comparisons (examples left out, and why): shown in the notes.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class GateCheck:
    name: str  # stable id: min_score, min_improvement_points, min_improvement_percent, max_p_value, ...
    passed: bool
    reason: str


@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    reasons: tuple[str, ...]  # the failed checks when rejected, every check when promoted
    checks: tuple[GateCheck, ...]
    # What the verdict rests on besides the checks: with which models it compared the candidate, what was left out.
    notes: tuple[str, ...] = ()


def signed(value: float, digits: int = 1) -> str:
    """A figure with an explicit sign and a real minus sign: +1.5, \u22121.5, 0.0."""
    text = f"{abs(value):.{digits}f}"
    if float(text) == 0:
        return text
    return ("+" if value > 0 else MINUS) + text


def _points(value: float, *, sign: bool = True) -> str:
    unit = "point" if round(abs(value), 1) == 1.0 else "points"
    return f"{signed(value) if sign else f'{value:.1f}'} {unit}"


def _failed_share_check(model: ModelEvidence, role: str, limit: float) -> GateCheck:
    name = f"max_failed_share_{role}"
    if model.examples == 0:
        return GateCheck(name, False, f"{role} {model.name} answered no examples")
    share = model.failed / model.examples
    figure = f"{role} failed {100 * share:.1f}% of calls ({model.failed} of {model.examples})"
    if share > limit:
        return GateCheck(name, False, f"{figure}; allowed at most {100 * limit:.1f}%")
    return GateCheck(name, True, f"{figure}, within the allowed {100 * limit:.1f}%")


def _paired_check(name: str, other: str, paired: int, minimum: int) -> GateCheck:
    both = f"example{'' if paired == 1 else 's'} with answers from both the candidate and {other}"
    if paired < minimum:
        return GateCheck(name, False, f"only {paired} {both}; at least {minimum} are needed to decide")
    return GateCheck(name, True, f"{paired} {both} (at least {minimum} needed to decide)")


def _champion_checks(
    thresholds: GateThresholds, cand: ModelEvidence, champion: ModelEvidence, p_value: float | None, paired: int
) -> list[GateCheck]:
    """The candidate against the champion: the same figures and paired test as against base, its own thresholds."""
    metric, limits = thresholds.metric, thresholds.champion
    checks = [_paired_check("min_paired_examples_champion", "the champion", paired, thresholds.min_paired_examples)]
    if cand.score is None or champion.score is None:
        missing = "candidate" if cand.score is None else "champion"
        checks.append(GateCheck("champion_scored", False, f"{missing} has no scored examples on {metric}"))
        return checks
    diff = cand.score - champion.score
    if limits.min_improvement_points is not None:
        need = limits.min_improvement_points
        ok = diff >= need
        required = f"required improvement over the champion \u2265 {_points(need, sign=False)}"
        if diff < 0:
            text = (
                f"candidate {metric} {cand.score:.1f} is below the champion's {champion.score:.1f} "
                f"({_points(diff)}); {required}"
            )
        else:
            only = "" if ok else "only "
            text = (
                f"candidate {metric} {cand.score:.1f} improves on the champion's {champion.score:.1f} by "
                f"{only}{_points(diff)}; {required}"
            )
        checks.append(GateCheck("champion_min_improvement_points", ok, text))
    if limits.max_p_value is not None:
        limit = limits.max_p_value
        if p_value is None:
            checks.append(
                GateCheck(
                    "champion_max_p_value", False, "no example has answers from the candidate and the champion to test"
                )
            )
        elif diff <= 0:
            text = (
                f"candidate is not better than the champion on {metric} (p = {p_value:.3g}); "
                "significance cannot count for it"
            )
            checks.append(GateCheck("champion_max_p_value", False, text))
        else:
            ok = p_value <= limit
            verdict = "significant" if ok else "not statistically significant"
            text = (
                f"the improvement over the champion is {verdict}: p = {p_value:.3g} (paired permutation test); "
                f"required p \u2264 {limit:g}"
            )
            checks.append(GateCheck("champion_max_p_value", ok, text))
    return checks


def _champion_note(thresholds: GateThresholds, evidence: GateEvidence) -> str:
    if not thresholds.champion.enabled:
        return (
            "the comparison with the champion (the model in production) is switched off "
            "(evaluation.champion.enabled = false); the gate compared the candidate with base only"
        )
    if evidence.champion is None:
        why = evidence.champion_note or "no champion was recorded when the run started"
        return f"{why}; the gate compared the candidate with base only"
    compared = "the gate compared the candidate with base and with the champion (the model in production)"
    return f"{evidence.champion_note}; {compared}" if evidence.champion_note else compared


def _score_checks(thresholds: GateThresholds, cand: float, base: float, p_value: float | None) -> list[GateCheck]:
    metric = thresholds.metric
    diff = cand - base
    checks: list[GateCheck] = []
    if thresholds.min_score is not None:
        ok = cand >= thresholds.min_score
        relation = "meets" if ok else "is below"
        text = f"candidate {metric} {cand:.1f} {relation} the minimum {thresholds.min_score:.1f}"
        checks.append(GateCheck("min_score", ok, text))
    if thresholds.min_improvement_points is not None:
        need = thresholds.min_improvement_points
        ok = diff >= need
        required = f"required improvement \u2265 {_points(need, sign=False)}"
        if diff < 0:
            text = f"candidate {metric} {cand:.1f} is below base {base:.1f} ({_points(diff)}); {required}"
        else:
            only = "" if ok else "only "
            text = f"candidate {metric} {cand:.1f} improves on base {base:.1f} by {only}{_points(diff)}; {required}"
        checks.append(GateCheck("min_improvement_points", ok, text))
    if thresholds.min_improvement_percent is not None:
        required = f"required \u2265 {thresholds.min_improvement_percent:.1f}%"
        rel = relative_change(cand, base)
        if rel is None:
            ok = diff > 0  # from 0 any gain is an unbounded relative improvement
            text = f"base {metric} is 0.0, so the relative change is {'unbounded' if ok else 'undefined'}; {required}"
        else:
            ok = rel >= thresholds.min_improvement_percent
            text = f"candidate {metric} changes by {signed(rel)}% relative to base; {required}"
        checks.append(GateCheck("min_improvement_percent", ok, text))
    if thresholds.max_p_value is not None:
        limit = thresholds.max_p_value
        if p_value is None:
            checks.append(GateCheck("max_p_value", False, "no example has answers from both models to test"))
        elif diff <= 0:
            # The p-value is two-sided; a significant difference in the wrong direction must not pass.
            text = (
                f"candidate is not better than base on {metric} (p = {p_value:.3g}); significance cannot count for it"
            )
            checks.append(GateCheck("max_p_value", False, text))
        else:
            ok = p_value <= limit
            verdict = "significant" if ok else "not statistically significant"
            test = f"p = {p_value:.3g} (paired permutation test)"
            text = f"the improvement is {verdict}: {test}; required p \u2264 {limit:g}"
            checks.append(GateCheck("max_p_value", ok, text))
    return checks


def evaluate_gate(thresholds: GateThresholds, evidence: GateEvidence) -> GateResult:
    """Run every configured check and return the verdict with its reasons."""
    cand, base = evidence.candidate, evidence.base
    checks: list[GateCheck] = []
    if cand.score is None or base.score is None:
        missing = "candidate" if cand.score is None else "base"
        checks.append(GateCheck("scored", False, f"{missing} has no scored examples on {thresholds.metric}"))
    else:
        checks += _score_checks(thresholds, cand.score, base.score, evidence.p_value)
    if evidence.paired is not None:
        checks.append(
            _paired_check("min_paired_examples_base", "base", evidence.paired, thresholds.min_paired_examples)
        )
    if thresholds.champion.enabled and evidence.champion is not None:
        checks += _champion_checks(
            thresholds, cand, evidence.champion, evidence.champion_p_value, evidence.champion_paired
        )
    # Only the candidate's own failures count against it: another model's failed call leaves that example out of
    # its comparison (fewer paired examples), and too few of those is checked above.
    if thresholds.max_failed_share is not None:
        checks.append(_failed_share_check(cand, "candidate", thresholds.max_failed_share))

    notes = (_champion_note(thresholds, evidence), *evidence.notes)
    failed = tuple(c.reason for c in checks if not c.passed)
    if failed:
        return GateResult(Verdict.REJECT, failed, tuple(checks), notes)
    return GateResult(Verdict.PROMOTE, tuple(c.reason for c in checks), tuple(checks), notes)
