"""Helpers for the stand-in tests: boto3 clients aimed at a stand-in, an in-memory S3, request builders and waits."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from finetune.rehearsal.bedrock_standin import BedrockStandIn

BASE_CUSTOMIZATION_MODEL = "meta.llama3-1-70b-instruct-v1:0:128k"  # the default base model, Active in us-west-2
BASE_RUNTIME_MODEL = "meta.llama3-1-70b-instruct-v1:0"
ROLE_ARN = "arn:aws:iam::123456789012:role/BedrockCustomizationRole"
BUCKET = "artifacts"
TRAIN_KEY = "runs/demo/exec-1/data/train.jsonl"
VALIDATION_KEY = "runs/demo/exec-1/data/validation.jsonl"
OUTPUT_PREFIX = "runs/demo/exec-1/training/"


def client(
    standin: BedrockStandIn, service: str, *, attempts: int = 1, validate: bool = True, region: str = "us-west-2"
) -> Any:
    """A real boto3 client for the stand-in; ``attempts`` > 1 turns on botocore's standard retry mode."""
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=standin.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            parameter_validation=validate,
            max_pool_connections=32,
        ),
    )


class MemoryS3:
    """The two S3 calls the stand-in makes, kept in a dict (moto is exercised in its own test)."""

    def __init__(self, objects: dict[tuple[str, str], bytes] | None = None) -> None:
        self.objects = dict(objects or {})

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        if (Bucket, Key) not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "missing"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> dict[str, Any]:
        self.objects[(Bucket, Key)] = Body
        return {}


def training_lines(count: int = 100) -> bytes:
    return b"".join(
        b'{"messages": [{"role": "user", "content": "q%d"}, {"role": "assistant", "content": "a%d"}]}\n' % (i, i)
        for i in range(count)
    )


def seeded_s3() -> MemoryS3:
    return MemoryS3({(BUCKET, TRAIN_KEY): training_lines(100), (BUCKET, VALIDATION_KEY): training_lines(10)})


def job_request(name: str = "demo-job", **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "jobName": name,
        "customModelName": f"{name}-model",
        "roleArn": ROLE_ARN,
        "baseModelIdentifier": BASE_CUSTOMIZATION_MODEL,
        "customizationType": "FINE_TUNING",
        "trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/{TRAIN_KEY}"},
        "validationDataConfig": {"validators": [{"s3Uri": f"s3://{BUCKET}/{VALIDATION_KEY}"}]},
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/{OUTPUT_PREFIX}"},
        "hyperParameters": {"epochCount": "2", "batchSize": "1", "learningRate": "0.0001"},
        "jobTags": [{"key": "pipeline", "value": "demo"}],
        "customModelTags": [{"key": "pipeline", "value": "demo-model"}],
    }
    request.update(overrides)
    return request


def wait_until(read: Callable[[], str], wanted: set[str], timeout: float = 5.0) -> str:
    """Poll ``read`` until it returns one of ``wanted``; returns it (fails the test past the timeout)."""
    deadline = time.monotonic() + timeout
    seen = read()
    while seen not in wanted:
        if time.monotonic() > deadline:
            raise AssertionError(f"still {seen} after {timeout}s, wanted {wanted}")
        time.sleep(0.02)
        seen = read()
    return seen


def job_status(bedrock: Any, job: str) -> Callable[[], str]:
    return lambda: str(bedrock.get_model_customization_job(jobIdentifier=job)["status"])


def pt_status(bedrock: Any, pt: str) -> Callable[[], str]:
    return lambda: str(bedrock.get_provisioned_model_throughput(provisionedModelId=pt)["status"])


def trained_model(bedrock: Any, name: str = "demo-job") -> str:
    """Run a job to completion and return its custom model ARN."""
    arn = bedrock.create_model_customization_job(**job_request(name))["jobArn"]
    assert wait_until(job_status(bedrock, arn), {"Completed", "Failed", "Stopped"}) == "Completed"
    return str(bedrock.get_model_customization_job(jobIdentifier=arn)["outputModelArn"])


def in_service_pt(bedrock: Any, name: str = "demo-job", units: int = 1) -> str:
    """A custom model with an InService Provisioned Throughput; returns the provisioned model ARN."""
    model = trained_model(bedrock, name)
    pt = bedrock.create_provisioned_model_throughput(modelUnits=units, provisionedModelName=f"{name}-pt", modelId=model)
    arn = str(pt["provisionedModelArn"])
    assert wait_until(pt_status(bedrock, arn), {"InService", "Failed"}) == "InService"
    return arn


#: A base model whose custom models may be deployed for on-demand inference, and its Region.
ON_DEMAND_CUSTOMIZATION_MODEL = "amazon.nova-lite-v1:0:300k"
ON_DEMAND_REGION = "us-east-1"


def deployment_status(bedrock: Any, deployment: str) -> Callable[[], str]:
    return lambda: str(bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=deployment)["status"])


def trained_on_demand_model(bedrock: Any, name: str = "nova-job") -> str:
    """Run a Nova Lite job to completion (the client must be in ON_DEMAND_REGION); returns its custom model ARN."""
    request = job_request(
        name,
        baseModelIdentifier=ON_DEMAND_CUSTOMIZATION_MODEL,
        hyperParameters={"epochCount": "1", "learningRate": "0.00001"},
    )
    arn = bedrock.create_model_customization_job(**request)["jobArn"]
    assert wait_until(job_status(bedrock, arn), {"Completed", "Failed", "Stopped"}) == "Completed"
    return str(bedrock.get_model_customization_job(jobIdentifier=arn)["outputModelArn"])


def error_of(call: Callable[[], Any]) -> tuple[str, int, str]:
    """(code, HTTP status, message) of the ClientError a call raises."""
    try:
        call()
    except ClientError as error:
        return (
            error.response["Error"]["Code"],
            error.response["ResponseMetadata"]["HTTPStatusCode"],
            error.response["Error"]["Message"],
        )
    raise AssertionError("the call succeeded")


def converse_text(runtime: Any, model: str, prompt: str, **kwargs: Any) -> str:
    response = runtime.converse(modelId=model, messages=[{"role": "user", "content": [{"text": prompt}]}], **kwargs)
    return str(response["output"]["message"]["content"][0]["text"])


def qa_records(count: int) -> list[dict[str, Any]]:
    """Claude-format records whose answers share no words with the stand-in's wrong answers."""
    return [
        {
            "system": "Answer briefly.",
            "messages": [
                {"role": "user", "content": f"What is item number {i}?"},
                {"role": "assistant", "content": f"Item {i} is the answer {i * 7}."},
            ],
        }
        for i in range(count)
    ]
