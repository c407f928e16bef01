"""Custom model deployments (on-demand serving) in the stand-in, through real boto3 clients."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from standin_fixtures import (
    ON_DEMAND_REGION,
    client,
    converse_text,
    deployment_status,
    error_of,
    qa_records,
    trained_model,
    trained_on_demand_model,
    wait_until,
)

from finetune.rehearsal.bedrock_standin import BedrockStandIn
from finetune.rehearsal.standin import control_plane
from finetune.rehearsal.standin.config import on_demand_regions
from pipeline_core.models import CATALOGUE

DEPLOYMENT_ARN = re.compile(r"arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/[a-z0-9]{12}")


@pytest.fixture
def east(make_standin: Callable[..., BedrockStandIn]) -> tuple[BedrockStandIn, Any, Any]:
    """A stand-in in us-east-1 (where Nova Lite's custom models may be deployed) with its two clients."""
    standin = make_standin(region=ON_DEMAND_REGION)
    return (
        standin,
        client(standin, "bedrock", region=ON_DEMAND_REGION),
        client(standin, "bedrock-runtime", region=ON_DEMAND_REGION),
    )


def _deploy(bedrock: Any, model: str, name: str = "demo-deployment", **extra: Any) -> str:
    return str(bedrock.create_custom_model_deployment(modelDeploymentName=name, modelArn=model, **extra)[
        "customModelDeploymentArn"
    ])  # fmt: skip


def test_deployment_lifecycle_creating_active_deleted(east: tuple[BedrockStandIn, Any, Any]) -> None:
    standin, bedrock, _ = east
    model = trained_on_demand_model(bedrock)
    created = bedrock.create_custom_model_deployment(
        modelDeploymentName="demo-deployment", modelArn=model, description="the candidate"
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202  # botocore's model: responseCode 202
    arn = created["customModelDeploymentArn"]
    assert DEPLOYMENT_ARN.fullmatch(arn)
    described = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert described["status"] == "Creating"
    assert (described["modelDeploymentName"], described["modelArn"], described["description"]) == (
        "demo-deployment",
        model,
        "the candidate",
    )
    assert "failureMessage" not in described
    assert wait_until(deployment_status(bedrock, arn), {"Active", "Failed"}) == "Active"
    by_name = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier="demo-deployment")
    assert by_name["customModelDeploymentArn"] == arn
    assert by_name["lastUpdatedAt"] >= by_name["createdAt"]
    assert [item["customModelDeploymentArn"] for item in standin.custom_model_deployments()] == [arn]
    assert standin.describe()["resources"]["customModelDeployments"] == 1

    code, _, _ = error_of(lambda: bedrock.delete_custom_model(modelIdentifier=model))
    assert code == "ConflictException"  # the deployment still serves it
    assert bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)["ResponseMetadata"][
        "HTTPStatusCode"
    ] == 200  # fmt: skip
    assert standin.custom_model_deployments() == []
    assert standin.describe()["resources"]["deletedCustomModelDeployments"] == 1
    assert error_of(lambda: bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn))[:2] == (
        "ResourceNotFoundException",
        404,
    )
    assert (
        error_of(lambda: bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=arn))[0]
        == "ResourceNotFoundException"
    )
    bedrock.delete_custom_model(modelIdentifier=model)  # nothing uses it any more


def test_create_is_idempotent_on_client_request_token(east: tuple[BedrockStandIn, Any, Any]) -> None:
    standin, bedrock, _ = east
    model = trained_on_demand_model(bedrock)
    first = _deploy(bedrock, model, "one", clientRequestToken="token-1")
    assert _deploy(bedrock, model, "one", clientRequestToken="token-1") == first
    assert len(standin.custom_model_deployments()) == 1
    code, _, message = error_of(lambda: _deploy(bedrock, model, "two", clientRequestToken="token-1"))
    assert code == "ValidationException" and "token-1" in message
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=first)
    # The token still names the deleted deployment: a retry after deletion does not create another.
    assert _deploy(bedrock, model, "one", clientRequestToken="token-1") == first
    assert standin.custom_model_deployments() == []
    # Without a token, botocore fills one in (idempotencyToken), so each call is a new request.
    _deploy(bedrock, model, "three")
    assert len(standin.custom_model_deployments()) == 1


def test_create_checks_name_model_and_request_shape(east: tuple[BedrockStandIn, Any, Any]) -> None:
    _, bedrock, _ = east
    model = trained_on_demand_model(bedrock)
    _deploy(bedrock, model, "taken")
    assert error_of(lambda: _deploy(bedrock, model, "taken"))[0] == "ValidationException"
    missing = model.rsplit("/", 1)[0] + "/aaaaaaaaaaaa"
    assert error_of(lambda: _deploy(bedrock, missing, "other"))[:2] == ("ResourceNotFoundException", 404)
    unchecked = client(east[0], "bedrock", region=ON_DEMAND_REGION, validate=False)
    code, _, message = error_of(lambda: _deploy(unchecked, model, "bad name!"))
    assert code == "ValidationException" and "modelDeploymentName" in message
    code, _, message = error_of(lambda: _deploy(unchecked, "demo-job-model", "by-name"))
    assert code == "ValidationException" and "modelArn" in message  # an ARN, not a model name


def test_a_model_whose_base_does_not_allow_on_demand_is_refused(make_standin: Any) -> None:
    standin = make_standin()  # us-west-2, Llama 3.1 70B: Provisioned Throughput only
    bedrock = client(standin, "bedrock")
    model = trained_model(bedrock)
    code, status, message = error_of(lambda: _deploy(bedrock, model))
    assert (code, status) == ("ValidationException", 400)
    assert "meta.llama3-1-70b-instruct-v1:0:128k" in message and "us-west-2" in message
    assert standin.custom_model_deployments() == []


def test_the_region_decides_as_well_as_the_base_model(make_standin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    standin = make_standin()
    bedrock = client(standin, "bedrock")
    model = trained_model(bedrock)
    monkeypatch.setattr(control_plane, "on_demand_regions", lambda model_id: ("us-east-1",))
    code, _, message = error_of(lambda: _deploy(bedrock, model))
    assert code == "ValidationException" and "only in us-east-1" in message
    monkeypatch.setattr(control_plane, "on_demand_regions", lambda model_id: ("us-east-1", "us-west-2"))
    assert _deploy(bedrock, model).startswith("arn:aws:bedrock:us-west-2:")


def test_the_stand_in_allows_on_demand_where_the_catalogue_does() -> None:
    assert {model_id: on_demand_regions(model_id) for model_id in CATALOGUE} == {
        model_id: model.on_demand_regions for model_id, model in CATALOGUE.items()
    }
    nova = ("amazon.nova-lite-v1:0:300k", "amazon.nova-2-lite-v1:0:256k", "amazon.nova-micro-v1:0:128k",
            "amazon.nova-pro-v1:0:300k")  # fmt: skip
    assert {model_id for model_id in CATALOGUE if on_demand_regions(model_id)} == set(nova)
    assert on_demand_regions("amazon.nova-lite-v1:0:300k") == ("us-east-1",)
    assert on_demand_regions("vendor.unknown-v1:0") == ()


@pytest.mark.parametrize(
    ("customized_on", "accepted"),
    [(dt.date(2025, 7, 15), False), (dt.date(2025, 7, 16), True), (dt.date(2025, 7, 17), True)],
)
def test_only_models_customized_since_2025_07_16_deploy(
    east: tuple[BedrockStandIn, Any, Any], customized_on: dt.date, accepted: bool
) -> None:
    standin, bedrock, _ = east
    model = trained_on_demand_model(bedrock)
    job = standin._control.models[model].job
    job.created = dt.datetime.combine(customized_on, dt.time(12), tzinfo=dt.UTC)
    if accepted:
        assert DEPLOYMENT_ARN.fullmatch(_deploy(bedrock, model))
    else:
        code, _, message = error_of(lambda: _deploy(bedrock, model))
        assert code == "ValidationException" and "2025-07-16" in message


def test_lists_filter_sort_and_paginate(east: tuple[BedrockStandIn, Any, Any]) -> None:
    standin, bedrock, _ = east
    model = trained_on_demand_model(bedrock)
    other = trained_on_demand_model(bedrock, "nova-other")
    arns = []
    for index in range(3):
        arns.append(_deploy(bedrock, model, f"alpha-{index}"))
        time.sleep(0.002)  # distinct createdAt milliseconds, for the createdAfter/createdBefore filters below
    last = _deploy(bedrock, other, "beta-0")
    wait_until(deployment_status(bedrock, last), {"Active"})

    def names(**params: Any) -> list[str]:
        return [s["customModelDeploymentName"] for s in bedrock.list_custom_model_deployments(**params)[
            "modelDeploymentSummaries"
        ]]  # fmt: skip

    assert names(sortOrder="Ascending") == ["alpha-0", "alpha-1", "alpha-2", "beta-0"]
    assert names() == ["beta-0", "alpha-2", "alpha-1", "alpha-0"]  # Descending by default
    assert names(nameContains="beta") == ["beta-0"]
    assert names(modelArnEquals=other) == ["beta-0"]
    assert names(statusEquals="Active", sortOrder="Ascending") == ["alpha-0", "alpha-1", "alpha-2", "beta-0"]
    assert names(statusEquals="Failed") == []
    created = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arns[1])["createdAt"]
    assert names(createdAfter=created, sortOrder="Ascending") == ["alpha-2", "beta-0"]
    assert names(createdBefore=created) == ["alpha-0"]
    first = bedrock.list_custom_model_deployments(maxResults=3, sortOrder="Ascending")
    assert len(first["modelDeploymentSummaries"]) == 3 and first["nextToken"]
    pages = bedrock.get_paginator("list_custom_model_deployments").paginate(PaginationConfig={"PageSize": 1})
    assert sum(len(page["modelDeploymentSummaries"]) for page in pages) == 4
    assert len(standin.custom_model_deployments()) == 4


def test_tags_on_a_deployment(east: tuple[BedrockStandIn, Any, Any]) -> None:
    standin, bedrock, _ = east
    model = trained_on_demand_model(bedrock)
    arn = _deploy(bedrock, model, tags=[{"key": "pipeline", "value": "demo"}])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "pipeline", "value": "demo"}]
    bedrock.tag_resource(resourceARN=arn, tags=[{"key": "approved", "value": "true"}])
    assert standin.tags_of(arn) == {"pipeline": "demo", "approved": "true"}
    bedrock.untag_resource(resourceARN=arn, tagKeys=["pipeline"])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "approved", "value": "true"}]
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert error_of(lambda: bedrock.list_tags_for_resource(resourceARN=arn))[0] == "ResourceNotFoundException"


def test_the_runtime_answers_a_deployment_as_the_candidate(make_standin: Any) -> None:
    standin = make_standin(region=ON_DEMAND_REGION, accuracy={"candidate": 0.6, "base": 0.1}, on_demand_rps=None,
                           rps_per_model_unit=None)  # fmt: skip
    bedrock = client(standin, "bedrock", region=ON_DEMAND_REGION)
    runtime = client(standin, "bedrock-runtime", region=ON_DEMAND_REGION)
    records = qa_records(40)
    standin.learn(records)
    model = trained_on_demand_model(bedrock)
    deployment = _deploy(bedrock, model)
    messages = [{"role": "user", "content": [{"text": "What is item number 1?"}]}]
    assert error_of(lambda: runtime.converse(modelId=deployment, messages=messages))[0] == "ValidationException"
    wait_until(deployment_status(bedrock, deployment), {"Active"})
    pt = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt", modelId=model)[
        "provisionedModelArn"
    ]
    wait_until(lambda: bedrock.get_provisioned_model_throughput(provisionedModelId=pt)["status"], {"InService"})
    questions = [record["messages"][0]["content"] for record in records]
    served = [converse_text(runtime, deployment, question) for question in questions]
    provisioned = [converse_text(runtime, pt, question) for question in questions]
    assert served == provisioned  # the same simulated model: the "candidate" key
    references = {record["messages"][0]["content"]: record["messages"][1]["content"] for record in records}
    correct = sum(answer == references[question] for question, answer in zip(questions, served, strict=True))
    assert 0 < correct < len(questions)  # accuracy 0.6, neither the base model's 0.1 nor perfect
    assert standin.call_count("Converse", deployment) == len(questions) + 1
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployment)
    assert error_of(lambda: runtime.converse(modelId=deployment, messages=messages))[:2] == (
        "ResourceNotFoundException",
        404,
    )


def test_a_deployment_has_the_on_demand_rate_limit_and_its_own_bucket(east: tuple[BedrockStandIn, Any, Any]) -> None:
    standin, bedrock, _ = east
    deployment = _deploy(bedrock, trained_on_demand_model(bedrock))
    wait_until(deployment_status(bedrock, deployment), {"Active"})
    target = standin._runtime.resolve(deployment)
    assert (target.simulation_key, target.rate, target.bucket_key) == (
        "candidate",
        standin.config.on_demand_rps,
        deployment,
    )


def test_worse_candidate_applies_to_a_deployment(make_standin: Any) -> None:
    standin = make_standin(region=ON_DEMAND_REGION, faults={"worse-candidate"})
    bedrock = client(standin, "bedrock", region=ON_DEMAND_REGION)
    deployment = _deploy(bedrock, trained_on_demand_model(bedrock))
    wait_until(deployment_status(bedrock, deployment), {"Active"})
    config = standin.config
    assert standin._runtime.resolve(deployment).accuracy == pytest.approx(
        max(0.0, config.accuracy["base"] - config.worse_candidate_margin)
    )
