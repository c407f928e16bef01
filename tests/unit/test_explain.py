"""A failed run's error as one sentence: Lambda's JSON causes, plain causes, none, long ones, ones quoting code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline_core.explain import (
    ELLIPSIS,
    KNOWN_ERRORS,
    MAX_CHARS,
    MAX_PART_CHARS,
    REASON_SEPARATOR,
    failure_notice,
    report_uri,
    sentence,
    truncate,
)

TRACE = [
    '  File "/var/task/handler.py", line 210, in handler\n    raise ThroughputNotReady(...)\n',
    '  File "/var/task/pipeline_aws/bedrock.py", line 88, in describe\n    return x\n',
]
STUCK = "Provisioned Throughput demo-1 is still Creating after 60 minutes (limit 60)"


def lambda_cause(message: str, error_type: str = "ThroughputNotReady", **extra: Any) -> str:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": "r-1", "stackTrace": TRACE, **extra}
    )


def assert_readable(text: str) -> None:
    for banned in ("Traceback", "stackTrace", 'File "', ".py", "{", "errorType", "requestId"):
        assert banned not in text, (banned, text)
    assert "\n" not in text and len(text) <= MAX_CHARS


# ---- Lambda's JSON causes ----------------------------------------------------------------------------------------
def test_a_lambda_error_says_its_message_without_the_stack_trace() -> None:
    text = sentence("ThroughputNotReady", lambda_cause(STUCK))
    assert text == STUCK
    assert_readable(text)


INTERNAL = "An internal error ({}) in a pipeline function; see the execution history"


@pytest.mark.parametrize("kind", ["KeyError", "ValueError", "TypeError", "UnicodeDecodeError", "RuntimeError"])
def test_a_python_error_in_a_handler_is_named_as_a_fault_of_the_code_without_its_message(kind: str) -> None:
    """A built-in exception's message may hold any value the code met (a record's text): it is never shown."""
    for message in ("'report_uri'", "invalid literal for int() with base 10: 'jane.doe'"):
        text = sentence(kind, lambda_cause(message, kind))
        assert text == INTERNAL.format(kind)
        assert "report_uri" not in text and "jane.doe" not in text
        assert_readable(text)
    # Step Functions names the Lambda's errorType as the Error too; either one marks the fault.
    assert sentence("States.TaskFailed", lambda_cause("'x'", kind)) == INTERNAL.format(kind)


def test_an_error_of_the_pipelines_own_keeps_its_message() -> None:
    """Only Python's built-in exceptions lose their message: the pipeline's own errors are written to be read."""
    assert (
        sentence("KeyErrorLike", lambda_cause("'report_uri' is missing", "KeyErrorLike")) == "'report_uri' is missing"
    )


# ---- what the sentence must never quote: secrets and personal data -------------------------------------------
CARD = "4111 1111 1111 1111"  # passes the Luhn check


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (CARD, "card"),
        ("4111-1111-1111-1111", "card, dashed"),
        ("4111111111111111", "card, one run"),
        ("jane.doe@example.com", "email"),
        ("123-45-6789", "SSN"),
        ("AKIAABCDEFGHIJKLMNOP", "AWS access key id"),
        ("+14155550123", "phone"),
    ],
)
def test_a_message_quoting_a_secret_or_personal_data_has_it_redacted(value: str, kind: str) -> None:
    message = f"cannot score record 12: customer {value} asked about invoice 77"
    for cause in (lambda_cause(message, "EvaluationFailed"), message):  # Lambda's JSON and plain text alike
        text = sentence("EvaluationFailed", cause)
        assert value not in text, kind
        assert text == "cannot score record 12: customer [redacted] asked about invoice 77", kind


KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"


def test_a_message_quoting_a_private_key_has_the_whole_key_redacted() -> None:
    """The key body, not only its BEGIN line, stays out of the sentence; text after the END line is kept."""
    cut_off = f"-----BEGIN PRIVATE KEY-----\n{KEY_BODY}"
    assert sentence("InvalidDataset", json.dumps({"errorMessage": cut_off})) == "[redacted]"
    whole = f"record 3 quotes -----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}\n-----END RSA PRIVATE KEY----- verbatim"
    for cause in (lambda_cause(whole, "InvalidDataset"), whole):
        text = sentence("InvalidDataset", cause)
        assert text == "record 3 quotes [redacted] verbatim"
        assert "MIIE" not in text


def test_redaction_reaches_every_part_of_a_notice() -> None:
    state = {
        "error": {"Error": "EvaluationFailed", "Cause": lambda_cause(f"cannot score {CARD}", "EvaluationFailed")},
        "cleanup_error": {"Error": "CleanupFailed", "Cause": "could not delete it for jane.doe@example.com"},
    }
    reason = failure_notice(state)["reason"]
    assert CARD not in reason and "jane.doe" not in reason
    assert reason.count("[redacted]") == 2


def test_a_digit_run_that_is_no_card_number_and_ordinary_reasons_are_left_alone() -> None:
    """Redaction follows the validator's finder exactly: what it would not report stays, so reasons stay readable."""
    not_a_card = "4111 1111 1111 1112"  # fails the Luhn check
    assert sentence("X", f"batch {not_a_card} failed") == f"batch {not_a_card} failed"
    reasons = REASON_SEPARATOR.join(
        ["accuracy 0.610 is below the minimum 0.700", "refusal rate 0.120 is above the maximum 0.050"]
    )
    assert sentence("QualityGateFailed", lambda_cause(reasons, "QualityGateFailed")) == reasons
    quota = (
        "Provisioned Throughput quota for amazon.nova-lite-v1:0:300k in us-east-1 is 1 model unit, 1 in use; "
        "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123 still holds it (2026-12-01T10:00:00Z)"
    )
    assert sentence("ServiceQuotaExceededException", quota) == quota
    assert sentence("ThroughputNotReady", lambda_cause(STUCK)) == STUCK


def test_a_lambda_error_without_a_message_says_what_kind_of_error_it_was() -> None:
    assert sentence("ValidationError", lambda_cause("")) == (
        "A step failed with ValidationError; the execution history has the details"
    )


def test_a_message_carrying_a_traceback_or_paths_keeps_only_the_words() -> None:
    message = (
        "cannot parse the plan in /var/task/pipeline_core/evaluation/plan.py:41 (see lambdas/evaluate/handler.py)\n"
        'Traceback (most recent call last):\n  File "/var/task/handler.py", line 3, in handler\nValueError: x'
    )
    text = sentence("EvaluationFailed", lambda_cause(message, "EvaluationFailed"))
    assert text == "cannot parse the plan in (see)"
    assert_readable(text)


def test_a_cause_cut_short_by_step_functions_still_gives_the_message() -> None:
    cause = lambda_cause(STUCK + ' with "quotes"')[:150]
    with pytest.raises(ValueError):
        json.loads(cause)
    assert sentence("ThroughputNotReady", cause) == STUCK + ' with "quotes"'


def test_a_cut_cause_without_a_message_falls_back_to_the_error() -> None:
    assert sentence("Sandbox.Timedout", '{"errorType": "Sandbox.Timedout", "stackTr') == (
        "A pipeline function ran out of time (Sandbox.Timedout)"
    )


def test_a_nested_step_functions_error_is_unwrapped() -> None:
    nested = json.dumps({"Error": "ThroughputNotReady", "Cause": lambda_cause(STUCK)})
    assert sentence("States.TaskFailed", nested) == STUCK


def test_json_of_another_shape_is_never_shown() -> None:
    for cause in ('{"detail": "x"}', '["a", "list"]', "42", "null"):
        text = sentence("Mystery", cause)
        assert text == "A step failed with Mystery; the execution history has the details", cause


# ---- plain causes and none -----------------------------------------------------------------------------------
def test_a_plain_cause_is_kept_as_it_is() -> None:
    cause = "Customization job arn:aws:bedrock:us-west-2:1:model-customization-job/x ended Failed: out of memory"
    assert sentence("TrainingFailed", cause) == cause


def test_a_json_string_is_read_as_its_text() -> None:
    assert sentence("X", '"the job was stopped"') == "the job was stopped"


@pytest.mark.parametrize("cause", [None, "", "   "])
def test_a_missing_cause_says_the_error_in_words(cause: str | None) -> None:
    assert sentence("States.Timeout", cause) == "A step ran past its time limit (States.Timeout)"
    assert sentence("Custom", cause) == "A step failed with Custom; the execution history has the details"
    assert sentence(None, cause) == "The run failed without saying why; the execution history has the details"


def test_every_known_error_reads_as_a_sentence() -> None:
    for error, words in KNOWN_ERRORS.items():
        text = sentence(error, None)
        assert text[0].isupper() and text.endswith(f"({error})") and words[1:] in text
        assert_readable(text)


def test_plain_causes_with_file_paths_lose_the_paths() -> None:
    cause = 'Task failed in File "C:\\work\\lambdas\\train\\handler.py", line 9, in start at /opt/python/x/y.js:3'
    text = sentence("States.TaskFailed", cause)
    assert text == "Task failed in at"
    assert_readable(text)
    # S3 locations are what a person needs to find the data: they stay.
    assert sentence("InvalidDataset", "2 errors; see s3://b/runs/r/e/validation/report.txt") == (
        "2 errors; see s3://b/runs/r/e/validation/report.txt"
    )


def test_a_plain_cause_that_is_only_a_traceback_falls_back_to_the_error() -> None:
    cause = 'Traceback (most recent call last):\n  File "/var/task/handler.py", line 1\nKeyError: 1'
    assert sentence("States.TaskFailed", cause) == "A step failed (States.TaskFailed)"


# ---- length ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("length", [MAX_CHARS - 1, MAX_CHARS, MAX_CHARS + 1, 10 * MAX_CHARS])
def test_long_causes_are_cut_at_a_word_to_the_limit(length: int) -> None:
    words = ("word " * length)[:length]
    text = sentence("X", lambda_cause(words))
    assert len(text) <= MAX_CHARS
    if len(words.strip()) <= MAX_CHARS:
        assert text == words.strip()
    else:
        assert text.endswith(ELLIPSIS) and text.removesuffix(ELLIPSIS).endswith("word")


def test_truncate_at_below_and_above_its_limit() -> None:
    assert truncate("abc def", 7) == "abc def"
    assert truncate("abc def", 8) == "abc def"
    assert truncate("abc def", 6) == "abc" + ELLIPSIS
    assert truncate("abcdefgh", 4) == "abc" + ELLIPSIS  # one long word is cut inside it
    assert len(truncate("x" * 1000, 10)) == 10


# ---- the notification's reason and report --------------------------------------------------------------------
REPORT = "s3://artifacts/runs/demo/demo-1/report.json"
VALIDATION = "s3://artifacts/runs/demo/demo-1/validation/report.json"


def test_the_notice_of_a_failure_after_evaluation_points_at_the_report() -> None:
    state = {
        "error": {
            "Error": "CandidateRejected",
            "Cause": f"The fine-tuned model did not pass the quality gate: below base. Report: {REPORT}",
        },
        "validation": {"valid": True, "report_uri": VALIDATION},
        "evaluation": {"verdict": "reject", "report_uri": REPORT},
    }
    assert failure_notice(state) == {
        "reason": "The fine-tuned model did not pass the quality gate: below base",
        "report": REPORT,
    }


def test_the_notice_of_a_refused_dataset_points_at_the_validation_report() -> None:
    state = {
        "error": {"Error": "InvalidDataset", "Cause": f"2 lines are not JSON (JSON-INVALID 2); report: {VALIDATION}"},
        "validation": {"valid": False, "report_uri": VALIDATION},
    }
    assert failure_notice(state) == {"reason": "2 lines are not JSON (JSON-INVALID 2)", "report": VALIDATION}


def test_a_failure_before_any_report_has_none() -> None:
    state = {"error": {"Error": "ThroughputNotReady", "Cause": lambda_cause(STUCK)}, "job": {}, "throughput": {}}
    assert failure_notice(state) == {"reason": STUCK, "report": None}
    # A valid dataset's validation report is not the run's report; a value that is not an S3 URI is never one.
    assert report_uri({"validation": {"valid": True, "report_uri": VALIDATION}}) is None
    assert report_uri({"evaluation": {"report_uri": "/tmp/x"}, "validation": {"valid": False}}) is None
    assert report_uri({"evaluation": "x", "validation": None}) is None


def test_a_state_without_an_error_still_gets_a_reason() -> None:
    assert failure_notice({}) == {
        "reason": "The run failed without saying why; the execution history has the details",
        "report": None,
    }
    assert failure_notice({"error": "not a mapping"})["reason"].startswith("The run failed without saying why")


def test_a_cleanup_failure_says_both_what_the_cleanup_met_and_why_the_run_failed() -> None:
    state = {
        "error": {"Error": "ThroughputNotReady", "Cause": lambda_cause(STUCK)},
        "cleanup_error": {
            "Error": "AccessDeniedException",
            "Cause": lambda_cause("User is not authorized to perform bedrock:DeleteProvisionedModelThroughput", "X"),
        },
    }
    reason = failure_notice(state)["reason"]
    assert reason == (
        "Cleaning up after the failure did not finish (user is not authorized to perform "
        "bedrock:DeleteProvisionedModelThroughput), so this run's training job, Provisioned Throughput or deployment "
        "may still be running and billing; the run had failed because provisioned Throughput demo-1 is still "
        "Creating after 60 minutes (limit 60)"
    )
    assert not any(banned in reason for banned in ("Traceback", "stackTrace", 'File "', ".py", "{"))


def test_a_cleanup_failure_with_long_causes_stays_bounded() -> None:
    state = {
        "error": {"Error": "X", "Cause": lambda_cause("a " * 1000)},
        "cleanup_error": {"Error": "Y", "Cause": "b " * 1000},
    }
    reason = failure_notice(state)["reason"]
    assert len(reason) <= 2 * MAX_CHARS and "stackTrace" not in reason
    assert reason.count(ELLIPSIS) == 2 and len("b " * 1000) > MAX_PART_CHARS


# ---- the quality gate's reasons are cut between reasons, never inside one --------------------------------------
GATE = "The fine-tuned model did not pass the quality gate: "


def _gate_cause(reasons: list[str]) -> str:
    return f"{GATE}{REASON_SEPARATOR.join(reasons)}. Report: {REPORT}"


def test_gate_reasons_that_fit_are_kept_whole_without_the_report() -> None:
    reasons = ["candidate token_f1 0.0 is below base 23.1 (\u221223.1 points); required improvement ≥ 1.0 point", "b"]
    notice = failure_notice(
        {"error": {"Error": "CandidateRejected", "Cause": _gate_cause(reasons)}, "evaluation": {"report_uri": REPORT}}
    )
    assert notice == {"reason": GATE + REASON_SEPARATOR.join(reasons), "report": REPORT}


@pytest.mark.parametrize("slack", [-1, 0, 1])
def test_gate_reasons_past_the_limit_drop_whole_reasons_and_say_how_many(slack: int) -> None:
    first = "candidate token_f1 0.0 is below base 23.1 (\u221223.1 points); required improvement ≥ 1.0 point"
    second = "x" * 40
    kept = f"{GATE}{first}{REASON_SEPARATOR}{second}{REASON_SEPARATOR}and 1 more reason in the report"
    # The limit at, one below and one above the length of the first two reasons and the count.
    text = sentence(
        "CandidateRejected",
        f"{GATE}{first}{REASON_SEPARATOR}{second}{REASON_SEPARATOR}{'y ' * 200}",
        limit=len(kept) + slack,
    )
    if slack >= 0:
        assert text == kept
    else:
        assert text == f"{GATE}{first}{REASON_SEPARATOR}and 2 more reasons in the report"
    assert len(text) <= len(kept) + slack and ELLIPSIS not in text


def test_gate_reasons_whose_first_does_not_fit_are_cut_at_a_word() -> None:
    text = sentence("CandidateRejected", f"{GATE}{'long ' * 80}{REASON_SEPARATOR}second", limit=MAX_CHARS)
    assert text.endswith(ELLIPSIS) and len(text) <= MAX_CHARS and "more reason" not in text


def test_a_rehearsed_rejection_keeps_why_in_full() -> None:
    reasons = [
        "candidate token_f1 0.0 is below base 23.1 (\u221223.1 points); required improvement ≥ 1.0 point",
        "candidate improves token_f1 by \u2212100.0% relative to base; required ≥ 0.0%",
        "candidate is not better than base on token_f1 (p = 0.267); significance cannot count for it",
    ]
    notice = failure_notice(
        {"error": {"Error": "CandidateRejected", "Cause": _gate_cause(reasons)}, "evaluation": {"report_uri": REPORT}}
    )
    assert (
        notice["reason"]
        == f"{GATE}{reasons[0]}{REASON_SEPARATOR}{reasons[1]}{REASON_SEPARATOR}and 1 more reason in the report"
    )
    assert len(notice["reason"]) <= MAX_CHARS and notice["report"] == REPORT
