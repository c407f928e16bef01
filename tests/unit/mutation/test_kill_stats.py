"""The significance test behind the quality gate: reproducible, resampling the right things, ties counted.

Written against the mutants `make mutate` found surviving in metrics/stats.py (docs/mutation.md); each test names
the one-line bug it catches. A wrong p-value promotes a model that is not better, or rejects one that is.
"""

from __future__ import annotations

import statistics

import pytest

from pipeline_core.metrics.stats import bootstrap_mean, bootstrap_statistic, paired_statistic_test, paired_test

SCORES = [float((7 * i) % 11) for i in range(40)]
OTHER = [float((5 * i) % 13) for i in range(40)]


def test_a_statistic_of_one_observation_is_that_value() -> None:
    """Catches `n == 0` made `n == 1` (one example would be refused as "no observations")."""
    estimate = bootstrap_statistic([5.0], statistics.fmean, resamples=50, seed=1)
    assert (estimate.value, estimate.ci_low, estimate.ci_high, estimate.n) == (5.0, 5.0, 5.0, 1)


def test_a_paired_test_of_one_example_runs() -> None:
    """Catches `n == 0` made `n == 1` in both paired tests."""
    assert paired_test([3.0], [1.0], resamples=50, seed=1).n == 1
    assert paired_statistic_test([3.0], [1.0], sum, resamples=50, seed=1).n == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: bootstrap_statistic([], statistics.fmean), "statistic of no observations"),
        (lambda: paired_test([1.0], [1.0, 2.0]), "paired scores must have the same length"),
        (lambda: paired_test([], []), "paired test of no examples"),
        (lambda: paired_statistic_test([1.0], [], sum), "paired observations must have the same length"),
        (lambda: paired_statistic_test([], [], sum), "paired test of no examples"),
    ],
)
def test_impossible_inputs_are_refused_with_their_reason(call: object, message: str) -> None:
    """Catches a refusal losing or changing its message."""
    assert callable(call)
    with pytest.raises(ValueError, match=f"^{message}$"):
        call()


def test_every_result_is_reproducible_from_its_seed() -> None:
    """Catches `random.Random(seed)` made `random.Random(None)` (a rerun of the gate could flip its verdict)."""
    assert bootstrap_statistic(SCORES, statistics.fmean, resamples=200, seed=4) == bootstrap_statistic(
        SCORES, statistics.fmean, resamples=200, seed=4
    )
    assert paired_test(SCORES, OTHER, resamples=200, seed=4) == paired_test(SCORES, OTHER, resamples=200, seed=4)
    assert paired_statistic_test(SCORES, OTHER, statistics.fmean, resamples=200, seed=4) == paired_statistic_test(
        SCORES, OTHER, statistics.fmean, resamples=200, seed=4
    )


def test_the_bootstrap_resamples_whole_datasets() -> None:
    """Catches `rng.choices(data, k=n)` losing `k` (one-element resamples: the interval would span 0..1)."""
    estimate = bootstrap_statistic([0.0] * 50 + [1.0] * 50, statistics.fmean, resamples=500, seed=3)
    assert 0.3 < estimate.ci_low < 0.5 < estimate.ci_high < 0.7


def test_the_paired_interval_is_the_bootstrap_of_the_differences_with_the_callers_settings() -> None:
    """Catches the interval's seed, resample count or confidence falling back to defaults, and n being dropped."""
    result = paired_test(SCORES, OTHER, resamples=300, seed=11, confidence=0.8)
    interval = bootstrap_mean(
        [c - o for c, o in zip(SCORES, OTHER, strict=True)], resamples=300, seed=11, confidence=0.8
    )
    assert (result.ci_low, result.ci_high, result.n) == (interval.ci_low, interval.ci_high, 40)


def test_swapping_answers_keeps_each_examples_pair() -> None:
    """Catches a swapped set built from the wrong side (`compress` of candidate/other dropped or exchanged).

    Candidate 1s against 2s, statistic sum: a relabelling is as extreme as observed only when no example or every
    example is swapped, so p is about 2 in 8."""
    p = paired_statistic_test([1, 1, 1], [2, 2, 2], sum, resamples=2000, seed=3).p_value
    assert 0.2 < p < 0.3


@pytest.mark.parametrize("test", ["paired_test", "paired_statistic_test"])
def test_float_noise_counts_as_a_tie_relative_to_the_scale(test: str) -> None:
    """Catches the tie tolerance `1e-9 * max(1.0, scale)` made `/ max(...)` or `max(2.0, ...)`.

    Differences 1000 and 1e-7: flipping the small one moves the total by 2e-7, float noise at that scale, so every
    relabelling ties and p is about 1. Differences 1 and 0.75e-9: flipping the small one moves it by 1.5e-9, more
    than the tolerance at scale 1, so only half the relabellings are as extreme."""

    def p_of(candidate: list[float]) -> float:
        if test == "paired_test":
            return paired_test(candidate, [0.0, 0.0], resamples=2000, seed=3).p_value
        return paired_statistic_test(candidate, [0.0, 0.0], sum, resamples=2000, seed=3).p_value

    assert p_of([1000.0, 1e-7]) == 1.0
    assert 0.45 < p_of([1.0, 0.75e-9]) < 0.55


def test_the_paired_statistic_interval_resamples_whole_pairs_and_takes_the_difference() -> None:
    """Catches the paired bootstrap drawing one pair per replicate (`k` dropped), adding the two statistics instead
    of subtracting them, or returning no bound."""
    candidate, other = [1.0] * 50 + [0.0] * 50, [1.0] * 100
    result = paired_statistic_test(candidate, other, statistics.fmean, resamples=500, seed=3)
    assert result.difference == -0.5
    assert -0.7 < result.ci_low < -0.5 < result.ci_high < -0.3


def test_percentile_refuses_no_values_and_ranks_outside_0_to_100() -> None:
    """Catches the refusals losing their message, and the upper bound `p <= 100` widened to 101."""
    from pipeline_core.metrics.stats import percentile

    with pytest.raises(ValueError, match=r"^percentile of no values$"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"^percentile 100\.5 is outside 0\.\.100$"):
        percentile([1.0], 100.5)
    assert percentile([3.0, 1.0, 2.0], 100) == 3.0


def test_one_resample_is_enough_and_the_confidence_is_strictly_between_0_and_1() -> None:
    """Catches `resamples < 1` made `<= 1` or `< 2`, the confidence bounds widened, and the refusals' messages."""
    assert bootstrap_mean([1.0, 2.0], resamples=1, seed=1).n == 2
    with pytest.raises(ValueError, match=r"^resamples must be at least 1$"):
        bootstrap_mean([1.0], resamples=0)
    with pytest.raises(ValueError, match=r"^mean of no scores$"):
        bootstrap_mean([])
    for confidence in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"^confidence must be between 0 and 1$"):
            bootstrap_mean([1.0], confidence=confidence)


def test_the_interval_cuts_half_the_missing_confidence_from_each_tail() -> None:
    """Catches the tail computed as `101 * ...`, `... / 3`, or the upper cut taken at `101 - tail`.

    Replicates 0..99: the 90% interval is exactly the 5th and 95th nearest-rank percentiles, 4 and 94."""
    from pipeline_core.metrics.stats import _interval

    assert _interval([float(v) for v in range(100)], 0.9) == (4.0, 94.0)


def test_mean_interval_passes_the_callers_settings_to_either_method() -> None:
    """Catches mean_interval dropping the seed or the confidence on its way to the bootstrap or the normal
    approximation, and normal_mean refusing no scores without its message."""
    from pipeline_core.metrics.stats import NORMAL_APPROXIMATION_MIN_N, mean_interval, normal_mean

    assert mean_interval(SCORES, resamples=200, seed=9, confidence=0.5) == bootstrap_mean(
        SCORES, resamples=200, seed=9, confidence=0.5
    )
    many = [float(i % 7) for i in range(NORMAL_APPROXIMATION_MIN_N)]
    assert mean_interval(many, confidence=0.5) == normal_mean(many, confidence=0.5)
    assert mean_interval(many, confidence=0.5) != normal_mean(many)
    with pytest.raises(ValueError, match=r"^mean of no scores$"):
        normal_mean([])
