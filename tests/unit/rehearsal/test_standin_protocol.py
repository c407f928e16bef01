"""The stand-in's protocol layer agrees with botocore's service models: routes, error statuses, ARN patterns."""

from __future__ import annotations

import pytest

from finetune.rehearsal.standin.protocol import (
    EMULATED_OPERATIONS,
    REST_SERVICES,
    ApiError,
    error_statuses,
    json_targets,
    match_target,
    routes,
    service_model,
    validate,
)
from pipeline_core.models import CATALOGUE


def test_every_emulated_operation_has_a_route_from_the_model() -> None:
    routed = [route.name for route in routes()] + [route.name for route in json_targets().values()]
    assert sorted(routed) == sorted(name for names in EMULATED_OPERATIONS.values() for name in names)
    assert {route.service for route in routes()} == set(REST_SERVICES)
    assert {route.service for route in json_targets().values()} == {"service-quotas"}


def test_json_protocol_operations_are_found_by_their_target_header() -> None:
    route = match_target("ServiceQuotasV20190624.GetServiceQuota")
    assert (route.name, route.json_protocol) == ("GetServiceQuota", True)
    with pytest.raises(ApiError) as raised:
        match_target("ServiceQuotasV20190624.RequestServiceQuotaIncrease")
    assert raised.value.code == "UnknownOperationException"


def test_error_statuses_come_from_the_service_models() -> None:
    statuses = error_statuses()
    assert statuses["ValidationException"] == 400
    assert statuses["ResourceNotFoundException"] == 404
    assert statuses["ConflictException"] == 400  # Bedrock's model says 400, not the usual 409
    assert statuses["ThrottlingException"] == 429
    assert statuses["ServiceQuotaExceededException"] == 400
    assert statuses["InternalServerException"] == 500
    assert statuses["ServiceUnavailableException"] == 503
    assert statuses["ModelErrorException"] == 424


def test_the_arns_the_stand_in_mints_satisfy_the_models_patterns() -> None:
    bedrock = service_model("bedrock")
    prefix = "arn:aws:bedrock:us-west-2:123456789012"
    pt_arn = f"{prefix}:provisioned-model/0123456789ab"
    for base in CATALOGUE:  # every model the stand-in accepts appears in the ARNs it mints
        job_arn = f"{prefix}:model-customization-job/{base}/0123456789ab"
        model_arn = f"{prefix}:custom-model/{base}/0123456789ab"
        for operation, params in (
            ("GetModelCustomizationJob", {"jobIdentifier": job_arn}),
            ("GetCustomModel", {"modelIdentifier": model_arn}),
            ("GetProvisionedModelThroughput", {"provisionedModelId": pt_arn}),
            ("ListTagsForResource", {"resourceARN": pt_arn}),
            ("ListTagsForResource", {"resourceARN": job_arn}),
            ("ListTagsForResource", {"resourceARN": model_arn}),
        ):
            validate(bedrock.operation_model(operation).input_shape, params)  # raises on a mismatch
    runtime = service_model("bedrock-runtime").operation_model("Converse").input_shape
    validate(runtime, {"modelId": pt_arn, "messages": [{"role": "user", "content": [{"text": "hi"}]}]})
