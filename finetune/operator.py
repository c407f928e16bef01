"""What the operator commands (submit, status, report, runs) share: AWS access, discovery of the deployed
pipeline from its stack outputs, and reading executions and their histories.

Every problem a user can fix (no such stack, execution or file, no credentials) is raised as
:class:`OperatorError` and printed as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline_core import contracts
from pipeline_core.explain import NOTICE_REPORT, sentence

DEFAULT_STACK_PREFIX = "Finetune"
# Stack outputs the data plane and pipeline stacks publish (stacks/data_plane_stack.py, stacks/pipeline_stack.py).
OUTPUT_DATA_BUCKET = "DataBucketName"
OUTPUT_ARTIFACTS_BUCKET = "ArtifactsBucketName"
OUTPUT_KEY_ARN = "PipelineKeyArn"
OUTPUT_STATE_MACHINE = "StateMachineArn"
OUTPUT_ADMISSION_TABLE = "AdmissionQueueTableName"
_OUTPUTS = {
    "data_bucket": ("DataPlane", OUTPUT_DATA_BUCKET, "--data-bucket"),
    "artifacts_bucket": ("DataPlane", OUTPUT_ARTIFACTS_BUCKET, "--artifacts-bucket"),
    "key_arn": ("DataPlane", OUTPUT_KEY_ARN, "--kms-key"),
    "state_machine_arn": ("Pipeline", OUTPUT_STATE_MACHINE, "--state-machine"),
    "admission_table": ("Pipeline", OUTPUT_ADMISSION_TABLE, "--queue-table"),
}
# contracts.execution_name appends "-" and 16 hex digits of the upload's fingerprint to the run name.
_EXECUTION_SUFFIX = re.compile(r"-[0-9a-f]{16}$")

EXIT_CODES_HELP = (
    "Exit codes: 0 ok (for status and report: the run promoted or is still running), 1 the run failed or was "
    "rejected (for submit: no execution started in time), or AWS could not complete a call (throttled, "
    "unavailable, timed out: try again), 2 usage error, not found (stack, file, execution), or AWS refused "
    "the credentials or the permission, 130 interrupted (Ctrl-C)."
)
# The exit codes an OperatorError carries (the same as finetune.cli's, which imports this module lazily).
_EXIT_FAILED = 1
_EXIT_USAGE = 2
# Packages whose exceptions are AWS call failures: boto3's S3 transfers raise s3transfer's (and awscrt's).
_AWS_PACKAGES = frozenset({"botocore", "boto3", "s3transfer", "awscrt"})
# An AWS message is a sentence or two; anything longer is cut so the error stays one readable line.
_MAX_DETAIL_CHARS = 400


class OperatorError(Exception):
    """A problem the user can fix (exit 2), or an AWS call that did not complete (exit 1); one line."""

    def __init__(self, message: str, exit_code: int = _EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def is_aws_error(err: BaseException) -> bool:
    """True for any exception botocore, boto3 or their transfer libraries raise (judged by module, no import)."""
    return any(kind.__module__.split(".")[0] in _AWS_PACKAGES for kind in type(err).__mro__)


def _one_line(text: object) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= _MAX_DETAIL_CHARS else line[: _MAX_DETAIL_CHARS - 3] + "..."


def error_code(err: BaseException) -> str:
    """The AWS error code of a ClientError (``NoSuchBucket``, ``AccessDenied``...), else ""."""
    response = getattr(err, "response", None)
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    return str(error.get("Code") or "") if isinstance(error, dict) else ""


def _unwrap(err: BaseException) -> BaseException:
    """The AWS error inside a transfer failure: S3UploadFailedError wraps the ClientError it was raised from."""
    seen: set[int] = set()
    while id(err) not in seen and type(err).__name__ in (
        "S3UploadFailedError",
        "S3DownloadFailedError",
        "RetriesExceededError",
    ):
        seen.add(id(err))
        inner = getattr(err, "last_exception", None) or err.__cause__ or err.__context__
        if inner is None or not is_aws_error(inner):
            break
        err = inner
    return err


# botocore's exceptions for credentials that exist but could not be refreshed (SSO, a credential process).
EXPIRED_CREDENTIAL_KINDS = frozenset(
    {"CredentialRetrievalError", "TokenRetrievalError", "SSOError", "SSOTokenLoadError", "UnauthorizedSSOTokenError"}
)
CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidToken",
        "AuthFailure",
        "MissingAuthenticationToken",
    }
)
_THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "SlowDown", "RequestLimitExceeded", "ProvisionedThroughputExceededException"}
)
_SERVICE_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceFailure",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_HINT_CREDENTIALS = "configure AWS credentials (`aws configure` or `aws sso login`), or pass --profile"
_HINT_REFRESH = "AWS refused the credentials: refresh them (`aws sso login`, new keys) or pass --profile"
_HINT_KMS = (
    "the KMS key refused your identity: its key policy must allow kms:GenerateDataKey (to upload) and "
    "kms:Decrypt (to read); check that it is the pipeline's key"
)
_HINT_DENIED = "your identity lacks this permission: ask for it, or pass --profile for one that has it"
_HINT_THROTTLED = "AWS throttled the call after retries: try again in a minute"
_HINT_SERVICE = "AWS could not complete the call: try again"
_HINT_NOT_FOUND = "check the name, --region and --stack-prefix (or the resource flags)"
_HINT_INVALID = "check the value given"


def _client_error(err: BaseException, hint: str) -> tuple[str, str, int]:
    response = getattr(err, "response", {}) or {}
    error = response.get("Error", {}) or {}
    code = str(error.get("Code") or "Error")
    message = str(error.get("Message") or "") or str(err)
    status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    detail = f"{code}: {message}" if message != code else code
    if code in CREDENTIAL_CODES:
        return detail, _HINT_REFRESH, _EXIT_USAGE
    if code.startswith(("KMS", "Kms")) or "kms:" in message.lower():
        return detail, _HINT_KMS, _EXIT_USAGE
    if "AccessDenied" in code or code in ("Forbidden", "AuthorizationError", "AllAccessDisabled") or status == 403:
        return detail, _HINT_DENIED, _EXIT_USAGE
    if "Throttl" in code or code in _THROTTLING_CODES or status == 429:
        return detail, _HINT_THROTTLED, _EXIT_FAILED
    if code in _SERVICE_CODES or status >= 500:
        return detail, _HINT_SERVICE, _EXIT_FAILED
    lowered = message.lower()
    if "NotFound" in code or code.startswith("NoSuch") or "DoesNotExist" in code or status == 404:
        return detail, hint or _HINT_NOT_FOUND, _EXIT_USAGE
    if "does not exist" in lowered or "not found" in lowered:
        return detail, hint or _HINT_NOT_FOUND, _EXIT_USAGE
    return detail, hint or _HINT_INVALID, _EXIT_USAGE


def aws_failure(err: BaseException, doing: str, hint: str = "") -> OperatorError | None:
    """One line for any AWS failure: what was being done, what AWS said, what to do; None if not an AWS error.

    Exit 2 when the user must change something (credentials, Region, profile, permission, key, name, value);
    exit 1 when AWS did not complete a valid call (throttled, unavailable, timed out) and a retry may succeed.
    ``hint`` replaces the generic advice for a name not found or a value refused.
    """
    if not is_aws_error(err):
        return None
    err = _unwrap(err)
    kind = type(err).__name__
    text = _one_line(err)
    if hasattr(err, "response") and isinstance(getattr(err, "response", None), dict):
        detail, advice, code = _client_error(err, hint)
    elif kind in ("NoCredentialsError", "PartialCredentialsError"):
        detail, advice, code = text, _HINT_CREDENTIALS, _EXIT_USAGE
    elif kind in EXPIRED_CREDENTIAL_KINDS:
        detail, advice, code = text, _HINT_REFRESH, _EXIT_USAGE
    elif kind == "NoRegionError":
        detail, advice, code = text, "pass --region (the pipeline's default is us-west-2)", _EXIT_USAGE
    elif kind == "ProfileNotFound":
        detail, advice, code = text, "check --profile or AWS_PROFILE against ~/.aws/config", _EXIT_USAGE
    elif kind == "ParamValidationError":
        detail, advice, code = text, hint or _HINT_INVALID, _EXIT_USAGE
    elif kind in ("ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"):
        detail, advice, code = text, "check your network and try again", _EXIT_FAILED
    elif kind in ("EndpointConnectionError", "ProxyConnectionError", "SSLError"):
        detail, advice, code = text, "check --region, AWS_ENDPOINT_URL and your network", _EXIT_USAGE
    else:
        detail, advice, code = f"{kind}: {text}", _HINT_SERVICE, _EXIT_FAILED
    return OperatorError(f"{doing}: {_one_line(detail)}; {advice}", code)


@contextmanager
def aws_step(doing: str, *, let_through: Collection[str] = (), hint: str = "") -> Iterator[None]:
    """Turn any AWS failure inside the block into a one-line OperatorError naming ``doing``.

    ClientErrors whose code is in ``let_through`` are re-raised unchanged, for callers that expect them (an
    execution that does not exist yet, a report not written yet).
    """
    try:
        yield
    except Exception as err:
        if let_through and error_code(err) in let_through:
            raise
        failure = aws_failure(err, doing, hint)
        if failure is None:
            raise
        raise failure from None


@dataclass(frozen=True)
class Pipeline:
    """Where a deployed pipeline lives; only the fields a command asked for are filled in."""

    data_bucket: str = ""
    artifacts_bucket: str = ""
    key_arn: str = ""
    state_machine_arn: str = ""
    #: The admission queue table; "" for a pipeline deployed before admission control (nothing queues there).
    admission_table: str = ""


@dataclass
class Aws:
    """One boto3 session and its clients, created once per command; tests replace clients with `set`."""

    session: Any
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    def client(self, service: str) -> Any:
        """The one client of ``service``: every AWS call of the commands goes through a client made here."""
        if service not in self._clients:
            with aws_step(f"creating the {service} client"):
                self._clients[service] = self.session.client(service)
        return self._clients[service]

    def set(self, service: str, client: Any) -> None:
        self._clients[service] = client


def add_aws_arguments(parser: argparse.ArgumentParser, *resources: str) -> None:
    """--region/--profile/--stack-prefix, plus an explicit override flag for each resource a command needs."""
    group = parser.add_argument_group("where the pipeline is (default: read from the deployed stacks' outputs)")
    group.add_argument("--region", help="AWS Region (default: your AWS configuration)")
    group.add_argument("--profile", help="AWS named profile (default: the standard credential chain)")
    group.add_argument(
        "--stack-prefix",
        default=DEFAULT_STACK_PREFIX,
        metavar="PREFIX",
        help=f"stacks are PREFIXDataPlane and PREFIXPipeline (default {DEFAULT_STACK_PREFIX})",
    )
    helps = {
        "data_bucket": "the data bucket (default: output DataBucketName)",
        "artifacts_bucket": "the artifacts bucket (default: output ArtifactsBucketName)",
        "key_arn": "the pipeline's KMS key ARN (default: output PipelineKeyArn)",
        "state_machine_arn": "the state machine ARN (default: output StateMachineArn)",
        "admission_table": "the table queued runs wait in (default: output AdmissionQueueTableName)",
    }
    for resource in resources:
        flag = _OUTPUTS[resource][2]
        metavar = "ARN" if resource.endswith("_arn") else "NAME"
        group.add_argument(flag, dest=resource, metavar=metavar, help=helps[resource])


def connect(args: argparse.Namespace) -> Aws:
    """A session from the standard credential chain, honouring --profile and --region."""
    import boto3

    with aws_step("opening an AWS session"):
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
    if not session.region_name:
        raise OperatorError("no AWS Region configured: pass --region (the pipeline's default is us-west-2)")
    return Aws(session)


def call(description: str, fn: Any, /, *, let_through: Collection[str] = (), hint: str = "", **kwargs: Any) -> Any:
    """Call an AWS API; any failure becomes a one-line OperatorError (see `aws_step`)."""
    with aws_step(description, let_through=let_through, hint=hint):
        return fn(**kwargs)


def stack_outputs(aws: Aws, stack_name: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        response = call(
            f"reading stack {stack_name}",
            aws.client("cloudformation").describe_stacks,
            let_through=("ValidationError",),
            StackName=stack_name,
        )
    except ClientError as err:
        if "does not exist" in str(err):
            raise OperatorError(
                f"stack {stack_name} not found in {aws.region}: deploy the pipeline, or pass --stack-prefix, "
                "--region or the resource flags"
            ) from None
        raise aws_failure(err, f"reading stack {stack_name}") or err from None
    stacks = response.get("Stacks", [])
    outputs = stacks[0].get("Outputs", []) if stacks else []
    return {str(o["OutputKey"]): str(o["OutputValue"]) for o in outputs}


def discover(aws: Aws, args: argparse.Namespace, *resources: str, optional: Collection[str] = ()) -> Pipeline:
    """The resources a command needs: from explicit flags, else from the stacks' outputs (one call per stack).

    A resource in ``optional`` is read only from a stack already read for the others (so explicit flags still mean
    no DescribeStacks call), and left "" when its output is missing (a stack deployed before it existed).
    """
    values: dict[str, str] = {}
    outputs: dict[str, dict[str, str]] = {}
    for resource in (*resources, *optional):
        explicit = getattr(args, resource, None)
        if explicit:
            values[resource] = explicit
            continue
        suffix, output, flag = _OUTPUTS[resource]
        stack = f"{args.stack_prefix}{suffix}"
        if resource in optional and stack not in outputs:
            continue
        if stack not in outputs:
            outputs[stack] = stack_outputs(aws, stack)
        if output not in outputs[stack]:
            if resource in optional:
                continue
            raise OperatorError(f"stack {stack} has no output {output}: pass {flag}")
        values[resource] = outputs[stack][output]
    return Pipeline(**values)


# ---- executions ------------------------------------------------------------------------------------------------
_NO_EXECUTION = ("ExecutionDoesNotExist", "InvalidArn", "InvalidName")
_STATE_MACHINE_HINT = "check --state-machine (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME) and --region"


def execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:...:stateMachine:<machine> + name -> arn:...:execution:<machine>:<name>."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


def run_name_of(execution_name: str) -> str:
    return _EXECUTION_SUFFIX.sub("", execution_name)


def describe(aws: Aws, arn: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    client = aws.client("stepfunctions")
    try:
        result: dict[str, Any] = call(
            "describing the execution", client.describe_execution, let_through=_NO_EXECUTION, executionArn=arn
        )
    except ClientError:
        raise OperatorError(f"no such execution: {arn}") from None
    return result


def executions(aws: Aws, state_machine_arn: str, *, limit: int = 1000) -> Iterator[dict[str, Any]]:
    """The state machine's executions, newest first (Step Functions lists them that way), at most ``limit``."""
    client = aws.client("stepfunctions")
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": min(limit, 1000)}
    count = 0
    while True:
        page = call(
            f"listing the executions of {state_machine_arn}",
            client.list_executions,
            hint=_STATE_MACHINE_HINT,
            **kwargs,
        )
        items = sorted(page.get("executions", []), key=lambda e: e["startDate"], reverse=True)
        for item in items:
            yield item
            count += 1
            if count >= limit:
                return
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


def find_execution(aws: Aws, state_machine_arn: str, ref: str | None) -> str:
    """An execution ARN from an ARN, an execution name, or a run name (its newest execution); None: the newest."""
    from botocore.exceptions import ClientError

    if ref and ref.startswith("arn:"):
        describe(aws, ref)
        return ref
    if ref:
        client = aws.client("stepfunctions")
        try:
            arn = execution_arn(state_machine_arn, ref)
            call("describing the execution", client.describe_execution, let_through=_NO_EXECUTION, executionArn=arn)
            return arn
        except ClientError:
            pass  # not an execution name: look for a run of that name below
    for item in executions(aws, state_machine_arn):
        if ref is None or item["name"] == ref or run_name_of(str(item["name"])) == ref or item["name"].startswith(ref):
            return str(item["executionArn"])
    raise OperatorError(f"no execution named or starting with {ref!r}" if ref else "the pipeline has no executions yet")


def history(aws: Aws, arn: str) -> list[dict[str, Any]]:
    client = aws.client("stepfunctions")
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = call("reading the execution history", client.get_execution_history, **kwargs)
        events.extend(page.get("events", []))
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def verdict(description: Mapping[str, Any]) -> str:
    """A short word for how a run ended: promoted, rejected, invalid dataset, failed (<error>), running..."""
    status = str(description.get("status", "UNKNOWN"))
    if status == "RUNNING":
        return "running"
    if status == "SUCCEEDED":
        output = _json(description.get("output")) or {}
        if isinstance(output, dict) and output.get("promotion"):
            return "promoted"
        return str((output.get("evaluation") or {}).get("verdict", "succeeded")) if isinstance(output, dict) else "ok"
    if status == "FAILED":
        error = str(description.get("error") or "")
        return {
            "CandidateRejected": "rejected",
            "ApprovalRejected": "rejected",
            "InvalidDataset": "invalid dataset",
            "InvalidManifest": "invalid run.json",
        }.get(error, f"failed ({error})" if error else "failed")
    return status.lower().replace("_", " ")


def reason(description: Mapping[str, Any]) -> str:
    """Why a run ended as it did, in the sentence its notification carried ("" while running or once promoted).

    The workflow's Fail states already give that sentence as the cause; an execution that ended before they did
    (or was stopped by hand) may carry Lambda's JSON error, which this reads the same way.
    """
    if not failed(description):
        return ""
    error, cause = description.get("error"), description.get("cause")
    return sentence(str(error) if error else None, str(cause) if cause else None)


#: Where "Explain failure" puts {reason, report} in the state document (stacks/workflow.py NOTICE_PATH).
NOTICE_KEY = "notice"


def failure_report(events: list[dict[str, Any]]) -> str | None:
    """The report a failed run's notification named (``$.notice.report``): the validation report of a refused
    dataset, the evaluation report of a rejected candidate. Read from the execution history, the newest state
    that holds the notice (the Fail state's input); None when the run ended without one, e.g. before any report
    was written, or stopped by hand."""
    for event in reversed(events):
        entered, exited = event.get("stateEnteredEventDetails"), event.get("stateExitedEventDetails")
        document = _json(entered.get("input")) if isinstance(entered, Mapping) else None
        if document is None and isinstance(exited, Mapping):
            document = _json(exited.get("output"))
        notice = document.get(NOTICE_KEY) if isinstance(document, dict) else None
        if isinstance(notice, dict):
            report = notice.get(NOTICE_REPORT)
            return report if isinstance(report, str) and report.startswith("s3://") else None
    return None


def failed(description: Mapping[str, Any]) -> bool:
    return str(description.get("status")) in ("FAILED", "TIMED_OUT", "ABORTED")


def run_of(description: Mapping[str, Any]) -> str:
    """The run name from the execution input (``$.source.run_name``), else from the execution name."""
    source = (_json(description.get("input")) or {}).get("source", {})
    name = source.get("run_name") if isinstance(source, dict) else None
    return str(name) if name else run_name_of(str(description.get("name", "")))


def elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else str(value or "")


# ---- the admission queue ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueuedRun:
    """A run waiting in the admission queue for a slot (pipeline_aws.admission): no execution exists yet."""

    position: int
    of: int
    execution_name: str
    run_name: str
    arrived: datetime

    def describe(self) -> str:
        return f"position {self.position} of {self.of}"


def _partition(aws: Aws, table: str, pk: str, projection: str, **extra: Any) -> list[dict[str, Any]]:
    """Every item of one partition of the admission table, in key (arrival) order, page after page."""
    client = aws.client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ProjectionExpression": projection,
        **extra,
    }
    items: list[dict[str, Any]] = []
    while True:
        page = call(f"reading the admission queue {table}", client.query, hint="check --queue-table", **kwargs)
        items.extend(page.get("Items", []))
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _named(item: Mapping[str, Any]) -> tuple[str, str, datetime]:
    """A queue item's execution name, run name and arrival time."""
    from pipeline_core.admission import arrived_at

    name = str(item["execution_name"]["S"])
    run = str(item.get("run_name", {}).get("S") or run_name_of(name))
    return name, run, datetime.fromtimestamp(arrived_at(str(item["sk"]["S"])), tz=UTC)


def queued_runs(aws: Aws, table: str) -> list[QueuedRun]:
    """The waiting runs, oldest (next to start) first; [] when the pipeline has no queue table."""
    from pipeline_core.admission import QUEUE_PK

    if not table:
        return []
    items = _partition(aws, table, QUEUE_PK, "sk, execution_name, run_name", ConsistentRead=True)
    return [QueuedRun(index, len(items), *_named(item)) for index, item in enumerate(items, start=1)]


@dataclass(frozen=True)
class FailedStart:
    """A queued run StartExecution refused for good (pipeline_aws.admission): it left the queue with this error."""

    execution_name: str
    run_name: str
    arrived: datetime
    error: str


def failed_starts(aws: Aws, table: str) -> list[FailedStart]:
    """The runs that could not start, oldest first; [] when the pipeline has no queue table."""
    from pipeline_core.admission import FAILED_PK

    if not table:
        return []
    items = _partition(
        aws, table, FAILED_PK, "sk, execution_name, run_name, #error", ExpressionAttributeNames={"#error": "error"}
    )
    return [FailedStart(*_named(item), str(item.get("error", {}).get("S", ""))) for item in items]


def find_queued(runs: list[QueuedRun], ref: str | None) -> QueuedRun | None:
    """The queued run an execution name, run name or name prefix refers to (the newest of a run's); None: the
    newest arrival."""
    if ref is None:
        return runs[-1] if runs else None
    matches = [r for r in runs if ref in (r.execution_name, r.run_name) or r.execution_name.startswith(ref)]
    return matches[-1] if matches else None


# ---- history -> progress ---------------------------------------------------------------------------------------
@dataclass
class Progress:
    """What an execution's history says so far; ``feed`` returns the lines to print for new events."""

    started: datetime | None = None
    seen: int = 0
    states: dict[str, int] = field(default_factory=dict)
    current: str = ""
    job_status: str = ""

    def feed(self, events: list[dict[str, Any]]) -> list[str]:
        lines: list[str] = []
        for event in events[self.seen :]:
            kind = str(event.get("type", ""))
            stamp = event.get("timestamp")
            if kind == "ExecutionStarted" and isinstance(stamp, datetime):
                self.started = stamp
            offset = (
                elapsed((stamp - self.started).total_seconds())
                if isinstance(stamp, datetime) and self.started
                else "-:--:--"
            )
            if kind.endswith("StateEntered"):
                name = str(event.get("stateEnteredEventDetails", {}).get("name", "?"))
                self.current = name
                self.states[name] = self.states.get(name, 0) + 1
                # Polling loops re-enter their states every few minutes: print each state the first time only.
                if self.states[name] == 1:
                    lines.append(f"[{offset}] {name}")
            elif kind.endswith("StateExited"):
                document = _json(event.get("stateExitedEventDetails", {}).get("output"))
                job = document.get("job") if isinstance(document, dict) else None
                if isinstance(job, dict) and job.get("status") and job["status"] != self.job_status:
                    self.job_status = str(job["status"])
                    lines.append(f"[{offset}]   training job {job.get('job_name', '')}: {self.job_status}".rstrip())
            elif kind in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"):
                lines.append(f"[{offset}] {kind.removeprefix('Execution').lower()}")
        self.seen = len(events)
        return lines


def run_name_for(name: str) -> str:
    """A run name as the trigger derives it (contracts.run_name_from_key); OperatorError if nothing is left."""
    run = contracts.run_name_from_key(f"{contracts.INBOX_PREFIX}{name}.jsonl")
    if run is None:
        raise OperatorError(f"{name!r} gives an empty run name: pass --name with letters, digits or '-'")
    return run
