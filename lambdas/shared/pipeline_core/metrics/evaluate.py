"""Applies a registered metric to a set of examples: per-example scores, the summary with its CI, the paired test."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline_core.metrics.registry import Metric
from pipeline_core.metrics.stats import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Estimate,
    PairedTest,
    bootstrap_mean,
    bootstrap_statistic,
    paired_statistic_test,
    paired_test,
)

# What a metric keeps per example: a score for mean metrics, a (gold, predicted) pair for corpus metrics.
Observation = float | tuple[str, str]


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
) -> Estimate:
    """The metric's value (mean, or corpus statistic) with its 95% bootstrap CI."""
    if metric.corpus is not None:
        corpus = metric.corpus
        pairs = [o for o in observations if isinstance(o, tuple)]
        return bootstrap_statistic(pairs, corpus, resamples=resamples, seed=seed)
    return bootstrap_mean([o for o in observations if not isinstance(o, tuple)], resamples=resamples, seed=seed)


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
        corpus = metric.corpus
        return paired_statistic_test(
            [o for o in candidate if isinstance(o, tuple)],
            [o for o in other if isinstance(o, tuple)],
            corpus,
            resamples=resamples,
            seed=seed,
        )
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
) -> Estimate:
    """One-call scoring of a list of predictions against their references (what `finetune score` runs)."""
    observations = [observe(metric, p, r) for p, r in zip(predictions, references, strict=True)]
    return summarise(metric, observations, resamples=resamples, seed=seed)
