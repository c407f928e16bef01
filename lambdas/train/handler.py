"""Lambda handler for the training steps: start the Bedrock customization job, check it, stop it.

Actions (`{"action": ...}`): `start` creates the job named by the run spec's `resource_name`, with a client request
token from its `token_seed` (a retried Lambda gets the same job back instead of a second bill), our KMS key, tags
and the optional VPC;
`describe` reports its status and, once Completed, reads the job's own loss curves from the output prefix and
applies the run's optional validation-loss threshold; `stop` stops a job that is still running.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pipeline_aws.bedrock import client_token, tag_list
from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import TrainingTimedOut, is_code, quota_errors, transient_errors
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.observability import instrumented
from pipeline_aws.s3 import list_keys, read_text
from pipeline_core import contracts
from pipeline_core.names import RunNames
from pipeline_core.training_metrics import check_threshold, pick_metrics_keys, read_metrics

LOGGER = setup_logging("train")
MAX_METRICS_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_TRAINING_HOURS = 24.0

__all__ = ["TrainingTimedOut", "handler"]


@dataclass(frozen=True)
class Run:
    """The fields of `$.run` this handler reads."""

    pipeline_name: str
    run_name: str
    execution_name: str
    base_model_id: str
    artifacts_bucket: str
    artifacts_prefix: str
    hyperparameters: dict[str, str]
    max_validation_loss: float | None
    max_training_hours: float
    names: RunNames

    @classmethod
    def from_event(cls, run: Mapping[str, Any]) -> Run:
        loss = run.get("max_validation_loss")
        return cls(
            pipeline_name=str(run["pipeline_name"]),
            run_name=str(run["run_name"]),
            execution_name=str(run["execution_name"]),
            base_model_id=str(run["base_model_id"]),
            artifacts_bucket=str(run["artifacts_bucket"]),
            artifacts_prefix=str(run["artifacts_prefix"]),
            hyperparameters={str(k): str(v) for k, v in (run.get("hyperparameters") or {}).items()},
            max_validation_loss=None if loss is None else float(loss),
            max_training_hours=float(run.get("max_training_hours") or DEFAULT_MAX_TRAINING_HOURS),
            names=RunNames.from_run(run),
        )

    @property
    def training_prefix(self) -> str:
        return self.artifacts_prefix + contracts.TRAINING_OUTPUT


@dataclass
class Job:
    """`$.job` (DESIGN.md)."""

    job_arn: str | None
    job_name: str
    status: str
    custom_model_arn: str | None = None
    failure_message: str | None = None
    metrics: dict[str, Any] | None = None
    metrics_passed: bool | None = None
    metrics_reason: str | None = None

    @classmethod
    def from_event(cls, job: Mapping[str, Any]) -> Job:
        metrics = job.get("metrics")
        return cls(
            job_arn=job.get("job_arn"),
            job_name=str(job["job_name"]),
            status=str(job.get("status") or "Unknown"),
            custom_model_arn=job.get("custom_model_arn"),
            failure_message=job.get("failure_message"),
            metrics=dict(metrics) if metrics else None,
            metrics_passed=job.get("metrics_passed"),
            metrics_reason=job.get("metrics_reason"),
        )


def _env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def start(run: Run, validation: Mapping[str, Any]) -> Job:
    name = run.names.resource_name
    tags = tag_list(
        {
            contracts.TAG_PIPELINE: run.pipeline_name,
            contracts.TAG_RUN: run.run_name,
            contracts.TAG_EXECUTION: run.execution_name,
            contracts.TAG_DATASET_SHA256: validation.get("dataset_sha256"),
        }
    )
    request: dict[str, Any] = {
        "jobName": name,
        "customModelName": name,
        "roleArn": os.environ[contracts.ENV_CUSTOMIZATION_ROLE_ARN],
        "clientRequestToken": client_token("job", run.names.token_seed),
        "baseModelIdentifier": run.base_model_id,
        "customizationType": "FINE_TUNING",
        # Training reads the validated snapshot, never the upload (DESIGN.md, "Run layout in S3").
        "trainingDataConfig": {"s3Uri": str(validation["train_uri"])},
        "outputDataConfig": {"s3Uri": f"s3://{run.artifacts_bucket}/{run.training_prefix}"},
        "hyperParameters": run.hyperparameters,
        "jobTags": tags,
        "customModelTags": tags,
    }
    if validation.get("validation_uri"):
        request["validationDataConfig"] = {"validators": [{"s3Uri": str(validation["validation_uri"])}]}
    kms_key = os.environ.get(contracts.ENV_KMS_KEY_ARN)
    if kms_key:
        request["customModelKmsKeyId"] = kms_key
    subnets, groups = _env_list(contracts.ENV_SUBNET_IDS), _env_list(contracts.ENV_SECURITY_GROUP_IDS)
    if subnets and groups:
        # docs.aws.amazon.com/bedrock/latest/userguide/vpc-model-customization.html
        request["vpcConfig"] = {"subnetIds": subnets, "securityGroupIds": groups}
    # A full job quota is waited out by the workflow (QuotaExceeded), not failed at once.
    with quota_errors("CreateModelCustomizationJob"):
        response = CLIENTS.bedrock.create_model_customization_job(**request)
    log(LOGGER, "training job started", job_arn=response["jobArn"], job_name=name)
    return Job(job_arn=str(response["jobArn"]), job_name=name, status="InProgress")


def _metrics(run: Run, response: Mapping[str, Any]) -> tuple[dict[str, Any], bool, str]:
    """Final losses from the job's CSVs (falling back to what the API reports), and the threshold verdict."""
    found = pick_metrics_keys(list_keys(run.artifacts_bucket, run.training_prefix))
    texts = {kind: read_text(run.artifacts_bucket, key, max_bytes=MAX_METRICS_BYTES)[0] for kind, key in found.items()}
    metrics = read_metrics(texts.get("training"), texts.get("validation"))
    reported_training = (response.get("trainingMetrics") or {}).get("trainingLoss")
    reported_validation = [m.get("validationLoss") for m in response.get("validationMetrics") or []]
    if metrics.final_training_loss is None and reported_training is not None:
        metrics = replace(metrics, final_training_loss=float(reported_training))
    if metrics.final_validation_loss is None and any(v is not None for v in reported_validation):
        last = next(v for v in reversed(reported_validation) if v is not None)
        metrics = replace(metrics, final_validation_loss=float(last))
    passed, reason = check_threshold(metrics, run.max_validation_loss)
    summary = metrics.to_dict() | {"files": {k: f"s3://{run.artifacts_bucket}/{v}" for k, v in found.items()}}
    return summary, passed, reason


def describe(run: Run, job: Job) -> Job:
    with transient_errors():
        response = CLIENTS.bedrock.get_model_customization_job(jobIdentifier=job.job_arn or job.job_name)
    status = str(response["status"])
    result = Job(job_arn=str(response.get("jobArn", job.job_arn)), job_name=job.job_name, status=status)
    result.failure_message = response.get("failureMessage") or (
        # Bedrock gives no message for a stopped job; say who can have stopped it.
        "the job was stopped (by a person, or by the pipeline's cleanup)" if result.status == "Stopped" else None
    )
    if status == "InProgress":
        created = response.get("creationTime")
        if isinstance(created, datetime):
            hours = (datetime.now(UTC) - created).total_seconds() / 3600
            if hours > run.max_training_hours:
                stop(job)  # a job past its limit keeps billing until stopped
                raise TrainingTimedOut(
                    f"training job {job.job_name} has run {hours:.1f} h, longer than {run.max_training_hours:g} h"
                )
    if status == "Completed":
        result.custom_model_arn = response.get("outputModelArn")
        result.metrics, result.metrics_passed, result.metrics_reason = _metrics(run, response)
    log(LOGGER, "training job status", **asdict(result))
    return result


def stop(job: Job) -> dict[str, Any]:
    identifier = job.job_arn or job.job_name
    try:
        with transient_errors():
            CLIENTS.bedrock.stop_model_customization_job(jobIdentifier=identifier)
    except Exception as err:
        # Stopping a job that already finished fails with ValidationException; a job that never started with
        # ResourceNotFoundException. Neither needs stopping.
        if is_code(err, "ValidationException", "ResourceNotFoundException", "ConflictException"):
            log(LOGGER, "training job not stopped", job=identifier, reason=str(err))
            return {"stopped": False, "job": identifier, "reason": str(err)}
        raise
    log(LOGGER, "training job stopped", job=identifier)
    return {"stopped": True, "job": identifier}


@instrumented
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    action = event["action"]
    run = Run.from_event(event["run"])
    bind(run=run.run_name, execution=run.execution_name, action=action)
    if action == "start":
        return asdict(start(run, event["validation"]))
    job = (
        Job.from_event(event["job"])
        if event.get("job")
        else Job(job_arn=None, job_name=run.names.resource_name, status="Unknown")
    )
    if action == "describe":
        return asdict(describe(run, job))
    if action == "stop":
        return stop(job)
    raise ValueError(f"unknown action {action!r}: expected start, describe or stop")
