"""Token F1 with no reference to compare against.

Written against the mutants `make mutate` found surviving in metrics/text.py (docs/mutation.md).
"""

from __future__ import annotations

from pipeline_core.metrics.text import exact_match, token_f1


def test_an_example_without_references_scores_zero() -> None:
    """Catches `max(..., default=0.0)` made `default=None`, `default=1.0` or dropped (a crash on the first example
    whose references are missing, or a free point for it)."""
    assert token_f1("Paris", []) == 0.0
    assert exact_match("Paris", []) == 0.0
