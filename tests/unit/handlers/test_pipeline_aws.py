"""The shared AWS helpers: transient-error mapping, JSON log lines, SSE-KMS writes, injectable clients."""

from __future__ import annotations

import io
import json
import logging

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from handler_fixtures import ARTIFACTS, load_handler

from pipeline_aws import logs
from pipeline_aws.clients import CLIENTS, Clients
from pipeline_aws.errors import TransientServiceError, retryable, transient_errors
from pipeline_aws.s3 import head, put_json, read_json, split_uri
from pipeline_core.training_metrics import check_threshold, final_loss, pick_metrics_keys, read_metrics


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Operation"
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("TooManyRequestsException", 429),
        ("ServiceUnavailable", 503),
        ("InternalServerException", 500),
        ("AnythingElse", 502),
        # StartExecution with a customer-managed key, and the account's open-execution quota.
        ("KmsThrottlingException", 400),
        ("ExecutionLimitExceeded", 400),
        # DynamoDB (the admission queue, Promote's lock): throttling and a write racing a transaction.
        ("ProvisionedThroughputExceededException", 400),
        ("RequestLimitExceeded", 400),
        ("TransactionConflictException", 400),
    ],
)
def test_throttling_and_5xx_become_transient(code: str, status: int) -> None:
    with pytest.raises(TransientServiceError) as err, transient_errors():
        raise client_error(code, status)
    assert isinstance(err.value.__cause__, ClientError)


def test_connection_failures_become_transient() -> None:
    @retryable
    def call() -> None:
        raise EndpointConnectionError(endpoint_url="https://bedrock.us-west-2.amazonaws.com")

    with pytest.raises(TransientServiceError):
        call()


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AccessDeniedException", 403),
        ("ValidationException", 400),
        ("ConditionalCheckFailedException", 400),
        ("TransactionCanceledException", 400),
        ("KmsAccessDeniedException", 400),
    ],
)
def test_client_errors_pass_through_unchanged(code: str, status: int) -> None:
    with pytest.raises(ClientError, match=code), transient_errors():
        raise client_error(code, status)


def test_log_lines_are_json_with_bound_run_and_execution() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter())
    logger = logging.getLogger("test-json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logs.bind(run="demo", execution="demo-1")
    logs.log(logger, "hello", count=3, name="shadows a LogRecord attribute")
    logs.bind()
    line = json.loads(stream.getvalue().strip())
    assert line["message"] == "hello" and line["level"] == "INFO"
    assert line["run"] == "demo" and line["execution"] == "demo-1" and line["count"] == 3
    assert line["name_"] == "shadows a LogRecord attribute"


def test_put_json_uses_sse_kms_with_the_pipeline_key(buckets: object, kms_key: str) -> None:
    uri = put_json(ARTIFACTS, "runs/x/e/report.json", {"a": 1})
    assert uri == f"s3://{ARTIFACTS}/runs/x/e/report.json"
    found = head(*split_uri(uri))
    assert found is not None
    assert found["ServerSideEncryption"] == "aws:kms" and found["SSEKMSKeyId"] == kms_key
    assert read_json(ARTIFACTS, "runs/x/e/report.json") == {"a": 1}
    assert head(ARTIFACTS, "missing") is None


def test_clients_are_created_once_and_replaceable(aws_env: None) -> None:
    holder = Clients()
    assert holder.s3 is holder.s3
    fake = boto3.client("s3")
    CLIENTS.set("s3", fake)
    assert CLIENTS.s3 is fake


@pytest.mark.parametrize("service", ["ssm", "dynamodb", "bedrock", "s3", "stepfunctions", "sns"])
def test_clients_fail_a_hung_call_in_seconds_not_botocores_minute(aws_env: None, service: str) -> None:
    """A Lambda timeout is not retried (Promote's would send a published run to its cleanup): every shared client
    bounds connecting and each read well under a function's time, and keeps botocore's retries."""
    from pipeline_aws import clients

    config = Clients().get(service).meta.config
    assert (config.connect_timeout, config.read_timeout) == (10, 30)
    assert (clients.CONNECT_TIMEOUT_SECONDS, clients.READ_TIMEOUT_SECONDS) == (10, 30)
    assert config.retries["mode"] == "standard"
    # Three attempts of a hung call stay inside the time Promote keeps after its lock wait.
    attempts = 3
    assert attempts * (config.connect_timeout + config.read_timeout) < load_handler("promote").PROMOTE_BUDGET_SECONDS


def test_training_metrics_final_row_and_threshold() -> None:
    text = "step_number,epoch_number,training_loss,perplexity\n5,0,1.5,4\n1,1,1.0,3\n,,,\n"
    assert final_loss(text, "training_loss") == (1.0, 2)
    metrics = read_metrics(text, None)
    assert check_threshold(metrics, 2.0) == (
        False,
        "no validation loss was reported, so the threshold 2 cannot be checked",
    )
    assert pick_metrics_keys(["a/training_artifacts/step_wise_training_metrics.csv", "a/other.csv"]) == {
        "training": "a/training_artifacts/step_wise_training_metrics.csv"
    }
