"""The champion run of the weaker-than-champion fault: a first run, promoted, before the rehearsal's own run.

Both runs go through the same local cloud: the same state machine, buckets, promotion parameter and stand-in. The
first is promoted (its custom model is tagged approved and its throughput, when kept, serves it), so the
rehearsal's own run meets a champion at Resolve run, and the stand-in makes that later model weaker than the
champion but better than base (standin/runtime.py). Its report then shows candidate, champion and base, and the
gate rejects it for losing to the champion.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from .progress import Progress

#: The fault that runs a champion first.
FAULT = "weaker-than-champion"


@dataclass(frozen=True)
class ChampionRun:
    """What the first run did: it must have been promoted for the second to meet a champion."""

    run_name: str
    execution_arn: str
    status: str


def run_champion(
    cloud: Any,
    data: bytes,
    *,
    run_name: str,
    region: str,
    account_id: str,
    progress: Progress,
    timeout_seconds: float,
) -> ChampionRun:
    """Upload ``data`` as ``inbox/<run_name>.jsonl``, deliver its event to the trigger and follow the execution to
    its end; RehearsalError unless it was promoted."""
    import boto3

    from .runner import STATUS_POLL_SECONDS, RehearsalError, _Follower, _s3_event, readable_cause

    s3, sfn = boto3.client("s3", region_name=region), boto3.client("stepfunctions", region_name=region)
    lambda_client = boto3.client("lambda", region_name=region)
    key = f"inbox/{run_name}.jsonl"
    s3.put_object(Bucket=cloud.data_bucket, Key=key, Body=data)
    event = _s3_event(cloud.data_bucket, key, s3.head_object(Bucket=cloud.data_bucket, Key=key), region)
    progress.step(f"Champion run: uploaded s3://{cloud.data_bucket}/{key}; it is promoted before this run starts")
    response = lambda_client.invoke(FunctionName=cloud.functions["trigger"].arn, Payload=json.dumps(event))
    payload = json.loads(response["Payload"].read())
    execution_arn = payload.get("execution_arn")
    if response.get("FunctionError") or not execution_arn:
        raise RehearsalError(f"the champion run did not start: {payload}")
    follower = _Follower(sfn, progress)
    deadline = time.monotonic() + timeout_seconds
    while True:
        follower.poll(execution_arn)
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            sfn.stop_execution(executionArn=execution_arn, error="RehearsalTimeout", cause="champion run timed out")
            raise RehearsalError(f"the champion run did not finish within {timeout_seconds:g} s")
        time.sleep(STATUS_POLL_SECONDS)
    follower.poll(execution_arn, force=True)
    if "dispatcher" in cloud.functions:  # its end frees its admission slot, as EventBridge's rule would deliver it
        from .admission import EndRelay

        EndRelay(sfn, lambda_client, cloud.functions["dispatcher"].arn, cloud.state_machine_arn, region,
                 account_id).poll()  # fmt: skip
    status = str(described["status"])
    if status != "SUCCEEDED":
        cause = readable_cause(described.get("cause"))
        raise RehearsalError(f"the champion run {run_name} was not promoted ({status}: {cause})")
    progress.step(f"Champion run {run_name} promoted: {execution_arn}")
    return ChampionRun(run_name, str(execution_arn), status)
