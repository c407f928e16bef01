"""The stand-in's protocol layer agrees with botocore's service models: routes, error statuses, ARN patterns."""

from __future__ import annotations

from finetune.rehearsal.standin.protocol import EMULATED_OPERATIONS, error_statuses, routes, service_model, validate


def test_every_emulated_operation_has_a_route_from_the_model() -> None:
    assert {route.name for route in routes()} == {name for names in EMULATED_OPERATIONS.values() for name in names}


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
    base = "anthropic.claude-3-haiku-20240307-v1:0:200k"
    job_arn = f"{prefix}:model-customization-job/{base}/0123456789ab"
    model_arn = f"{prefix}:custom-model/{base}/0123456789ab"
    pt_arn = f"{prefix}:provisioned-model/0123456789ab"
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
