"""On-demand serving in the template: the deployment calls are granted only where a run may deploy, and narrowly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_nag import _synth_with_nag

from cfn import as_list, resources
from stacks.nag import flatten_cfn_reference

# Nova Lite in us-east-1 can be served on demand (pipeline_core.models); hyperparameters take Nova's defaults.
NOVA = {"region": "us-east-1", "baseModelId": "amazon.nova-lite-v1:0:300k", "hyperparameters": {}}
THIS_ACCOUNT = "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:"
DEPLOYMENTS = THIS_ACCOUNT + "custom-model-deployment/*"
CUSTOM_MODELS = THIS_ACCOUNT + "custom-model/*"
PROVISIONED = THIS_ACCOUNT + "provisioned-model/*"
# The handlers that create, evaluate and promote the candidate; the janitor's grants are its own concern.
SERVING_ROLES = ("Throughput", "Evaluate", "Promote")


def _pipeline(template_json: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return next(t for name, t in template_json.items() if name.endswith("Pipeline"))


def grants(template: dict[str, Any], role: str) -> dict[str, set[str]]:
    """{action: flattened resources} granted to the named function's role."""
    found: dict[str, set[str]] = {}
    for lid, policy in resources(template, "AWS::IAM::Policy").items():
        if not lid.startswith(role + "Role"):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in as_list(statement["Action"]):
                found.setdefault(action, set()).update(flatten_cfn_reference(r) for r in as_list(statement["Resource"]))
    return found


def deployment_grants(template: dict[str, Any]) -> dict[str, dict[str, set[str]]]:
    """Per serving role: every grant that names a deployment action or a deployment resource."""
    return {
        role: {
            action: names
            for action, names in grants(template, role).items()
            if "CustomModelDeployment" in action or DEPLOYMENTS in names
        }
        for role in SERVING_ROLES
    }


@pytest.fixture(scope="module")
def on_demand(synth: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return _pipeline({name: t.to_json() for name, t in synth(NOVA).items()})


def test_the_default_stack_grants_no_deployment_calls(template_json: dict[str, dict[str, Any]]) -> None:
    """Llama 3.1 70B in us-west-2 is served by Provisioned Throughput only: no run can deploy."""
    assert deployment_grants(_pipeline(template_json)) == {role: {} for role in SERVING_ROLES}


def test_a_stack_that_may_serve_on_demand_grants_exactly_the_deployment_calls(on_demand: dict[str, Any]) -> None:
    assert deployment_grants(on_demand) == {
        "Throughput": {
            "bedrock:CreateCustomModelDeployment": {CUSTOM_MODELS, DEPLOYMENTS},
            "bedrock:GetCustomModelDeployment": {DEPLOYMENTS},
            "bedrock:DeleteCustomModelDeployment": {DEPLOYMENTS},
            "bedrock:TagResource": {PROVISIONED, DEPLOYMENTS},
        },
        # The candidate is invoked by its deployment ARN; the other resources are the base and reference models.
        "Evaluate": {"bedrock:InvokeModel": grants(on_demand, "Evaluate")["bedrock:InvokeModel"]},
        "Promote": {
            "bedrock:TagResource": {CUSTOM_MODELS, PROVISIONED, DEPLOYMENTS},
            "bedrock:DeleteCustomModelDeployment": {DEPLOYMENTS},
            # Before deleting what the promotion record names, Promote reads whose it is.
            "bedrock:ListTagsForResource": {PROVISIONED, DEPLOYMENTS},
        },
    }
    invoke = grants(on_demand, "Evaluate")["bedrock:InvokeModel"]
    assert {PROVISIONED, DEPLOYMENTS} <= invoke
    assert not any("custom-model-deployment" in name and name != DEPLOYMENTS for name in invoke)


def test_a_provisioned_throughput_setting_grants_no_deployment_calls(synth: Callable[..., dict[str, Any]]) -> None:
    """The setting, not only the model, decides: a stack fixed to Provisioned Throughput never deploys."""
    template = _pipeline({n: t.to_json() for n, t in synth({**NOVA, "serving": "provisionedThroughput"}).items()})
    assert deployment_grants(template) == {role: {} for role in SERVING_ROLES}


def test_the_on_demand_stack_has_no_unacknowledged_nag_findings(
    synth: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    assert _synth_with_nag(synth, tmp_path, {**NOVA, "serving": "onDemand"}) == []
