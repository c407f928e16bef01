"""Bootstrap and normal intervals, the paired permutation test and percentiles: sanity, determinism, cost."""

from __future__ import annotations

import random

import pytest

from pipeline_core.metrics import bootstrap_mean, get_metric, paired_test, percentile, relative_change, stats, summarise
from pipeline_core.metrics.labels import macro_f1_from_pairs
from pipeline_core.metrics.stats import (
    NORMAL_APPROXIMATION_MIN_N,
    bootstrap_statistic,
    interval_method,
    mean_interval,
    normal_mean,
    paired_statistic_test,
)


def _scores(n: int, seed: int, shift: float = 0.0) -> list[float]:
    rng = random.Random(seed)
    return [min(100.0, max(0.0, rng.gauss(60, 20) + shift)) for _ in range(n)]


def test_constant_scores_give_a_zero_width_interval() -> None:
    estimate = bootstrap_mean([71.25] * 500)
    assert estimate.value == pytest.approx(71.25)
    assert estimate.ci_low == estimate.ci_high == pytest.approx(71.25)


def test_seeded_bootstrap_is_deterministic_and_seed_matters() -> None:
    scores = _scores(300, seed=1)
    assert bootstrap_mean(scores, seed=7) == bootstrap_mean(scores, seed=7)
    assert bootstrap_mean(scores, seed=7) != bootstrap_mean(scores, seed=8)


def test_interval_brackets_the_mean_and_shrinks_with_n() -> None:
    small = bootstrap_mean(_scores(100, seed=2))
    large = bootstrap_mean(_scores(3000, seed=2))
    for estimate in (small, large):
        assert estimate.ci_low < estimate.value < estimate.ci_high
    assert (large.ci_high - large.ci_low) < (small.ci_high - small.ci_low) / 3


def test_interval_covers_the_true_mean_most_of_the_time() -> None:
    # Scores drawn from {0, 100} with p = 0.3: true mean 30. A 95% interval should miss rarely.
    covered = 0
    for trial in range(60):
        rng = random.Random(1000 + trial)
        sample = [100.0 if rng.random() < 0.3 else 0.0 for _ in range(200)]
        estimate = bootstrap_mean(sample, resamples=300, seed=trial)
        covered += estimate.ci_low <= 30 <= estimate.ci_high
    assert covered >= 51  # 85%: loose enough never to flake at 60 trials, tight enough to catch a broken CI


def test_identical_models_give_p_one() -> None:
    scores = _scores(500, seed=3)
    result = paired_test(scores, scores)
    assert result.p_value == pytest.approx(1.0)
    assert result.difference == 0.0
    assert result.ci_low == result.ci_high == 0.0


def test_clearly_better_candidate_gives_small_p() -> None:
    base = _scores(400, seed=4)
    candidate = [min(100.0, b + 8 + random.Random(i).uniform(-3, 3)) for i, b in enumerate(base)]
    result = paired_test(candidate, base)
    assert result.p_value < 0.01
    assert result.difference > 5
    assert 0 < result.ci_low < result.difference < result.ci_high


def test_p_values_are_calibrated_under_the_null() -> None:
    # Two models drawn from the same distribution: about 5% of tests should have p <= 0.05.
    rejections = 0
    for trial in range(80):
        rng = random.Random(trial)
        base = [float(rng.choice([0, 100])) for _ in range(100)]
        candidate = [float(rng.choice([0, 100])) for _ in range(100)]
        rejections += paired_test(candidate, base, resamples=200, seed=trial).p_value <= 0.05
    assert rejections <= 12  # expected 4; 12 would mean the test is badly anti-conservative


def test_matches_the_exact_permutation_p_value() -> None:
    differences = [3.0, 5.0, -1.0, 4.0, 2.0, -2.0, 6.0, 1.0, 0.5, 2.5]
    observed = abs(sum(differences))
    extreme = 0
    for mask in range(2**10):  # every sign assignment
        flipped = sum(-d if mask >> i & 1 else d for i, d in enumerate(differences))
        extreme += abs(flipped) >= observed - 1e-9
    exact = extreme / 2**10
    approximate = paired_test(differences, [0.0] * 10, resamples=20000, seed=1).p_value
    assert approximate == pytest.approx(exact, abs=0.005)


def test_paired_test_is_symmetric_in_sign() -> None:
    a, b = _scores(200, seed=6), _scores(200, seed=7)
    forward, backward = paired_test(a, b), paired_test(b, a)
    assert forward.difference == pytest.approx(-backward.difference)
    assert forward.p_value == pytest.approx(backward.p_value)


class _CountingRandom(random.Random):
    """A Random that counts what it draws: elements picked by choices() and bits from getrandbits()."""

    drawn = 0
    bits = 0

    def choices(self, population, weights=None, *, cum_weights=None, k=1):  # type: ignore[no-untyped-def]
        type(self).drawn += k
        return super().choices(population, weights, cum_weights=cum_weights, k=k)

    def getrandbits(self, k: int) -> int:
        type(self).bits += k
        return super().getrandbits(k)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[_CountingRandom]:
    _CountingRandom.drawn = _CountingRandom.bits = 0
    monkeypatch.setattr(stats.random, "Random", _CountingRandom)
    return _CountingRandom


def test_the_bootstrap_and_the_paired_test_are_linear_in_n(counting: type[_CountingRandom]) -> None:
    # The cost is counted, not timed: resamples x n draws each, so an accidental O(n^2) shows as a count.
    n = 3572
    candidate, base = _scores(n, seed=8, shift=2), _scores(n, seed=9)
    bootstrap_mean(candidate, resamples=200)
    assert counting.drawn == 200 * n
    counting.drawn = 0
    paired_test(candidate, base, resamples=200)
    assert counting.bits == 200 * n  # one sign flip per example and resample
    assert counting.drawn == 200 * n  # the bootstrap CI of the difference


@pytest.mark.parametrize(
    ("n", "method"),
    [(NORMAL_APPROXIMATION_MIN_N - 1, "bootstrap"), (NORMAL_APPROXIMATION_MIN_N, "normal"), (30_000, "normal")],
)
def test_large_samples_use_the_normal_approximation_and_draw_nothing(
    counting: type[_CountingRandom], n: int, method: str
) -> None:
    assert NORMAL_APPROXIMATION_MIN_N == 10_000
    scores = [float(i % 101) for i in range(n)]
    estimate = mean_interval(scores, resamples=100)
    assert interval_method(n) == method
    assert counting.drawn == (100 * n if method == "bootstrap" else 0)
    expected = normal_mean(scores) if method == "normal" else bootstrap_mean(scores, resamples=100)
    assert estimate == expected
    counting.drawn = 0
    assert summarise(get_metric("token_f1"), scores, resamples=100, normal_approximation=True) == expected  # score
    assert counting.drawn == (100 * n if method == "bootstrap" else 0)
    # The pipeline's report says "bootstrap", so without the option a mean is always bootstrapped.
    counting.drawn = 0
    assert summarise(get_metric("token_f1"), scores, resamples=5) == bootstrap_mean(scores, resamples=5)
    assert counting.drawn == 2 * 5 * n


@pytest.mark.parametrize("p", [0.5, 0.05])
def test_the_normal_interval_agrees_with_the_bootstrap_at_the_threshold(p: float) -> None:
    # At the switch-over the two methods must give the same interval to within the bootstrap's own noise,
    # also for skewed 0/100 scores (5% right); otherwise the reported CI would jump as n crosses the threshold.
    rng = random.Random(21)
    scores = [100.0 if rng.random() < p else 0.0 for _ in range(NORMAL_APPROXIMATION_MIN_N)]
    normal, boot = normal_mean(scores), bootstrap_mean(scores)  # the default 1000 resamples
    width = normal.ci_high - normal.ci_low
    assert normal.value == boot.value
    assert abs(normal.ci_low - boot.ci_low) < 0.05 * width
    assert abs(normal.ci_high - boot.ci_high) < 0.05 * width


def test_normal_interval_by_hand() -> None:
    scores = [0.0, 100.0] * 5000  # mean 50, plug-in sd 50, se 0.5
    estimate = normal_mean(scores)
    assert estimate.value == 50.0
    assert estimate.ci_low == pytest.approx(50 - 1.959964 * 0.5)
    assert estimate.ci_high == pytest.approx(50 + 1.959964 * 0.5)
    assert normal_mean([71.25] * 20_000) == stats.Estimate(71.25, 71.25, 71.25, 20_000)
    assert normal_mean([100.0] * 9_999 + [0.0]).ci_high == 100.0  # never beyond the observed range
    with pytest.raises(ValueError):
        normal_mean([])
    with pytest.raises(ValueError):
        mean_interval([1.0] * NORMAL_APPROXIMATION_MIN_N, resamples=0)


def test_corpus_statistic_bootstrap_and_paired_test() -> None:
    gold = ["pos", "neg"] * 50
    good = [(g, g) for g in gold]
    bad = [(g, "pos") for g in gold]
    assert bootstrap_statistic(good, macro_f1_from_pairs, resamples=100).ci_low == 100.0
    result = paired_statistic_test(good, bad, macro_f1_from_pairs, resamples=200)
    assert result.difference == pytest.approx(100 - 100 * (2 / 3 + 0) / 2)
    assert result.p_value < 0.01
    assert paired_statistic_test(good, good, macro_f1_from_pairs, resamples=50).p_value == 1.0


def test_percentile_is_nearest_rank() -> None:
    values = [15, 20, 35, 40, 50]
    assert percentile(values, 30) == 20  # rank ceil(1.5) = 2
    assert percentile(values, 40) == 20  # rank 2 exactly
    assert percentile(values, 50) == 35
    assert percentile(values, 100) == 50
    assert percentile(values, 0) == 15
    assert percentile(list(range(1, 1001)), 97.5) == 975
    with pytest.raises(ValueError):
        percentile([], 50)


def test_relative_change() -> None:
    assert relative_change(91.2, 73.2) == pytest.approx(24.59, abs=0.01)
    assert relative_change(91.2, 83.0) == pytest.approx(9.88, abs=0.01)
    assert relative_change(5, 0) is None


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        bootstrap_mean([])
    with pytest.raises(ValueError):
        bootstrap_mean([1.0], resamples=0)
    with pytest.raises(ValueError):
        paired_test([1.0], [1.0, 2.0])
