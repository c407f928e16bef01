"""What the workflow's notifications carry: status, run, execution, one sentence, the report; never the state."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_workflow import all_states, render_definition, successors

from cfn import resources
from stacks import workflow as wf

PIPELINE = "FinetunePipeline"
#: Every path a notification may read: nothing that holds the state document or a raw error.
ALLOWED_PATHS = {
    "$.source.run_name",
    "$$.Execution.Id",
    "$.notice.reason",
    "$.notice.report",
    "$.run.warnings",
    "$.evaluation.report_uri",
    wf.JSON_NULL,
}


EVERY_FUNCTION = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "kms:Decrypt",
    "kms:GenerateDataKey",
}
#: What the shared function construct sets on every function for its logging and tracing library.
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}


@pytest.fixture(scope="module")
def asl(template_json: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return render_definition(template_json[PIPELINE])


def publishes(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in all_states(definition) if s.get("Resource", "").endswith(":sns:publish")}


def message_problems(definition: dict[str, Any]) -> list[str]:
    """Why a notification's message could leak more than it should; empty when every message is as designed."""
    problems = []
    for name, state in publishes(definition).items():
        message = state["Parameters"].get("Message") or {}
        if "Message.$" in state["Parameters"] or not isinstance(message, dict):
            problems.append(f"{name}: the message is not the fixed set of fields")
            continue
        fields = {key.removesuffix(".$") for key in message}
        if not fields <= set(wf.NOTIFICATION_FIELDS):
            problems.append(f"{name}: fields {sorted(fields - set(wf.NOTIFICATION_FIELDS))}")
        if not {"status", "run", "execution", "reason", "report"} <= fields:
            problems.append(f"{name}: lacks {sorted({'status', 'run', 'execution', 'reason', 'report'} - fields)}")
        for key, value in message.items():
            if key.endswith(".$") and value not in ALLOWED_PATHS:
                problems.append(f"{name}: {key} reads {value}")
            if not key.endswith(".$") and isinstance(value, str) and value.startswith("$"):
                problems.append(f"{name}: {key} is a path written as a literal")
    return problems


def test_every_notification_carries_only_the_allowed_fields(asl: dict[str, Any]) -> None:
    found = publishes(asl)
    assert {wf.NOTIFY_SUCCESS, wf.NOTIFY_FAILURE, wf.NOTIFY_CLEANUP_FAILURE} <= found.keys()
    assert message_problems(asl) == []
    statuses = {name: state["Parameters"]["Message"]["status"] for name, state in found.items()}
    assert statuses[wf.NOTIFY_FAILURE] == "FAILED" and statuses[wf.NOTIFY_CLEANUP_FAILURE] == "CLEANUP_FAILED"
    success = found[wf.NOTIFY_SUCCESS]["Parameters"]["Message"]
    assert success["status"] == "PROMOTED" and success["reason"] == wf.PROMOTED_REASON
    assert success["report.$"] == "$.evaluation.report_uri" and success["warnings.$"] == "$.run.warnings"
    for name in (wf.NOTIFY_FAILURE, wf.NOTIFY_CLEANUP_FAILURE):
        message = found[name]["Parameters"]["Message"]
        assert message["reason.$"] == "$.notice.reason" and message["report.$"] == "$.notice.report", name
        assert "warnings.$" not in message


@pytest.mark.parametrize(
    ("key", "value"),
    [("details.$", "$"), ("error.$", "$.error"), ("reason.$", "$.error.Cause"), ("upload.$", "$.source.key")],
)
def test_the_check_finds_a_message_that_leaks(asl: dict[str, Any], key: str, value: str) -> None:
    broken = copy.deepcopy(asl)
    broken["States"][wf.NOTIFY_FAILURE]["Parameters"]["Message"][key] = value
    assert message_problems(broken)


def test_the_check_finds_a_whole_state_message(asl: dict[str, Any]) -> None:
    broken = copy.deepcopy(asl)
    del broken["States"][wf.NOTIFY_SUCCESS]["Parameters"]["Message"]
    broken["States"][wf.NOTIFY_SUCCESS]["Parameters"]["Message.$"] = "$"
    assert message_problems(broken) == [f"{wf.NOTIFY_SUCCESS}: the message is not the fixed set of fields"]


def test_every_failure_notification_is_explained_first_and_its_cause_is_the_sentence(asl: dict[str, Any]) -> None:
    states = asl["States"]
    pairs = {
        wf.NOTIFY_FAILURE: (wf.EXPLAIN_FAILURE, wf.FAILURE_UNEXPLAINED),
        wf.NOTIFY_CLEANUP_FAILURE: (wf.EXPLAIN_CLEANUP_FAILURE, wf.CLEANUP_FAILURE_UNEXPLAINED),
    }
    for notify, (explain, fallback) in pairs.items():
        predecessors = {n for n, s in states.items() if notify in successors(s)}
        assert predecessors == {explain, fallback}, notify
        task = states[explain]
        # The whole state in, {reason, report} out: no missing path can stop the notification.
        assert task["Parameters"] == {"state.$": "$"} and task["ResultPath"] == "$.notice"
        (catch,) = task["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == fallback
        assert catch["ResultPath"] not in ("$.error", "$.notice", "$")
        pass_state = states[fallback]
        assert pass_state["ResultPath"] == "$.notice" and pass_state["Parameters"]["report.$"] == wf.JSON_NULL
        assert "execution history" in pass_state["Parameters"]["reason"]
        (fail,) = [states[n] for n in successors(states[notify]) if states[n]["Type"] == "Fail"]
        assert fail["CausePath"] == "$.notice.reason" and fail["ErrorPath"] == "$.error.Error"
    # Nothing reaches a failure notification without passing an explain state first.
    entries = {n for n, s in states.items() for nxt in successors(s) if nxt in pairs}
    assert entries == {wf.EXPLAIN_FAILURE, wf.FAILURE_UNEXPLAINED, wf.EXPLAIN_CLEANUP_FAILURE,
                       wf.CLEANUP_FAILURE_UNEXPLAINED}  # fmt: skip


def test_the_explain_function_has_no_grant_and_only_the_pipeline_name(template_json: dict[str, dict[str, Any]]) -> None:
    template = template_json[PIPELINE]
    (function,) = [
        f
        for f in resources(template, "AWS::Lambda::Function").values()
        if "sentence its notification carries" in str(f["Properties"].get("Description", ""))
    ]
    assert set(function["Properties"]["Environment"]["Variables"]) <= {"PIPELINE_NAME", *POWERTOOLS_VARIABLES}
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    # What every pipeline function may do (trace, write its own encrypted log group); nothing else.
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert actions <= EVERY_FUNCTION, actions
