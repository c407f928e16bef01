"""The time limits that decide when something billed by the hour is deleted or stopped, exactly at, just below and
just above their value, with the clock fixed (no test depends on how long it takes to run).

- the janitor's time-to-live: a throughput older than it is deleted (`now - created > ttl`);
- Provisioned Throughput's maximum wait while Creating (`waited > max_wait_minutes` raises ThroughputNotReady);
- the training job's maximum hours (`hours > max_training_hours` stops the job and raises TrainingTimedOut).

Each test names the one-line bug it catches.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber
from handler_fixtures import ACCOUNT, HAIKU, load_handler, run_spec

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import ThroughputNotReady, TrainingTimedOut
from pipeline_core import contracts

janitor = load_handler("janitor")
throughput = load_handler("throughput")
train = load_handler("train")

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
RUN = run_spec()
PT_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/abcdefabcdef"
MODEL_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/abcdefabcdef"
JOB_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:model-customization-job/{HAIKU}/abcdefabcdef"
ONE_SECOND = timedelta(seconds=1)


# ---- janitor: time-to-live -------------------------------------------------------------------------------------
class RunningSfn:
    """Every execution is still running, so only the time-to-live can make a throughput overdue."""

    def describe_execution(self, executionArn: str) -> dict[str, str]:  # the boto3 keyword
        return {"status": "RUNNING"}


@pytest.mark.parametrize(
    ("age", "deleted"),
    [
        (timedelta(hours=24), False),  # exactly the time-to-live: not yet past it
        (timedelta(hours=24) - ONE_SECOND, False),
        (timedelta(hours=24) + ONE_SECOND, True),
    ],
)
def test_janitor_time_to_live_at_below_above(bedrock: Stubber, age: timedelta, deleted: bool) -> None:
    """Catches `now - created > ttl` turned into `<` (deleting every young throughput) or the ttl read in the wrong
    unit; the "at" case pins the documented "older than the time-to-live"."""
    CLIENTS.set("stepfunctions", RunningSfn())
    env = janitor.Environment(
        pipeline_name="finetune",
        ttl=timedelta(hours=24),
        namespace=contracts.METRIC_NAMESPACE,
        state_machine_arn=f"arn:aws:states:us-west-2:{ACCOUNT}:stateMachine:finetune",
        promotion_parameter="/finetune/promoted-model",
        base_model_id=HAIKU,
        lifecycle_warning_days=60,
    )
    summary = {
        "provisionedModelName": "pt",
        "provisionedModelArn": PT_ARN,
        "modelArn": MODEL_ARN,
        "desiredModelArn": MODEL_ARN,
        "foundationModelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}",
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "status": "InService",
        "creationTime": NOW - age,
        "lastModifiedTime": NOW - age,
    }
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [summary]}, None)
    tags = {contracts.TAG_PIPELINE: "finetune", contracts.TAG_EXECUTION: "live-exec"}
    bedrock.add_response("list_tags_for_resource", {"tags": [{"key": k, "value": v} for k, v in tags.items()]}, None)
    if deleted:
        bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    sweep = janitor.Sweep()
    janitor.sweep_throughputs(env, NOW, sweep)
    assert sweep.deleted == ([PT_ARN] if deleted else []) and sweep.overdue == int(deleted)


# ---- throughput: maximum wait while Creating ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("waited", "times_out"),
    [
        (timedelta(minutes=60), False),  # exactly max_wait_minutes: still waiting
        (timedelta(minutes=60) - ONE_SECOND, False),
        (timedelta(minutes=60) + ONE_SECOND, True),
    ],
)
def test_throughput_wait_limit_at_below_above(
    bedrock: Stubber, monkeypatch: pytest.MonkeyPatch, waited: timedelta, times_out: bool
) -> None:
    """Catches `waited > max_wait` turned into `>=`, or minutes confused with seconds or hours."""
    assert RUN["throughput"]["max_wait_minutes"] == 60
    created = NOW - waited
    monkeypatch.setattr(throughput, "_now", lambda: NOW)
    response = {
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "provisionedModelName": "pt",
        "provisionedModelArn": PT_ARN,
        "modelArn": MODEL_ARN,
        "desiredModelArn": MODEL_ARN,
        "foundationModelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}",
        "status": "Creating",
        "creationTime": created,
        "lastModifiedTime": created,
    }
    bedrock.add_response("get_provisioned_model_throughput", response, {"provisionedModelId": PT_ARN})
    event = {"action": "describe", "run": RUN, "throughput": {"arn": PT_ARN, "created_at": created.isoformat()}}
    if times_out:
        with pytest.raises(ThroughputNotReady):
            throughput.handler(event, None)
    else:
        assert throughput.handler(event, None)["status"] == "Creating"


# ---- train: maximum training hours -------------------------------------------------------------------------------
class FixedClock(datetime):
    """`datetime` whose now() is NOW; the handler's isinstance check sees the creation time as one of these."""

    @classmethod
    def now(cls, tz: Any = None) -> FixedClock:
        return cls.fromtimestamp(NOW.timestamp(), tz=UTC)


@pytest.mark.parametrize(
    ("running", "stopped"),
    [
        (timedelta(hours=24), False),  # exactly max_training_hours: not past the limit
        (timedelta(hours=24) - ONE_SECOND, False),
        (timedelta(hours=24) + ONE_SECOND, True),
    ],
)
def test_training_hours_limit_at_below_above(
    aws_env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch, running: timedelta, stopped: bool
) -> None:
    """Catches `hours > max_training_hours` turned into `>=` or `<` (stopping every job), or the limit in minutes."""
    assert RUN["max_training_hours"] == 24
    monkeypatch.setattr(train, "datetime", FixedClock)
    created = FixedClock.fromtimestamp((NOW - running).timestamp(), tz=UTC)
    response = {
        "jobArn": JOB_ARN,
        "jobName": "demo-0123456789abcdef",
        "outputModelName": "demo-0123456789abcdef",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/bedrock-customization",
        "status": "InProgress",
        "creationTime": created,
        "baseModelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}",
        "trainingDataConfig": {"s3Uri": "s3://artifacts/train.jsonl"},
        "validationDataConfig": {"validators": []},
        "outputDataConfig": {"s3Uri": "s3://artifacts/out/"},
    }
    bedrock.add_response("get_model_customization_job", response, {"jobIdentifier": JOB_ARN})
    event = {
        "action": "describe",
        "run": RUN,
        "job": {"job_arn": JOB_ARN, "job_name": "demo-0123456789abcdef", "status": "InProgress"},
    }
    if stopped:
        bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
        with pytest.raises(TrainingTimedOut):
            train.handler(event, None)
    else:
        assert train.handler(event, None)["status"] == "InProgress"
