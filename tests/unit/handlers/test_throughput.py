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


@pytest.mark.parametrize("placeholder", [contracts.PROMOTION_PLACEHOLDER, f" {contracts.PROMOTION_PLACEHOLDER}\n"])
def test_delete_goes_on_when_the_parameter_holds_the_stacks_placeholder(
    bedrock: Stubber, promotion: Any, placeholder: str
) -> None:
    """The stack creates the parameter before anything is promoted; its placeholder names nothing."""
    promotion.put_parameter(Name=PARAMETER, Type="String", Value=placeholder)
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


# ---- on-demand serving: a custom model deployment, with the same guarantees -----------------------------------
DEPLOYMENT_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model-deployment/abcdefabcdef"
ON_DEMAND_RUN = run_spec(serving={"mode": contracts.SERVING_ON_DEMAND, "max_wait_minutes": 30})


def deployment(status: str, created: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "customModelDeploymentArn": DEPLOYMENT_ARN,
        "modelDeploymentName": NAME,
        "modelArn": MODEL_ARN,
        "createdAt": created,
        "status": status,
    } | extra


def test_create_reports_the_provisioned_kind(bedrock: Stubber) -> None:
    bedrock.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN}, None)
    result = throughput.handler({"action": "create", "run": RUN, "job": {"custom_model_arn": MODEL_ARN}}, None)
    assert result["kind"] == contracts.SERVING_PROVISIONED


def test_deploy_creates_a_deployment_with_the_runs_name_token_and_tags(bedrock: Stubber) -> None:
    names = RunNames.for_execution(NAME, "2026-12-01T10:00:00.000Z")
    run = run_spec(resource_name=names.resource_name, token_seed=names.token_seed, serving=ON_DEMAND_RUN["serving"])
    # Its own purpose: a deployment's token never equals the throughput's of the same run.
    assert client_token("deployment", names.token_seed) != client_token("throughput", names.token_seed)
    bedrock.add_response(
        "create_custom_model_deployment",
        {"customModelDeploymentArn": DEPLOYMENT_ARN},
        {
            "modelDeploymentName": names.resource_name,
            "modelArn": MODEL_ARN,
            "description": ANY,
            "clientRequestToken": client_token("deployment", names.token_seed),
            "tags": ANY,
        },
    )
    result = throughput.handler({"action": "deploy", "run": run, "job": {"custom_model_arn": MODEL_ARN}}, None)
    assert result["kind"] == contracts.SERVING_ON_DEMAND and result["arn"] == DEPLOYMENT_ARN
    assert result["name"] == names.resource_name and result["status"] == "Creating"
    datetime.fromisoformat(result["created_at"])


def test_deploy_tags_name_the_pipeline_run_execution_and_time(bedrock: Stubber) -> None:
    seen: dict[str, Any] = {}

    class Fake:
        @staticmethod
        def create_custom_model_deployment(**kwargs: Any) -> dict[str, Any]:
            seen.update(kwargs)
            return {"customModelDeploymentArn": DEPLOYMENT_ARN}

    from pipeline_aws.clients import CLIENTS

    CLIENTS.set("bedrock", Fake())
    throughput.handler({"action": "deploy", "run": ON_DEMAND_RUN, "job": {"custom_model_arn": MODEL_ARN}}, None)
    tags = {t["key"]: t["value"] for t in seen["tags"]}
    assert tags[contracts.TAG_PIPELINE] == "finetune" and tags[contracts.TAG_RUN] == "demo"
    assert tags[contracts.TAG_EXECUTION] == NAME and contracts.TAG_CREATED_AT in tags


@pytest.mark.parametrize(
    ("state", "status", "message"),
    [
        ({"kind": contracts.SERVING_ON_DEMAND, "arn": DEPLOYMENT_ARN}, "Active", None),
        # No kind: the ARN says it is a deployment.
        ({"arn": DEPLOYMENT_ARN}, "Failed", "model artifacts unreadable"),
    ],
)
def test_describe_a_deployment(bedrock: Stubber, state: dict[str, Any], status: str, message: str | None) -> None:
    now = datetime.now(UTC)
    extra = {"failureMessage": message} if message else {}
    bedrock.add_response(
        "get_custom_model_deployment",
        deployment(status, now, **extra),
        {"customModelDeploymentIdentifier": DEPLOYMENT_ARN},
    )
    state = state | {"created_at": now.isoformat()}
    result = throughput.handler({"action": "describe", "run": ON_DEMAND_RUN, "throughput": state}, None)
    assert result == {
        "kind": contracts.SERVING_ON_DEMAND,
        "arn": DEPLOYMENT_ARN,
        "name": NAME,
        "status": status,
        "failure_message": message,
        "created_at": now.isoformat(),
    }


DEPLOYED_AT = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("run", "waited", "stuck"),
    [
        # The run's serving.max_wait_minutes (30), not Provisioned Throughput's (60).
        (ON_DEMAND_RUN, timedelta(minutes=30), False),
        (ON_DEMAND_RUN, timedelta(minutes=30) - timedelta(seconds=1), False),
        (ON_DEMAND_RUN, timedelta(minutes=30) + timedelta(seconds=1), True),
        # Without its own bound, Provisioned Throughput's maxWaitMinutes.
        (run_spec(serving={"mode": contracts.SERVING_ON_DEMAND}), timedelta(minutes=60), False),
        (run_spec(serving={"mode": contracts.SERVING_ON_DEMAND}), timedelta(minutes=60, seconds=1), True),
    ],
)
def test_a_deployment_still_creating_past_its_bound_raises_deployment_not_ready(
    bedrock: Stubber, monkeypatch: pytest.MonkeyPatch, run: dict[str, Any], waited: timedelta, stuck: bool
) -> None:
    """Catches `>` turned into `<` or `>=`, and the bound read from the throughput settings."""
    monkeypatch.setattr(throughput, "_now", lambda: DEPLOYED_AT + waited)
    bedrock.add_response("get_custom_model_deployment", deployment("Creating", DEPLOYED_AT), None)
    state = {"kind": contracts.SERVING_ON_DEMAND, "arn": DEPLOYMENT_ARN, "created_at": DEPLOYED_AT.isoformat()}
    event = {"action": "describe", "run": run, "throughput": state}
    if stuck:
        with pytest.raises(throughput.DeploymentNotReady) as err:
            throughput.handler(event, None)
        assert type(err.value).__name__ == contracts.ERROR_DEPLOYMENT_TIMEOUT
        assert DEPLOYMENT_ARN in str(err.value), "the notification names the deployment it deletes"
    else:
        assert throughput.handler(event, None)["status"] == "Creating"


def test_the_wait_bound_counts_from_the_deployments_own_creation_time_when_not_recorded(
    bedrock: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throughput, "_now", lambda: DEPLOYED_AT + timedelta(minutes=31))
    bedrock.add_response("get_custom_model_deployment", deployment("Creating", DEPLOYED_AT), None)
    event = {"action": "describe", "run": ON_DEMAND_RUN, "throughput": {"kind": contracts.SERVING_ON_DEMAND}}
    with pytest.raises(throughput.DeploymentNotReady):
        throughput.handler(event, None)


@pytest.mark.parametrize(
    ("run", "state", "operation", "identifier"),
    [
        (RUN, {"kind": contracts.SERVING_ON_DEMAND, "arn": DEPLOYMENT_ARN}, "deployment", DEPLOYMENT_ARN),
        (RUN, {"arn": DEPLOYMENT_ARN}, "deployment", DEPLOYMENT_ARN),
        # Deploy candidate never returned: the run's mode says which kind to delete, by the run's name.
        (ON_DEMAND_RUN, {}, "deployment", NAME),
        (ON_DEMAND_RUN, None, "deployment", NAME),
        # An old $.throughput without a kind is Provisioned Throughput, whatever the run says now.
        (ON_DEMAND_RUN, {"arn": PT_ARN}, "throughput", PT_ARN),
        (RUN, {}, "throughput", NAME),
        (RUN, {"kind": contracts.SERVING_PROVISIONED, "arn": PT_ARN}, "throughput", PT_ARN),
    ],
)
def test_delete_acts_on_the_kind_that_serves_the_candidate(
    bedrock: Stubber, run: dict[str, Any], state: dict[str, Any] | None, operation: str, identifier: str
) -> None:
    if operation == "deployment":
        bedrock.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": identifier})
    else:
        bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": identifier})
    result = throughput.handler({"action": "delete", "run": run, "throughput": state}, None)
    assert result == {"deleted": True, "arn": identifier}


def test_an_unknown_kind_is_refused_before_any_call(bedrock: Stubber) -> None:
    with pytest.raises(ValueError, match="unknown serving kind 'spot'"):
        throughput.handler({"action": "delete", "run": RUN, "throughput": {"kind": "spot", "arn": PT_ARN}}, None)


def test_delete_of_a_deployment_already_gone_is_not_an_error(bedrock: Stubber) -> None:
    bedrock.add_client_error("delete_custom_model_deployment", **client_error("ResourceNotFoundException", 404))
    state = {"kind": contracts.SERVING_ON_DEMAND, "arn": DEPLOYMENT_ARN}
    result = throughput.handler({"action": "delete", "run": ON_DEMAND_RUN, "throughput": state}, None)
    assert result == {"deleted": False, "reason": "not found", "arn": DEPLOYMENT_ARN}


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("ConflictException", 409, True),  # still changing state: retried, never given up silently
        ("ThrottlingException", 429, True),
        ("InternalServerException", 500, True),
        ("AccessDeniedException", 403, False),
        ("ValidationException", 400, False),
    ],
)
def test_a_failing_deployment_delete(bedrock: Stubber, code: str, status: int, transient: bool) -> None:
    bedrock.add_client_error("delete_custom_model_deployment", **client_error(code, status))
    state = {"kind": contracts.SERVING_ON_DEMAND, "arn": DEPLOYMENT_ARN}
    with pytest.raises(Exception) as err:
        throughput.handler({"action": "delete", "run": ON_DEMAND_RUN, "throughput": state}, None)
    assert isinstance(err.value, TransientServiceError) is transient


def _record(ssm: Any, **value: Any) -> None:
    ssm.put_parameter(Name=PARAMETER, Type="String", Overwrite=True, Value=json.dumps(value))


def test_delete_keeps_the_deployment_the_promotion_record_names(bedrock: Stubber, promotion: Any) -> None:
    _record(promotion, serving_kind=contracts.SERVING_ON_DEMAND, invoke_model_id=DEPLOYMENT_ARN)
    state = {"kind": contracts.SERVING_ON_DEMAND, "arn": DEPLOYMENT_ARN}
    result = throughput.handler({"action": "delete", "run": ON_DEMAND_RUN, "throughput": state}, None)
    assert result["deleted"] is False and result["reason"] == f"serving: {PARAMETER} names it"


def test_delete_keeps_a_throughput_the_record_names_only_as_its_invoke_model_id(
    bedrock: Stubber, promotion: Any
) -> None:
    _record(promotion, invoke_model_id=PT_ARN)
    assert throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ARN}}, None)["deleted"] is False


def test_delete_goes_on_when_the_record_names_another_deployment(bedrock: Stubber, promotion: Any) -> None:
    other = DEPLOYMENT_ARN.replace("abcdefabcdef", "another00001")
    _record(promotion, invoke_model_id=other, provisioned_model_arn=None)
    bedrock.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN})
    state = {"kind": contracts.SERVING_ON_DEMAND, "arn": DEPLOYMENT_ARN}
    assert throughput.handler({"action": "delete", "run": ON_DEMAND_RUN, "throughput": state}, None)["deleted"]


def test_a_deployment_delete_waits_when_the_record_cannot_be_read(
    bedrock: Stubber, promotion: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    def throttled(**_: Any) -> Any:
        response: Any = {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 429}}
        raise ClientError(response, "GetParameter")

    monkeypatch.setattr(promotion, "get_parameter", throttled)
    state = {"kind": contracts.SERVING_ON_DEMAND, "arn": DEPLOYMENT_ARN}
    with pytest.raises(TransientServiceError):
        throughput.handler({"action": "delete", "run": ON_DEMAND_RUN, "throughput": state}, None)


def test_an_unknown_action_names_the_choices(bedrock: Stubber) -> None:
    with pytest.raises(ValueError, match="expected create, deploy, describe or delete"):
        throughput.handler({"action": "provision", "run": RUN}, None)


@pytest.mark.parametrize("code", ["ServiceQuotaExceededException", "ThrottlingException"])
def test_model_units_in_use_are_waited_out_and_named(bedrock: Stubber, code: str) -> None:
    from pipeline_aws.errors import QuotaExceeded
    from pipeline_core.quotas import CUSTOM_MODEL_UNITS_CODE

    bedrock.add_client_error("create_provisioned_model_throughput", service_error_code=code, http_status_code=400)
    with pytest.raises(QuotaExceeded, match=CUSTOM_MODEL_UNITS_CODE):
        throughput.handler({"action": "create", "run": RUN, "job": {"custom_model_arn": MODEL_ARN}}, None)


def test_a_deployment_quota_refusal_is_waited_out(bedrock: Stubber) -> None:
    from pipeline_aws.errors import QuotaExceeded

    bedrock.add_client_error(
        "create_custom_model_deployment", service_error_code="ServiceQuotaExceededException", http_status_code=400
    )
    with pytest.raises(QuotaExceeded, match="Custom model deployments"):
        throughput.handler({"action": "deploy", "run": ON_DEMAND_RUN, "job": {"custom_model_arn": MODEL_ARN}}, None)
