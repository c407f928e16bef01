"""What a person reads first: rule headlines that state the finding, and the one-line reason for a rejection."""

from __future__ import annotations

import pytest
from dataset_fixtures import Run, claude, dataset, jsonl

from pipeline_core.dataset import RULES
from pipeline_core.dataset.report import MAX_REASON_CHARS, MAX_REASON_RULES, FindingLog, Report


def test_the_bom_headline_says_the_file_has_one(run: Run) -> None:
    text = run(b"\xef\xbb\xbf" + dataset(40)).report.to_text()
    assert "ERROR FILE-BOM (1): The file starts with a UTF-8 byte order mark." in text
    assert "does not start" not in text


def test_headlines_come_from_what_was_found_not_what_is_required(run: Run) -> None:
    result = run(dataset(40) + b"{oops\n" + b"\n")
    text = result.report.to_text()
    for rule_id in ("JSON-INVALID", "FILE-BLANK-LINE"):
        assert f"{rule_id} (1): {RULES[rule_id].found}" in text
        assert RULES[rule_id].checks not in text


def test_every_rule_has_a_one_line_headline_that_differs_from_its_requirement() -> None:
    for rule in RULES.values():
        assert rule.found and rule.found != rule.checks, rule.rule_id
        assert rule.found.endswith(".") and "\n" not in rule.found, rule.rule_id


def _report(findings: list[tuple[str, str, int | None, str]]) -> Report:
    log = FindingLog()
    for rule_id, file, line, message in findings:
        log.add(rule_id, file, line, message)
    return Report(
        base_model_id="m",
        data_format="claude-messages",
        chars_per_token=3.0,
        files=(),
        stats={},
        findings=tuple(log.listed),
        per_rule=dict(log.per_rule),
        omitted=log.omitted(),
        errors=sum(n for r, n in log.per_rule.items() if RULES[r].severity.value == "error"),
        warnings=sum(n for r, n in log.per_rule.items() if RULES[r].severity.value == "warning"),
        infos=0,
        lines_per_rule=dict(log.lines_per_rule),
    )


def test_the_reason_names_rules_by_failing_lines_with_counts(run: Run) -> None:
    bad_order = {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]}
    data = dataset(40) + b"{oops\n" + jsonl([bad_order] * 4) + b"[1]\n" * 2
    reason = run(data).report.reason()
    # Each reordered record breaks the rule twice (first not user, last not assistant): lines are counted.
    assert reason == (
        "The dataset failed validation: SCHEMA-ROLE-ORDER (4 lines), SCHEMA-NOT-OBJECT (2 lines), JSON-INVALID (1 line)"
    )


def test_a_dataset_level_rule_gives_its_message(run: Run) -> None:
    reason = run(dataset(3)).report.reason()
    assert reason.startswith("The dataset failed validation: QUOTA-MIN-RECORDS (3 training records; the minimum is ")


def test_warnings_are_not_failing_rules(run: Run) -> None:
    data = dataset(40) + jsonl([claude(0)]) + b"{oops\n"  # a duplicate (warning) and bad JSON (error)
    assert run(data).report.reason() == "The dataset failed validation: JSON-INVALID (1 line)"


def test_a_valid_dataset_says_so(run: Run) -> None:
    assert run(dataset(40) + jsonl([claude(0)])).report.reason() == "The dataset passed validation (1 warning(s))"


def test_the_reason_never_quotes_a_record() -> None:
    secret = "AKIAIOSFODNN7EXAMPLE"
    report = _report([("SCHEMA-ROLE-INVALID", "f", 7, f"messages[0].role is {secret!r}")])
    assert secret not in report.reason() and "SCHEMA-ROLE-INVALID (1 line)" in report.reason()


@pytest.mark.parametrize(("failing", "named"), [(2, 2), (3, 3), (4, 3)])
def test_at_most_three_rules_are_named_and_the_rest_counted(failing: int, named: int) -> None:
    assert MAX_REASON_RULES == 3
    ids = ["JSON-INVALID", "SCHEMA-NOT-OBJECT", "SCHEMA-ROLE-ORDER", "SCHEMA-EXTRA-KEY"][:failing]
    # More lines for earlier ids, so the order is known.
    report = _report([(r, "f", line, "m") for i, r in enumerate(ids) for line in range(10 * (5 - i))])
    reason = report.reason()
    assert [r for r in ids if f"{r} (" in reason] == ids[:named]
    assert ("and 1 more rule" in reason) is (failing > MAX_REASON_RULES)


def test_ties_keep_the_order_the_rules_were_first_found() -> None:
    report = _report([("SCHEMA-NOT-OBJECT", "f", 1, "m"), ("JSON-INVALID", "f", 2, "m")])
    assert report.reason().endswith("SCHEMA-NOT-OBJECT (1 line), JSON-INVALID (1 line)")


@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_the_reason_is_cut_at_its_length_limit(extra: int) -> None:
    assert MAX_REASON_CHARS == 400
    prefix = "The dataset failed validation: QUOTA-MIN-RECORDS ("
    message = "x" * (MAX_REASON_CHARS - len(prefix) - 1 + extra)
    reason = _report([("QUOTA-MIN-RECORDS", "f", None, message)]).reason()
    if extra <= 0:
        assert reason == prefix + message + ")" and len(reason) <= MAX_REASON_CHARS
    else:
        assert len(reason) == MAX_REASON_CHARS and reason.endswith("x...")


def test_lines_are_counted_once_per_rule_and_file() -> None:
    log = FindingLog(max_per_rule=1)
    for file, line in (("a", 1), ("a", 1), ("a", 2), ("b", 2), ("b", 2)):
        log.add("SCHEMA-ROLE-ORDER", file, line, "m")
    log.add("QUOTA-MIN-RECORDS", "a", None, "m")
    assert log.per_rule["SCHEMA-ROLE-ORDER"] == 5
    assert log.lines_per_rule == {"SCHEMA-ROLE-ORDER": 3}
