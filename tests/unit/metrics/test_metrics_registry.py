"""The metric names are a public contract: this test fails if one disappears or is renamed."""

from __future__ import annotations

import pytest

from pipeline_core.metrics import DEFAULT_METRIC, METRICS, get_metric, metric_names, score_examples


def test_public_names() -> None:
    assert metric_names() == (
        "token_f1",
        "exact_match",
        "accuracy",
        "macro_f1",
        "json_valid",
        "json_schema",
        "tatqa_f1",
        "tatqa_em",
    )
    assert DEFAULT_METRIC == "token_f1"
    assert all(m.description for m in METRICS.values())


def test_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="token_f1"):
        get_metric("bleu")


def test_the_settings_accept_exactly_the_registered_metrics() -> None:
    from stacks.settings import METRICS as SETTINGS_METRICS

    assert metric_names() == SETTINGS_METRICS


@pytest.mark.parametrize(
    "name", ["token_f1", "exact_match", "accuracy", "json_valid", "json_schema", "tatqa_f1", "tatqa_em"]
)
def test_mean_metrics_stay_in_range(name: str) -> None:
    metric = get_metric(name)
    cases = [("", [""]), ("x", ["y"]), ('{"a": 1}', ['{"a": 2}']), ("A", ["a", "b"]), ("-1.5%", ["(1.5)%", "x 2"])]
    for prediction, references in cases:
        assert 0.0 <= metric.score(prediction, references) <= 100.0


def test_macro_f1_is_summarised_at_corpus_level() -> None:
    predictions = ["pos", "pos", "neg", "neg"]
    references = [["pos"], ["pos"], ["pos"], ["neg"]]
    estimate = score_examples(get_metric("macro_f1"), predictions, references, resamples=200)
    assert estimate.value == pytest.approx(100 * (0.8 + 2 / 3) / 2)  # not the per-example accuracy of 75
    assert estimate.n == 4
    assert estimate.ci_low <= estimate.ci_high
