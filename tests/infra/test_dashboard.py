"""The operations dashboard draws outcomes, stage durations, evaluation load on Bedrock and overdue throughput.

Built on a stack of its own with the pipeline's real state machine type and functions, so the test holds whether
or not PipelineStack wires the dashboard yet.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from pipeline_core import contracts
from stacks.monitoring import DashboardProps, PipelineDashboard


def _function(stack: cdk.Stack, name: str) -> lambda_.Function:
    return lambda_.Function(
        stack,
        name,
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): return None"),
    )


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


def test_wired_dashboard_if_the_pipeline_stack_has_one(template_json: dict[str, dict[str, Any]]) -> None:
    """Once PipelineStack wires the construct, the deployed dashboard is the one above."""
    for template in template_json.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::CloudWatch::Dashboard":
                body = json.dumps(resource["Properties"]["DashboardBody"])
                assert contracts.METRIC_OVERDUE_THROUGHPUTS in body and "AWS/Bedrock" in body
