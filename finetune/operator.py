"""What the operator commands (submit, status, report, runs) share: AWS access, discovery of the deployed
pipeline from its stack outputs, and reading executions and their histories.

Every problem a user can fix (no such stack, execution or file, no credentials) is raised as
:class:`OperatorError` and printed as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline_core import contracts

DEFAULT_STACK_PREFIX = "Finetune"
# Stack outputs the data plane and pipeline stacks publish (stacks/data_plane_stack.py, stacks/pipeline_stack.py).
OUTPUT_DATA_BUCKET = "DataBucketName"
OUTPUT_ARTIFACTS_BUCKET = "ArtifactsBucketName"
OUTPUT_KEY_ARN = "PipelineKeyArn"
OUTPUT_STATE_MACHINE = "StateMachineArn"
_OUTPUTS = {
    "data_bucket": ("DataPlane", OUTPUT_DATA_BUCKET, "--data-bucket"),
    "artifacts_bucket": ("DataPlane", OUTPUT_ARTIFACTS_BUCKET, "--artifacts-bucket"),
    "key_arn": ("DataPlane", OUTPUT_KEY_ARN, "--kms-key"),
    "state_machine_arn": ("Pipeline", OUTPUT_STATE_MACHINE, "--state-machine"),
}
# contracts.execution_name appends "-" and 16 hex digits of the upload's fingerprint to the run name.
_EXECUTION_SUFFIX = re.compile(r"-[0-9a-f]{16}$")

EXIT_CODES_HELP = (
    "Exit codes: 0 ok (for status and report: the run promoted or is still running), 1 the run failed or was "
    "rejected (or, for submit, no execution started in time), 2 usage error or not found (stack, file, execution)."
)


class OperatorError(Exception):
    """A problem the user can fix: a bad argument, or a stack, file, execution or credential not found."""


@dataclass(frozen=True)
class Pipeline:
    """Where a deployed pipeline lives; only the fields a command asked for are filled in."""

    data_bucket: str = ""
    artifacts_bucket: str = ""
    key_arn: str = ""
    state_machine_arn: str = ""


@dataclass
class Aws:
    """One boto3 session and its clients, created once per command; tests replace clients with `set`."""

    session: Any
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    def client(self, service: str) -> Any:
        if service not in self._clients:
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
    }
    for resource in resources:
        flag = _OUTPUTS[resource][2]
        group.add_argument(flag, dest=resource, metavar="NAME" if "bucket" in resource else "ARN", help=helps[resource])


def connect(args: argparse.Namespace) -> Aws:
    """A session from the standard credential chain, honouring --profile and --region."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
    except ProfileNotFound as err:
        raise OperatorError(str(err)) from None
    if not session.region_name:
        raise OperatorError("no AWS Region configured: pass --region (the pipeline's default is us-west-2)")
    return Aws(session)


def call(description: str, fn: Any, /, **kwargs: Any) -> Any:
    """Call an AWS API, turning missing credentials and access errors into one-line OperatorErrors."""
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    try:
        return fn(**kwargs)
    except (NoCredentialsError, NoRegionError) as err:
        raise OperatorError(f"{description}: {err} (configure AWS credentials, or pass --profile)") from None
    except ClientError as err:
        error = err.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", str(err))
        if code in ("AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "ExpiredToken"):
            raise OperatorError(f"{description}: {code}: {message}") from None
        raise


def stack_outputs(aws: Aws, stack_name: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        response = call(
            f"reading stack {stack_name}", aws.client("cloudformation").describe_stacks, StackName=stack_name
        )
    except ClientError as err:
        if "does not exist" in str(err):
            raise OperatorError(
                f"stack {stack_name} not found in {aws.region}: deploy the pipeline, or pass --stack-prefix, "
                "--region or the resource flags"
            ) from None
        raise
    stacks = response.get("Stacks", [])
    outputs = stacks[0].get("Outputs", []) if stacks else []
    return {str(o["OutputKey"]): str(o["OutputValue"]) for o in outputs}


def discover(aws: Aws, args: argparse.Namespace, *resources: str) -> Pipeline:
    """The resources a command needs: from explicit flags, else from the stacks' outputs (one call per stack)."""
    values: dict[str, str] = {}
    outputs: dict[str, dict[str, str]] = {}
    for resource in resources:
        explicit = getattr(args, resource, None)
        if explicit:
            values[resource] = explicit
            continue
        suffix, output, flag = _OUTPUTS[resource]
        stack = f"{args.stack_prefix}{suffix}"
        if stack not in outputs:
            outputs[stack] = stack_outputs(aws, stack)
        if output not in outputs[stack]:
            raise OperatorError(f"stack {stack} has no output {output}: pass {flag}")
        values[resource] = outputs[stack][output]
    return Pipeline(**values)


# ---- executions ------------------------------------------------------------------------------------------------
def execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:...:stateMachine:<machine> + name -> arn:...:execution:<machine>:<name>."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


def run_name_of(execution_name: str) -> str:
    return _EXECUTION_SUFFIX.sub("", execution_name)


def describe(aws: Aws, arn: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    try:
        result: dict[str, Any] = call(
            "describing the execution", aws.client("stepfunctions").describe_execution, executionArn=arn
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "InvalidArn"):
            raise OperatorError(f"no such execution: {arn}") from None
        raise
    return result


def executions(aws: Aws, state_machine_arn: str, *, limit: int = 1000) -> Iterator[dict[str, Any]]:
    """The state machine's executions, newest first (Step Functions lists them that way), at most ``limit``."""
    client = aws.client("stepfunctions")
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": min(limit, 1000)}
    count = 0
    while True:
        page = call("listing executions", client.list_executions, **kwargs)
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
        try:
            arn = execution_arn(state_machine_arn, ref)
            call("describing the execution", aws.client("stepfunctions").describe_execution, executionArn=arn)
            return arn
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("ExecutionDoesNotExist", "InvalidArn", "InvalidName"):
                raise
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
            "InvalidDataset": "invalid dataset",
            "InvalidManifest": "invalid run.json",
        }.get(error, f"failed ({error})" if error else "failed")
    return status.lower().replace("_", " ")


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
