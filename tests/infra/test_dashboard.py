"""The operations dashboard draws outcomes, stage durations, evaluation load on Bedrock, overdue throughput and
the base models' days to end of life.

Most tests build the construct on a stack of its own with the pipeline's real state machine type and functions;
the last checks that the app itself deploys it.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from pipeline_core import contracts, telemetry
from stacks.monitoring import DashboardProps, PipelineDashboard


def _function(stack: cdk.Stack, name: str) -> lambda_.Function:
    return lambda_.Function(
        stack,
        name,
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): return None"),
    )


# Not the default (60), so the annotation is known to come from the props.
WARNING_DAYS = 45


@pytest.fixture(scope="module")
def dashboard_body() -> str:
    stack = cdk.Stack(cdk.App(analytics_reporting=False), "Dashboard", env=cdk.Environment(region="us-west-2"))
    machine = sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Start"))
    )
    functions = {name: _function(stack, name) for name in ("Evaluate", "Trigger", "Janitor", "Train")}
    PipelineDashboard(
        stack,
        "Monitoring",
        props=DashboardProps(
            pipeline_name="finetune",
            state_machine=machine,
            evaluate=functions["Evaluate"],
            trigger=functions["Trigger"],
            janitor=functions["Janitor"],
            lifecycle_warning_days=WARNING_DAYS,
            stage_functions={name.lower(): fn for name, fn in functions.items()},
        ),
    )
    template = Template.from_stack(stack)
    dashboards = template.find_resources("AWS::CloudWatch::Dashboard")
    assert len(dashboards) == 1
    (dashboard,) = dashboards.values()
    assert dashboard["Properties"]["DashboardName"] == "finetune-pipeline"
    return json.dumps(stack.resolve(dashboard["Properties"]["DashboardBody"]))


def _has(body: str, *parts: str) -> bool:
    return all(part in body for part in parts)


@pytest.mark.parametrize(
    "metric",
    ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"],
)
def test_executions_by_outcome(dashboard_body: str, metric: str) -> None:
    assert _has(dashboard_body, '\\"AWS/States\\"', f'\\"{metric}\\"')


def test_stage_durations_and_execution_time(dashboard_body: str) -> None:
    assert _has(dashboard_body, '\\"ExecutionTime\\"', '\\"AWS/Lambda\\"', '\\"Duration\\"', '\\"p90\\"')
    for label in ("evaluate", "janitor", "train", "trigger"):
        assert f'\\"label\\":\\"{label}\\"' in dashboard_body


def test_evaluation_throughput_and_bedrock_throttles_by_model(dashboard_body: str) -> None:
    assert _has(dashboard_body, '\\"Invocations\\"', '\\"Errors\\"', '\\"Throttles\\"')
    for metric in ("Invocations", "InvocationThrottles", "InvocationLatency"):
        assert f'{{AWS/Bedrock,ModelId}} MetricName=\\\\\\"{metric}\\\\\\"' in dashboard_body, metric


def test_overdue_provisioned_throughput_from_the_janitor(dashboard_body: str) -> None:
    assert _has(dashboard_body, contracts.METRIC_NAMESPACE, contracts.METRIC_OVERDUE_THROUGHPUTS, '\\"Pipeline\\"')


def _widgets(body: str) -> list[dict[str, Any]]:
    """The dashboard's widgets: the body is an Fn::Join of JSON text and tokens (names, Region), which become "X"."""
    joined = json.loads(body)
    if isinstance(joined, dict) and "Fn::Join" in joined:
        text = "".join(part if isinstance(part, str) else "X" for part in joined["Fn::Join"][1])
    else:
        text = joined
    widgets: list[dict[str, Any]] = json.loads(text)["widgets"]
    return widgets


def _days_to_end_of_life_graph(body: str) -> dict[str, Any]:
    graphs = [
        w["properties"]
        for w in _widgets(body)
        if w["type"] == "metric"
        and w["properties"].get("view") == "timeSeries"
        and any(contracts.METRIC_DAYS_TO_END_OF_LIFE in m for m in w["properties"]["metrics"])
    ]
    assert len(graphs) == 1, "one graph draws the base models' days to end of life"
    return graphs[0]


def test_days_to_end_of_life_of_both_models_with_the_alarm_threshold(dashboard_body: str) -> None:
    graph = _days_to_end_of_life_graph(dashboard_body)
    # A metric row is [namespace, name, dimension, value, dimension, value, {options}].
    drawn = {
        (m[0], m[1], frozenset(zip(m[2:6:2], m[3:6:2], strict=True)))
        for m in graph["metrics"]
        if contracts.METRIC_DAYS_TO_END_OF_LIFE in m
    }
    assert drawn == {
        (
            contracts.METRIC_NAMESPACE,
            contracts.METRIC_DAYS_TO_END_OF_LIFE,
            frozenset({("Pipeline", "finetune"), (contracts.DIMENSION_MODEL, role)}),
        )
        for role in (contracts.MODEL_PROMOTED, contracts.MODEL_CONFIGURED)
    }
    assert [a["value"] for a in graph["annotations"]["horizontal"]] == [WARNING_DAYS]


def test_the_admission_queue_quota_waits_and_throttles_from_the_handlers_metrics(dashboard_body: str) -> None:
    """The handlers' EMF metrics (pipeline_aws.metrics): the pipeline's own namespace, the `service` dimension."""
    drawn = {
        (m[0], m[1], tuple(m[2:4]), m[4].get("stat"))
        for w in _widgets(dashboard_body)
        if w["type"] == "metric"
        for m in w["properties"]["metrics"]
        if m[0] == "BedrockFinetunePipeline/finetune"
    }
    service = (telemetry.DIMENSION_SERVICE, "finetune")
    assert drawn == {
        ("BedrockFinetunePipeline/finetune", telemetry.METRIC_QUEUE_DEPTH, service, "Maximum"),
        ("BedrockFinetunePipeline/finetune", telemetry.METRIC_RUNS_ADMITTED, service, "Sum"),
        ("BedrockFinetunePipeline/finetune", telemetry.METRIC_QUOTA_WAITS, service, "Sum"),
        ("BedrockFinetunePipeline/finetune", telemetry.METRIC_EVALUATION_THROTTLES, service, "Sum"),
        ("BedrockFinetunePipeline/finetune", telemetry.METRIC_EVALUATION_CALLS, service, "Sum"),
    }
    single = [
        w["properties"]
        for w in _widgets(dashboard_body)
        if w["type"] == "metric"
        and w["properties"].get("view") == "singleValue"
        and any(telemetry.METRIC_QUEUE_DEPTH in m for m in w["properties"]["metrics"])
    ]
    assert len(single) == 1 and single[0]["title"] == "Runs waiting now"


def test_the_deployed_app_has_the_dashboard(template_json: dict[str, dict[str, Any]]) -> None:
    """PipelineStack wires the construct: the app deploys exactly one dashboard, the one above. Catches the
    dashboard dropped from the stack (every test above builds its own)."""
    dashboards = [
        (template, resource)
        for template in template_json.values()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    assert len(dashboards) == 1, "the app deploys one operations dashboard"
    ((template, resource),) = dashboards
    body = json.dumps(resource["Properties"]["DashboardBody"])
    assert contracts.METRIC_OVERDUE_THROUGHPUTS in body and "AWS/Bedrock" in body
    # The threshold drawn is the one the alarms use (the shipped lifecycleWarningDays).
    graph = _days_to_end_of_life_graph(body)
    alarms = [
        a["Properties"]["Threshold"]
        for a in template["Resources"].values()
        if a["Type"] == "AWS::CloudWatch::Alarm"
        and a["Properties"].get("MetricName") == contracts.METRIC_DAYS_TO_END_OF_LIFE
    ]
    assert alarms and {a["value"] for a in graph["annotations"]["horizontal"]} == set(alarms)
