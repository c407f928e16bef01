"""Every dataset quota the validator enforces, exactly at, just below and just above its value.

A quota off by one either rejects a dataset Bedrock would accept (a failed run the user must fix for nothing) or
passes one Bedrock rejects after the run has started. The model's quotas are replaced by small, pairwise distinct
ones (monkeypatched into a copy of the catalogue entry) so each limit can be reached with a tiny file and only the
finding under test can fire. Each test names the one-line bug it catches.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from dataset_fixtures import HAIKU, Run, claude, dataset, jsonl, lines_of, rules

from pipeline_core import models
from pipeline_core.dataset.validator import NEAR_LIMIT_RATIO

MIN, MAX_TRAIN, MAX_VALIDATION, MAX_TOTAL, MAX_TOKENS = 5, 20, 3, 22, 100
QUOTA_RULES = {
    "QUOTA-MIN-RECORDS",
    "QUOTA-MAX-TRAIN-RECORDS",
    "QUOTA-MAX-VALIDATION-RECORDS",
    "QUOTA-MAX-TOTAL-RECORDS",
    "QUOTA-MAX-TOKENS",
    "QUOTA-NEAR-MAX-TOKENS",
    "QUOTA-FILE-SIZE",
}


@pytest.fixture
def small_quotas(monkeypatch: pytest.MonkeyPatch) -> models.DatasetQuotas:
    haiku = models.get_base_model(HAIKU)
    quotas = dataclasses.replace(
        haiku.quotas,
        min_records=MIN,
        max_train_records=MAX_TRAIN,
        max_validation_records=MAX_VALIDATION,
        max_total_records=MAX_TOTAL,
        max_tokens_per_record=MAX_TOKENS,
        max_train_file_bytes=1_000_000,
        max_validation_file_bytes=1_000_000,
    )
    monkeypatch.setitem(models.CATALOGUE, HAIKU, dataclasses.replace(haiku, quotas=quotas))
    return quotas


def quota_findings(run: Run, train: int, validation: int = 0) -> set[str]:
    result = run(dataset(train), dataset(validation, start=1000) if validation else None)
    return rules(result) & QUOTA_RULES


# ---- record counts --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("train", "found"), [(MIN, set()), (MIN - 1, {"QUOTA-MIN-RECORDS"}), (MIN + 1, set())])
def test_min_records_at_below_above(run: Run, small_quotas: models.DatasetQuotas, train: int, found: set[str]) -> None:
    """Catches `n < min` turned into `n <= min` (rejects exactly the minimum) or into `n < min - 1`."""
    assert quota_findings(run, train) == found


@pytest.mark.parametrize(
    ("train", "found"),
    [(MAX_TRAIN, set()), (MAX_TRAIN - 1, set()), (MAX_TRAIN + 1, {"QUOTA-MAX-TRAIN-RECORDS"})],
)
def test_max_train_records_at_below_above(
    run: Run, small_quotas: models.DatasetQuotas, train: int, found: set[str]
) -> None:
    """Catches `n > max` turned into `n >= max`: exactly the maximum is what Bedrock allows."""
    assert quota_findings(run, train) == found


@pytest.mark.parametrize(
    ("validation", "found"),
    [
        (MAX_VALIDATION, set()),
        (MAX_VALIDATION - 1, set()),
        (MAX_VALIDATION + 1, {"QUOTA-MAX-VALIDATION-RECORDS"}),
    ],
)
def test_max_validation_records_at_below_above(
    run: Run, small_quotas: models.DatasetQuotas, validation: int, found: set[str]
) -> None:
    """Catches `>` turned into `>=` at the validation maximum, or the train count compared instead."""
    assert quota_findings(run, 10, validation) == found


@pytest.mark.parametrize(
    ("train", "found"),
    [
        (MAX_TOTAL - MAX_VALIDATION, set()),  # 19 + 3 = 22: exactly the total
        (MAX_TOTAL - MAX_VALIDATION - 1, set()),  # 21
        (MAX_TOTAL - MAX_VALIDATION + 1, {"QUOTA-MAX-TOTAL-RECORDS"}),  # 20 + 3 = 23; each split on its own is fine
    ],
)
def test_max_total_records_at_below_above(
    run: Run, small_quotas: models.DatasetQuotas, train: int, found: set[str]
) -> None:
    """Catches `>` turned into `>=` at the total, or a total that leaves out the validation records."""
    assert quota_findings(run, train, MAX_VALIDATION) == found


def test_the_shipped_minimum_is_inclusive(run: Run) -> None:
    """Haiku's documented minimum (32) from the real catalogue: 32 passes, 31 fails, 33 passes."""
    minimum = models.get_base_model(HAIKU).quotas.min_records
    assert "QUOTA-MIN-RECORDS" not in rules(run(dataset(minimum)))
    assert "QUOTA-MIN-RECORDS" in rules(run(dataset(minimum - 1)))
    assert "QUOTA-MIN-RECORDS" not in rules(run(dataset(minimum + 1)))


# ---- file size ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("slack", "found"), [(0, set()), (1, set()), (-1, {"QUOTA-FILE-SIZE"})])
def test_train_file_size_at_below_above(
    run: Run, monkeypatch: pytest.MonkeyPatch, small_quotas: models.DatasetQuotas, slack: int, found: set[str]
) -> None:
    """The limit set to the file's exact size (slack 0), one byte more, one byte less: catches `>` turned into `>=`."""
    data = dataset(10)
    haiku = models.get_base_model(HAIKU)
    quotas = dataclasses.replace(small_quotas, max_train_file_bytes=len(data) + slack)
    monkeypatch.setitem(models.CATALOGUE, HAIKU, dataclasses.replace(haiku, quotas=quotas))
    assert rules(run(data)) & QUOTA_RULES == found


# ---- tokens per record and the 5% warning ---------------------------------------------------------------------
def record_of(chars: int, i: int = 0) -> dict[str, object]:
    """A Claude record whose system, question and answer hold exactly `chars` characters."""
    base = claude(i)
    fixed = len(str(base["system"])) + len(claude(i)["messages"][1]["content"])
    question = f"Q{i} " + "x" * (chars - fixed - len(f"Q{i} "))
    record = claude(i, question=question)
    assert len(str(record["system"])) + sum(len(m["content"]) for m in record["messages"]) == chars
    return record


def token_findings(run: Run, chars: int) -> tuple[list[int | None], list[int | None]]:
    """(lines with QUOTA-MAX-TOKENS, lines with QUOTA-NEAR-MAX-TOKENS) for one sized record among ordinary ones."""
    result = run(jsonl([record_of(chars)]) + dataset(10, start=1))
    return lines_of(result, "QUOTA-MAX-TOKENS"), lines_of(result, "QUOTA-NEAR-MAX-TOKENS")


def test_the_fixture_estimate_is_three_characters_a_token(small_quotas: models.DatasetQuotas) -> None:
    # The expected token counts below are ceil(characters / 3); a change of the ratio must revisit them.
    assert small_quotas.chars_per_token == 3.0
    assert NEAR_LIMIT_RATIO * MAX_TOKENS == 95


@pytest.mark.parametrize(
    ("chars", "over", "near"),
    [
        (300, [], [1]),  # 100 tokens: exactly the limit is allowed (with the warning)
        (301, [1], []),  # 101 tokens (300.33 rounds up): over, and only "over" is reported
        (297, [], [1]),  # 99 tokens
    ],
)
def test_max_tokens_per_record_at_below_above(
    run: Run, small_quotas: models.DatasetQuotas, chars: int, over: list[int], near: list[int]
) -> None:
    """Catches `tokens > limit` turned into `>=`, and rounding the estimate down (301 chars is 101 tokens, not 100)."""
    assert math.ceil(chars / 3) in (99, 100, 101)
    assert token_findings(run, chars) == (over, near)


@pytest.mark.parametrize(
    ("chars", "near"),
    [
        (285, [1]),  # 95 tokens: exactly 95% of 100, warned
        (283, [1]),  # 94.33 -> 95 tokens: the estimate rounds up, so still warned
        (282, []),  # 94 tokens: just below 95%, no warning
        (288, [1]),  # 96 tokens
    ],
)
def test_near_token_limit_warning_at_the_95_percent_boundary(
    run: Run, small_quotas: models.DatasetQuotas, chars: int, near: list[int]
) -> None:
    """Catches `tokens >= 0.95 * limit` turned into `>`, the ratio changed, or the estimate rounded down."""
    assert token_findings(run, chars) == ([], near)


def test_near_limit_warning_is_a_warning_and_over_limit_an_error(run: Run, small_quotas: models.DatasetQuotas) -> None:
    """The warning must not fail the dataset, the limit must: catches the two severities swapped."""
    warned = run(jsonl([record_of(285)]) + dataset(10, start=1))
    assert warned.valid and "QUOTA-NEAR-MAX-TOKENS" in rules(warned)
    over = run(jsonl([record_of(301)]) + dataset(10, start=1))
    assert not over.valid
