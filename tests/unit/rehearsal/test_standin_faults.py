"""Every fault the stand-in can inject, seen through real boto3 clients (and botocore's standard retries)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from standin_fixtures import (
    BASE_RUNTIME_MODEL,
    BUCKET,
    ON_DEMAND_REGION,
    client,
    converse_text,
    deployment_status,
    error_of,
    in_service_pt,
    job_request,
    job_status,
    pt_status,
    qa_records,
    trained_model,
    trained_on_demand_model,
    wait_until,
)

from finetune.rehearsal.bedrock_standin import FAULTS, SimulationConfig


def _outcomes(runtime: Any, model: str, prompts: list[str]) -> list[str]:
    """ "ok" or the error code of one Converse call per prompt, run concurrently."""

    def ask(prompt: str) -> str:
        try:
            converse_text(runtime, model, prompt)
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "ok"

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(ask, prompts))


def test_unknown_fault_names_are_rejected_with_the_list() -> None:
    with pytest.raises(ValueError, match="job-failed") as raised:
        SimulationConfig(faults=frozenset({"disk-full"}))
    assert "disk-full" in str(raised.value)
    assert set(FAULTS) == {
        "job-failed",
        "job-stopped",
        "pt-failed",
        "pt-stuck",
        "deployment-failed",
        "deployment-stuck",
        "throttle-burst",
        "runtime-errors",
        "worse-candidate",
        "weaker-than-champion",
        "base-model-eol",
        "base-model-legacy",
        "quota-exceeded",
    }


def test_job_failed(make_standin: Any) -> None:
    standin = make_standin(faults={"job-failed"})
    bedrock = client(standin, "bedrock")
    arn = bedrock.create_model_customization_job(**job_request("fails"))["jobArn"]
    assert wait_until(job_status(bedrock, arn), {"Completed", "Failed"}) == "Failed"
    job = bedrock.get_model_customization_job(jobIdentifier=arn)
    assert "Simulated" in job["failureMessage"] and "outputModelArn" not in job
    assert bedrock.list_custom_models()["modelSummaries"] == []
    assert [key for bucket, key in standin._control.s3.objects if "model-customization-job" in key] == []


def test_job_fails_when_the_training_data_is_missing(make_standin: Any) -> None:
    standin = make_standin()
    bedrock = client(standin, "bedrock")
    request = job_request("no-data", trainingDataConfig={"s3Uri": f"s3://{BUCKET}/missing.jsonl"})
    arn = bedrock.create_model_customization_job(**request)["jobArn"]
    assert wait_until(job_status(bedrock, arn), {"Completed", "Failed"}) == "Failed"
    assert "NoSuchKey" in bedrock.get_model_customization_job(jobIdentifier=arn)["failureMessage"]


def test_job_stopped(make_standin: Any) -> None:
    standin = make_standin(faults={"job-stopped"}, stop_seconds=0.3)
    bedrock = client(standin, "bedrock")
    arn = bedrock.create_model_customization_job(**job_request("stops"))["jobArn"]
    assert wait_until(job_status(bedrock, arn), {"Stopping", "Stopped", "Completed"}) == "Stopping"
    assert wait_until(job_status(bedrock, arn), {"Stopped", "Completed"}) == "Stopped"
    assert bedrock.list_custom_models()["modelSummaries"] == []


def test_pt_failed(make_standin: Any) -> None:
    standin = make_standin(faults={"pt-failed"})
    bedrock = client(standin, "bedrock")
    model = trained_model(bedrock)
    pt = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="p", modelId=model)
    arn = pt["provisionedModelArn"]
    assert wait_until(pt_status(bedrock, arn), {"InService", "Failed"}) == "Failed"
    assert "Simulated" in bedrock.get_provisioned_model_throughput(provisionedModelId=arn)["failureMessage"]
    bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
    assert standin.provisioned_throughputs() == []


def test_pt_stuck(make_standin: Any) -> None:
    standin = make_standin(faults={"pt-stuck"}, pt_seconds=0.05)
    bedrock = client(standin, "bedrock")
    model = trained_model(bedrock)
    arn = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="p", modelId=model)[
        "provisionedModelArn"
    ]
    with pytest.raises(AssertionError, match="still Creating"):
        wait_until(pt_status(bedrock, arn), {"InService", "Failed"}, timeout=0.4)
    bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)  # a stuck throughput can still be deleted
    assert standin.provisioned_throughputs() == []


def test_deployment_failed(make_standin: Any) -> None:
    standin = make_standin(region=ON_DEMAND_REGION, faults={"deployment-failed"})
    bedrock = client(standin, "bedrock", region=ON_DEMAND_REGION)
    model = trained_on_demand_model(bedrock)
    arn = bedrock.create_custom_model_deployment(modelDeploymentName="d", modelArn=model)["customModelDeploymentArn"]
    assert wait_until(deployment_status(bedrock, arn), {"Active", "Failed"}) == "Failed"
    described = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert "Simulated failure (fault deployment-failed)" in described["failureMessage"]
    (summary,) = bedrock.list_custom_model_deployments(statusEquals="Failed")["modelDeploymentSummaries"]
    assert summary["failureMessage"] == described["failureMessage"]
    runtime = client(standin, "bedrock-runtime", region=ON_DEMAND_REGION)
    assert error_of(lambda: converse_text(runtime, arn, "hi"))[0] == "ValidationException"
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert standin.custom_model_deployments() == []


def test_deployment_stuck(make_standin: Any) -> None:
    standin = make_standin(region=ON_DEMAND_REGION, faults={"deployment-stuck"}, deployment_seconds=0.05)
    bedrock = client(standin, "bedrock", region=ON_DEMAND_REGION)
    model = trained_on_demand_model(bedrock)
    arn = bedrock.create_custom_model_deployment(modelDeploymentName="d", modelArn=model)["customModelDeploymentArn"]
    with pytest.raises(AssertionError, match="still Creating"):
        wait_until(deployment_status(bedrock, arn), {"Active", "Failed"}, timeout=0.4)
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)  # a stuck one can still be deleted
    assert standin.custom_model_deployments() == []


def test_throttle_burst_fails_first_attempts_and_standard_retries_recover(make_standin: Any) -> None:
    standin = make_standin(faults={"throttle-burst"}, throttle_share=0.2, on_demand_rps=None)
    prompts = [f"prompt {i}" for i in range(60)]
    once = _outcomes(client(standin, "bedrock-runtime"), BASE_RUNTIME_MODEL, prompts)
    throttled = [prompt for prompt, outcome in zip(prompts, once, strict=True) if outcome != "ok"]
    assert set(once) == {"ok", "ThrottlingException"}
    assert 3 <= len(throttled) <= 24
    # The same prompts again succeed: only the first attempt of a (model, prompt) pair is throttled.
    assert set(_outcomes(client(standin, "bedrock-runtime"), BASE_RUNTIME_MODEL, throttled)) == {"ok"}

    fresh = make_standin(faults={"throttle-burst"}, throttle_share=0.2, on_demand_rps=None)
    retrying = client(fresh, "bedrock-runtime", attempts=3)
    assert set(_outcomes(retrying, BASE_RUNTIME_MODEL, prompts)) == {"ok"}
    assert fresh.errors[("Converse", BASE_RUNTIME_MODEL, "ThrottlingException")] == len(throttled)
    assert fresh.call_count("Converse") == len(prompts) + len(throttled)


def test_runtime_errors_are_transient_for_most_prompts_and_persistent_for_some(make_standin: Any) -> None:
    standin = make_standin(faults={"runtime-errors"}, runtime_error_share=0.4, on_demand_rps=None)
    prompts = [f"prompt {i}" for i in range(50)]
    once = _outcomes(client(standin, "bedrock-runtime"), BASE_RUNTIME_MODEL, prompts)
    assert {"ok", "ModelErrorException"} <= set(once)
    assert set(once) & {"InternalServerException", "ServiceUnavailableException"}
    retried = _outcomes(client(standin, "bedrock-runtime", attempts=3), BASE_RUNTIME_MODEL, prompts)
    persistent = [prompt for prompt, outcome in zip(prompts, once, strict=True) if outcome == "ModelErrorException"]
    assert [prompt for prompt, outcome in zip(prompts, retried, strict=True) if outcome != "ok"] == persistent
    codes = {code for (_, _, code) in standin.errors}
    assert "ModelErrorException" in codes


def test_worse_candidate_puts_the_candidate_below_base(make_standin: Any) -> None:
    standin = make_standin(
        faults={"worse-candidate"},
        accuracy={"candidate": 0.9, "base": 0.7},
        rps_per_model_unit=None,
        on_demand_rps=None,
    )
    records = qa_records(120)
    standin.learn(records)
    bedrock, runtime = client(standin, "bedrock"), client(standin, "bedrock-runtime")
    pt = in_service_pt(bedrock)

    def score(model: str) -> float:
        answers = [converse_text(runtime, model, record["messages"][0]["content"]) for record in records]
        references = [record["messages"][1]["content"] for record in records]
        return sum(a == r for a, r in zip(answers, references, strict=True)) / len(records)

    assert score(pt) < score(BASE_RUNTIME_MODEL)
    assert "worse-candidate" in standin.describe()["faults"]


def test_weaker_than_champion_puts_a_later_model_between_base_and_the_approved_one(make_standin: Any) -> None:
    standin = make_standin(
        faults={"weaker-than-champion"},
        accuracy={"candidate": 1.0, "base": 0.2},
        rps_per_model_unit=None,
        on_demand_rps=None,
        model_unit_quota=4,
    )
    records = qa_records(120)
    standin.learn(records)
    bedrock, runtime = client(standin, "bedrock"), client(standin, "bedrock-runtime")

    def score(model: str) -> float:
        answers = [converse_text(runtime, model, record["messages"][0]["content"]) for record in records]
        references = [record["messages"][1]["content"] for record in records]
        return sum(a == r for a, r in zip(answers, references, strict=True)) / len(records)

    champion = in_service_pt(bedrock, "first")
    assert score(champion) == 1.0  # nothing approved yet: the first model answers with the candidate accuracy
    approved = bedrock.get_provisioned_model_throughput(provisionedModelId=champion)["modelArn"]
    bedrock.tag_resource(resourceARN=approved, tags=[{"key": "finetune:approved", "value": "true"}])
    challenger = in_service_pt(bedrock, "second")
    assert score(BASE_RUNTIME_MODEL) < score(challenger) < score(champion) == 1.0
    assert 0.65 < score(challenger) < 0.95  # three quarters of the way from base: 0.8


def test_fault_draws_repeat_across_runs_whatever_the_throughputs_arn(make_standin: Any) -> None:
    """Two stand-ins with the same seed mint different throughput ARNs, yet fail the same candidate prompts."""
    prompts = [f"prompt {i}" for i in range(40)]
    seen = []
    for _ in range(2):
        standin = make_standin(faults={"runtime-errors"}, runtime_error_share=0.4, rps_per_model_unit=None)
        pt = in_service_pt(client(standin, "bedrock"))
        seen.append((pt, _outcomes(client(standin, "bedrock-runtime"), pt, prompts)))
    (first_arn, first), (second_arn, second) = seen
    assert first_arn != second_arn
    assert first == second and set(first) != {"ok"}
