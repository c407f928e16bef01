"""The dispatcher's lines and metrics name the run and execution whose end it handled; the schedule names none.
"Explain failure" names the run and, once Resolve run wrote it, the execution."""

from __future__ import annotations

import json
from typing import Any

import pytest
from handler_fixtures import load_handler

from pipeline_aws import logs

dispatcher = load_handler("dispatcher")
explain = load_handler("explain")


def _ended(state_machine: str, **detail: Any) -> dict[str, Any]:
    return {
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "detail": {"stateMachineArn": state_machine, "name": "demo-0123", "status": "SUCCEEDED", **detail},
    }


def _metrics(out: str) -> dict[str, Any]:
    (document,) = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert "_aws" in document
    return document


def test_an_executions_end_binds_its_run_and_execution(state_machine: str, capsys: pytest.CaptureFixture[str]) -> None:
    event = _ended(state_machine, input=json.dumps({"source": {"run_name": "demo", "key": "inbox/demo.jsonl"}}))
    dispatcher.handler(event, None)
    assert logs.bound() == {"execution": "demo-0123", "run": "demo"}
    document = _metrics(capsys.readouterr().out)
    assert (document["run"], document["execution"]) == ("demo", "demo-0123")


@pytest.mark.parametrize("raw", [None, "", "not json", "[]", '{"source": "x"}', '{"source": {}}'])
def test_an_end_without_a_readable_input_still_binds_the_execution(state_machine: str, raw: str | None) -> None:
    dispatcher.handler(_ended(state_machine, input=raw), None)
    assert logs.bound() == {"execution": "demo-0123"}


def test_the_schedule_binds_nothing(state_machine: str) -> None:
    logs.bind(run="earlier", execution="earlier-1")  # a previous invocation's binding is not inherited
    dispatcher.handler({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}, None)
    assert logs.bound() == {}


def test_another_machines_end_binds_nothing(state_machine: str) -> None:
    dispatcher.handler(_ended(state_machine + "-other", input=json.dumps({"source": {"run_name": "x"}})), None)
    assert logs.bound() == {}


@pytest.mark.parametrize(
    ("state", "bound"),
    [
        (
            {"source": {"run_name": "demo"}, "run": {"execution_name": "demo-0123"}},
            {"run": "demo", "execution": "demo-0123"},
        ),
        ({"source": {"run_name": "demo"}}, {"run": "demo"}),  # failed at Resolve run: no run spec yet
        ({"source": "text", "run": "text"}, {}),
    ],
)
def test_explain_binds_the_run_and_the_execution_it_knows(state: dict[str, Any], bound: dict[str, str]) -> None:
    explain.handler({"state": {**state, "error": {"Error": "X", "Cause": "y"}}}, None)
    assert logs.bound() == bound
