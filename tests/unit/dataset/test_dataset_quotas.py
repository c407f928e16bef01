"""Quotas from the model catalogue: record counts, tokens per record (with the 5% warning), file sizes, cost."""

from __future__ import annotations

import dataclasses

import pytest
from dataset_fixtures import HAIKU, Run, claude, dataset, jsonl, lines_of, rules

from pipeline_core import models


@pytest.fixture
def tiny_quotas(monkeypatch: pytest.MonkeyPatch) -> models.DatasetQuotas:
    """Haiku with small quotas so the limits can be hit with tiny files."""
    haiku = models.get_base_model(HAIKU)
    quotas = dataclasses.replace(
        haiku.quotas,
        min_records=5,
        max_train_records=20,
        max_validation_records=3,
        max_total_records=22,
        max_tokens_per_record=100,
        max_train_file_bytes=10_000,
        max_validation_file_bytes=1_000,
    )
    monkeypatch.setitem(models.CATALOGUE, HAIKU, dataclasses.replace(haiku, quotas=quotas))
    return quotas


def test_min_records(run: Run) -> None:
    result = run(dataset(31))
    assert "QUOTA-MIN-RECORDS" in rules(result)
    assert run(dataset(32)).valid  # Haiku's documented minimum is 32


def test_max_train_validation_total(run: Run, tiny_quotas: models.DatasetQuotas) -> None:
    assert "QUOTA-MAX-TRAIN-RECORDS" in rules(run(dataset(21)))
    assert "QUOTA-MAX-VALIDATION-RECORDS" in rules(run(dataset(10), dataset(4, start=100)))
    assert "QUOTA-MAX-TOTAL-RECORDS" in rules(run(dataset(20), dataset(3, start=100)))
    assert run(dataset(19), dataset(3, start=100)).valid


def test_tokens_per_record_and_near_limit(run: Run, tiny_quotas: models.DatasetQuotas) -> None:
    base = claude(0)
    base_chars = len(base["system"]) + sum(len(m["content"]) for m in base["messages"])
    over = claude(0, question=claude(0)["messages"][0]["content"] + "x" * (301 - base_chars))  # 301 chars -> 101
    near = claude(1, question=claude(1)["messages"][0]["content"] + "y" * (290 - base_chars))  # 290 chars -> 97
    result = run(jsonl([over, near]) + dataset(10, start=2))
    assert lines_of(result, "QUOTA-MAX-TOKENS") == [1]
    assert lines_of(result, "QUOTA-NEAR-MAX-TOKENS") == [2]
    assert "101 tokens" in next(f.message for f in result.report.findings if f.rule_id == "QUOTA-MAX-TOKENS")


def test_file_size_quota(run: Run, tiny_quotas: models.DatasetQuotas) -> None:
    assert "QUOTA-FILE-SIZE" not in rules(run(dataset(20)))  # about 3.8 KB of a 10,000-byte quota
    validation = jsonl([claude(i, answer="z" * 200) for i in range(100, 103)])  # 3 records, over 1,000 bytes
    result = run(dataset(15), validation)
    finding = next(f for f in result.report.findings if f.rule_id == "QUOTA-FILE-SIZE")
    assert finding.file == "validation.jsonl" and "1,000" in finding.message


def test_token_statistics_and_cost(run: Run) -> None:
    result = run(dataset(40), dataset(10, start=100), price_per_1k_training_tokens=0.5, epochs=3)
    stats = result.report.stats["train"]
    assert stats["records"] == 40
    assert stats["min_tokens"] <= stats["p95_tokens"] <= stats["max_tokens"]
    assert stats["total_tokens"] >= stats["max_tokens"] * 1
    cost = result.report.to_dict()["estimated_training_cost"]
    assert cost["training_tokens"] == stats["total_tokens"] and cost["epochs"] == 3
    assert cost["usd"] == round(stats["total_tokens"] * 3 * 0.5 / 1000, 2)


def test_cost_is_omitted_without_a_price(run: Run) -> None:
    assert run(dataset(40)).report.to_dict()["estimated_training_cost"] is None


def test_token_estimate_rounds_up(run: Run) -> None:
    record = {"messages": [{"role": "user", "content": "abcd"}, {"role": "assistant", "content": "efg"}]}  # 7 chars
    result = run(jsonl([record]) + dataset(40, start=1))
    assert result.report.stats["train"]["min_tokens"] == 3  # ceil(7 / 3)


def test_records_past_the_check_limit_are_counted_not_checked(run: Run, tiny_quotas: models.DatasetQuotas) -> None:
    # 30 records with a broken one at line 28: past a check limit of 25, it is counted but not parsed.
    data = dataset(27) + b"{not json\n" + dataset(2, start=27)
    result = run(data, index_limit=25)
    assert lines_of(result, "QUALITY-INDEX-FULL") == [26]
    assert "JSON-INVALID" not in rules(result)
    assert result.report.records("train") == 30
    assert "QUOTA-MAX-TRAIN-RECORDS" in rules(result)  # the counts still reach the quota checks
    assert not result.valid
    # Under the limit, every record is checked.
    assert lines_of(run(data, index_limit=30), "JSON-INVALID") == [28]


def test_unchecked_records_make_the_dataset_invalid_even_without_a_quota(run: Run) -> None:
    # No quota bounds the test file: past the check limit, its records would reach the snapshot unchecked.
    result = run(dataset(40), test=dataset(9, start=100) + b'{"not": "checked AKIAIOSFODNN7EXAMPLE"}\n', index_limit=45)
    assert lines_of(result, "QUALITY-INDEX-FULL") == [6]
    assert not result.valid
