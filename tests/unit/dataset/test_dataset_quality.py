"""Quality checks Bedrock does not make: duplicates, contradictions, leakage, short answers, secrets and PII."""

from __future__ import annotations

import json

import pytest
from dataset_fixtures import Run, claude, dataset, jsonl, lines_of, rules

from pipeline_core.dataset.quality import find_sensitive, luhn_valid, normalise, redact_sensitive


def test_exact_and_near_duplicates(run: Run) -> None:
    near = claude(0)
    near["messages"][0]["content"] = "  WHAT is 0 plus 0 ??"
    result = run(dataset(40) + jsonl([claude(0), near]))
    messages = [f.message for f in result.report.findings if f.rule_id == "QUALITY-DUPLICATE"]
    assert lines_of(result, "QUALITY-DUPLICATE") == [41, 42]
    assert messages[0].startswith("exact duplicate of line 1")
    assert messages[1].startswith("near-exact")
    assert result.valid  # quality findings are warnings


def test_contradiction(run: Run) -> None:
    result = run(dataset(40) + jsonl([claude(3, answer="3 plus 3 is 7.")]))
    assert lines_of(result, "QUALITY-CONTRADICTION") == [41]
    assert "QUALITY-DUPLICATE" not in rules(result)


def test_leakage_between_train_and_validation_or_test(run: Run) -> None:
    result = run(dataset(40), jsonl([claude(5)]) + dataset(5, start=100), jsonl([claude(7)]))
    leaks = [f for f in result.report.findings if f.rule_id == "QUALITY-LEAKAGE"]
    assert [(f.file, f.line) for f in leaks] == [("validation.jsonl", 1), ("test.jsonl", 1)]
    assert "train (line 6)" in leaks[0].message


def test_short_answer(run: Run) -> None:
    result = run(dataset(40) + jsonl([claude(99, answer="k")]))
    assert lines_of(result, "QUALITY-SHORT-ANSWER") == [41]


SECRETS = [
    ("AKIAIOSFODNN7EXAMPLE", "QUALITY-SECRET", "AWS access key id"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA", "QUALITY-SECRET", "private key"),
    ("jane.doe@example.com", "QUALITY-PII", "email address"),
    ("+14155552671", "QUALITY-PII", "phone number"),
    ("(415) 555-2671", "QUALITY-PII", "phone number"),
    ("4111 1111 1111 1111", "QUALITY-PII", "credit card number"),
    ("123-45-6789", "QUALITY-PII", "US social security number"),
]


@pytest.mark.parametrize(("value", "rule_id", "kind"), SECRETS)
def test_sensitive_values_are_found_and_masked(run: Run, value: str, rule_id: str, kind: str) -> None:
    result = run(dataset(40) + jsonl([claude(99, question=f"My data: {value} thanks")]))
    finding = next(f for f in result.report.findings if f.rule_id == rule_id)
    assert finding.line == 41 and kind in finding.message
    report = result.report.to_json() + result.report.to_text()
    secret_part = value.split("\n")[-1] if "PRIVATE" in value else value
    assert secret_part not in report  # never printed in full


def test_card_numbers_need_luhn() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert not any(s.kind == "credit card number" for s in find_sensitive("order 4111 1111 1111 1112"))


KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"


@pytest.mark.parametrize("label", ["", "RSA ", "EC ", "ENCRYPTED "])
def test_redacting_a_private_key_removes_its_body_through_the_end_line(label: str) -> None:
    key = f"-----BEGIN {label}PRIVATE KEY-----\n{KEY_BODY}\nq2w3e4r5t6y7\n-----END {label}PRIVATE KEY-----"
    assert redact_sensitive(key) == "[redacted]"
    text = redact_sensitive(f"record 7 holds {key}\nand then jane.doe@example.com asks 2 plus 2")
    assert text == "record 7 holds [redacted]\nand then [redacted] asks 2 plus 2"  # what follows END is kept
    assert KEY_BODY not in text and "q2w3e4r5t6y7" not in text and "END" not in text


def test_redacting_a_private_key_cut_off_before_its_end_line_removes_everything_after_begin() -> None:
    assert redact_sensitive(f"bad record: -----BEGIN PRIVATE KEY-----\n{KEY_BODY}\nmore") == "bad record: [redacted]"
    assert redact_sensitive("-----BEGIN PRIVATE KEY-----") == "[redacted]"
    # An END line before the BEGIN does not close it.
    assert (
        redact_sensitive(f"-----END PRIVATE KEY----- x -----BEGIN PRIVATE KEY-----\n{KEY_BODY}")
        == "-----END PRIVATE KEY----- x [redacted]"
    )


def test_two_private_keys_are_each_redacted_and_the_text_between_them_kept() -> None:
    key = f"-----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n-----END PRIVATE KEY-----"
    assert redact_sensitive(f"a {key} b {key} c") == "a [redacted] b [redacted] c"


def test_no_false_positive_on_plain_numbers() -> None:
    assert list(find_sensitive("In 2024 we sold 1,234 units at 19.99 each; version 3.2.1")) == []


def test_normalise_ignores_case_whitespace_punctuation() -> None:
    assert normalise("Hello,  World!") == normalise("hello world") == b"helloworld"
    assert normalise("Ünïcode  Text") == normalise("ünïcode text")


def test_findings_past_100_are_counted_not_listed(run: Run) -> None:
    records = [claude(i, answer="no") for i in range(150)]
    result = run(jsonl(records))
    report = result.report
    assert report.per_rule["QUALITY-SHORT-ANSWER"] == 150
    assert len([f for f in report.findings if f.rule_id == "QUALITY-SHORT-ANSWER"]) == 100
    assert report.omitted["QUALITY-SHORT-ANSWER"] == 50
    assert "50 more not listed" in report.to_text()


def test_report_puts_verdict_and_counts_first(run: Run) -> None:
    result = run(dataset(40))
    as_dict = json.loads(result.report.to_json())
    assert list(as_dict)[:2] == ["valid", "counts"]
    assert result.report.to_text().startswith("Dataset VALID")
