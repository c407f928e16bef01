"""Admission control in the template: the queue table, the grants of the two functions that use it (the table by
ARN, StartExecution on this state machine only, no wildcard), the dispatcher's two rules, and the quota retry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline_core import contracts
from pipeline_core.admission import quota_retry
from stacks.admission import ENDED_STATUSES, QUEUE_ACTIONS, RECOVERY_MINUTES

TRIGGER = "Starts one execution per upload"
DISPATCHER = "Starts queued runs as slots free"
CREATING_STATES = ("Start training", "Provision throughput", "Deploy candidate")


def _pipeline(template_json: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return next(t for name, t in template_json.items() if "Pipeline" in name)


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _function(template: dict[str, Any], description_start: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, r)
        for k, r in _of_type(template, "AWS::Lambda::Function").items()
        if str(r["Properties"].get("Description", "")).startswith(description_start)
    ]
    return found


def _statements(template: dict[str, Any], description_start: str) -> list[dict[str, Any]]:
    _, function = _function(template, description_start)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    found: list[dict[str, Any]] = []
    for policy in _of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def _resources(statement: dict[str, Any]) -> list[Any]:
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


def _table(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (table,) = _of_type(template, "AWS::DynamoDB::Table").items()
    return table


def _machine(template: dict[str, Any]) -> str:
    (machine,) = _of_type(template, "AWS::StepFunctions::StateMachine")
    return machine


def test_the_queue_table_is_encrypted_recoverable_and_expires_run_markers(
    template_json: dict[str, dict[str, Any]],
) -> None:
    _, table = _table(_pipeline(template_json))
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["SSESpecification"]["SSEEnabled"] is True and props["SSESpecification"]["SSEType"] == "KMS"
    assert "KMSMasterKeyId" in props["SSESpecification"]  # the pipeline's key, not an AWS owned one
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert "GlobalSecondaryIndexes" not in props and "LocalSecondaryIndexes" not in props
    assert table["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("function", [TRIGGER, DISPATCHER])
def test_queue_grants_name_the_table_arn_only(template_json: dict[str, dict[str, Any]], function: str) -> None:
    template = _pipeline(template_json)
    table, _ = _table(template)
    statements = _statements(template, function)
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in _actions(s))]
    assert dynamodb, "no DynamoDB grant"
    granted = set().union(*(_actions(s) for s in dynamodb))
    assert granted == set(QUEUE_ACTIONS)  # no Scan, no BatchWrite, no table management, no wildcard action
    for statement in dynamodb:
        assert statement["Effect"] == "Allow"
        assert _resources(statement) == [{"Fn::GetAtt": [table, "Arn"]}], statement  # no index, no "*"


@pytest.mark.parametrize("function", [TRIGGER, DISPATCHER])
def test_start_execution_is_granted_on_the_pipelines_state_machine_only(
    template_json: dict[str, dict[str, Any]], function: str
) -> None:
    template = _pipeline(template_json)
    machine = _machine(template)
    statements = _statements(template, function)
    starts = [s for s in statements if "states:StartExecution" in _actions(s)]
    assert starts
    for statement in starts:
        assert _resources(statement) == [{"Ref": machine}], statement
    for statement in statements:
        assert not any(a.endswith(":*") or a == "*" for a in _actions(statement)), statement
        if any(a.startswith("states:") for a in _actions(statement)):
            for resource in _resources(statement):
                text = json.dumps(resource)
                # Only DescribeExecution takes a pattern, and only over this machine's executions.
                assert resource == {"Ref": machine} or (
                    _actions(statement) == {"states:DescribeExecution"} and ":execution:" in text
                ), statement


def test_no_other_function_may_start_executions(template_json: dict[str, dict[str, Any]]) -> None:
    template = _pipeline(template_json)
    allowed = {_function(template, TRIGGER)[1]["Properties"]["Role"]["Fn::GetAtt"][0]}
    allowed.add(_function(template, DISPATCHER)[1]["Properties"]["Role"]["Fn::GetAtt"][0])
    # The state machine's own role starts its Distributed Map's child executions: named by the machine's RoleArn,
    # not by a pattern on role names, so any other role (whatever it is called) granted StartExecution fails here.
    allowed.add(
        _of_type(template, "AWS::StepFunctions::StateMachine")[_machine(template)]["Properties"]["RoleArn"][
            "Fn::GetAtt"
        ][0]
    )
    granted: set[str] = set()
    for policy in _of_type(template, "AWS::IAM::Policy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any("states:StartExecution" in _actions(s) for s in statements):
            granted |= {r["Ref"] for r in policy["Properties"]["Roles"]}
    assert granted == allowed, granted ^ allowed
    # Nor through a managed policy or a role's inline policies, which the loop above does not read.
    for managed in _of_type(template, "AWS::IAM::ManagedPolicy").values():
        statements = managed["Properties"]["PolicyDocument"]["Statement"]
        assert not any("states:StartExecution" in _actions(s) for s in statements), managed
    for role in _of_type(template, "AWS::IAM::Role").values():
        for inline in role["Properties"].get("Policies", []):
            statements = inline["PolicyDocument"]["Statement"]
            assert not any("states:StartExecution" in _actions(s) for s in statements), inline


def _dispatcher_targets(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    dispatcher, _ = _function(template, DISPATCHER)
    return {
        key: rule
        for key, rule in _of_type(template, "AWS::Events::Rule").items()
        if any(t["Arn"] == {"Fn::GetAtt": [dispatcher, "Arn"]} for t in rule["Properties"].get("Targets", []))
    }


def test_the_dispatcher_runs_on_every_end_of_an_execution_and_on_a_schedule(
    template_json: dict[str, dict[str, Any]],
) -> None:
    template = _pipeline(template_json)
    rules = list(_dispatcher_targets(template).values())
    assert len(rules) == 2
    (ends,) = [r for r in rules if "EventPattern" in r["Properties"]]
    (schedule,) = [r for r in rules if "ScheduleExpression" in r["Properties"]]
    pattern = ends["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": _machine(template)}]
    assert (
        sorted(pattern["detail"]["status"]) == sorted(ENDED_STATUSES) == ["ABORTED", "FAILED", "SUCCEEDED", "TIMED_OUT"]
    )
    assert schedule["Properties"]["ScheduleExpression"] == f"rate({RECOVERY_MINUTES} minutes)"
    for rule in (ends, schedule):
        assert rule["Properties"].get("State", "ENABLED") == "ENABLED"
        (target,) = rule["Properties"]["Targets"]
        assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] >= 2
    permissions = [
        p["Properties"]
        for p in _of_type(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
        and p["Properties"]["FunctionName"] == {"Fn::GetAtt": [_function(template, DISPATCHER)[0], "Arn"]}
    ]
    assert len(permissions) == 2  # each rule may invoke it; nothing else may


@pytest.mark.parametrize("function", [TRIGGER, DISPATCHER])
def test_trigger_and_dispatcher_share_the_table_the_limit_and_the_machine(
    template_json: dict[str, dict[str, Any]], function: str
) -> None:
    template = _pipeline(template_json)
    table, _ = _table(template)
    env = _function(template, function)[1]["Properties"]["Environment"]["Variables"]
    assert env[contracts.ENV_ADMISSION_TABLE] == {"Ref": table}
    assert env[contracts.ENV_MAX_CONCURRENT_RUNS] == "2"
    assert env[contracts.ENV_STATE_MACHINE_ARN] == {"Ref": _machine(template)}


def test_the_stack_outputs_the_queue_table_name(template_json: dict[str, dict[str, Any]]) -> None:
    template = _pipeline(template_json)
    table, _ = _table(template)
    assert template["Outputs"]["AdmissionQueueTableName"]["Value"] == {"Ref": table}


@pytest.mark.parametrize(("units", "slots"), [(1, "1"), (2, "2"), (3, "2")])
def test_the_run_limit_is_the_tightest_of_runs_jobs_and_model_units(synth: Any, units: int, slots: str) -> None:
    templates = synth({"admission": {"maxConcurrentRuns": 2, "maxConcurrentJobs": 3, "maxModelUnits": units}})
    template = next(t.to_json() for name, t in templates.items() if "Pipeline" in name)
    env = _function(template, DISPATCHER)[1]["Properties"]["Environment"]["Variables"]
    assert env[contracts.ENV_MAX_CONCURRENT_RUNS] == slots


def _definition(template: dict[str, Any]) -> dict[str, Any]:
    (machine,) = _of_type(template, "AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "0" for p in parts)
    return dict(json.loads(text))


def _quota_retries(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        for retry in state.get("Retry", []):
            if contracts.ERROR_QUOTA in retry["ErrorEquals"]:
                found[name] = retry
        for inner in ("ItemProcessor", "Iterator"):
            if inner in state:
                found |= _quota_retries(state[inner])
    return found


def _waits(retry: dict[str, Any]) -> list[float]:
    interval, rate, cap = retry["IntervalSeconds"], retry["BackoffRate"], retry["MaxDelaySeconds"]
    return [min(interval * rate**k, cap) for k in range(retry["MaxAttempts"])]


@pytest.mark.parametrize("minutes", [0, 1, 60])
def test_the_creating_states_wait_out_a_quota_never_longer_than_the_setting(
    synth: Any, template_json: dict[str, dict[str, Any]], minutes: int
) -> None:
    if minutes == 60:
        template = _pipeline(template_json)  # the shipped setting
    else:
        templates = synth({"admission": {"quotaWaitMinutes": minutes}})
        template = next(t.to_json() for name, t in templates.items() if "Pipeline" in name)
    retries = _quota_retries(_definition(template))
    if minutes == 0:
        assert retries == {} and quota_retry(0) is None
        return
    # The one retry policy carries it to every Task; only the creating handlers raise QuotaExceeded.
    assert {"Start training", "Provision throughput"} <= set(retries)
    assert set(CREATING_STATES) & set(_definition(template)["States"]) <= set(retries)
    for retry in retries.values():
        assert retry["ErrorEquals"] == [contracts.ERROR_QUOTA]
        assert retry.get("JitterStrategy", "NONE") == "NONE"
        assert sum(_waits(retry)) <= minutes * 60
        # The next attempt's wait would pass the bound: the schedule uses what the setting allows.
        assert sum(_waits({**retry, "MaxAttempts": retry["MaxAttempts"] + 1})) > minutes * 60


def test_a_failed_dispatch_alarms_on_the_pipelines_topic(template_json: dict[str, dict[str, Any]]) -> None:
    template = _pipeline(template_json)
    dispatcher, _ = _function(template, DISPATCHER)
    (topic,) = _of_type(template, "AWS::SNS::Topic")
    alarms = [
        a["Properties"]
        for a in _of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "Errors"
        and {"Name": "FunctionName", "Value": {"Ref": dispatcher}} in a["Properties"].get("Dimensions", [])
    ]
    assert len(alarms) == 1
    assert alarms[0]["AlarmActions"] == [{"Ref": topic}]
    assert alarms[0]["Threshold"] == 1 and alarms[0]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_a_run_refused_for_good_alarms_on_the_pipelines_topic(template_json: dict[str, dict[str, Any]]) -> None:
    """A run that leaves the queue as FAILED_TO_START must reach a person, not only a log line: catches the alarm
    being dropped, watching another namespace or dimension (the dispatcher's EMF metric would never match it), or
    publishing nowhere."""
    template = _pipeline(template_json)
    (topic,) = _of_type(template, "AWS::SNS::Topic")
    alarms = [
        a["Properties"]
        for a in _of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "RunsFailedToStart"
    ]
    assert len(alarms) == 1
    (alarm,) = alarms
    assert alarm["Namespace"] == "BedrockFinetunePipeline/finetune"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "finetune"}]
    assert alarm["Statistic"] == "Sum" and alarm["Period"] == 300
    assert alarm["AlarmActions"] == [{"Ref": topic}]
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
