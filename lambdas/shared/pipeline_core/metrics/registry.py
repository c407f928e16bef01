"""The registry of evaluation metrics by stable public name; the names are a public contract, never renamed.

Every metric scores one example as `(prediction, references) -> float` in 0..100. Most are summarised by
their mean; a corpus metric (macro_f1) is instead computed over all examples' (gold, predicted) pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pipeline_core.metrics.labels import accuracy, label_pair, macro_f1_from_counts
from pipeline_core.metrics.numeric import tatqa_em, tatqa_f1
from pipeline_core.metrics.structured import JsonValue, SchemaConformance, json_schema, json_valid
from pipeline_core.metrics.text import exact_match, token_f1

ExampleScorer = Callable[[str, Sequence[str]], float]
LabelPairs = Callable[[str, Sequence[str]], tuple[str, str]]
CorpusScorer = Callable[[Mapping[tuple[str, str], int]], float]  # from (gold, predicted) -> count

DEFAULT_METRIC = "token_f1"


@dataclass(frozen=True)
class Metric:
    """One metric: its public name, a one-line definition, and how it scores."""

    name: str
    description: str
    score: ExampleScorer  # per example, 0..100
    # Corpus metrics only: turn an example into a (gold, predicted) pair, and score the pairs' counts.
    pair: LabelPairs | None = None
    corpus: CorpusScorer | None = None

    @property
    def is_corpus(self) -> bool:
        return self.corpus is not None


METRICS: Mapping[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "token_f1",
            "Bag-of-tokens F1 after SQuAD normalisation, best reference; the default metric.",
            token_f1,
        ),
        Metric("exact_match", "100 if the SQuAD-normalised prediction equals a reference, else 0.", exact_match),
        Metric("accuracy", "Label accuracy: 100 if the normalised label equals a reference label, else 0.", accuracy),
        Metric(
            "macro_f1",
            "Corpus-level macro-F1 over the gold labels (per example: 100 if correct, else 0).",
            accuracy,
            pair=label_pair,
            corpus=macro_f1_from_counts,
        ),
        Metric("json_valid", "100 if the prediction is strict JSON, else 0.", json_valid),
        Metric(
            "json_schema",
            "100 if the prediction is JSON conforming to the schema (given, or inferred from a JSON reference).",
            json_schema,
        ),
        Metric(
            "tatqa_f1",
            "TAT-QA F1: numbers compared as values (sign, scale, percent), other words by set-of-tokens F1; "
            "a single-number reference scores 0 or 100.",
            tatqa_f1,
        ),
        Metric(
            "tatqa_em",
            "100 if the prediction has the reference's numbers (as values) and normalised words, in any order, else 0.",
            tatqa_em,
        ),
    )
}


def metric_names() -> tuple[str, ...]:
    """The public metric names, in documentation order."""
    return tuple(METRICS)


def get_metric(name: str, *, schema: Mapping[str, JsonValue] | None = None) -> Metric:
    """The metric registered under `name`; for `json_schema`, optionally bound to an explicit schema.

    Raises KeyError naming the known metrics when `name` is unknown, and SchemaError for a schema outside
    the supported subset.
    """
    try:
        metric = METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known metrics: {', '.join(METRICS)}") from None
    if name == "json_schema" and schema is not None:
        return Metric(metric.name, metric.description, SchemaConformance(schema))
    return metric
