"""`finetune status` names the report a failed run's notification named, read from the execution history."""

from __future__ import annotations

import json
from typing import Any

import pytest

from finetune.operator import failure_report

VALIDATION = "s3://artifacts/runs/demo/demo-1/validation/report.json"


def entered(name: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FailStateEntered", "stateEnteredEventDetails": {"name": name, "input": json.dumps(state)}}


def exited(name: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"type": "TaskStateExited", "stateExitedEventDetails": {"name": name, "output": json.dumps(state)}}


def test_the_fail_states_input_names_the_report() -> None:
    events = [
        entered("Validate dataset", {"source": {}}),
        exited("Explain failure", {"notice": {"reason": "r", "report": VALIDATION}}),
        entered("Run failed", {"notice": {"reason": "r", "report": VALIDATION}}),
    ]
    assert failure_report(events) == VALIDATION


def test_the_newest_notice_wins() -> None:
    older = exited("Explain failure", {"notice": {"reason": "r", "report": "s3://old/report.json"}})
    assert failure_report([older, exited("Explain cleanup failure", {"notice": {"report": VALIDATION}})]) == VALIDATION


@pytest.mark.parametrize(
    "events",
    [
        [],  # stopped by hand before any state
        [entered("Validate dataset", {"source": {}})],
        [exited("Explain failure", {"notice": {"reason": "r", "report": None}})],  # failed before any report
        [exited("Failure not explained", {"notice": {"reason": "r"}})],
        [exited("Explain failure", {"notice": {"report": "file:///etc/passwd"}})],
        [{"type": "TaskStateExited", "stateExitedEventDetails": {"output": "not json"}}],
        [{"type": "TaskStateExited", "stateExitedEventDetails": "text"}],
    ],
)
def test_no_report_when_the_history_names_none(events: list[dict[str, Any]]) -> None:
    assert failure_report(events) is None
