"""The throughput handler reads, and only reads, the promotion record before any delete (a serving model is kept)."""

from __future__ import annotations

from typing import Any

from cfn import as_list, is_parameter_arn, resources
from pipeline_core import contracts

PIPELINE = "FinetunePipeline"


def _throughput_function(template: dict[str, Any]) -> dict[str, Any]:
    (function,) = [
        f
        for f in resources(template, "AWS::Lambda::Function").values()
        if "deletes Provisioned Throughput" in str(f["Properties"].get("Description", ""))
    ]
    return function


def _statements(template: dict[str, Any], function: dict[str, Any]) -> list[dict[str, Any]]:
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_throughput_handler_is_told_the_promotion_record(template_json: dict[str, dict[str, Any]]) -> None:
    env = _throughput_function(template_json[PIPELINE])["Properties"]["Environment"]["Variables"]
    assert env[contracts.ENV_PROMOTION_PARAMETER] == "/finetune/promoted-model"


def test_it_may_read_that_record_only_and_never_write_it(template_json: dict[str, dict[str, Any]]) -> None:
    template = template_json[PIPELINE]
    statements = _statements(template, _throughput_function(template))
    ssm = [s for s in statements if any(str(a).startswith("ssm:") for a in as_list(s["Action"]))]
    assert [as_list(s["Action"]) for s in ssm] == [["ssm:GetParameter"]]
    (resource,) = as_list(ssm[0]["Resource"])
    assert is_parameter_arn(resource, template, "/finetune/promoted-model"), resource
