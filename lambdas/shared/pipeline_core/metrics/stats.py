"""Summary statistics for evaluation scores: bootstrap confidence intervals, a paired test, percentiles.

Pure Python on purpose: the Lambda asset must be dependency-free (no numpy/scipy). The inner loops run in
C-implemented builtins (random.choices, sum, itertools.compress), which keeps n=3572 with 1000 resamples well under
a second; but a bootstrap costs resamples x n draws, so mean_interval (what `finetune score` uses) takes the normal
approximation from NORMAL_APPROXIMATION_MIN_N scores on, which costs one pass and agrees with the bootstrap there.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain, compress
from statistics import NormalDist
from typing import TypeVar

T = TypeVar("T")

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_CONFIDENCE = 0.95
# From this many scores on, mean_interval uses the normal approximation: the mean of 10,000 bounded scores is
# normal to well within the bootstrap's own resampling noise (tests/unit/metrics/test_metrics_stats.py compares the
# two here), while 1000 resamples of 100,000 scores take seconds of pure Python.
NORMAL_APPROXIMATION_MIN_N = 10_000

# Maps the characters of a binary string to bytes 0/1, so itertools.compress can select with them.
_BITS_TO_SELECTORS = bytes.maketrans(b"01", b"\x00\x01")
_FLIP_SELECTORS = bytes.maketrans(b"\x00\x01", b"\x01\x00")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval over n examples (percentile bootstrap, or normal_mean)."""

    value: float
    ci_low: float
    ci_high: float
    n: int


@dataclass(frozen=True)
class PairedTest:
    """Candidate minus other on the same examples: the difference, its bootstrap CI, a two-sided p-value."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile: the smallest value with at least p% of the values at or below it.

    Nearest rank always returns an observed value (a latency some request really had) and needs no
    interpolation convention. `values` need not be sorted.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0..100")
    ordered = sorted(values)
    # round() guards against 97.5 * 1000 / 100 landing a hair above 975 in binary floating point.
    rank = math.ceil(round(p * len(ordered) / 100, 9))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def _check(resamples: int, confidence: float) -> None:
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")


def _interval(replicates: list[float], confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    return percentile(replicates, tail), percentile(replicates, 100 - tail)


def bootstrap_mean(
    scores: Sequence[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """The mean with a percentile-bootstrap CI: resample the scores with replacement, take the tails."""
    _check(resamples, confidence)
    n = len(scores)
    if n == 0:
        raise ValueError("mean of no scores")
    data = list(scores)
    rng = random.Random(seed)
    replicates = [sum(rng.choices(data, k=n)) / n for _ in range(resamples)]
    low, high = _interval(replicates, confidence)
    return Estimate(math.fsum(data) / n, low, high, n)


def normal_mean(scores: Sequence[float], *, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """The mean with the normal-approximation CI: mean +/- z * s / sqrt(n), kept within the observed range.

    s is the plug-in standard deviation (divisor n), the spread the bootstrap resamples from, so for large n the
    two intervals estimate the same thing; the clamp matches the bootstrap, which never leaves the data's range.
    """
    _check(1, confidence)
    n = len(scores)
    if n == 0:
        raise ValueError("mean of no scores")
    mean = math.fsum(scores) / n
    spread = math.sqrt(math.fsum((x - mean) ** 2 for x in scores) / n)
    half_width = NormalDist().inv_cdf(0.5 + confidence / 2) * spread / math.sqrt(n)
    return Estimate(mean, max(min(scores), mean - half_width), min(max(scores), mean + half_width), n)


def mean_interval(
    scores: Sequence[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """The mean and its CI: percentile bootstrap below NORMAL_APPROXIMATION_MIN_N scores, else normal approximation."""
    if len(scores) >= NORMAL_APPROXIMATION_MIN_N:
        _check(resamples, confidence)
        return normal_mean(scores, confidence=confidence)
    return bootstrap_mean(scores, resamples=resamples, seed=seed, confidence=confidence)


def interval_method(n: int) -> str:
    """How mean_interval computes the CI of n scores: "bootstrap" or "normal"."""
    return "normal" if n >= NORMAL_APPROXIMATION_MIN_N else "bootstrap"


def bootstrap_statistic(
    observations: Sequence[T],
    statistic: Callable[[Sequence[T]], float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Any corpus statistic (e.g. macro-F1) with a percentile-bootstrap CI over resampled examples."""
    _check(resamples, confidence)
    n = len(observations)
    if n == 0:
        raise ValueError("statistic of no observations")
    data = list(observations)
    rng = random.Random(seed)
    replicates = [statistic(rng.choices(data, k=n)) for _ in range(resamples)]
    low, high = _interval(replicates, confidence)
    return Estimate(statistic(data), low, high, n)


def _random_selectors(rng: random.Random, n: int) -> bytes:
    """n independent fair coin flips as bytes 0/1, generated in C rather than a Python loop."""
    return format(rng.getrandbits(n), f"0{n}b").encode("ascii").translate(_BITS_TO_SELECTORS)


def paired_test(
    candidate: Sequence[float],
    other: Sequence[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> PairedTest:
    """Paired sign-flip permutation test on per-example differences, plus a bootstrap CI of the mean difference.

    Under the null hypothesis (the two models are interchangeable on each example) every difference is as
    likely to have either sign, so we flip signs at random and count how often the mean difference is at
    least as far from zero as observed. The test is about the same quantity we report (the mean
    difference), assumes no distribution, and copes with the many ties that 0/100 metrics produce.
    p = (extreme + 1) / (resamples + 1), so it is never 0 (Phipson & Smyth, 2010); with 1000 resamples the
    smallest p-value is about 0.001.
    """
    _check(resamples, confidence)
    if len(candidate) != len(other):
        raise ValueError("paired scores must have the same length")
    n = len(candidate)
    if n == 0:
        raise ValueError("paired test of no examples")
    differences = [c - o for c, o in zip(candidate, other, strict=True)]
    total = math.fsum(differences)
    # Sums in a different order differ in the last bits; treat near-equal as "as extreme" (conservative).
    tolerance = 1e-9 * max(1.0, math.fsum(abs(d) for d in differences))
    rng = random.Random(seed)
    extreme = 0
    for _ in range(resamples):
        flipped = sum(compress(differences, _random_selectors(rng, n)))
        if abs(total - 2 * flipped) >= abs(total) - tolerance:
            extreme += 1
    interval = bootstrap_mean(differences, resamples=resamples, seed=seed, confidence=confidence)
    return PairedTest(total / n, interval.ci_low, interval.ci_high, (extreme + 1) / (resamples + 1), n)


def paired_statistic_test(
    candidate: Sequence[T],
    other: Sequence[T],
    statistic: Callable[[Sequence[T]], float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> PairedTest:
    """The same paired permutation test for a corpus statistic: swap the two models' answers per example.

    The CI is a paired bootstrap: resample example indices, recompute both statistics, take the difference.
    """
    _check(resamples, confidence)
    if len(candidate) != len(other):
        raise ValueError("paired observations must have the same length")
    n = len(candidate)
    if n == 0:
        raise ValueError("paired test of no examples")
    observed = statistic(candidate) - statistic(other)
    tolerance = 1e-9 * max(1.0, abs(observed))
    rng = random.Random(seed)
    extreme = 0
    for _ in range(resamples):
        swap = _random_selectors(rng, n)
        keep = swap.translate(_FLIP_SELECTORS)
        # Built with compress/chain (C loops): a statistic sees a multiset, so the order does not matter.
        left = list(chain(compress(candidate, keep), compress(other, swap)))
        right = list(chain(compress(other, keep), compress(candidate, swap)))
        if abs(statistic(left) - statistic(right)) >= abs(observed) - tolerance:
            extreme += 1
    pairs = list(zip(candidate, other, strict=True))
    replicates = []
    for _ in range(resamples):
        # Resample whole pairs so each replicate compares both models on the same examples.
        mine, theirs = zip(*rng.choices(pairs, k=n), strict=True)
        replicates.append(statistic(mine) - statistic(theirs))
    low, high = _interval(replicates, confidence)
    return PairedTest(observed, low, high, (extreme + 1) / (resamples + 1), n)


def relative_change(value: float, baseline: float) -> float | None:
    """(value - baseline) / baseline in percent; None when the baseline is 0 (no meaningful ratio)."""
    if baseline == 0:
        return None
    return 100.0 * (value - baseline) / abs(baseline)
