"""Promote: the SSM parameter names the approved model, and the throughput is kept (tagged) or deleted."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from handler_fixtures import ACCOUNT, HAIKU, client_error, load_handler, run_spec

from pipeline_aws.errors import TransientServiceError
from pipeline_core import contracts

promote = load_handler("promote")
PARAMETER = "/finetune/promoted-model"
PT_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/abcdefabcdef"
MODEL_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/abcdefabcdef"
APPROVED = [{"key": contracts.TAG_APPROVED, "value": "true"}]
REPORT = "s3://artifacts/runs/demo/demo-0123456789abcdef/report.json"


@pytest.fixture
def env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contracts.ENV_PROMOTION_PARAMETER, PARAMETER)


def event(keep: bool) -> dict[str, Any]:
    run = run_spec(throughput={"model_units": 1, "keep_after_promotion": keep, "max_wait_minutes": 60})
    return {
        "run": run,
        "job": {"custom_model_arn": MODEL_ARN, "job_arn": "j", "job_name": "n", "status": "Completed"},
        "throughput": {"arn": PT_ARN, "name": run["execution_name"], "status": "InService"},
        "evaluation": {"verdict": "promote", "report_uri": REPORT},
    }


def parameter() -> dict[str, Any]:
    found = boto3.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]
    assert found["Type"] == "String"
    value: dict[str, Any] = json.loads(found["Value"])
    return value


def test_keep_tags_model_and_throughput_and_writes_ssm(env: None, bedrock: Stubber) -> None:
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    bedrock.add_response("tag_resource", {}, {"resourceARN": PT_ARN, "tags": APPROVED})
    result = promote.handler(event(keep=True), None)
    assert result == {
        "parameter_name": PARAMETER,
        "custom_model_arn": MODEL_ARN,
        "provisioned_model_arn": PT_ARN,
        "report_uri": REPORT,
        "throughput_kept": True,
        "replaced_throughput": None,
    }
    value = parameter()
    assert value["custom_model_arn"] == MODEL_ARN and value["provisioned_model_arn"] == PT_ARN
    assert value["report_uri"] == REPORT and value["run_name"] == "demo"
    assert value["execution_name"] == "demo-0123456789abcdef" and value["promoted_at"]


def test_not_keeping_deletes_the_throughput_and_publishes_null(env: None, bedrock: Stubber) -> None:
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    result = promote.handler(event(keep=False), None)
    assert result["provisioned_model_arn"] is None and result["throughput_kept"] is False
    assert parameter()["provisioned_model_arn"] is None


def test_promote_twice_overwrites_and_tolerates_an_already_deleted_throughput(env: None, bedrock: Stubber) -> None:
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    bedrock.add_client_error("delete_provisioned_model_throughput", **client_error("ResourceNotFoundException", 404))
    promote.handler(event(keep=False), None)
    promote.handler(event(keep=False), None)
    assert parameter()["provisioned_model_arn"] is None


def test_a_new_promotion_deletes_the_previous_promotions_throughput(env: None, bedrock: Stubber) -> None:
    """The previous throughput is approved (the janitor keeps it), so promote must delete it once replaced."""
    old_pt = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/000000000000"
    boto3.client("ssm").put_parameter(
        Name=PARAMETER, Type="String", Value=json.dumps({"provisioned_model_arn": old_pt, "run_name": "earlier"})
    )
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    bedrock.add_response("tag_resource", {}, {"resourceARN": PT_ARN, "tags": APPROVED})
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": old_pt})
    result = promote.handler(event(keep=True), None)
    assert result["replaced_throughput"] == old_pt and result["provisioned_model_arn"] == PT_ARN
    assert parameter()["provisioned_model_arn"] == PT_ARN
    bedrock.assert_no_pending_responses()


def test_a_retried_promotion_does_not_delete_its_own_throughput(env: None, bedrock: Stubber) -> None:
    for _ in range(2):
        bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
        bedrock.add_response("tag_resource", {}, {"resourceARN": PT_ARN, "tags": APPROVED})
    promote.handler(event(keep=True), None)
    assert promote.handler(event(keep=True), None)["replaced_throughput"] is None
    bedrock.assert_no_pending_responses()


def test_throttled_tagging_is_transient(env: None, bedrock: Stubber) -> None:
    bedrock.add_client_error("tag_resource", **client_error("ThrottlingException", 429))
    with pytest.raises(TransientServiceError):
        promote.handler(event(keep=True), None)
