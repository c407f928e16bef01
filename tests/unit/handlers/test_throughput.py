"""Provisioned Throughput: created without commitment and with a stable name, bounded wait, idempotent delete."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from handler_fixtures import ACCOUNT, HAIKU, client_error, load_handler, run_spec

from pipeline_aws.bedrock import client_token
from pipeline_aws.errors import ThroughputNotReady, TransientServiceError
from pipeline_core import contracts
from pipeline_core.names import RunNames

throughput = load_handler("throughput")
RUN = run_spec()
NAME = RUN["execution_name"]
PT_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/abcdefabcdef"
MODEL_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/abcdefabcdef"


def described(status: str, created: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "provisionedModelName": NAME,
        "provisionedModelArn": PT_ARN,
        "modelArn": MODEL_ARN,
        "desiredModelArn": MODEL_ARN,
        "foundationModelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}",
        "status": status,
        "creationTime": created,
        "lastModifiedTime": created,
    } | extra


def test_create_buys_no_commitment_with_tags_and_a_deterministic_token(bedrock: Stubber) -> None:
    # No commitmentDuration key: the Stubber fails on any parameter not listed here.
    bedrock.add_response(
        "create_provisioned_model_throughput",
        {"provisionedModelArn": PT_ARN},
        {
            "modelUnits": 1,
            "provisionedModelName": NAME,
            "modelId": MODEL_ARN,
            "clientRequestToken": client_token("throughput", NAME),
            "tags": ANY,
        },
    )
    result = throughput.handler({"action": "create", "run": RUN, "job": {"custom_model_arn": MODEL_ARN}}, None)
    assert result["arn"] == PT_ARN and result["name"] == NAME and result["status"] == "Creating"
    assert result["failure_message"] is None
    datetime.fromisoformat(result["created_at"])


def test_create_and_delete_use_the_run_specs_name_and_token_seed(bedrock: Stubber) -> None:
    """A reused execution name (90 days on) must not meet the earlier run's throughput or token."""
    names = RunNames.for_execution(NAME, "2026-12-01T10:00:00.000Z")
    run = run_spec(resource_name=names.resource_name, token_seed=names.token_seed)
    assert names.resource_name != NAME and client_token("throughput", names.token_seed) != client_token(
        "throughput", NAME
    )
    bedrock.add_response(
        "create_provisioned_model_throughput",
        {"provisionedModelArn": PT_ARN},
        {
            "modelUnits": 1,
            "provisionedModelName": names.resource_name,
            "modelId": MODEL_ARN,
            "clientRequestToken": client_token("throughput", names.token_seed),
            "tags": ANY,
        },
    )
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": names.resource_name})
    created = throughput.handler({"action": "create", "run": run, "job": {"custom_model_arn": MODEL_ARN}}, None)
    assert created["name"] == names.resource_name
    assert throughput.handler({"action": "delete", "run": run, "throughput": None}, None)["deleted"] is True


def test_create_tags_name_the_pipeline_run_execution_and_time(
    bedrock: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def capture(**kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs)
        return {"provisionedModelArn": PT_ARN}

    class Fake:
        create_provisioned_model_throughput = staticmethod(capture)

    from pipeline_aws.clients import CLIENTS

    CLIENTS.set("bedrock", Fake())
    throughput.handler({"action": "create", "run": RUN, "job": {"custom_model_arn": MODEL_ARN}}, None)
    tags = {t["key"]: t["value"] for t in seen["tags"]}
    assert tags[contracts.TAG_PIPELINE] == "finetune" and tags[contracts.TAG_RUN] == "demo"
    assert tags[contracts.TAG_EXECUTION] == NAME and contracts.TAG_CREATED_AT in tags
    assert "commitmentDuration" not in seen


def test_describe_reports_status(bedrock: Stubber) -> None:
    now = datetime.now(UTC)
    bedrock.add_response(
        "get_provisioned_model_throughput", described("InService", now), {"provisionedModelId": PT_ARN}
    )
    state = {"arn": PT_ARN, "name": NAME, "status": "Creating", "created_at": now.isoformat()}
    result = throughput.handler({"action": "describe", "run": RUN, "throughput": state}, None)
    assert result["status"] == "InService" and result["arn"] == PT_ARN


def test_describe_failed_carries_the_message(bedrock: Stubber) -> None:
    now = datetime.now(UTC)
    response = described("Failed", now, failureMessage="insufficient model units")
    bedrock.add_response("get_provisioned_model_throughput", response, {"provisionedModelId": PT_ARN})
    state = {"arn": PT_ARN, "created_at": now.isoformat()}
    result = throughput.handler({"action": "describe", "run": RUN, "throughput": state}, None)
    assert result["status"] == "Failed" and result["failure_message"] == "insufficient model units"


def test_still_creating_past_the_limit_raises_throughput_not_ready(bedrock: Stubber) -> None:
    created = datetime.now(UTC) - timedelta(minutes=61)
    bedrock.add_response("get_provisioned_model_throughput", described("Creating", created), None)
    state = {"arn": PT_ARN, "created_at": created.isoformat()}
    with pytest.raises(ThroughputNotReady) as err:
        throughput.handler({"action": "describe", "run": RUN, "throughput": state}, None)
    assert type(err.value).__name__ == contracts.ERROR_THROUGHPUT_TIMEOUT


def test_delete_by_arn(bedrock: Stubber) -> None:
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    result = throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ARN}}, None)
    assert result == {"deleted": True, "arn": PT_ARN}


def test_delete_by_name_when_create_never_returned(bedrock: Stubber) -> None:
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": NAME})
    assert throughput.handler({"action": "delete", "run": RUN, "throughput": None}, None)["deleted"] is True


def test_delete_while_the_throughput_is_still_changing_is_retried(bedrock: Stubber) -> None:
    """A throughput still Creating cannot be deleted yet (ConflictException): retry, never give up silently."""
    bedrock.add_client_error("delete_provisioned_model_throughput", **client_error("ConflictException", 400))
    with pytest.raises(TransientServiceError, match="cannot be deleted yet"):
        throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ARN}}, None)


def test_delete_is_idempotent(bedrock: Stubber) -> None:
    bedrock.add_client_error("delete_provisioned_model_throughput", **client_error("ResourceNotFoundException", 404))
    result = throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ARN}}, None)
    assert result["deleted"] is False and result["reason"] == "not found"


@pytest.mark.parametrize(
    ("code", "status"), [("ThrottlingException", 429), ("ServiceUnavailable", 503), ("InternalServerException", 500)]
)
def test_throttling_and_5xx_are_transient(bedrock: Stubber, code: str, status: int) -> None:
    bedrock.add_client_error("delete_provisioned_model_throughput", **client_error(code, status))
    with pytest.raises(TransientServiceError):
        throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ARN}}, None)


def test_other_errors_are_not_transient(bedrock: Stubber) -> None:
    bedrock.add_client_error("delete_provisioned_model_throughput", **client_error("AccessDeniedException", 403))
    with pytest.raises(Exception) as err:
        throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ARN}}, None)
    assert not isinstance(err.value, TransientServiceError)


# ---- cleanup never deletes the throughput the promotion record names ---------------------------------------------
PARAMETER = "/finetune/promoted-model"


@pytest.fixture
def promotion(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> Any:
    import boto3

    from pipeline_aws.clients import CLIENTS

    monkeypatch.setenv(contracts.ENV_PROMOTION_PARAMETER, PARAMETER)
    ssm = boto3.client("ssm")
    CLIENTS.set("ssm", ssm)
    return ssm


def _publish(ssm: Any, arn: str | None) -> None:
    ssm.put_parameter(Name=PARAMETER, Type="String", Overwrite=True, Value=json.dumps({"provisioned_model_arn": arn}))


def test_delete_keeps_the_throughput_the_promotion_record_names(bedrock: Stubber, promotion: Any) -> None:
    """Catches cleanup after a Promote that failed past its SSM write deleting the model applications now call."""
    _publish(promotion, PT_ARN)
    result = throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ARN}}, None)
    assert result["deleted"] is False and result["reason"] == f"serving: {PARAMETER} names it"
    # No delete call was queued on the Stubber: a delete would have failed the fixture's no-pending check.


def test_delete_goes_on_when_the_record_names_another_throughput_or_none(bedrock: Stubber, promotion: Any) -> None:
    _publish(promotion, PT_ARN.replace("abcdefabcdef", "another00001"))
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    assert throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ARN}}, None)["deleted"]


def test_delete_goes_on_when_nothing_was_ever_promoted(bedrock: Stubber, promotion: Any) -> None:
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    assert throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ARN}}, None)["deleted"]


def test_delete_waits_when_the_record_cannot_be_read(
    bedrock: Stubber, promotion: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches 'cannot read the record, delete anyway': the production model could be the one deleted."""
    from botocore.exceptions import ClientError

    def throttled(**_: Any) -> Any:
        response: Any = {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 429}}
        raise ClientError(response, "GetParameter")

    monkeypatch.setattr(promotion, "get_parameter", throttled)
    with pytest.raises(TransientServiceError):
        throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ARN}}, None)
