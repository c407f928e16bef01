"""The stand-in alongside moto: boto3 reaches it through AWS_ENDPOINT_URL_BEDROCK while S3 stays in moto."""

from __future__ import annotations

import os
from unittest import mock

import boto3
from moto.core.config import passthrough_url
from standin_fixtures import (
    BUCKET,
    OUTPUT_PREFIX,
    TRAIN_KEY,
    VALIDATION_KEY,
    job_request,
    job_status,
    training_lines,
    wait_until,
)

from finetune.rehearsal.bedrock_standin import MODEL_UNITS_QUOTA_CODE, BedrockStandIn, SimulationConfig
from finetune.rehearsal.moto_support import LOOPBACK_URL_PATTERN, moto_passthrough_config, moto_with_passthrough


def test_job_output_lands_in_moto_s3() -> None:
    with moto_with_passthrough():
        s3 = boto3.client("s3", region_name="us-west-2")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        s3.put_object(Bucket=BUCKET, Key=TRAIN_KEY, Body=training_lines(40))
        s3.put_object(Bucket=BUCKET, Key=VALIDATION_KEY, Body=training_lines(8))
        config = SimulationConfig(job_seconds=0.2, tick_seconds=0.01)
        with BedrockStandIn(config, s3_client=s3) as standin, mock.patch.dict(os.environ, standin.env()):
            assert passthrough_url(f"{standin.endpoint_url}/model-customization-jobs")
            bedrock = boto3.client("bedrock", region_name="us-west-2")  # no endpoint_url: the variable routes it
            assert bedrock.meta.endpoint_url == standin.endpoint_url
            arn = bedrock.create_model_customization_job(**job_request("moto-job"))["jobArn"]
            assert wait_until(job_status(bedrock, arn), {"Completed", "Failed"}) == "Completed"
            assert standin.call_count("CreateModelCustomizationJob") == 1
            # moto 5.2.5 answers Service Quotas for "vpc" only; the variable sends "bedrock" quotas to the stand-in.
            quotas = boto3.client("service-quotas", region_name="us-west-2")
            assert quotas.meta.endpoint_url == standin.endpoint_url
            quota = quotas.get_service_quota(ServiceCode="bedrock", QuotaCode=MODEL_UNITS_QUOTA_CODE)["Quota"]
            assert quota["Value"] == config.model_unit_quota
            assert standin.call_count("GetServiceQuota") == 1

        prefix = f"{OUTPUT_PREFIX}model-customization-job-{arn.rsplit('/', 1)[1]}/"
        keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"])
        assert keys == [
            f"{prefix}training_artifacts/step_wise_training_metrics.csv",
            f"{prefix}validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv",
        ]
        training = s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read().decode().splitlines()
        assert training[0] == "step_number,epoch_number,training_loss"
        assert len(training) == 1 + 2 * 40  # 2 epochs x 40 records at Llama 3.1's batch size of 1


def test_passthrough_config_uses_motos_keys_and_keeps_other_sections() -> None:
    config = moto_passthrough_config(
        extra={"stepfunctions": {"execute_state_machine": True}, "core": {"mock_credentials": True}}
    )
    assert config["core"]["passthrough"] == {"urls": [LOOPBACK_URL_PATTERN], "services": []}
    assert config["stepfunctions"] == {"execute_state_machine": True}
    assert config["core"]["reset_boto3_session"] is True
