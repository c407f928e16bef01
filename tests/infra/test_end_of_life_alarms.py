"""The base models' end-of-life alarms, the janitor's wiring for them, and the lifecycleWarningDays setting."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Any

import pytest

from cfn import as_list, is_parameter_arn, resources
from pipeline_core import contracts
from stacks.settings import SettingsError, load_settings

PIPELINE = "FinetunePipeline"
DEFAULT_DAYS = load_settings({}).lifecycle_warning_days
# How CloudWatch compares a datapoint with the threshold, by the operator's CloudFormation name.
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def _end_of_life_alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The alarms on DaysToEndOfLife, by their Model dimension."""
    found: dict[str, dict[str, Any]] = {}
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("MetricName") == contracts.METRIC_DAYS_TO_END_OF_LIFE:
            dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
            found[dims[contracts.DIMENSION_MODEL]] = props
    return found


@pytest.fixture(scope="module")
def pipeline(template_json: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return template_json[PIPELINE]


def test_one_alarm_per_model_on_the_janitors_metric(pipeline: dict[str, Any]) -> None:
    alarms = _end_of_life_alarms(pipeline)
    assert set(alarms) == {contracts.MODEL_PROMOTED, contracts.MODEL_CONFIGURED}
    (topic,) = resources(pipeline, "AWS::SNS::Topic")
    for role, props in alarms.items():
        assert props["Namespace"] == contracts.METRIC_NAMESPACE
        assert {d["Name"]: d["Value"] for d in props["Dimensions"]} == {
            "Pipeline": "finetune",
            contracts.DIMENSION_MODEL: role,
        }
        assert (props["Statistic"], props["Period"]) == ("Minimum", 3600)
        assert props["ComparisonOperator"] == "LessThanOrEqualToThreshold"
        assert props["Threshold"] == DEFAULT_DAYS == 60
        # Nothing published (nothing promoted, no end-of-life date) must never fire the alarm.
        assert props["TreatMissingData"] == "notBreaching"
        # One breaching hour in three: a late janitor run neither clears the alarm nor notifies again.
        assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (3, 1)
        assert props["AlarmActions"] == [{"Ref": topic}], role
        assert props["AlarmName"].startswith("finetune."), "the topic policy admits only the pipeline's alarms"


@pytest.mark.parametrize(
    ("days_left", "fires"), [(DEFAULT_DAYS - 1, True), (DEFAULT_DAYS, True), (DEFAULT_DAYS + 1, False), (0, True)]
)
def test_alarm_fires_at_and_below_the_threshold_only(pipeline: dict[str, Any], days_left: int, fires: bool) -> None:
    for props in _end_of_life_alarms(pipeline).values():
        assert COMPARE[props["ComparisonOperator"]](days_left, props["Threshold"]) is fires


def test_the_threshold_comes_from_the_setting(synth: Any) -> None:
    template = synth({"lifecycleWarningDays": 120})[PIPELINE].to_json()
    assert {p["Threshold"] for p in _end_of_life_alarms(template).values()} == {120}
    janitor_env = _janitor(template)["Properties"]["Environment"]["Variables"]
    assert janitor_env[contracts.ENV_LIFECYCLE_WARNING_DAYS] == "120"


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), (2, True), (364, True), (365, True), (366, False)])
def test_lifecycle_warning_days_range(value: int, ok: bool) -> None:
    if ok:
        assert load_settings({"lifecycleWarningDays": value}).lifecycle_warning_days == value
    else:
        with pytest.raises(SettingsError, match=rf"pipeline\.lifecycleWarningDays = {value} .*1 to 365"):
            load_settings({"lifecycleWarningDays": value})


def test_lifecycle_warning_days_must_be_whole() -> None:
    with pytest.raises(SettingsError, match="lifecycleWarningDays"):
        load_settings({"lifecycleWarningDays": 30.5})


def _janitor(template: dict[str, Any]) -> dict[str, Any]:
    (janitor,) = [
        f
        for f in resources(template, "AWS::Lambda::Function").values()
        if contracts.ENV_LIFECYCLE_WARNING_DAYS in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    return janitor


def test_janitor_is_told_the_configured_model_the_parameter_and_the_threshold(pipeline: dict[str, Any]) -> None:
    env = _janitor(pipeline)["Properties"]["Environment"]["Variables"]
    assert env[contracts.ENV_BASE_MODEL_ID] == load_settings({}).base_model_id
    assert env[contracts.ENV_PROMOTION_PARAMETER] == "/finetune/promoted-model"
    assert env[contracts.ENV_LIFECYCLE_WARNING_DAYS] == str(DEFAULT_DAYS)


def _janitor_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    role = _janitor(template)["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _granted(statements: list[dict[str, Any]], action: str) -> list[str]:
    return [
        json.dumps(resource, sort_keys=True)
        for s in statements
        if s["Effect"] == "Allow" and action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    ]


def test_janitor_reads_lifecycles_and_the_promotion_and_nothing_wider(pipeline: dict[str, Any]) -> None:
    statements = _janitor_statements(pipeline)
    (foundation,) = _granted(statements, "bedrock:GetFoundationModel")
    assert "::foundation-model/*" in foundation and "AWS::Region" in foundation and "AWS::AccountId" not in foundation
    (custom,) = _granted(statements, "bedrock:GetCustomModel")
    assert ":custom-model/*" in custom and "AWS::AccountId" in custom and "AWS::Region" in custom
    (parameter,) = _granted(statements, "ssm:GetParameter")
    assert is_parameter_arn(json.loads(parameter), pipeline, "/finetune/promoted-model"), parameter
    for action in ("bedrock:GetFoundationModel", "bedrock:GetCustomModel", "ssm:GetParameter"):
        granting = [s for s in statements if action in as_list(s["Action"])]
        assert all(as_list(s["Action"]) == [action] for s in granting), f"{action} is granted alone"
    assert not _granted(statements, "ssm:PutParameter"), "the janitor never writes the promotion"
