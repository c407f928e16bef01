"""Applies a registered metric to a set of examples: per-example scores, the summary with its CI, the paired test."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from pipeline_core.metrics.registry import CorpusScorer, Metric
from pipeline_core.metrics.stats import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Estimate,
    PairedTest,
    bootstrap_mean,
    bootstrap_statistic,
    mean_interval,
    paired_statistic_test,
    paired_test,
)

# What a metric keeps per example: a score for mean metrics, a (gold, predicted) pair for corpus metrics.
Observation = float | tuple[str, str]


def _coded(
    corpus: CorpusScorer, *groups: Sequence[Observation]
) -> tuple[list[list[int]], Callable[[Sequence[int]], float]]:
    """Replace each (gold, predicted) pair by a small int, and the statistic by one over ints.

    Resampling then counts ints instead of hashing string tuples, which makes a thousand resamples of a
    corpus metric several times faster.
    """
    index: dict[tuple[str, str], int] = {}
    coded = [[index.setdefault(o, len(index)) for o in group if isinstance(o, tuple)] for group in groups]
    pairs = list(index)

    def statistic(codes: Sequence[int]) -> float:
        return corpus({pairs[code]: k for code, k in Counter(codes).items()})

    return coded, statistic


def observe(metric: Metric, prediction: str, references: Sequence[str]) -> Observation:
    """The per-example quantity a metric is summarised from."""
    if metric.pair is not None:
        return metric.pair(prediction, references)
    return metric.score(prediction, references)


def summarise(
    metric: Metric,
    observations: Sequence[Observation],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    normal_approximation: bool = False,
) -> Estimate:
    """The metric's value (mean, or corpus statistic) with its 95% percentile-bootstrap CI.

    With `normal_approximation`, a mean over stats.NORMAL_APPROXIMATION_MIN_N scores or more gets the normal
    interval instead (stats.mean_interval), which costs one pass rather than resamples x n draws.
    """
    if metric.corpus is not None:
        (codes,), statistic = _coded(metric.corpus, observations)
        return bootstrap_statistic(codes, statistic, resamples=resamples, seed=seed)
    scores = [o for o in observations if not isinstance(o, tuple)]
    interval = mean_interval if normal_approximation else bootstrap_mean
    return interval(scores, resamples=resamples, seed=seed)


def compare(
    metric: Metric,
    candidate: Sequence[Observation],
    other: Sequence[Observation],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedTest:
    """Candidate minus other on the same examples (same order), with CI and permutation p-value."""
    if metric.corpus is not None:
        (mine, theirs), statistic = _coded(metric.corpus, candidate, other)
        return paired_statistic_test(mine, theirs, statistic, resamples=resamples, seed=seed)
    return paired_test(
        [o for o in candidate if not isinstance(o, tuple)],
        [o for o in other if not isinstance(o, tuple)],
        resamples=resamples,
        seed=seed,
    )


def score_examples(
    metric: Metric,
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    normal_approximation: bool = False,
) -> Estimate:
    """One-call scoring of a list of predictions against their references (what `finetune score` runs)."""
    observations = [observe(metric, p, r) for p, r in zip(predictions, references, strict=True)]
    return summarise(metric, observations, resamples=resamples, seed=seed, normal_approximation=normal_approximation)
