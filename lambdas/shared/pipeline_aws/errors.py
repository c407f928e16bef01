"""The errors handlers raise for the state machine to route on, and the mapping of retryable AWS failures.

Lambda reports an unhandled exception's class name as the error type, and the workflow's Retry/Catch match on
that name, so each class name here equals a constant in `pipeline_core.contracts`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from pipeline_core import contracts
from pipeline_core.quotas import QUOTA_ERROR_CODES, quota_message

P = ParamSpec("P")
R = TypeVar("R")

# Throttling and server-side faults are worth retrying with backoff; everything else is a real failure.
# Bedrock's error shapes: ThrottlingException, InternalServerException (botocore bedrock service model);
# S3/SSM/CloudWatch use SlowDown/ServiceUnavailable/Throttling, Step Functions uses ThrottlingException.
# StartExecution also returns KmsThrottlingException (a customer-managed key throttled) and ExecutionLimitExceeded
# (the account's open-execution quota, freed as executions end) (botocore stepfunctions service model,
# docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html, read 2026-12-01). DynamoDB (the
# admission queue, Promote's lock) throttles with ProvisionedThroughputExceededException and RequestLimitExceeded,
# and refuses a write that races an ongoing transaction with TransactionConflictException
# (docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html, read 2026-12-01).
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerException",
        "InternalServerError",
        "InternalFailure",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "KmsThrottlingException",
        "ExecutionLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflictException",
    }
)
# Connection failures, including a response body that broke off mid-stream (a long S3 read).
_NETWORK_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
    ResponseStreamingError,
    IncompleteReadError,
)


class TransientServiceError(Exception):
    """An AWS API throttled or failed on its side; the workflow retries it with backoff (contracts.ERROR_TRANSIENT)."""


class QuotaExceeded(Exception):
    """A creating call met a Bedrock quota or was throttled; the workflow waits it out (contracts.ERROR_QUOTA)."""


class ThroughputNotReady(Exception):
    """Provisioned Throughput stayed in Creating past its limit (contracts.ERROR_THROUGHPUT_TIMEOUT)."""


class DeploymentNotReady(Exception):
    """A custom model deployment stayed in Creating past its limit (contracts.ERROR_DEPLOYMENT_TIMEOUT)."""


class TrainingTimedOut(Exception):
    """The customization job ran longer than the run allows (contracts.ERROR_TRAINING_TIMEOUT)."""


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def is_transient(err: BaseException) -> bool:
    if isinstance(err, _NETWORK_ERRORS):
        return True
    if isinstance(err, ClientError):
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return error_code(err) in TRANSIENT_CODES or status >= 500
    return False


@contextmanager
def transient_errors() -> Iterator[None]:
    """Re-raise throttling, 5xx and connection failures as TransientServiceError; anything else unchanged."""
    try:
        yield
    except (ClientError, *_NETWORK_ERRORS) as err:
        if is_transient(err):
            raise TransientServiceError(f"{type(err).__name__}: {err}") from err
        raise


def retryable(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of `transient_errors`, for handlers and helpers that call AWS."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with transient_errors():
            return fn(*args, **kwargs)

    return wrapper


@contextmanager
def quota_errors(operation: str) -> Iterator[None]:
    """Around a creating Bedrock call: a quota or throttling refusal becomes QuotaExceeded, whose message names the
    quota and its code (pipeline_core.quotas); other transient failures become TransientServiceError as usual."""
    with transient_errors():
        try:
            yield
        except ClientError as err:
            code = error_code(err)
            if code in QUOTA_ERROR_CODES:
                detail = str(err.response.get("Error", {}).get("Message") or code)
                region = os.environ.get("AWS_REGION", "us-west-2")
                wait = float(os.environ.get(contracts.ENV_QUOTA_WAIT_MINUTES) or 0)
                raise QuotaExceeded(quota_message(operation, code, detail, region, wait)) from err
            raise


def is_code(err: Any, *codes: str) -> bool:
    """True when `err` is a ClientError with one of `codes`."""
    return isinstance(err, ClientError) and error_code(err) in codes
