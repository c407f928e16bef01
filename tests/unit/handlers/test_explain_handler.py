"""The "Explain failure" handler: the whole state in, {reason, report} out, the cause never logged."""

from __future__ import annotations

import json
import logging

import pytest
from handler_fixtures import load_handler

SECRET = "customer 4111 1111 1111 1111 asked about invoice 77"


def test_it_returns_the_sentence_and_the_report_and_logs_only_the_errors_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    module = load_handler("explain")
    cause = json.dumps(
        {"errorMessage": f"cannot score {SECRET}", "errorType": "EvaluationFailed",
         "stackTrace": ['  File "/var/task/handler.py", line 1, in handler\n']}
    )  # fmt: skip
    state = {
        "source": {"run_name": "demo"},
        "error": {"Error": "EvaluationFailed", "Cause": cause},
        "evaluation": {"report_uri": "s3://a/runs/demo/e/report.json"},
    }
    with caplog.at_level(logging.INFO):
        notice = module.handler({"state": state}, None)
    # The notification is plain-text email: the card number the cause quotes is redacted, the rest of it kept.
    assert notice == {
        "reason": "cannot score customer [redacted] asked about invoice 77",
        "report": "s3://a/runs/demo/e/report.json",
    }
    assert "4111" not in json.dumps(notice)
    logged = " ".join(record.getMessage() + json.dumps(vars(record), default=str) for record in caplog.records)
    assert "failure explained" in logged and "EvaluationFailed" in logged
    assert SECRET not in logged  # the cause may quote the dataset: only the error's name is logged


def test_a_python_errors_message_never_reaches_the_notice() -> None:
    cause = json.dumps({"errorMessage": f"'{SECRET}'", "errorType": "KeyError", "stackTrace": []})
    notice = load_handler("explain").handler({"state": {"error": {"Error": "KeyError", "Cause": cause}}}, None)
    assert notice["reason"] == "An internal error (KeyError) in a pipeline function; see the execution history"
    assert "customer" not in notice["reason"] and "4111" not in notice["reason"]


@pytest.mark.parametrize("event", [{}, {"state": None}, {"state": "text"}, {"state": {"error": None}}])
def test_any_event_gets_a_reason(event: dict[str, object]) -> None:
    notice = load_handler("explain").handler(event, None)
    assert notice["report"] is None and notice["reason"].startswith("The run failed without saying why")
