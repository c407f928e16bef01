"""The janitor deletes only this pipeline's overdue, unapproved throughputs, stops orphaned jobs, reports a metric."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from handler_fixtures import ACCOUNT, HAIKU, client_error, load_handler

from pipeline_core import contracts

janitor = load_handler("janitor")
NOW = datetime.now(UTC)
OLD, FRESH = NOW - timedelta(hours=30), NOW - timedelta(hours=1)
MODEL_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/abcdefabcdef"


def pt_arn(n: int) -> str:
    return f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/{n:012d}"


def job_arn(n: int) -> str:
    return f"arn:aws:bedrock:us-west-2:{ACCOUNT}:model-customization-job/{HAIKU}/{n:012d}"


def summary(n: int, created: datetime) -> dict[str, Any]:
    return {
        "provisionedModelName": f"pt-{n}",
        "provisionedModelArn": pt_arn(n),
        "modelArn": MODEL_ARN,
        "desiredModelArn": MODEL_ARN,
        "foundationModelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}",
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "status": "InService",
        "creationTime": created,
        "lastModifiedTime": created,
    }


def tags(pipeline: str = "finetune", **extra: str) -> dict[str, Any]:
    return {"tags": [{"key": k, "value": v} for k, v in {contracts.TAG_PIPELINE: pipeline, **extra}.items()]}


def job_summary(n: int) -> dict[str, Any]:
    return {
        "jobArn": job_arn(n),
        "baseModelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}",
        "jobName": f"job-{n}",
        "status": "InProgress",
        "creationTime": OLD,
    }


@pytest.fixture
def env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    sfn = boto3.client("stepfunctions")
    arn: str = sfn.create_state_machine(
        name="finetune",
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    sfn.start_execution(stateMachineArn=arn, name="running-exec")
    monkeypatch.setenv(contracts.ENV_STATE_MACHINE_ARN, arn)
    monkeypatch.setenv(contracts.ENV_PIPELINE_NAME, "finetune")
    monkeypatch.setenv(contracts.ENV_TTL_HOURS, "24")
    monkeypatch.setenv(contracts.ENV_METRIC_NAMESPACE, contracts.METRIC_NAMESPACE)
    return arn


def overdue_metric() -> float:
    stats = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=contracts.METRIC_NAMESPACE,
        MetricName=contracts.METRIC_OVERDUE_THROUGHPUTS,
        Dimensions=[{"Name": "Pipeline", "Value": "finetune"}],
        StartTime=NOW - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )
    return float(max(p["Maximum"] for p in stats["Datapoints"]))


def no_jobs(bedrock: Stubber) -> None:
    bedrock.add_response("list_model_customization_jobs", {"modelCustomizationJobSummaries": []}, None)


def test_deletes_only_overdue_unapproved_pipeline_throughputs(env: str, bedrock: Stubber) -> None:
    # Two pages: the janitor must follow nextToken (pages are fetched lazily, as the loop reaches them).
    bedrock.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [summary(1, OLD), summary(2, OLD)], "nextToken": "page-2"},
        {},
    )
    bedrock.add_response("list_tags_for_resource", tags(), {"resourceARN": pt_arn(1)})
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": pt_arn(1)})
    bedrock.add_response("list_tags_for_resource", tags(**{contracts.TAG_APPROVED: "true"}), None)  # approved
    bedrock.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [summary(3, OLD), summary(4, FRESH)]},
        {"nextToken": "page-2"},
    )
    bedrock.add_response("list_tags_for_resource", tags("another-pipeline"), None)  # not ours
    # pt 4 is younger than the TTL and its execution is still running: kept.
    bedrock.add_response("list_tags_for_resource", tags(**{contracts.TAG_EXECUTION: "running-exec"}), None)
    no_jobs(bedrock)
    result = janitor.handler({}, None)
    assert result == {"deleted": [pt_arn(1)], "stopped_jobs": [], "overdue": 1}
    assert overdue_metric() == 1


def test_deletes_young_throughput_whose_execution_has_ended(env: str, bedrock: Stubber) -> None:
    """A run that ended without deleting its throughput leaked it: no need to wait for the time-to-live."""
    bedrock.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [summary(1, FRESH), summary(2, FRESH), summary(3, FRESH)]},
        None,
    )
    bedrock.add_response("list_tags_for_resource", tags(**{contracts.TAG_EXECUTION: "gone-exec"}), None)
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": pt_arn(1)})
    bedrock.add_response("list_tags_for_resource", tags(**{contracts.TAG_EXECUTION: "running-exec"}), None)
    bedrock.add_response("list_tags_for_resource", tags(), None)  # no execution tag: only the TTL applies
    no_jobs(bedrock)
    result = janitor.handler({}, None)
    assert result == {"deleted": [pt_arn(1)], "stopped_jobs": [], "overdue": 1}
    assert overdue_metric() == 1


def test_stops_jobs_whose_execution_has_ended(env: str, bedrock: Stubber) -> None:
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": []}, None)
    bedrock.add_response(
        "list_model_customization_jobs",
        {"modelCustomizationJobSummaries": [job_summary(1), job_summary(2), job_summary(3)]},
        {"statusEquals": "InProgress"},
    )
    bedrock.add_response("list_tags_for_resource", tags(**{contracts.TAG_EXECUTION: "gone-exec"}), None)
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": job_arn(1)})
    bedrock.add_response("list_tags_for_resource", tags(**{contracts.TAG_EXECUTION: "running-exec"}), None)
    bedrock.add_response("list_tags_for_resource", tags("other", **{contracts.TAG_EXECUTION: "gone-exec"}), None)
    result = janitor.handler({}, None)
    assert result == {"deleted": [], "stopped_jobs": [job_arn(1)], "overdue": 0}
    assert overdue_metric() == 0


def test_one_failed_delete_does_not_stop_the_others_and_fails_the_invocation(env: str, bedrock: Stubber) -> None:
    bedrock.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": [summary(1, OLD), summary(2, OLD)]}, None
    )
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_client_error("delete_provisioned_model_throughput", **client_error("ConflictException"))
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": pt_arn(2)})
    no_jobs(bedrock)
    with pytest.raises(janitor.JanitorIncomplete, match=pt_arn(1)):
        janitor.handler({}, None)
    assert overdue_metric() == 2  # published before raising, so the alarm sees both


def test_already_deleted_throughput_counts_as_overdue_but_not_deleted(env: str, bedrock: Stubber) -> None:
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [summary(1, OLD)]}, None)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_client_error("delete_provisioned_model_throughput", **client_error("ResourceNotFoundException", 404))
    no_jobs(bedrock)
    assert janitor.handler({}, None) == {"deleted": [], "stopped_jobs": [], "overdue": 1}
