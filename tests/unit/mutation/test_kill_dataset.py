"""Dataset checks that protect trust: how a found secret is masked, which card numbers count, quotas, duplicates.

Written against the mutants `make mutate` found surviving in pipeline_core/dataset (docs/mutation.md); each test
names the one-line bug it catches.
"""

from __future__ import annotations

import pytest

from pipeline_core.dataset.quality import luhn_valid, mask


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("AKIAABCDEFGHIJKLMNOP", "****************MNOP"),  # 20 characters: the last 4 stay
        ("12345678", "******78"),  # 8 characters: a quarter (2) stays
        ("1234567", "******7"),  # 7 // 4 == 1
        ("abc", "***"),  # under 4 characters: nothing stays
        ("", ""),
    ],
)
def test_mask_keeps_at_most_a_quarter_and_never_more_than_four(value: str, masked: str) -> None:
    """Catches `len // 4` made `// 5`, the star count made `len + keep`, `[-keep:]` made `[+keep:]`, and a short
    value being shown whole (`value[-0:]` is the whole string) or padded."""
    assert mask(value) == masked
    assert len(mask(value)) == len(value)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("79927398713", True),  # a doubled 8 (16 -> 7) and a doubled 9 (18 -> 9)
        ("79927398710", False),
        ("5105105105105100", True),  # doubled 5s (10 -> 1)
        ("5105105105105106", False),
        ("4111111111111111", True),
        ("4111111111111112", False),
    ],
)
def test_luhn_reduces_doubled_digits_over_nine(number: str, valid: bool) -> None:
    """Catches the reduction `d -= 9` made `d = 9`, `d += 9` or `d -= 10`, and its `d > 9` made `d > 10`."""
    assert luhn_valid(number) is valid


# ---- duplicates, contradictions and quotas: each finding names the file, the line and what to compare -----------
from dataset_fixtures import HAIKU, Run, claude, dataset, jsonl  # noqa: E402

from pipeline_core import models  # noqa: E402
from pipeline_core.dataset import SplitConfig  # noqa: E402


def _findings(result: object, rule_id: str) -> list[tuple[str, int | None, str]]:
    report = result.report  # type: ignore[attr-defined]
    return [(f.file, f.line, f.message) for f in report.findings if f.rule_id == rule_id]


def test_a_duplicate_and_a_contradiction_name_their_file_and_the_first_occurrence(run: Run) -> None:
    """Catches the finding's file dropped (None) and the contradiction citing the line number as the split."""
    train = jsonl([claude(0), claude(0), *(claude(i) for i in range(1, 40))])
    result = run(train, jsonl([claude(1, answer="a different answer")]))
    assert _findings(result, "QUALITY-DUPLICATE") == [("train.jsonl", 2, "exact duplicate of line 1")]
    assert _findings(result, "QUALITY-CONTRADICTION") == [
        ("validation.jsonl", 1, "the same prompt as train line 3 has a different answer")
    ]


def test_records_sharing_only_an_answer_are_not_duplicates(run: Run) -> None:
    """Catches the record digest built from the answer alone (`digest(answer)`): different questions with one
    answer would be reported as duplicates."""
    train = jsonl([claude(i, question=f"Question number {i}?", answer="Forty-two.") for i in range(40)])
    assert _findings(run(train), "QUALITY-DUPLICATE") == []


@pytest.mark.parametrize(
    ("answer", "found"), [("abc", []), ("ab", [("train.jsonl", 1, "the answer is 2 character(s) long")])]
)
def test_the_short_answer_warning_starts_below_three_characters(run: Run, answer: str, found: list[object]) -> None:
    """Catches `answer_chars < MIN_ANSWER_CHARS` made `<=`, and the finding losing its file or message."""
    train = jsonl([claude(0, answer=answer), *(claude(i) for i in range(1, 40))])
    assert _findings(run(train), "QUALITY-SHORT-ANSWER") == found


def test_token_quota_findings_name_their_file(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches QUOTA-MAX-TOKENS / QUOTA-NEAR-MAX-TOKENS losing the file or the message."""
    import dataclasses

    haiku = models.get_base_model(HAIKU)
    quotas = dataclasses.replace(haiku.quotas, max_tokens_per_record=100)
    monkeypatch.setitem(models.CATALOGUE, HAIKU, dataclasses.replace(haiku, quotas=quotas))
    over, near = "x" * 400, "y" * 235  # about 152 and 97 tokens (3 characters a token, question included)
    train = jsonl([claude(0, answer=over), claude(1, answer=near), *(claude(i) for i in range(2, 40))])
    result = run(train)
    [(file, line, message)] = _findings(result, "QUOTA-MAX-TOKENS")
    assert (file, line) == ("train.jsonl", 1) and message.endswith("tokens (estimated), over the limit of 100")
    [(file, line, message)] = _findings(result, "QUOTA-NEAR-MAX-TOKENS")
    assert (file, line) == ("train.jsonl", 2) and message.endswith("tokens (estimated), near the 100 limit")


def test_a_reduced_split_says_what_was_asked_and_what_was_planned(run: Run) -> None:
    """Catches the SPLIT-ADJUSTED finding losing its "(split)" location or its figures."""
    result = run(dataset(40), split=SplitConfig(validation_share=0.5, test_share=0.0, seed=1))
    assert _findings(result, "SPLIT-ADJUSTED") == [
        (
            "(split)",
            None,
            "requested {'train': 20, 'validation': 20, 'test': 0}, planned {'train': 32, 'validation': 8, 'test': 0} "
            "(max 1,000 validation, min 32 train)",
        )
    ]


def test_a_record_quota_finding_names_the_training_file(run: Run) -> None:
    """Catches the training file's display name replaced by the split name in quota findings."""
    [(file, line, _)] = _findings(run(dataset(10)), "QUOTA-MIN-RECORDS")
    assert (file, line) == ("train.jsonl", None)


def _small_quotas(monkeypatch: pytest.MonkeyPatch, **changes: int) -> None:
    import dataclasses

    haiku = models.get_base_model(HAIKU)
    quotas = dataclasses.replace(haiku.quotas, **changes)
    monkeypatch.setitem(models.CATALOGUE, HAIKU, dataclasses.replace(haiku, quotas=quotas))


def test_record_count_quota_findings_state_the_count_and_the_limit(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches a record-quota finding losing its file or message, or the total computed as a difference."""
    _small_quotas(monkeypatch, min_records=5, max_train_records=20, max_validation_records=3, max_total_records=22)
    result = run(dataset(21), dataset(4, start=1000))
    assert _findings(result, "QUOTA-MAX-TRAIN-RECORDS") == [
        ("train.jsonl", None, "21 training records; the maximum is 20")
    ]
    assert _findings(result, "QUOTA-MAX-VALIDATION-RECORDS") == [
        ("validation.jsonl", None, "4 validation records; the maximum is 3")
    ]
    assert _findings(result, "QUOTA-MAX-TOTAL-RECORDS") == [
        ("train.jsonl", None, "25 training + validation records; the maximum is 22")
    ]


def test_a_file_size_finding_names_the_split_when_the_validation_set_comes_from_a_split(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches the validation display name's default ("validation") dropped: a split-off validation set has no
    file of its own, so the finding would name no file."""
    _small_quotas(monkeypatch, max_validation_file_bytes=100)
    result = run(dataset(40), split=SplitConfig(validation_share=0.2, test_share=0.0, seed=1))
    [(file, line, message)] = _findings(result, "QUOTA-FILE-SIZE")
    assert (file, line) == ("validation", None)
    assert message.startswith("validation data is ") and message.endswith(" bytes; the maximum is 100")


def test_an_unchecked_image_and_a_found_secret_name_their_file_and_line(run: Run) -> None:
    """Catches SCHEMA-MEDIA-UNCHECKED losing its file, line or message, and secret findings losing their file."""
    from dataset_fixtures import converse

    nova_lite = "amazon.nova-lite-v1:0:300k"  # accepts images, so its records may carry them

    record = converse(0)
    record["messages"][0]["content"].append(
        {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/i.png"}}}}
    )
    result = run(jsonl([record, *(converse(i) for i in range(1, 40))]), model=nova_lite)
    assert _findings(result, "SCHEMA-MEDIA-UNCHECKED") == [
        ("train.jsonl", 1, "image/video blocks are not checked and not counted")
    ]
    secret = run(jsonl([claude(0, answer="The key is AKIAIOSFODNN7EXAMPLE here."), *(claude(i) for i in range(1, 40))]))
    assert _findings(secret, "QUALITY-SECRET") == [("train.jsonl", 1, "AWS access key id AKIA************MPLE")]


def test_the_file_size_quota_counts_the_bytes_the_snapshot_writes_not_crlf_bytes(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches every line's size taken from disk (`raw.size if raw.too_long or True`): a CRLF file would be charged
    one byte per line more than the LF-terminated snapshot Bedrock receives, and fail a quota it meets."""
    data = dataset(40)
    _small_quotas(monkeypatch, max_train_file_bytes=len(data))
    assert _findings(run(data.replace(b"\n", b"\r\n")), "QUOTA-FILE-SIZE") == []
    _small_quotas(monkeypatch, max_train_file_bytes=len(data) - 1)
    assert len(_findings(run(data.replace(b"\n", b"\r\n")), "QUOTA-FILE-SIZE")) == 1
