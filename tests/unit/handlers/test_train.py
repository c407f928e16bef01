"""The train handler: one job per execution, its losses read from the job's own CSVs, stop is idempotent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from handler_fixtures import ACCOUNT, ARTIFACTS, DATA, HAIKU, client_error, load_handler, run_spec

from pipeline_aws.bedrock import client_token
from pipeline_aws.errors import TrainingTimedOut, TransientServiceError
from pipeline_core import contracts
from pipeline_core.names import RunNames

train = load_handler("train")
RUN = run_spec()
PREFIX = RUN["artifacts_prefix"]
JOB_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:model-customization-job/{HAIKU}/abcdefabcdef"
MODEL_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/abcdefabcdef"
VALIDATION: dict[str, Any] = {
    "valid": True,
    "train_uri": f"s3://{ARTIFACTS}/{PREFIX}data/train.jsonl",
    "validation_uri": f"s3://{ARTIFACTS}/{PREFIX}data/validation.jsonl",
    "test_uri": f"s3://{ARTIFACTS}/{PREFIX}data/test.jsonl",
    "dataset_sha256": "a" * 64,
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, kms_key: str) -> str:
    monkeypatch.setenv(contracts.ENV_CUSTOMIZATION_ROLE_ARN, f"arn:aws:iam::{ACCOUNT}:role/bedrock-customization")
    monkeypatch.setenv(contracts.ENV_SUBNET_IDS, "subnet-1, subnet-2")
    monkeypatch.setenv(contracts.ENV_SECURITY_GROUP_IDS, "sg-1")
    return kms_key


def job(status: str = "InProgress") -> dict[str, Any]:
    return {"job_arn": JOB_ARN, "job_name": "demo-0123456789abcdef", "status": status}


def test_start_creates_the_job_from_the_snapshot_with_tags_key_and_vpc(env: str, bedrock: Stubber) -> None:
    tags = [
        {"key": contracts.TAG_PIPELINE, "value": "finetune"},
        {"key": contracts.TAG_RUN, "value": "demo"},
        {"key": contracts.TAG_EXECUTION, "value": RUN["execution_name"]},
        {"key": contracts.TAG_DATASET_SHA256, "value": "a" * 64},
    ]
    bedrock.add_response(
        "create_model_customization_job",
        {"jobArn": JOB_ARN},
        {
            "jobName": "demo-0123456789abcdef",
            "customModelName": "demo-0123456789abcdef",
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/bedrock-customization",
            "clientRequestToken": client_token("job", RUN["execution_name"]),
            "baseModelIdentifier": HAIKU,
            "customizationType": "FINE_TUNING",
            "trainingDataConfig": {"s3Uri": VALIDATION["train_uri"]},
            "validationDataConfig": {"validators": [{"s3Uri": VALIDATION["validation_uri"]}]},
            "outputDataConfig": {"s3Uri": f"s3://{ARTIFACTS}/{PREFIX}training/"},
            "hyperParameters": RUN["hyperparameters"],
            "customModelKmsKeyId": env,
            "vpcConfig": {"subnetIds": ["subnet-1", "subnet-2"], "securityGroupIds": ["sg-1"]},
            "jobTags": tags,
            "customModelTags": tags,
        },
    )
    result = train.handler({"action": "start", "run": RUN, "validation": VALIDATION}, None)
    assert result == {
        "job_arn": JOB_ARN,
        "job_name": "demo-0123456789abcdef",
        "status": "InProgress",
        "custom_model_arn": None,
        "failure_message": None,
        "metrics": None,
        "metrics_passed": None,
        "metrics_reason": None,
    }


def test_a_retried_start_sends_the_same_token(env: str, bedrock: Stubber) -> None:
    """Bedrock returns the existing job for a repeated clientRequestToken, so a Lambda retry never pays twice."""
    for _ in range(2):
        bedrock.add_response(
            "create_model_customization_job",
            {"jobArn": JOB_ARN},
            {"clientRequestToken": client_token("job", RUN["execution_name"])} | dict.fromkeys(
                ["jobName", "customModelName", "roleArn", "baseModelIdentifier", "customizationType",
                 "trainingDataConfig", "validationDataConfig", "outputDataConfig", "hyperParameters",
                 "customModelKmsKeyId", "vpcConfig", "jobTags", "customModelTags"], ANY),
        )  # fmt: skip
        train.handler({"action": "start", "run": RUN, "validation": VALIDATION}, None)


def test_names_fit_bedrock_limits_for_long_runs(env: str, bedrock: Stubber) -> None:
    long = run_spec(execution_name=contracts.execution_name("r" * 40 + "--x", "k", "e"))
    bedrock.add_response("create_model_customization_job", {"jobArn": JOB_ARN}, None)
    name = train.handler({"action": "start", "run": long, "validation": VALIDATION}, None)["job_name"]
    assert len(name) <= 63 and "--" not in name and name.endswith(long["execution_name"][-16:])


def test_start_uses_the_run_specs_names_so_a_reused_execution_name_gets_a_new_job_and_model(
    env: str, bedrock: Stubber
) -> None:
    """90 days on, the same upload gets the same execution name; the job, model and token must still be new."""
    seen: list[tuple[str, str, str]] = []
    for start in ("2026-12-01T10:00:00.000Z", "2027-03-02T10:00:00.000Z"):
        names = RunNames.for_execution(RUN["execution_name"], start)
        run = run_spec(resource_name=names.resource_name, token_seed=names.token_seed)
        bedrock.add_response(
            "create_model_customization_job",
            {"jobArn": JOB_ARN},
            {"jobName": names.resource_name, "customModelName": names.resource_name,
             "clientRequestToken": client_token("job", names.token_seed)} | dict.fromkeys(
                ["roleArn", "baseModelIdentifier", "customizationType", "trainingDataConfig", "validationDataConfig",
                 "outputDataConfig", "hyperParameters", "customModelKmsKeyId", "vpcConfig", "jobTags",
                 "customModelTags"], ANY),
        )  # fmt: skip
        result = train.handler({"action": "start", "run": run, "validation": VALIDATION}, None)
        seen.append((result["job_name"], names.resource_name, client_token("job", names.token_seed)))
    assert seen[0][0] == seen[0][1] and seen[1][0] == seen[1][1]
    assert seen[0][1] != seen[1][1] and seen[0][2] != seen[1][2]


def test_stop_without_a_job_uses_the_run_specs_name(env: str, bedrock: Stubber) -> None:
    names = RunNames.for_execution(RUN["execution_name"], "2026-12-01T10:00:00.000Z")
    run = run_spec(resource_name=names.resource_name, token_seed=names.token_seed)
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": names.resource_name})
    assert train.handler({"action": "stop", "run": run, "job": None}, None)["stopped"] is True


def put_metrics(s3: Any, validation_layout: str) -> None:
    base = f"{PREFIX}training/model-customization-job-abcdefabcdef/"
    s3.put_object(
        Bucket=ARTIFACTS,
        Key=base + "training_artifacts/step_wise_training_metrics.csv",
        Body=b"step_number,epoch_number,training_loss\n1,0,2.5\n2,0,1.9\n1,1,1.2\n2,1,0.9\n",
    )
    s3.put_object(
        Bucket=ARTIFACTS,
        Key=base + validation_layout,
        Body=b"step_number,epoch_number,validation_loss\n2,0,1.4\n2,1,1.1\n",
    )


def completed(**extra: Any) -> dict[str, Any]:
    return {
        "jobArn": JOB_ARN,
        "jobName": "demo-0123456789abcdef",
        "outputModelName": "demo-0123456789abcdef",
        "outputModelArn": MODEL_ARN,
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/bedrock-customization",
        "status": "Completed",
        "creationTime": datetime.now(UTC) - timedelta(hours=3),
        "baseModelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}",
        "trainingDataConfig": {"s3Uri": VALIDATION["train_uri"]},
        "validationDataConfig": {"validators": [{"s3Uri": VALIDATION["validation_uri"]}]},
        "outputDataConfig": {"s3Uri": f"s3://{ARTIFACTS}/{PREFIX}training/"},
    } | extra


@pytest.mark.parametrize(
    "layout",
    [
        "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
        "validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv",
    ],
)
def test_describe_completed_reads_final_losses(env: str, bedrock: Stubber, buckets: Any, layout: str) -> None:
    put_metrics(buckets, layout)
    bedrock.add_response("get_model_customization_job", completed(), {"jobIdentifier": JOB_ARN})
    result = train.handler({"action": "describe", "run": run_spec(max_validation_loss=1.5), "job": job()}, None)
    assert result["status"] == "Completed" and result["custom_model_arn"] == MODEL_ARN
    assert result["metrics"]["final_training_loss"] == 0.9
    assert result["metrics"]["final_validation_loss"] == 1.1
    assert result["metrics_passed"] is True and "within the threshold 1.5" in result["metrics_reason"]


def test_threshold_exceeded_fails_the_metrics_check(env: str, bedrock: Stubber, buckets: Any) -> None:
    put_metrics(buckets, "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv")
    bedrock.add_response("get_model_customization_job", completed(), {"jobIdentifier": JOB_ARN})
    result = train.handler({"action": "describe", "run": run_spec(max_validation_loss=1.0), "job": job()}, None)
    assert result["metrics_passed"] is False
    assert result["metrics_reason"] == "final validation loss 1.1000 exceeds the threshold 1"


def test_without_csvs_the_reported_losses_are_used(env: str, bedrock: Stubber, buckets: Any) -> None:
    response = completed(trainingMetrics={"trainingLoss": 0.7}, validationMetrics=[{"validationLoss": 0.8}])
    bedrock.add_response("get_model_customization_job", response, {"jobIdentifier": JOB_ARN})
    result = train.handler({"action": "describe", "run": RUN, "job": job()}, None)
    assert result["metrics"]["final_validation_loss"] == 0.8
    assert result["metrics_passed"] is True and result["metrics_reason"] == "no validation-loss threshold set"


def test_failed_job_reports_its_message(env: str, bedrock: Stubber) -> None:
    bedrock.add_response(
        "get_model_customization_job",
        completed(status="Failed", failureMessage="bad data"),
        {"jobIdentifier": JOB_ARN},
    )
    result = train.handler({"action": "describe", "run": RUN, "job": job()}, None)
    assert result["status"] == "Failed" and result["failure_message"] == "bad data"
    assert result["custom_model_arn"] is None and result["metrics"] is None


def test_stopped_job_says_it_was_stopped(env: str, bedrock: Stubber) -> None:
    bedrock.add_response("get_model_customization_job", completed(status="Stopped"), {"jobIdentifier": JOB_ARN})
    result = train.handler({"action": "describe", "run": RUN, "job": job()}, None)
    assert result["status"] == "Stopped" and result["failure_message"].startswith("the job was stopped")


def test_job_running_past_its_limit_is_stopped_and_times_out(env: str, bedrock: Stubber) -> None:
    old = completed(status="InProgress", creationTime=datetime.now(UTC) - timedelta(hours=30))
    bedrock.add_response("get_model_customization_job", old, {"jobIdentifier": JOB_ARN})
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
    with pytest.raises(TrainingTimedOut) as err:
        train.handler({"action": "describe", "run": RUN, "job": job()}, None)
    assert type(err.value).__name__ == contracts.ERROR_TRAINING_TIMEOUT


@pytest.mark.parametrize("code", ["ValidationException", "ResourceNotFoundException"])
def test_stop_is_idempotent(env: str, bedrock: Stubber, code: str) -> None:
    bedrock.add_client_error("stop_model_customization_job", **client_error(code))
    result = train.handler({"action": "stop", "run": RUN, "job": job("Completed")}, None)
    assert result["stopped"] is False


def test_stop_without_a_job_uses_the_derived_name(env: str, bedrock: Stubber) -> None:
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": "demo-0123456789abcdef"})
    assert train.handler({"action": "stop", "run": RUN, "job": None}, None)["stopped"] is True


@pytest.mark.parametrize(("code", "status"), [("ThrottlingException", 429), ("InternalServerException", 500)])
def test_throttling_and_5xx_are_transient(env: str, bedrock: Stubber, code: str, status: int) -> None:
    bedrock.add_client_error("get_model_customization_job", **client_error(code, status))
    with pytest.raises(TransientServiceError):
        train.handler({"action": "describe", "run": RUN, "job": job()}, None)


def test_unknown_action_is_rejected(env: str) -> None:
    with pytest.raises(ValueError, match="unknown action"):
        train.handler({"action": "restart", "run": RUN}, None)


def test_the_job_never_reads_or_writes_the_upload_bucket(env: str) -> None:
    """Training reads the validated snapshot and writes to the artifacts bucket: catches the request built from the
    run's data bucket (the raw, unvalidated upload) for its input or output."""
    from pipeline_aws.clients import CLIENTS

    requests: list[dict[str, Any]] = []

    class Bedrock:
        def create_model_customization_job(self, **request: Any) -> dict[str, str]:
            requests.append(request)
            return {"jobArn": JOB_ARN}

    CLIENTS.set("bedrock", Bedrock())
    train.handler({"action": "start", "run": RUN, "validation": VALIDATION}, None)
    (request,) = requests
    assert RUN["data_bucket"] == DATA and DATA != ARTIFACTS
    assert f"s3://{DATA}/" not in json.dumps(request)
    assert request["trainingDataConfig"]["s3Uri"] == VALIDATION["train_uri"]
    assert request["outputDataConfig"]["s3Uri"].startswith(f"s3://{ARTIFACTS}/{PREFIX}")


@pytest.mark.parametrize(
    ("code", "status"),
    [("ServiceQuotaExceededException", 400), ("ThrottlingException", 429), ("TooManyRequestsException", 429)],
)
def test_a_full_job_quota_is_waited_out_and_named(
    env: str, bedrock: Stubber, code: str, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QuotaExceeded (its own bounded Retry), not TransientServiceError; the message names the quota and its code."""
    from pipeline_aws.errors import QuotaExceeded
    from pipeline_core.quotas import CUSTOMIZATION_JOBS_CODE

    monkeypatch.setenv(contracts.ENV_QUOTA_WAIT_MINUTES, "45")
    bedrock.add_client_error("create_model_customization_job", **client_error(code, status))
    with pytest.raises(QuotaExceeded) as raised:
        train.handler({"action": "start", "run": RUN, "validation": VALIDATION}, None)
    assert type(raised.value).__name__ == contracts.ERROR_QUOTA
    message = str(raised.value)
    assert CUSTOMIZATION_JOBS_CODE in message and code in message and "45 minutes" in message


def test_other_creation_errors_are_not_quota_waits(env: str, bedrock: Stubber) -> None:
    from pipeline_aws.errors import QuotaExceeded

    bedrock.add_client_error("create_model_customization_job", **client_error("InternalServerException", 500))
    with pytest.raises(TransientServiceError) as raised:
        train.handler({"action": "start", "run": RUN, "validation": VALIDATION}, None)
    assert not isinstance(raised.value, QuotaExceeded)
