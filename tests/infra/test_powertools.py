"""Powertools for AWS Lambda (Python) comes from AWS's published layer, at the version the tests run with; the
functions' assets hold no copy of it and no compiled code; every function has the Powertools environment."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline_core import telemetry
from stacks.lambda_function import (
    ARCHITECTURE,
    POWERTOOLS_VERSION,
    REQUIREMENTS,
    RUNTIME,
    pinned_version,
    powertools_layer_parameter,
)
from tests.infra.conftest import ROOT, project_context, synthesize

PIPELINE_NAME = project_context()["pipeline"]["name"]
# Compiled code a Lambda asset must not carry (it would tie the asset to one CPU and Python build).
COMPILED_SUFFIXES = (".so", ".pyd", ".dylib", ".dll", ".pyc", ".pyo")


def _functions(template_json: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The pipeline's functions (lambdas/<folder>/handler.py); CDK's own custom-resource handlers aside."""
    every = {
        logical_id: resource["Properties"]
        for template in template_json.values()
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    found = {logical_id: props for logical_id, props in every.items() if props.get("Handler") == "handler.handler"}
    handler_folders = {p.parent.name for p in (ROOT / "lambdas").glob("*/handler.py")}
    assert len(found) >= len(handler_folders) - 1, "every handler folder but an optional one has a function"
    return found


def test_the_layer_version_is_the_package_version_the_tests_run_with() -> None:
    assert pinned_version("aws-lambda-powertools", ROOT / "requirements-dev.txt") == POWERTOOLS_VERSION
    assert importlib.metadata.version("aws-lambda-powertools") == POWERTOOLS_VERSION
    assert REQUIREMENTS == ROOT / "requirements-dev.txt"


def test_the_layer_parameter_names_the_runtime_architecture_and_version() -> None:
    assert (RUNTIME.name, ARCHITECTURE.name) == ("python3.14", "arm64")
    assert powertools_layer_parameter("3.37.0") == "/aws/service/powertools/python/arm64/python3.14/3.37.0"


def test_every_function_has_exactly_the_powertools_layer_at_the_pinned_version(
    template_json: dict[str, dict[str, Any]],
) -> None:
    expected = f"{{{{resolve:ssm:/aws/service/powertools/python/arm64/python3.14/{POWERTOOLS_VERSION}}}}}"
    for logical_id, props in _functions(template_json).items():
        assert props.get("Layers") == [expected], logical_id
        assert (props["Runtime"], props["Architectures"]) == ("python3.14", ["arm64"]), logical_id
        assert props["TracingConfig"] == {"Mode": "Active"}, logical_id


def test_every_function_has_the_powertools_service_name_and_metrics_namespace(
    template_json: dict[str, dict[str, Any]],
) -> None:
    for logical_id, props in _functions(template_json).items():
        variables = props["Environment"]["Variables"]
        assert variables[telemetry.ENV_SERVICE_NAME] == PIPELINE_NAME, logical_id
        assert variables[telemetry.ENV_METRICS_NAMESPACE] == f"BedrockFinetunePipeline/{PIPELINE_NAME}", logical_id


def test_the_function_roles_need_no_permission_for_metrics_and_have_the_xray_writes(
    template_json: dict[str, dict[str, Any]],
) -> None:
    """EMF metrics are log lines (logs:PutLogEvents on the function's own group, granted already); the traces
    need xray:PutTraceSegments and xray:PutTelemetryRecords, which CDK grants with active tracing."""
    statements = [
        statement
        for template in template_json.values()
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= actions
    assert "cloudwatch:PutMetricData" in actions  # the janitor's gauges, unchanged
    # CloudFormation resolves the layer parameter when it deploys; no function role may read it.
    for statement in statements:
        assert "aws/service/powertools" not in json.dumps(statement.get("Resource")), statement


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    synthesize(outdir=str(outdir))
    found = [path.parent for path in outdir.glob("asset.*/handler.py")]
    assert found, "the synthesized app has function assets"
    return found


def test_the_function_assets_hold_no_compiled_code_and_no_powertools(assets: list[Path]) -> None:
    for asset in assets:
        files = [p for p in asset.rglob("*") if p.is_file()]
        assert not [p for p in files if p.suffix in COMPILED_SUFFIXES], asset
        assert not [p for p in asset.rglob("__pycache__")], asset
        tops = {p.relative_to(asset).parts[0] for p in files}
        assert not tops & {"aws_lambda_powertools", "aws_xray_sdk", "wrapt", "jmespath"}, asset
        assert {"handler.py", "pipeline_core", "pipeline_aws"} <= tops, asset
