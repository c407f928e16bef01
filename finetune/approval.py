"""What `finetune approve` and `finetune reject` share: find the run's wait for approval and answer it.

The workflow's `Request approval` state stores its task token in `runs/<run>/<execution>/approval/request.json`
in the artifacts bucket (pipeline_core.approval). Deciding reads it, names the caller (sts:GetCallerIdentity) and
sends SendTaskSuccess with {decision, decided_by, decided_at, reason}; `Record approval` puts that in the report
and Promote in the promotion record. A rejection is a SendTaskSuccess too: the workflow routes it to cleanup.
The approver needs states:SendTaskSuccess on the state machine, s3:GetObject on the request and kms:Decrypt on
the pipeline's key (README, "Approving a promotion").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from finetune.operator import Aws, OperatorError, call, describe, find_execution, run_of
from pipeline_core import contracts
from pipeline_core.approval import APPROVAL_REQUEST, APPROVE, MAX_REASON_CHARS, REJECT

_EXIT_FAILED = 1
# SendTaskSuccess's answers for a token whose wait is over (answered, timed out, or its execution ended).
_GONE = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


@dataclass(frozen=True)
class Decided:
    run: str
    execution: str
    decision: str
    decided_by: str
    decided_at: str
    reason: str


def decide(
    aws: Aws, *, state_machine_arn: str, artifacts_bucket: str, ref: str, decision: str, reason: str = ""
) -> Decided:
    """Answer the wait for approval of run (or execution) ``ref``.

    OperatorError exit 2 for an unknown run; exit 1 when it is not waiting for approval (ended, not yet at the
    gate, already decided, timed out).
    """
    from botocore.exceptions import ClientError

    if decision not in (APPROVE, REJECT):
        raise OperatorError(f"decision must be {APPROVE} or {REJECT}, got {decision!r}")
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON_CHARS:
        raise OperatorError(f"--reason is {len(reason)} characters: at most {MAX_REASON_CHARS}")
    arn = find_execution(aws, state_machine_arn, ref)
    description = describe(aws, arn)
    run, name = run_of(description), str(description["name"])
    if description["status"] != "RUNNING":
        raise OperatorError(
            f"run {run}: execution {name} is {description['status']}, not waiting for approval", _EXIT_FAILED
        )
    key = contracts.run_prefix(run, name) + APPROVAL_REQUEST
    try:
        response = call(
            f"reading s3://{artifacts_bucket}/{key}",
            aws.client("s3").get_object,
            let_through=("NoSuchKey",),
            Bucket=artifacts_bucket,
            Key=key,
        )
    except ClientError:
        raise OperatorError(
            f"run {run}: execution {name} is not waiting for approval (no request at s3://{artifacts_bucket}/{key}; "
            f"`finetune status {name}` shows where it is)",
            _EXIT_FAILED,
        ) from None
    request: dict[str, Any] = json.loads(response["Body"].read())
    if request.get("execution_arn") != arn or not request.get("task_token"):
        raise OperatorError(f"run {run}: the approval request names another execution; not answered", _EXIT_FAILED)
    identity = call("finding who you are (sts:GetCallerIdentity)", aws.client("sts").get_caller_identity)
    decided_by = str(identity["Arn"])
    decided_at = datetime.now(UTC).isoformat(timespec="seconds")
    output = {"decision": decision, "decided_by": decided_by, "decided_at": decided_at, "reason": reason}
    try:
        call(
            "sending the decision (states:SendTaskSuccess)",
            aws.client("stepfunctions").send_task_success,
            let_through=_GONE,
            taskToken=str(request["task_token"]),
            output=json.dumps(output),
        )
    except ClientError:
        raise OperatorError(
            f"run {run}: execution {name} is no longer waiting for approval (decided already, or timed out)",
            _EXIT_FAILED,
        ) from None
    return Decided(run, name, decision, decided_by, decided_at, reason)
