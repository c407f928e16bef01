"""`finetune doctor`: every check's branches against botocore's Stubber, the read-only guarantee, the command."""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from finetune.cli import main
from finetune.commands import doctor
from finetune.doctor_checks import (
    CUSTOM_MODEL_UNITS_CODE,
    CUSTOM_MODEL_UNITS_NAME,
    CUSTOMIZATION_JOBS_CODE,
    Check,
    MutatingCallRefused,
    Status,
    Target,
    check_credentials,
    check_deployment,
    check_models,
    check_quotas,
    check_region,
    exit_code,
    read_only,
    run_checks,
)

REGION, ACCOUNT = "us-west-2", "123456789012"
TODAY = date(2026, 12, 1)
BASE = "meta.llama3-1-70b-instruct-v1:0:128k"
BASE_FM = "meta.llama3-1-70b-instruct-v1:0"
ROOT = Path(__file__).resolve().parents[2]
DATA, ARTIFACTS = "finetune-data-123456789012-us-west-2", "finetune-artifacts-123456789012-us-west-2"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:finetune-pipeline"
JOBS_NAME = "(Model customization) Scheduled customization jobs"


def target(**changes: Any) -> Target:
    values: dict[str, Any] = {
        "name": "finetune",
        "region": REGION,
        "region_source": "cdk.json pipeline.region",
        "base_model_id": BASE,
        "reference_models": (),
        "model_units": 1,
        "data_plane_stack": "FinetuneDataPlane",
        "pipeline_stack": "FinetunePipeline",
        "today": TODAY,
    }
    values.update(changes)
    return Target(**values)


class Account:
    """Real boto3 clients with botocore Stubbers, handed out read-only as the doctor gets them."""

    def __init__(self) -> None:
        self.session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
        self.raw: dict[str, Any] = {}
        self.stubs: dict[str, Stubber] = {}

    def stub(self, service: str) -> Stubber:
        if service not in self.stubs:
            self.raw[service] = self.session.client(service, region_name=REGION)
            self.stubs[service] = Stubber(self.raw[service])
            self.stubs[service].activate()
        return self.stubs[service]

    def __call__(self, service: str) -> Any:
        self.stub(service)
        return read_only(self.raw[service])

    def done(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


@pytest.fixture
def account() -> Iterator[Account]:
    acct = Account()
    yield acct
    acct.done()


def error(stub: Stubber, operation: str, code: str, message: str = "", status: int = 400, **expected: Any) -> None:
    stub.add_client_error(
        operation, service_error_code=code, service_message=message or code, http_status_code=status,
        expected_params=expected or None,
    )  # fmt: skip


# ---- responses ---------------------------------------------------------------------------------------------------
def model_details(
    model_id: str = BASE_FM,
    status: str = "ACTIVE",
    end: datetime | None = None,
    customizations: tuple[str, ...] = ("FINE_TUNING",),
    provider: str = "Meta",
) -> dict[str, Any]:
    lifecycle: dict[str, Any] = {"status": status}
    if end is not None:
        lifecycle["endOfLifeTime"] = end
    return {
        "modelDetails": {
            "modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{model_id}",
            "modelId": model_id,
            "providerName": provider,
            "customizationsSupported": list(customizations),
            "modelLifecycle": lifecycle,
        }
    }


def availability(
    model_id: str = BASE_FM,
    authorization: str = "AUTHORIZED",
    entitlement: str = "AVAILABLE",
    region: str = "AVAILABLE",
    agreement: str = "AVAILABLE",
    message: str = "",
) -> dict[str, Any]:
    agreement_value: dict[str, Any] = {"status": agreement}
    if message:
        agreement_value["errorMessage"] = message
    return {
        "modelId": model_id,
        "agreementAvailability": agreement_value,
        "authorizationStatus": authorization,
        "entitlementAvailability": entitlement,
        "regionAvailability": region,
    }


def quota(name: str, code: str, value: float) -> dict[str, Any]:
    return {"ServiceCode": "bedrock", "QuotaName": name, "QuotaCode": code, "Value": value, "Adjustable": True}


def throughput(
    name: str, units: int, *, custom: bool = True, status: str = "InService", commitment: str = ""
) -> dict[str, Any]:
    model = (
        f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/{BASE}/abc"
        if custom
        else f"arn:aws:bedrock:{REGION}::foundation-model/{BASE}"
    )
    item: dict[str, Any] = {
        "provisionedModelName": name,
        "provisionedModelArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/{name}",
        "modelArn": model,
        "desiredModelArn": model,
        "foundationModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{BASE}",
        "modelUnits": units,
        "desiredModelUnits": units,
        "status": status,
        "creationTime": datetime(2026, 11, 30, tzinfo=UTC),
        "lastModifiedTime": datetime(2026, 11, 30, tzinfo=UTC),
    }
    if commitment:
        item["commitmentDuration"] = commitment
    return item


def stack(name: str, status: str = "CREATE_COMPLETE", outputs: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": name,
                "StackStatus": status,
                "CreationTime": datetime(2026, 11, 1, tzinfo=UTC),
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in (outputs or {}).items()],
            }
        ]
    }


DATA_PLANE_OUTPUTS = {"DataBucketName": DATA, "ArtifactsBucketName": ARTIFACTS, "PipelineKeyArn": KEY}
PIPELINE_OUTPUTS = {"StateMachineArn": MACHINE}


def by_name(checks: list[Check], name: str) -> Check:
    matches = [c for c in checks if c.name == name]
    assert len(matches) == 1, [c.name for c in checks]
    return matches[0]


# ---- the read-only guarantee -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("service", "method"),
    [
        ("s3", "delete_bucket"),
        ("s3", "put_bucket_notification_configuration"),
        ("bedrock", "create_provisioned_model_throughput"),
        ("bedrock", "delete_provisioned_model_throughput"),
        ("service-quotas", "request_service_quota_increase"),
        ("kms", "enable_key"),
        ("cloudformation", "delete_stack"),
    ],
)
def test_a_doctor_client_refuses_every_mutating_operation(account: Account, service: str, method: str) -> None:
    client = account(service)
    with pytest.raises(MutatingCallRefused, match="only reads"):
        getattr(client, method)


def test_the_guard_holds_even_for_code_that_reaches_the_wrapped_client(account: Account) -> None:
    account("s3")  # wraps the raw client, which registers the guard on its events
    raw = account.raw["s3"]
    # No response is queued: without the guard the Stubber would raise its own "unexpected call" error instead.
    with pytest.raises(MutatingCallRefused, match="DeleteBucket"):
        raw.delete_bucket(Bucket=DATA)
    with pytest.raises(MutatingCallRefused, match="PutBucketNotificationConfiguration"):
        raw.put_bucket_notification_configuration(Bucket=DATA, NotificationConfiguration={})


def test_a_doctor_client_offers_reads_and_nothing_else(account: Account) -> None:
    account.stub("sts").add_response("get_caller_identity", {"Account": ACCOUNT, "Arn": "arn:aws:iam::1:user/a"})
    client = account("sts")
    assert client.get_caller_identity()["Account"] == ACCOUNT
    with pytest.raises(AttributeError):
        client._make_api_call  # noqa: B018 - private machinery is not exposed either
    with pytest.raises(AttributeError):
        client.anything = 1


# ---- 1. credentials ----------------------------------------------------------------------------------------------
def test_credentials_name_the_account_and_identity(account: Account) -> None:
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/me"
    account.stub("sts").add_response("get_caller_identity", {"Account": ACCOUNT, "Arn": arn, "UserId": "AROA:me"})
    check = check_credentials(account)
    assert check.status is Status.OK and ACCOUNT in check.detail and arn in check.detail


def test_no_credentials_stop_the_doctor_with_exit_2() -> None:
    class NoCredentials:
        def get_caller_identity(self) -> None:
            raise NoCredentialsError()

    checks = run_checks(lambda service: NoCredentials(), target())
    assert [c.name for c in checks] == ["credentials"]  # nothing else is asked of an account we cannot reach
    assert checks[0].status is Status.FAIL and "aws configure" in checks[0].fix
    assert exit_code(checks) == 2


def test_expired_credentials_are_exit_2(account: Account) -> None:
    error(
        account.stub("sts"),
        "get_caller_identity",
        "ExpiredToken",
        "The security token included in the request is expired",
        403,
    )
    checks = run_checks(account, target())
    assert checks[0].status is Status.FAIL and "ExpiredToken" in checks[0].detail
    assert exit_code(checks) == 2


# ---- 2. Region ---------------------------------------------------------------------------------------------------
def test_the_region_where_the_base_model_can_be_fine_tuned_passes() -> None:
    check = check_region(target())
    assert check.status is Status.OK and "can be fine-tuned" in check.detail


def test_a_region_where_it_cannot_fails_and_names_where_it_can() -> None:
    check = check_region(target(region="us-east-1", region_source="--region"))
    assert check.status is Status.FAIL
    assert "us-west-2" in check.detail and "drop --region" in check.fix


# ---- 3. models ---------------------------------------------------------------------------------------------------
def expect_base(account: Account, details: dict[str, Any], access: dict[str, Any] | None = None) -> Stubber:
    stub = account.stub("bedrock")
    stub.add_response("get_foundation_model", details, {"modelIdentifier": BASE_FM})
    if access is not None:
        stub.add_response("get_foundation_model_availability", access, {"modelId": BASE_FM})
    return stub


def test_an_active_base_model_that_supports_fine_tuning_and_may_be_used_passes(account: Account) -> None:
    expect_base(account, model_details(), availability())
    checks = check_models(account, target())
    assert [(c.name, c.status) for c in checks] == [("base model", Status.OK), ("base model access", Status.OK)]
    assert "ACTIVE" in checks[0].detail and "FINE_TUNING" in checks[0].detail


def test_fine_tuning_is_found_on_the_context_length_variant(account: Account) -> None:
    stub = account.stub("bedrock")
    stub.add_response("get_foundation_model", model_details(customizations=()), {"modelIdentifier": BASE_FM})
    listed = {"modelSummaries": [{"modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{BASE}", "modelId": BASE}]}
    stub.add_response("list_foundation_models", listed, {"byCustomizationType": "FINE_TUNING"})
    stub.add_response("get_foundation_model_availability", availability(), {"modelId": BASE_FM})
    checks = check_models(account, target())
    assert checks[0].status is Status.OK and f"as {BASE}" in checks[0].detail


def test_a_base_model_bedrock_cannot_fine_tune_here_fails_with_alternatives(account: Account) -> None:
    stub = account.stub("bedrock")
    stub.add_response("get_foundation_model", model_details(customizations=()), {"modelIdentifier": BASE_FM})
    stub.add_response("list_foundation_models", {"modelSummaries": []}, {"byCustomizationType": "FINE_TUNING"})
    stub.add_response("get_foundation_model_availability", availability(), {"modelId": BASE_FM})
    check = check_models(account, target())[0]
    assert check.status is Status.FAIL and "no FINE_TUNING" in check.detail
    assert "meta.llama3-1-8b-instruct-v1:0:128k" in check.fix  # the catalogue's Active alternative in us-west-2


@pytest.mark.parametrize(
    ("end", "status", "words"),
    [
        (TODAY + timedelta(days=90), Status.WARN, "90 days left"),
        (TODAY + timedelta(days=1), Status.WARN, "1 days left"),  # the day before: still Legacy
        (TODAY, Status.FAIL, "reached end of life on 2026-12-01"),  # on the day: gone
        (TODAY - timedelta(days=1), Status.FAIL, "reached end of life on 2026-11-30"),
    ],
)
def test_a_legacy_base_model_warns_until_its_end_of_life_date_then_fails(
    account: Account, end: date, status: Status, words: str
) -> None:
    when = datetime(end.year, end.month, end.day, tzinfo=UTC)
    access = availability() if status is Status.WARN else None
    expect_base(account, model_details(status="LEGACY", end=when), access)
    check = check_models(account, target())[0]
    assert check.status is status and words in check.detail, check
    if status is Status.WARN:
        assert "no new Provisioned Throughput" in check.detail
    assert "meta.llama3-1-8b-instruct-v1:0:128k" in check.fix


def test_an_end_of_life_base_model_fails_with_the_catalogues_alternatives(account: Account) -> None:
    stub = account.stub("bedrock")
    message = "This model version has reached the end of its life. Please refer to the AWS documentation."
    error(stub, "get_foundation_model", "ResourceNotFoundException", message, 404, modelIdentifier=BASE_FM)
    checks = check_models(account, target())
    assert len(checks) == 1  # access is not asked about a model that is gone
    assert checks[0].status is Status.FAIL and "reached end of life (Bedrock: " in checks[0].detail
    assert "pipeline.baseModelId" in checks[0].fix and "meta.llama3-1-8b-instruct-v1:0:128k" in checks[0].fix
    assert exit_code(checks) == 1


@pytest.mark.parametrize(
    ("code", "status", "advice"),
    [
        ("AccessDeniedException", 403, "allow bedrock:GetFoundationModel"),
        ("ThrottlingException", 429, "throttled"),
        ("InternalServerException", 500, "run finetune doctor again"),
    ],
)
def test_a_model_lookup_that_fails_is_a_warning_naming_the_error(
    account: Account, code: str, status: int, advice: str
) -> None:
    stub = account.stub("bedrock")
    error(stub, "get_foundation_model", code, f"{code} happened", status)
    stub.add_response("get_foundation_model_availability", availability(), {"modelId": BASE_FM})
    checks = check_models(account, target())
    assert checks[0].status is Status.WARN and code in checks[0].detail and advice in checks[0].fix
    assert exit_code(checks) == 0


@pytest.mark.parametrize(
    ("fields", "detail", "advice"),
    [
        ({"authorization": "NOT_AUTHORIZED"}, "authorization NOT_AUTHORIZED", "aws-marketplace:Subscribe"),
        ({"entitlement": "NOT_AVAILABLE"}, "entitlement NOT_AVAILABLE", "subscribes on the first call"),
        ({"region": "NOT_AVAILABLE"}, "Region NOT_AVAILABLE", "not offered in us-west-2"),
        ({"agreement": "PENDING"}, "agreement PENDING", "again in a few minutes"),
        ({"agreement": "ERROR", "message": "Payment instrument missing"}, "agreement ERROR", "Payment instrument"),
        ({"agreement": "NOT_AVAILABLE"}, "agreement NOT_AVAILABLE", "accept the model's offer"),
    ],
)
def test_access_fails_on_anything_but_authorized_and_available(
    account: Account, fields: dict[str, str], detail: str, advice: str
) -> None:
    expect_base(account, model_details(), availability(**fields))
    check = by_name(check_models(account, target()), "base model access")
    assert check.status is Status.FAIL and detail in check.detail and advice in check.fix
    assert "first-use form" not in check.fix  # only Anthropic models need it


def test_an_anthropic_model_without_entitlement_points_to_the_first_use_form(account: Account) -> None:
    haiku = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    stub = account.stub("bedrock")
    stub.add_response("get_foundation_model", model_details(BASE_FM), {"modelIdentifier": BASE_FM})
    stub.add_response("get_foundation_model_availability", availability(), {"modelId": BASE_FM})
    stub.add_response("get_foundation_model", model_details(haiku, provider="Anthropic"), {"modelIdentifier": haiku})
    stub.add_response(
        "get_foundation_model_availability", availability(haiku, entitlement="NOT_AVAILABLE"), {"modelId": haiku}
    )
    checks = check_models(account, target(reference_models=(haiku,)))
    check = by_name(checks, f"reference {haiku} access")
    assert check.status is Status.FAIL and "first-use form" in check.fix and "console.aws.amazon.com" in check.fix


def test_an_access_check_that_is_denied_is_a_warning(account: Account) -> None:
    stub = expect_base(account, model_details())
    error(stub, "get_foundation_model_availability", "AccessDeniedException", "not allowed", 403)
    check = by_name(check_models(account, target()), "base model access")
    assert check.status is Status.WARN and "bedrock:GetFoundationModelAvailability" in check.fix


def test_an_inference_profile_reference_is_checked_with_the_model_it_routes_to(account: Account) -> None:
    profile_id = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
    model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    stub = expect_base(account, model_details(), availability())
    profile = {
        "inferenceProfileName": "US Claude 3.5 Sonnet",
        "inferenceProfileArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{profile_id}",
        "inferenceProfileId": profile_id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
        "models": [
            {"modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model}"},
            {"modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{model}"},
        ],
    }
    stub.add_response("get_inference_profile", profile, {"inferenceProfileIdentifier": profile_id})
    stub.add_response("get_foundation_model", model_details(model, provider="Anthropic"), {"modelIdentifier": model})
    stub.add_response("get_foundation_model_availability", availability(model), {"modelId": model})
    checks = check_models(account, target(reference_models=(profile_id,)))
    reference = by_name(checks, f"reference {profile_id}")
    assert reference.status is Status.OK and "inference profile" in reference.detail and "ACTIVE" in reference.detail
    assert by_name(checks, f"reference {profile_id} access").status is Status.OK


def test_an_unknown_inference_profile_fails(account: Account) -> None:
    profile_id = "eu.anthropic.claude-3-5-sonnet-20240620-v1:0"
    stub = expect_base(account, model_details(), availability())
    error(stub, "get_inference_profile", "ResourceNotFoundException", "not found", 404)
    check = by_name(check_models(account, target(reference_models=(profile_id,))), f"reference {profile_id}")
    assert check.status is Status.FAIL and "list-inference-profiles" in check.fix


def test_a_reference_bedrock_calls_an_invalid_identifier_fails(account: Account) -> None:
    ref = "anthropic.claude-nonexistent-v1:0"
    stub = expect_base(account, model_details(), availability())
    error(stub, "get_foundation_model", "ValidationException", "The provided model identifier is invalid.")
    check = by_name(check_models(account, target(reference_models=(ref,))), f"reference {ref}")
    assert check.status is Status.FAIL and "does not know this model" in check.detail
    assert "evaluation.referenceModels" in check.fix


def test_another_validation_error_is_only_a_warning(account: Account) -> None:
    ref = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    stub = expect_base(account, model_details(), availability())
    error(stub, "get_foundation_model", "ValidationException", "1 validation error detected")
    check = by_name(check_models(account, target(reference_models=(ref,))), f"reference {ref}")
    assert check.status is Status.WARN and "could not check" in check.detail


def test_a_reference_past_its_end_of_life_fails_and_says_to_replace_it(account: Account) -> None:
    ref = "anthropic.claude-3-haiku-20240307-v1:0"
    stub = expect_base(account, model_details(), availability())
    ended = datetime(2026, 9, 10, tzinfo=UTC)
    stub.add_response("get_foundation_model", model_details(ref, "LEGACY", ended), {"modelIdentifier": ref})
    checks = check_models(account, target(reference_models=(ref,)))
    check = by_name(checks, f"reference {ref}")
    assert check.status is Status.FAIL and "evaluation.referenceModels" in check.fix
    assert not [c for c in checks if c.name == f"reference {ref} access"]


# ---- 4. quotas ---------------------------------------------------------------------------------------------------
def expect_quotas(
    account: Account,
    applied: list[dict[str, Any]],
    defaults: list[dict[str, Any]] | None = None,
    throughputs: list[dict[str, Any]] | None = None,
) -> None:
    quotas = account.stub("service-quotas")
    quotas.add_response("list_service_quotas", {"Quotas": applied}, {"ServiceCode": "bedrock", "MaxResults": 100})
    if defaults is not None:
        params = {"ServiceCode": "bedrock", "MaxResults": 100}
        quotas.add_response("list_aws_default_service_quotas", {"Quotas": defaults}, params)
    if throughputs is not None:
        account.stub("bedrock").add_response(
            "list_provisioned_model_throughputs", {"provisionedModelSummaries": throughputs}, {"maxResults": 100}
        )


@pytest.mark.parametrize(
    ("value", "need", "status"),
    [(0, 1, Status.FAIL), (1, 1, Status.OK), (2, 1, Status.OK), (2, 3, Status.FAIL), (3, 3, Status.OK)],
)
def test_custom_model_units_must_cover_one_runs_model_units(
    account: Account, value: int, need: int, status: Status
) -> None:
    applied = [quota(CUSTOM_MODEL_UNITS_NAME, CUSTOM_MODEL_UNITS_CODE, value), quota(JOBS_NAME, "L-0406044C", 2)]
    expect_quotas(account, applied, throughputs=[] if status is Status.OK else None)
    check = by_name(check_quotas(account, target(model_units=need)), "quota: custom-model units")
    assert check.status is status, check
    if status is Status.FAIL:
        assert f"needs {need}" in check.detail and CUSTOM_MODEL_UNITS_CODE in check.detail
        link = f"https://{REGION}.console.aws.amazon.com/servicequotas/home/services/bedrock/quotas/L-BE77399C"
        assert link in check.fix


@pytest.mark.parametrize(("need", "status"), [(1, Status.OK), (2, Status.FAIL)])
def test_units_held_by_existing_throughputs_count_against_the_quota(
    account: Account, need: int, status: Status
) -> None:
    applied = [quota(CUSTOM_MODEL_UNITS_NAME, CUSTOM_MODEL_UNITS_CODE, 3), quota(JOBS_NAME, "L-0406044C", 2)]
    held = [
        throughput("promoted-model", 2),  # counts: a no-commitment throughput of a custom model, in service
        throughput("committed", 4, commitment="OneMonth"),  # other quota
        throughput("base-model-pt", 4, custom=False),  # other quota
        throughput("failed", 4, status="Failed"),  # holds nothing
    ]
    expect_quotas(account, applied, throughputs=held)
    check = by_name(check_quotas(account, target(model_units=need)), "quota: custom-model units")
    assert check.status is status and "2 in use" in check.detail
    if status is Status.FAIL:
        assert "promoted-model (2)" in check.detail and "keepAfterPromotion" in check.fix


def test_a_quota_never_changed_is_read_from_the_aws_defaults(account: Account) -> None:
    defaults = [quota(CUSTOM_MODEL_UNITS_NAME, CUSTOM_MODEL_UNITS_CODE, 0), quota(JOBS_NAME, "L-0406044C", 2)]
    expect_quotas(account, [], defaults)
    checks = check_quotas(account, target())
    assert by_name(checks, "quota: custom-model units").status is Status.FAIL
    assert by_name(checks, "quota: customization jobs").status is Status.OK


def test_quotas_are_found_across_pages(account: Account) -> None:
    quotas = account.stub("service-quotas")
    first = {"Quotas": [quota("Something else", "L-1", 5)], "NextToken": "page-2"}
    quotas.add_response("list_service_quotas", first, {"ServiceCode": "bedrock", "MaxResults": 100})
    second = {"Quotas": [quota(CUSTOM_MODEL_UNITS_NAME, CUSTOM_MODEL_UNITS_CODE, 0), quota(JOBS_NAME, "L-2", 1)]}
    quotas.add_response(
        "list_service_quotas", second, {"ServiceCode": "bedrock", "MaxResults": 100, "NextToken": "page-2"}
    )
    checks = check_quotas(account, target())
    assert by_name(checks, "quota: custom-model units").status is Status.FAIL


def test_when_listing_is_denied_the_quotas_are_read_by_code(account: Account) -> None:
    quotas = account.stub("service-quotas")
    error(quotas, "list_service_quotas", "AccessDeniedException", "no", 403)
    error(quotas, "list_aws_default_service_quotas", "AccessDeniedException", "no", 403)
    units = {"Quota": quota(CUSTOM_MODEL_UNITS_NAME, CUSTOM_MODEL_UNITS_CODE, 1)}
    codes = {"ServiceCode": "bedrock", "QuotaCode": CUSTOM_MODEL_UNITS_CODE}
    quotas.add_response("get_service_quota", units, codes)
    account.stub("bedrock").add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": []})
    jobs = {"ServiceCode": "bedrock", "QuotaCode": CUSTOMIZATION_JOBS_CODE}
    error(quotas, "get_service_quota", "NoSuchResourceException", "no such quota", 404, **jobs)
    quotas.add_response("get_aws_default_service_quota", {"Quota": quota(JOBS_NAME, CUSTOMIZATION_JOBS_CODE, 0)}, jobs)
    checks = check_quotas(account, target())
    assert by_name(checks, "quota: custom-model units").status is Status.OK
    jobs_check = by_name(checks, "quota: customization jobs")
    assert jobs_check.status is Status.FAIL and "one run needs 1" in jobs_check.detail


def test_quotas_that_cannot_be_read_at_all_are_warnings(account: Account) -> None:
    quotas = account.stub("service-quotas")
    error(quotas, "list_service_quotas", "AccessDeniedException", "no", 403)
    error(quotas, "list_aws_default_service_quotas", "AccessDeniedException", "no", 403)
    error(quotas, "get_service_quota", "AccessDeniedException", "no", 403)
    error(quotas, "get_service_quota", "AccessDeniedException", "no", 403)
    checks = check_quotas(account, target())
    assert [c.status for c in checks] == [Status.WARN, Status.WARN]
    assert all("servicequotas:" in c.fix for c in checks) and exit_code(checks) == 0


def test_a_quota_bedrock_does_not_have_is_a_warning_with_the_console_link(account: Account) -> None:
    quotas = account.stub("service-quotas")
    expect_quotas(account, [], [])
    for code in (CUSTOM_MODEL_UNITS_CODE, CUSTOMIZATION_JOBS_CODE):
        params = {"ServiceCode": "bedrock", "QuotaCode": code}
        error(quotas, "get_service_quota", "NoSuchResourceException", "none", 404, **params)
        error(quotas, "get_aws_default_service_quota", "NoSuchResourceException", "none", 404, **params)
    checks = check_quotas(account, target())
    assert [c.status for c in checks] == [Status.WARN, Status.WARN]
    assert "servicequotas/home/services/bedrock/quotas/" in checks[0].fix


@pytest.mark.parametrize(("value", "status"), [(0, Status.FAIL), (1, Status.OK)])
def test_the_per_model_units_quota_is_checked_when_bedrock_has_one(
    account: Account, value: int, status: Status
) -> None:
    applied = [
        quota(CUSTOM_MODEL_UNITS_NAME, CUSTOM_MODEL_UNITS_CODE, 1),
        quota("Model units per provisioned model for Meta Llama 3.1 8B Instruct", "L-8B", 5),  # another model
        quota("Model units per provisioned model for Meta Llama 3.1 70B Instruct", "L-70B", value),
        quota(JOBS_NAME, "L-0406044C", 2),
    ]
    expect_quotas(account, applied, throughputs=[])
    check = by_name(check_quotas(account, target()), "quota: units per model")
    assert check.status is status and "L-70B" in check.detail


@pytest.mark.parametrize(("value", "status"), [(0, Status.FAIL), (1, Status.OK)])
def test_customization_jobs_must_allow_one_job(account: Account, value: int, status: Status) -> None:
    applied = [
        quota(CUSTOM_MODEL_UNITS_NAME, CUSTOM_MODEL_UNITS_CODE, 1),
        quota("(Model customization) Sum of training and validation records for a Fine-tuning job", "L-R", 10_000),
        quota(JOBS_NAME, "L-0406044C", value),
    ]
    expect_quotas(account, applied, throughputs=[])
    checks = check_quotas(account, target())
    assert [c.name for c in checks] == ["quota: custom-model units", "quota: customization jobs"]
    check = checks[1]
    assert check.status is status and "L-0406044C" in check.detail


# ---- 5-7. deployment ---------------------------------------------------------------------------------------------
def expect_stacks(account: Account, data_plane: dict[str, Any] | None, pipeline: dict[str, Any] | None) -> None:
    cfn = account.stub("cloudformation")
    for name, answer in (("FinetuneDataPlane", data_plane), ("FinetunePipeline", pipeline)):
        if answer is None:
            error(cfn, "describe_stacks", "ValidationError", f"Stack with id {name} does not exist", StackName=name)
        else:
            cfn.add_response("describe_stacks", answer, {"StackName": name})


def test_stacks_not_deployed_are_warnings_to_run_make_deploy(account: Account) -> None:
    expect_stacks(account, None, None)
    checks = check_deployment(account, target())
    assert [c.status for c in checks] == [Status.WARN, Status.WARN]  # no bucket or key check without a stack
    assert all("make deploy" in c.fix for c in checks) and exit_code(checks) == 0


def test_a_healthy_deployment_passes(account: Account) -> None:
    expect_stacks(
        account,
        stack("FinetuneDataPlane", outputs=DATA_PLANE_OUTPUTS),
        stack("FinetunePipeline", outputs=PIPELINE_OUTPUTS),
    )
    account.stub("s3").add_response(
        "get_bucket_notification_configuration", {"EventBridgeConfiguration": {}}, {"Bucket": DATA}
    )
    key = {"KeyMetadata": {"KeyId": "k", "Arn": KEY, "KeyState": "Enabled"}}
    account.stub("kms").add_response("describe_key", key, {"KeyId": KEY})
    checks = check_deployment(account, target())
    assert [c.status for c in checks] == [Status.OK] * 4
    assert f"DataBucketName={DATA}" in checks[0].detail and f"StateMachineArn={MACHINE}" in checks[1].detail


@pytest.mark.parametrize(
    ("state", "status", "advice"),
    [
        ("ROLLBACK_COMPLETE", Status.FAIL, "delete the stack"),
        ("UPDATE_FAILED", Status.FAIL, "events"),
        ("UPDATE_IN_PROGRESS", Status.WARN, "when it ends"),
        ("UPDATE_ROLLBACK_COMPLETE", Status.WARN, "rolled back"),
        ("UPDATE_COMPLETE", Status.OK, ""),
    ],
)
def test_the_stack_state_decides_its_line(account: Account, state: str, status: Status, advice: str) -> None:
    expect_stacks(account, None, stack("FinetunePipeline", state, PIPELINE_OUTPUTS))
    check = check_deployment(account, target())[1]
    assert check.status is status and state in check.detail and advice in check.fix


def test_a_stack_without_the_outputs_the_commands_need_fails(account: Account) -> None:
    partial = stack("FinetuneDataPlane", outputs={"DataBucketName": DATA})
    expect_stacks(account, partial, stack("FinetunePipeline", outputs=PIPELINE_OUTPUTS))
    account.stub("s3").add_response("get_bucket_notification_configuration", {"EventBridgeConfiguration": {}})
    checks = check_deployment(account, target())
    assert checks[0].status is Status.FAIL and "ArtifactsBucketName" in checks[0].detail
    assert [c.name for c in checks] == ["stack FinetuneDataPlane", "stack FinetunePipeline", "data bucket events"]


@pytest.mark.parametrize(
    ("answer", "code", "status", "words"),
    [
        ({}, "", Status.FAIL, "no upload starts a run"),
        ({"QueueConfigurations": []}, "", Status.FAIL, "no upload starts a run"),
        (None, "NoSuchBucket", Status.FAIL, "deleted outside CloudFormation"),
        (None, "AccessDenied", Status.WARN, "s3:GetBucketNotificationConfiguration"),
    ],
)
def test_the_data_bucket_must_send_its_events_to_eventbridge(
    account: Account, answer: dict[str, Any] | None, code: str, status: Status, words: str
) -> None:
    expect_stacks(account, stack("FinetuneDataPlane", outputs={"DataBucketName": DATA}), None)
    s3 = account.stub("s3")
    if answer is None:
        error(s3, "get_bucket_notification_configuration", code, code, 404 if code == "NoSuchBucket" else 403)
    else:
        s3.add_response("get_bucket_notification_configuration", answer, {"Bucket": DATA})
    check = by_name(check_deployment(account, target()), "data bucket events")
    assert check.status is status and (words in check.detail or words in check.fix)


@pytest.mark.parametrize(
    ("state", "code", "status", "advice"),
    [
        ("Disabled", "", Status.FAIL, "aws kms enable-key"),
        ("PendingDeletion", "", Status.FAIL, "aws kms cancel-key-deletion"),
        ("Unavailable", "", Status.FAIL, "until the key is Enabled"),
        ("", "NotFoundException", Status.FAIL, "make deploy"),
        ("", "AccessDeniedException", Status.WARN, "kms:DescribeKey"),
    ],
)
def test_the_key_must_be_enabled(account: Account, state: str, code: str, status: Status, advice: str) -> None:
    expect_stacks(account, stack("FinetuneDataPlane", outputs={"PipelineKeyArn": KEY}), None)
    kms = account.stub("kms")
    if code:
        error(kms, "describe_key", code, code, 400)
    else:
        kms.add_response("describe_key", {"KeyMetadata": {"KeyId": "k", "Arn": KEY, "KeyState": state}}, {"KeyId": KEY})
    check = by_name(check_deployment(account, target()), "KMS key")
    assert check.status is status and advice in check.fix


# ---- the command -------------------------------------------------------------------------------------------------
def healthy(account: Account, *, units: int = 2) -> None:
    """A whole account in good shape, stacks not deployed yet."""
    account.stub("sts").add_response(
        "get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ops"}
    )
    expect_base(account, model_details(), availability())
    applied = [quota(CUSTOM_MODEL_UNITS_NAME, CUSTOM_MODEL_UNITS_CODE, units), quota(JOBS_NAME, "L-0406044C", 2)]
    expect_quotas(account, applied, throughputs=[] if units else None)
    expect_stacks(account, None, None)


@pytest.fixture
def use_account(monkeypatch: pytest.MonkeyPatch, account: Account) -> Account:
    @contextmanager
    def stubbed(args: argparse.Namespace, goal: Target) -> Iterator[Any]:
        assert goal.region == (args.region or REGION)
        yield account

    monkeypatch.setattr(doctor, "real_account", stubbed)
    monkeypatch.setattr(doctor, "today", lambda: TODAY)
    return account


def test_the_command_exits_0_with_warnings_and_prints_one_line_per_check(
    use_account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy(use_account)
    assert main(["doctor", "--cdk-json", str(ROOT / "cdk.json")]) == 0
    out = capsys.readouterr().out
    assert "✓ credentials: account 123456789012" in out and "! stack FinetuneDataPlane: not deployed" in out
    assert "fix: run `make deploy`" in out and out.rstrip().endswith("nothing blocks a run (read the warnings)")


def test_the_command_exits_1_when_a_check_fails(use_account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    healthy(use_account, units=0)
    assert main(["doctor", "--cdk-json", str(ROOT / "cdk.json")]) == 1
    out = capsys.readouterr().out
    assert "✗ quota: custom-model units" in out and "a run would fail" in out


def test_json_is_a_list_of_checks(use_account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    healthy(use_account, units=0)
    assert main(["doctor", "--json", "--cdk-json", str(ROOT / "cdk.json")]) == 1
    checks = json.loads(capsys.readouterr().out)
    assert isinstance(checks, list) and checks
    assert all(set(c) == {"name", "status", "detail", "fix"} for c in checks)
    assert {c["status"] for c in checks} == {"ok", "warn", "fail"}
    assert next(c for c in checks if c["name"] == "quota: custom-model units")["status"] == "fail"


def test_region_flag_overrides_cdk_json(use_account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    sts = use_account.stub("sts")
    sts.add_response("get_caller_identity", {"Account": ACCOUNT, "Arn": "arn:aws:iam::1:user/a"})
    # The rest of the checks are not the point here: they answer "denied".
    error(use_account.stub("bedrock"), "get_foundation_model", "AccessDeniedException", "no", 403)
    error(use_account.stub("bedrock"), "get_foundation_model_availability", "AccessDeniedException", "no", 403)
    quotas = use_account.stub("service-quotas")
    for operation in (
        "list_service_quotas",
        "list_aws_default_service_quotas",
        "get_service_quota",
        "get_service_quota",
    ):
        error(quotas, operation, "AccessDeniedException", "no", 403)
    expect_stacks(use_account, None, None)
    assert main(["doctor", "--json", "--region", "us-east-1", "--cdk-json", str(ROOT / "cdk.json")]) == 1
    region = next(c for c in json.loads(capsys.readouterr().out) if c["name"] == "region")
    assert region["status"] == "fail" and region["detail"].startswith("us-east-1 (--region)")


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} (test)"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


FAILURES = {
    "no credentials": NoCredentialsError,
    "expired": lambda: _client_error("ExpiredToken", 403),
    "access denied": lambda: _client_error("AccessDeniedException", 403),
    "throttled": lambda: _client_error("ThrottlingException", 400),
    "network": lambda: EndpointConnectionError(endpoint_url="https://bedrock.us-west-2.amazonaws.com"),
    "timeout": lambda: ReadTimeoutError(endpoint_url="https://bedrock.us-west-2.amazonaws.com"),
}


class Failing:
    """A client whose every call raises one failure."""

    def __init__(self, failure: Any) -> None:
        self.failure = failure

    def __getattr__(self, name: str) -> Any:
        def call(**kwargs: Any) -> Any:
            raise self.failure()

        return call


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failure_of_the_identity_call_is_one_check_line_and_exit_2(
    failure: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    @contextmanager
    def failing(args: argparse.Namespace, goal: Target) -> Iterator[Any]:
        yield lambda service: Failing(FAILURES[failure])

    monkeypatch.setattr(doctor, "real_account", failing)
    assert main(["doctor", "--cdk-json", str(ROOT / "cdk.json")]) == 2
    out, err = capsys.readouterr()
    assert err == "" and "Traceback" not in out
    checks = [line for line in out.splitlines() if line[:2] in ("✓ ", "! ", "✗ ")]
    assert [line[:14] for line in checks] == ["✗ credentials:"]  # nothing else is asked of an unreachable account
    assert "    fix: " in out and out.rstrip().endswith("fix the credentials line and run again")


@pytest.mark.parametrize("failure", [name for name in FAILURES if name != "no credentials"])
def test_failures_of_every_other_call_are_warnings_never_a_traceback(
    failure: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Identity:
        def get_caller_identity(self) -> dict[str, str]:
            return {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ops"}

    @contextmanager
    def failing(args: argparse.Namespace, goal: Target) -> Iterator[Any]:
        yield lambda service: Identity() if service == "sts" else Failing(FAILURES[failure])

    monkeypatch.setattr(doctor, "real_account", failing)
    assert main(["doctor", "--json", "--cdk-json", str(ROOT / "cdk.json")]) == 0
    checks = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in checks[:2]] == ["ok", "ok"]  # credentials and Region
    assert {c["status"] for c in checks[2:]} == {"warn"} and all(c["fix"] for c in checks[2:])


def write_cdk_json(tmp_path: Path, pipeline: Any) -> Path:
    document = json.loads((ROOT / "cdk.json").read_text())
    document["context"]["pipeline"] = pipeline
    path = tmp_path / "cdk.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read"),
        ("{not json", "is not valid JSON"),
        ('{"app": "x"}', 'no "context" object'),
    ],
)
def test_an_unreadable_cdk_json_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, words: str
) -> None:
    path = tmp_path / "cdk.json"
    if content is not None:
        path.write_text(content)
    assert main(["doctor", "--cdk-json", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1


def test_a_bad_setting_is_exit_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_cdk_json(tmp_path, {"name": "finetune", "provisionedThroughput": {"modelUnits": 11}})
    # stacks/settings.py is read beside the cdk.json given: point it at the project's.
    (tmp_path / "stacks").symlink_to(ROOT / "stacks")
    assert main(["doctor", "--cdk-json", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "modelUnits" in err and "11" in err and len(err.splitlines()) == 1


def test_a_cdk_json_without_the_projects_settings_code_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_cdk_json(tmp_path, {})
    # As if run from a copy of cdk.json alone: no stacks package imported or importable.
    for name in [name for name in sys.modules if name == "stacks" or name.startswith("stacks.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p or ".").resolve() != ROOT])
    assert main(["doctor", "--cdk-json", str(path)]) == 2
    assert "no stacks/settings.py" in capsys.readouterr().err


def test_a_fault_without_rehearsal_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--fault", "key-disabled"]) == 2
    assert "--fault needs --rehearsal" in capsys.readouterr().err


def test_an_unknown_fault_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["doctor", "--rehearsal", "--fault", "no-such-fault"])
    assert exit_info.value.code == 2 and "unknown fault" in capsys.readouterr().err


def test_an_unknown_profile_is_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    assert main(["doctor", "--profile", "no-such-profile", "--cdk-json", str(ROOT / "cdk.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no-such-profile" in err and len(err.splitlines()) == 1


def test_the_stack_prefix_follows_app_py() -> None:
    assert doctor.stack_prefix("finetune") == "Finetune"
    assert doctor.stack_prefix("fine-tune-2") == "FineTune2"


def test_symbols_fall_back_to_ascii(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdout", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    text = doctor.render([Check("region", Status.FAIL, "bad", "fix it"), Check("credentials", Status.OK, "ok")], "h")
    assert "x region: bad" in text and "+ credentials: ok" in text
    text.encode("ascii")
