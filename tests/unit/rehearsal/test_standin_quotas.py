"""The stand-in's quotas as admission control meets them: concurrent customization jobs, the quota-exceeded fault,
and the peaks it records for the load benchmark."""

from __future__ import annotations

from typing import Any

import pytest
from standin_fixtures import (
    ON_DEMAND_CUSTOMIZATION_MODEL,
    ON_DEMAND_REGION,
    client,
    error_of,
    job_request,
    job_status,
    trained_model,
    trained_on_demand_model,
    wait_until,
)

from finetune.rehearsal.bedrock_standin import SimulationConfig

QUOTA = ("ServiceQuotaExceededException", 400)  # botocore's bedrock model: the error shape's HTTP status


@pytest.mark.parametrize("quota", [1, 2, 3])
def test_jobs_past_the_concurrent_job_quota_are_refused_until_one_ends(make_standin: Any, quota: int) -> None:
    standin = make_standin(customization_job_quota=quota, job_seconds=30)
    bedrock = client(standin, "bedrock")
    arns = [bedrock.create_model_customization_job(**job_request(f"job-{i}"))["jobArn"] for i in range(quota)]
    code, status, message = error_of(lambda: bedrock.create_model_customization_job(**job_request("one-more")))
    assert (code, status) == QUOTA and f"allows {quota} at once" in message
    assert len(bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]) == quota
    bedrock.stop_model_customization_job(jobIdentifier=arns[0])
    wait_until(job_status(bedrock, arns[0]), {"Stopped"})
    bedrock.create_model_customization_job(**job_request("one-more"))
    assert standin.peaks() == {"jobs": quota, "serving": 0}


def test_quota_exceeded_refuses_the_first_job_creations_then_creates(make_standin: Any) -> None:
    standin = make_standin(faults={"quota-exceeded"}, quota_refusals=2)
    bedrock = client(standin, "bedrock")
    for _ in range(2):
        code, status, message = error_of(lambda: bedrock.create_model_customization_job(**job_request()))
        assert (code, status) == QUOTA and "fault quota-exceeded" in message
    assert bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []  # nothing created
    bedrock.create_model_customization_job(**job_request())
    assert standin.quota_refusals() == {"CreateModelCustomizationJob": 2}


def test_quota_exceeded_refuses_the_first_throughput_creation(make_standin: Any) -> None:
    standin = make_standin(faults={"quota-exceeded"}, quota_refusals=1)
    bedrock = client(standin, "bedrock")
    assert error_of(lambda: bedrock.create_model_customization_job(**job_request()))[:2] == QUOTA
    model = trained_model(bedrock)
    create = bedrock.create_provisioned_model_throughput
    assert error_of(lambda: create(modelUnits=1, provisionedModelName="pt", modelId=model))[:2] == QUOTA
    assert bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []
    create(modelUnits=1, provisionedModelName="pt", modelId=model)
    assert standin.quota_refusals() == {"CreateModelCustomizationJob": 1, "CreateProvisionedModelThroughput": 1}


def test_quota_exceeded_refuses_the_first_deployment_creation(make_standin: Any) -> None:
    standin = make_standin(faults={"quota-exceeded"}, quota_refusals=1, region=ON_DEMAND_REGION)
    bedrock = client(standin, "bedrock", region=ON_DEMAND_REGION)
    request = job_request(
        "nova-job",
        baseModelIdentifier=ON_DEMAND_CUSTOMIZATION_MODEL,
        hyperParameters={"epochCount": "1", "learningRate": "0.00001"},
    )
    assert error_of(lambda: bedrock.create_model_customization_job(**request))[:2] == QUOTA
    model = trained_on_demand_model(bedrock)
    create = bedrock.create_custom_model_deployment
    assert error_of(lambda: create(modelDeploymentName="d", modelArn=model))[:2] == QUOTA
    assert bedrock.list_custom_model_deployments()["modelDeploymentSummaries"] == []
    create(modelDeploymentName="d", modelArn=model)
    assert standin.quota_refusals()["CreateCustomModelDeployment"] == 1


def test_without_the_fault_or_with_no_refusals_nothing_is_refused(make_standin: Any) -> None:
    for standin in (make_standin(), make_standin(faults={"quota-exceeded"}, quota_refusals=0)):
        bedrock = client(standin, "bedrock")
        bedrock.create_model_customization_job(**job_request())
        assert standin.quota_refusals() == {}


def test_quota_refusals_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="quota_refusals must not be negative"):
        SimulationConfig(quota_refusals=-1)


def test_peaks_record_the_most_throughputs_alive_at_once(make_standin: Any) -> None:
    standin = make_standin(model_unit_quota=2)
    bedrock = client(standin, "bedrock")
    model = trained_model(bedrock)
    create = bedrock.create_provisioned_model_throughput
    first = create(modelUnits=1, provisionedModelName="a", modelId=model)["provisionedModelArn"]
    create(modelUnits=1, provisionedModelName="b", modelId=model)
    bedrock.delete_provisioned_model_throughput(provisionedModelId=first)
    create(modelUnits=1, provisionedModelName="c", modelId=model)
    assert standin.peaks() == {"jobs": 1, "serving": 2}
