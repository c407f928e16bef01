"""Resolve run may read the promotion record and ask whether the champion is still served, and nothing more; Evaluate
may invoke what serves a champion (the kinds a run of this stack serves its candidates with)."""

from __future__ import annotations

import json
from typing import Any

import pytest


def _pipeline(template_json: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return next(t for name, t in template_json.items() if "Pipeline" in name)


def _statements(template: dict[str, Any], description_start: str) -> list[dict[str, Any]]:
    """Every statement of the policies attached to the role of the function whose description starts so."""
    resources = template["Resources"]
    function = next(
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and str(r["Properties"].get("Description", "")).startswith(description_start)
    )
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    found: list[dict[str, Any]] = []
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]:
            found += resource["Properties"]["PolicyDocument"]["Statement"]
    return found


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def _granted(statements: list[dict[str, Any]], action: str) -> list[str]:
    return [json.dumps(s["Resource"]) for s in statements if action in _actions(s) and s["Effect"] == "Allow"]


def test_resolve_run_reads_the_promotion_record_and_the_champions_status_only(
    template_json: dict[str, dict[str, Any]],
) -> None:
    statements = _statements(_pipeline(template_json), "Resolves a run")
    parameter = _granted(statements, "ssm:GetParameter")
    # By name, or by the parameter resource the stack creates: the one promotion record, nothing else.
    assert len(parameter) == 1 and ("promoted-model" in parameter[0] or "PromotedModelParameter" in parameter[0])
    throughputs = _granted(statements, "bedrock:GetProvisionedModelThroughput")
    assert len(throughputs) == 1 and ":provisioned-model/*" in throughputs[0]
    actions = set().union(*(_actions(s) for s in statements))
    # It never writes the record, and never changes or deletes what serves a model.
    assert not {a for a in actions if a.startswith("ssm:") and a != "ssm:GetParameter"}
    assert not {a for a in actions if a.startswith("bedrock:") and ("Delete" in a or "Create" in a or "Tag" in a)}


@pytest.mark.parametrize(("serving", "granted"), [("auto", True), ("provisionedThroughput", False)])
def test_resolve_run_asks_about_deployments_only_where_the_stack_serves_on_demand(
    synth: Any, serving: str, granted: bool
) -> None:
    nova = {"baseModelId": "amazon.nova-lite-v1:0:300k", "region": "us-east-1", "hyperparameters": {}}
    templates = synth({**nova, "serving": serving})
    template = next(t.to_json() for name, t in templates.items() if "Pipeline" in name)
    resolve = _granted(_statements(template, "Resolves a run"), "bedrock:GetCustomModelDeployment")
    evaluate = _granted(_statements(template, "Plans the evaluation"), "bedrock:InvokeModel")
    assert bool(resolve) is granted
    assert any(":custom-model-deployment/*" in r for r in evaluate) is granted
    assert any(":provisioned-model/*" in r for r in evaluate)  # a champion served by Provisioned Throughput
