"""The stand-in's control plane through real boto3 clients: jobs, custom models, Provisioned Throughput, tags."""

from __future__ import annotations

import re
from typing import Any

from standin_fixtures import (
    BUCKET,
    OUTPUT_PREFIX,
    client,
    error_of,
    in_service_pt,
    job_request,
    job_status,
    pt_status,
    trained_model,
    wait_until,
)

from finetune.rehearsal.bedrock_standin import BedrockStandIn

JOB_ARN = re.compile(
    r"arn:aws:bedrock:us-west-2:123456789012:model-customization-job/"
    r"meta\.llama3-1-70b-instruct-v1:0:128k/[a-z0-9]{12}"
)
MODEL_ARN = re.compile(
    r"arn:aws:bedrock:us-west-2:123456789012:custom-model/meta\.llama3-1-70b-instruct-v1:0:128k/[a-z0-9]{12}"
)
PT_ARN = re.compile(r"arn:aws:bedrock:us-west-2:123456789012:provisioned-model/[a-z0-9]{12}")


def test_job_runs_in_progress_to_completed_and_writes_metrics(standin: BedrockStandIn, bedrock: Any) -> None:
    created = bedrock.create_model_customization_job(**job_request("demo-job"))
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn = created["jobArn"]
    assert JOB_ARN.fullmatch(arn)
    first = bedrock.get_model_customization_job(jobIdentifier=arn)
    assert first["status"] == "InProgress"
    assert "outputModelArn" not in first
    assert [job["jobArn"] for job in standin.running_jobs()] == [arn]

    assert wait_until(job_status(bedrock, "demo-job"), {"Completed"}) == "Completed"  # by name as well as ARN
    job = bedrock.get_model_customization_job(jobIdentifier=arn)
    assert MODEL_ARN.fullmatch(job["outputModelArn"])
    assert job["outputModelName"] == "demo-job-model"
    assert job["baseModelArn"] == "arn:aws:bedrock:us-west-2::foundation-model/meta.llama3-1-70b-instruct-v1:0:128k"
    assert job["endTime"] >= job["creationTime"]
    assert {detail["status"] for detail in job["statusDetails"].values()} == {"Completed"}
    assert 0 < job["validationMetrics"][0]["validationLoss"] < 2.5
    assert 0 < job["trainingMetrics"]["trainingLoss"] < 2.5
    assert standin.running_jobs() == []

    s3 = standin._control.s3
    folder = f"{OUTPUT_PREFIX}model-customization-job-{arn.rsplit('/', 1)[1]}"
    training = s3.objects[(BUCKET, f"{folder}/training_artifacts/step_wise_training_metrics.csv")].decode().splitlines()
    validation = s3.objects[
        (BUCKET, f"{folder}/validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv")
    ].decode()
    assert training[0] == "step_number,epoch_number,training_loss"
    assert len(training) - 1 == 2 * 100  # 2 epochs of 100 records at Llama 3.1's batch size of 1
    losses = [float(row.split(",")[2]) for row in training[1:]]
    assert losses[-1] < losses[0]
    rows = validation.splitlines()
    assert rows[0] == "step_number,epoch_number,validation_loss"
    values = [float(row.split(",")[2]) for row in rows[1:]]
    assert len(values) == 2 and values[1] < values[0]


def test_create_job_is_idempotent_on_client_request_token(bedrock: Any) -> None:
    request = job_request("idem-job", clientRequestToken="token-1")
    first = bedrock.create_model_customization_job(**request)["jobArn"]
    assert bedrock.create_model_customization_job(**request)["jobArn"] == first
    assert len(bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]) == 1

    changed = {**request, "hyperParameters": {"epochCount": "3"}}
    code, status, _ = error_of(lambda: bedrock.create_model_customization_job(**changed))
    assert (code, status) == ("ConflictException", 400)

    reused_name = {**request, "clientRequestToken": "token-2"}
    code, status, message = error_of(lambda: bedrock.create_model_customization_job(**reused_name))
    assert (code, status) == ("ConflictException", 400)
    assert "idem-job" in message and "simulated" in message


def test_requests_are_validated_against_the_service_model(standin: BedrockStandIn, bedrock: Any) -> None:
    bad_name = job_request("bad_name_with_underscores")
    code, status, message = error_of(lambda: bedrock.create_model_customization_job(**bad_name))
    assert (code, status) == ("ValidationException", 400)
    assert "jobName" in message and "regular expression" in message

    bad_uri = job_request("ok-name", outputDataConfig={"s3Uri": "https://not-s3/x"})
    assert error_of(lambda: bedrock.create_model_customization_job(**bad_uri))[0] == "ValidationException"

    unchecked = client(standin, "bedrock", validate=False)  # what the server says when the SDK doesn't check
    missing = {key: value for key, value in job_request("ok-name").items() if key != "roleArn"}
    code, _, message = error_of(lambda: unchecked.create_model_customization_job(**missing))
    assert code == "ValidationException" and "Value null at 'roleArn'" in message
    wrong_enum = job_request("ok-name", customizationType="SOMETHING")
    code, _, message = error_of(lambda: unchecked.create_model_customization_job(**wrong_enum))
    assert code == "ValidationException" and "enum value set" in message
    code, _, _ = error_of(
        lambda: unchecked.create_provisioned_model_throughput(modelUnits=0, provisionedModelName="p", modelId="m")
    )
    assert code == "ValidationException"


def test_base_model_and_hyperparameters_are_checked(bedrock: Any) -> None:
    other_model = job_request("other", baseModelIdentifier="amazon.nova-unknown-v1:0")
    assert error_of(lambda: bedrock.create_model_customization_job(**other_model))[0] == "ValidationException"
    too_many_epochs = job_request("epochs", hyperParameters={"epochCount": "11"})
    assert error_of(lambda: bedrock.create_model_customization_job(**too_many_epochs))[0] == "ValidationException"
    unknown = job_request("unknown", hyperParameters={"warmupSteps": "1"})
    assert error_of(lambda: bedrock.create_model_customization_job(**unknown))[0] == "ValidationException"
    arn_form = job_request(
        "arn-form",
        baseModelIdentifier="arn:aws:bedrock:us-west-2::foundation-model/meta.llama3-1-70b-instruct-v1:0:128k",
    )
    assert JOB_ARN.fullmatch(bedrock.create_model_customization_job(**arn_form)["jobArn"])


def test_stop_moves_a_job_through_stopping_to_stopped(make_standin: Any) -> None:
    standin = make_standin(job_seconds=5, stop_seconds=0.4)
    bedrock = client(standin, "bedrock")
    arn = bedrock.create_model_customization_job(**job_request("stop-me"))["jobArn"]
    bedrock.stop_model_customization_job(jobIdentifier=arn)
    assert bedrock.get_model_customization_job(jobIdentifier=arn)["status"] == "Stopping"
    assert [job["status"] for job in standin.running_jobs()] == ["Stopping"]
    assert wait_until(job_status(bedrock, arn), {"Stopped"}) == "Stopped"
    assert error_of(lambda: bedrock.stop_model_customization_job(jobIdentifier=arn))[0] == "ConflictException"
    assert bedrock.list_custom_models()["modelSummaries"] == []
    assert standin.running_jobs() == []


def test_unknown_resources_answer_resource_not_found(bedrock: Any) -> None:
    assert error_of(lambda: bedrock.get_model_customization_job(jobIdentifier="nope"))[:2] == (
        "ResourceNotFoundException",
        404,
    )
    assert error_of(lambda: bedrock.get_custom_model(modelIdentifier="nope"))[0] == "ResourceNotFoundException"
    assert error_of(lambda: bedrock.get_provisioned_model_throughput(provisionedModelId="nope"))[1] == 404
    assert error_of(lambda: bedrock.delete_provisioned_model_throughput(provisionedModelId="nope"))[1] == 404


def test_lists_filter_sort_and_paginate(bedrock: Any) -> None:
    for name in ("alpha-job", "beta-job", "gamma-job"):
        bedrock.create_model_customization_job(**job_request(name))
    pages = bedrock.get_paginator("list_model_customization_jobs").paginate(PaginationConfig={"PageSize": 1})
    names = [job["jobName"] for page in pages for job in page["modelCustomizationJobSummaries"]]
    assert names == ["gamma-job", "beta-job", "alpha-job"]  # newest first by default
    ascending = bedrock.list_model_customization_jobs(sortOrder="Ascending")["modelCustomizationJobSummaries"]
    assert [job["jobName"] for job in ascending] == ["alpha-job", "beta-job", "gamma-job"]
    assert [
        j["jobName"]
        for j in bedrock.list_model_customization_jobs(nameContains="bet")["modelCustomizationJobSummaries"]
    ] == ["beta-job"]
    wait_until(job_status(bedrock, "alpha-job"), {"Completed"})
    wait_until(job_status(bedrock, "gamma-job"), {"Completed"})
    done = bedrock.list_model_customization_jobs(statusEquals="Completed")["modelCustomizationJobSummaries"]
    assert len(done) == 3
    models = bedrock.list_custom_models(nameContains="gamma")["modelSummaries"]
    assert [model["modelName"] for model in models] == ["gamma-job-model"]


def test_provisioned_throughput_lifecycle(standin: BedrockStandIn, bedrock: Any) -> None:
    model = trained_model(bedrock)
    assert bedrock.get_custom_model(modelIdentifier="demo-job-model")["modelArn"] == model
    assert bedrock.get_custom_model(modelIdentifier=model)["modelStatus"] == "Active"

    request = {"modelUnits": 1, "provisionedModelName": "demo-pt", "modelId": model, "clientRequestToken": "pt-token"}
    created = bedrock.create_provisioned_model_throughput(**request)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn = created["provisionedModelArn"]
    assert PT_ARN.fullmatch(arn)
    assert bedrock.create_provisioned_model_throughput(**request)["provisionedModelArn"] == arn  # idempotent
    described = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    assert described["status"] == "Creating"
    assert described["modelArn"] == model and "commitmentDuration" not in described
    assert wait_until(pt_status(bedrock, arn), {"InService"}) == "InService"
    assert [pt["provisionedModelArn"] for pt in standin.provisioned_throughputs()] == [arn]
    listed = bedrock.list_provisioned_model_throughputs(statusEquals="InService")["provisionedModelSummaries"]
    assert [pt["provisionedModelArn"] for pt in listed] == [arn]

    code, _, _ = error_of(lambda: bedrock.delete_custom_model(modelIdentifier=model))
    assert code == "ConflictException"  # the throughput still uses it
    bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
    assert standin.provisioned_throughputs() == []
    assert (
        error_of(lambda: bedrock.get_provisioned_model_throughput(provisionedModelId=arn))[0]
        == "ResourceNotFoundException"
    )
    bedrock.delete_custom_model(modelIdentifier=model)
    assert error_of(lambda: bedrock.get_custom_model(modelIdentifier=model))[0] == "ResourceNotFoundException"


def test_provisioned_throughput_rules(make_standin: Any) -> None:
    standin = make_standin(model_unit_quota=2)
    bedrock = client(standin, "bedrock")
    model = trained_model(bedrock)
    create = bedrock.create_provisioned_model_throughput
    assert error_of(lambda: create(modelUnits=1, provisionedModelName="x", modelId="missing-model"))[:2] == (
        "ResourceNotFoundException",
        404,
    )
    base = "meta.llama3-1-70b-instruct-v1:0"
    assert error_of(lambda: create(modelUnits=1, provisionedModelName="x", modelId=base))[0] == "ValidationException"
    create(modelUnits=1, provisionedModelName="first", modelId=model)
    assert (
        error_of(lambda: create(modelUnits=1, provisionedModelName="first", modelId=model))[0] == "ValidationException"
    )
    assert error_of(lambda: create(modelUnits=2, provisionedModelName="second", modelId=model))[:2] == (
        "ServiceQuotaExceededException",
        400,
    )
    reused = {"modelUnits": 1, "provisionedModelName": "third", "modelId": model, "clientRequestToken": "t"}
    create(**reused)
    assert error_of(lambda: create(**{**reused, "provisionedModelName": "fourth"}))[0] == "ValidationException"


def test_tags_on_jobs_models_and_throughputs(bedrock: Any) -> None:
    pt = in_service_pt(bedrock)
    job = bedrock.get_model_customization_job(jobIdentifier="demo-job")
    assert bedrock.list_tags_for_resource(resourceARN=job["jobArn"])["tags"] == [{"key": "pipeline", "value": "demo"}]
    model_tags = bedrock.list_tags_for_resource(resourceARN=job["outputModelArn"])["tags"]
    assert model_tags == [{"key": "pipeline", "value": "demo-model"}]
    bedrock.tag_resource(resourceARN=pt, tags=[{"key": "ttl", "value": "3600"}, {"key": "owner", "value": "ci"}])
    bedrock.untag_resource(resourceARN=pt, tagKeys=["owner"])
    assert bedrock.list_tags_for_resource(resourceARN=pt)["tags"] == [{"key": "ttl", "value": "3600"}]
    missing = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/aaaaaaaaaaaa"
    assert error_of(lambda: bedrock.list_tags_for_resource(resourceARN=missing))[0] == "ResourceNotFoundException"


def test_operations_it_does_not_emulate_say_so(bedrock: Any) -> None:
    code, status, message = error_of(lambda: bedrock.list_imported_models())
    assert (code, status) == ("NotImplemented", 501)
    assert "ListImportedModels" in message


def test_introspection_counts_calls_and_labels_itself_simulated(standin: BedrockStandIn, bedrock: Any) -> None:
    bedrock.create_model_customization_job(**job_request("count-me"))
    bedrock.get_model_customization_job(jobIdentifier="count-me")
    bedrock.get_model_customization_job(jobIdentifier="count-me")
    error_of(lambda: bedrock.get_model_customization_job(jobIdentifier="absent"))
    assert standin.call_count("GetModelCustomizationJob") == 3
    assert standin.calls[("CreateModelCustomizationJob", "")] == 1
    assert standin.errors[("GetModelCustomizationJob", "", "ResourceNotFoundException")] == 1
    assert [job["jobName"] for job in standin.jobs()] == ["count-me"]
    summary = standin.describe()
    assert summary["simulated"] is True and "SIMULATED" in summary["summary"]
    assert summary["resources"]["jobs"] == 1
    assert standin.env() == {
        "AWS_ENDPOINT_URL_BEDROCK": standin.endpoint_url,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin.endpoint_url,
        "AWS_ENDPOINT_URL_SERVICE_QUOTAS": standin.endpoint_url,
    }
