"""Shared fixtures for the handler tests: a moto account, a stubbed Bedrock client, the Resolve run environment."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from handler_fixtures import ACCOUNT, ARTIFACTS, DATA, DEFAULTS, PROMOTION_PARAMETER, REGION, load_handler
from moto import mock_aws

from pipeline_aws.clients import CLIENTS
from pipeline_core import contracts


@pytest.fixture
def handler_module() -> Callable[[str], ModuleType]:
    loader: Callable[[str], ModuleType] = load_handler
    return loader


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A moto account in us-west-2 with fresh clients; tests set the env vars their handler reads."""
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    CLIENTS.reset()
    with mock_aws():
        yield
    CLIENTS.reset()


@pytest.fixture
def kms_key(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    key_id: str = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    monkeypatch.setenv(contracts.ENV_KMS_KEY_ARN, key_id)
    return key_id


@pytest.fixture
def buckets(aws_env: None) -> Any:
    s3 = boto3.client("s3")
    for bucket in (DATA, ARTIFACTS):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3


@pytest.fixture
def bedrock(aws_env: None) -> Iterator[Stubber]:
    """A Bedrock client whose every call must be queued on the Stubber (moto lacks Provisioned Throughput)."""
    client = boto3.client("bedrock", region_name=REGION)
    stubber = Stubber(client)
    stubber.activate()
    CLIENTS.set("bedrock", client)
    yield stubber
    stubber.assert_no_pending_responses()
    stubber.deactivate()


@pytest.fixture
def defaults_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv(contracts.ENV_DEFAULTS, json.dumps(DEFAULTS))
    monkeypatch.setenv(contracts.ENV_DATA_BUCKET, DATA)
    monkeypatch.setenv(contracts.ENV_ARTIFACTS_BUCKET, ARTIFACTS)
    monkeypatch.setenv(contracts.ENV_PROMOTION_PARAMETER, PROMOTION_PARAMETER)  # Resolve run reads the champion
    return dict(DEFAULTS)


ADMISSION_TABLE = "admission"


def create_admission_table(name: str = ADMISSION_TABLE) -> str:
    """The admission queue table as stacks/admission.py declares it (pk/sk strings)."""
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


@pytest.fixture
def admission_table(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The queue table, named in the trigger's and dispatcher's environment, with two run slots."""
    monkeypatch.setenv(contracts.ENV_ADMISSION_TABLE, create_admission_table())
    monkeypatch.setenv(contracts.ENV_MAX_CONCURRENT_RUNS, "2")
    return ADMISSION_TABLE


@pytest.fixture
def state_machine(aws_env: None, buckets: Any, admission_table: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty state machine, named in the trigger's and dispatcher's environment, over the queue table."""
    arn: str = boto3.client("stepfunctions").create_state_machine(
        name="finetune",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    monkeypatch.setenv(contracts.ENV_STATE_MACHINE_ARN, arn)
    return arn
