"""Failure paths where money is at stake: every delete and stop tried with the AWS call failing, and the janitor and
Promote never deleting what may still be in use.

Two kinds of failure are injected for each call: a ClientError that retrying will not cure (AccessDeniedException)
and a network error (botocore's EndpointConnectionError, which the handlers map to TransientServiceError so the
workflow retries). A botocore Stubber cannot raise a network error, so those are injected by replacing the one
client method. Each test names the one-line bug it catches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from handler_fixtures import ACCOUNT, HAIKU, client_error, load_handler, run_spec

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import TransientServiceError
from pipeline_core import contracts

janitor = load_handler("janitor")
promote = load_handler("promote")
throughput = load_handler("throughput")
train = load_handler("train")

NOW = datetime.now(UTC)
OLD, FRESH = NOW - timedelta(hours=30), NOW - timedelta(hours=1)
PARAMETER = "/finetune/promoted-model"
CONFIGURED = "meta.llama3-1-70b-instruct-v1:0:128k"
CONFIGURED_FM = "meta.llama3-1-70b-instruct-v1:0"
PT_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/abcdefabcdef"
OLD_PT = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/000000000000"
MODEL_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/abcdefabcdef"
OLD_MODEL = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/000000000000"
JOB_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:model-customization-job/{HAIKU}/abcdefabcdef"
APPROVED = [{"key": contracts.TAG_APPROVED, "value": "true"}]
STATE_MACHINE = f"arn:aws:states:us-west-2:{ACCOUNT}:stateMachine:finetune"
RUN = run_spec()


def denied(operation: str) -> ClientError:
    response: Any = {
        "Error": {"Code": "AccessDeniedException", "Message": "simulated"},
        "ResponseMetadata": {"HTTPStatusCode": 403},
    }
    return ClientError(response, operation)


def throttled(operation: str) -> ClientError:
    response: Any = {
        "Error": {"Code": "ThrottlingException", "Message": "simulated"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return ClientError(response, operation)


def network(_: str) -> Exception:
    return EndpointConnectionError(endpoint_url="https://bedrock.us-west-2.amazonaws.com")


ERRORS: dict[str, Callable[[str], Exception]] = {"access-denied": denied, "network": network}


def fail_first(monkeypatch: pytest.MonkeyPatch, client: Any, method: str, error: Exception) -> list[dict[str, Any]]:
    """Make the first call of `client.method` raise `error`; later calls go to the real (stubbed) method."""
    real, calls = getattr(client, method), []

    def patched(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if len(calls) == 1:
            raise error
        return real(**kwargs)

    monkeypatch.setattr(client, method, patched)
    return calls


# ================================================================================================================
# Janitor: keeps a throughput unless it can prove the execution ended
# ================================================================================================================
class FakeSfn:
    """DescribeExecution answering one fixed way for every execution."""

    def __init__(self, *, status: str | None = None, error: Exception | None = None) -> None:
        self.status, self.error, self.calls = status, error, 0

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.calls += 1
        assert executionArn.startswith(f"arn:aws:states:us-west-2:{ACCOUNT}:execution:finetune:")
        if self.error is not None:
            raise self.error
        return {"status": self.status}


def not_found() -> ClientError:
    response: Any = {"Error": {"Code": "ExecutionDoesNotExist", "Message": "gone"}}
    return ClientError(response, "DescribeExecution")


@pytest.fixture
def janitor_env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        contracts.ENV_STATE_MACHINE_ARN: STATE_MACHINE,
        contracts.ENV_PIPELINE_NAME: "finetune",
        contracts.ENV_TTL_HOURS: "24",
        contracts.ENV_METRIC_NAMESPACE: contracts.METRIC_NAMESPACE,
        contracts.ENV_PROMOTION_PARAMETER: PARAMETER,
        contracts.ENV_BASE_MODEL_ID: CONFIGURED,
        contracts.ENV_LIFECYCLE_WARNING_DAYS: "60",
    }.items():
        monkeypatch.setenv(name, value)


def pt(n: int) -> str:
    return f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/{n:012d}"


def job(n: int) -> str:
    return f"arn:aws:bedrock:us-west-2:{ACCOUNT}:model-customization-job/{HAIKU}/{n:012d}"


def pt_summary(n: int, created: datetime) -> dict[str, Any]:
    return {
        "provisionedModelName": f"pt-{n}",
        "provisionedModelArn": pt(n),
        "modelArn": MODEL_ARN,
        "desiredModelArn": MODEL_ARN,
        "foundationModelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}",
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "status": "InService",
        "creationTime": created,
        "lastModifiedTime": created,
    }


def job_summary(n: int) -> dict[str, Any]:
    return {
        "jobArn": job(n),
        "baseModelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}",
        "jobName": f"job-{n}",
        "status": "InProgress",
        "creationTime": OLD,
    }


def tags(execution: str | None = "some-exec") -> dict[str, Any]:
    found = {contracts.TAG_PIPELINE: "finetune"} | ({contracts.TAG_EXECUTION: execution} if execution else {})
    return {"tags": [{"key": k, "value": v} for k, v in found.items()]}


def throughputs(bedrock: Stubber, *created: datetime) -> None:
    summaries = [pt_summary(n, c) for n, c in enumerate(created, 1)]
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": summaries}, None)


def no_deployments(bedrock: Stubber) -> None:
    bedrock.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []}, None)


def no_jobs(bedrock: Stubber) -> None:
    bedrock.add_response("list_model_customization_jobs", {"modelCustomizationJobSummaries": []}, None)


def lifecycle_lookup(bedrock: Stubber) -> None:
    """Nothing promoted (no parameter in moto); the configured model is looked up once and is Active."""
    details = {
        "modelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{CONFIGURED_FM}",
        "modelId": CONFIGURED_FM,
        "modelLifecycle": {"status": "ACTIVE"},
    }
    bedrock.add_response("get_foundation_model", {"modelDetails": details}, {"modelIdentifier": CONFIGURED_FM})


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


UNKNOWN_STATUS = {
    "throttled": throttled("DescribeExecution"),
    "access-denied": denied("DescribeExecution"),
    "network": EndpointConnectionError(endpoint_url="https://states.us-west-2.amazonaws.com"),
}


@pytest.mark.parametrize("error", UNKNOWN_STATUS.values(), ids=UNKNOWN_STATUS.keys())
def test_janitor_keeps_a_young_throughput_when_the_execution_status_cannot_be_read(
    janitor_env: None, bedrock: Stubber, error: Exception
) -> None:
    """Catches `except Exception: return False` in the status lookup: a throttle would delete a live run's model.

    No delete is queued on the Stubber, so a delete fails the call and the handler raises.
    """
    sfn = FakeSfn(error=error)
    CLIENTS.set("stepfunctions", sfn)
    throughputs(bedrock, FRESH)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    no_deployments(bedrock)
    no_jobs(bedrock)
    lifecycle_lookup(bedrock)
    result = janitor.handler({}, None)
    assert result["deleted"] == [] and result["overdue"] == 0
    assert sfn.calls == 1
    assert overdue_metric() == 0


@pytest.mark.parametrize("error", UNKNOWN_STATUS.values(), ids=UNKNOWN_STATUS.keys())
def test_janitor_still_deletes_past_the_time_to_live_whatever_the_status_lookup_does(
    janitor_env: None, bedrock: Stubber, error: Exception
) -> None:
    """The time-to-live bounds the bill even when Step Functions cannot be asked: catches the lookup made first and
    its failure skipping the throughput."""
    sfn = FakeSfn(error=error)
    CLIENTS.set("stepfunctions", sfn)
    throughputs(bedrock, OLD)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": pt(1)})
    no_deployments(bedrock)
    no_jobs(bedrock)
    lifecycle_lookup(bedrock)
    assert janitor.handler({}, None)["deleted"] == [pt(1)]


#: What Step Functions says of a young resource's execution, and whether the janitor may delete the resource then.
EXECUTION_ENDINGS = [
    (FakeSfn(error=not_found()), True),
    (FakeSfn(status="SUCCEEDED"), True),
    (FakeSfn(status="FAILED"), True),
    (FakeSfn(status="TIMED_OUT"), True),
    (FakeSfn(status="ABORTED"), True),
    (FakeSfn(status="RUNNING"), False),
    (FakeSfn(status="PENDING_REDRIVE"), False),
]
EXECUTION_ENDING_IDS = ["does-not-exist", "succeeded", "failed", "timed-out", "aborted", "running", "being-redriven"]


@pytest.mark.parametrize(("sfn", "deleted"), EXECUTION_ENDINGS, ids=EXECUTION_ENDING_IDS)
def test_janitor_deletes_a_young_throughput_only_once_its_execution_has_ended(
    janitor_env: None, bedrock: Stubber, sfn: FakeSfn, deleted: bool
) -> None:
    """Catches `status == "RUNNING"` inverted, or ExecutionDoesNotExist not counted as ended."""
    CLIENTS.set("stepfunctions", sfn)
    throughputs(bedrock, FRESH)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    if deleted:
        bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": pt(1)})
    no_deployments(bedrock)
    no_jobs(bedrock)
    lifecycle_lookup(bedrock)
    assert janitor.handler({}, None)["deleted"] == ([pt(1)] if deleted else [])


@pytest.mark.parametrize("kind", ERRORS)
def test_janitor_delete_failing_is_recorded_and_the_next_throughput_is_still_deleted(
    janitor_env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Catches a failed delete stopping the sweep (the next throughput keeps billing) or being swallowed (no alarm)."""
    CLIENTS.set("stepfunctions", FakeSfn(status="RUNNING"))
    throughputs(bedrock, OLD, OLD)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    if kind == "access-denied":
        bedrock.add_client_error("delete_provisioned_model_throughput", **client_error("AccessDeniedException", 403))
    else:
        fail_first(monkeypatch, CLIENTS.bedrock, "delete_provisioned_model_throughput", network(""))
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": pt(2)})
    no_deployments(bedrock)
    no_jobs(bedrock)
    lifecycle_lookup(bedrock)
    with pytest.raises(janitor.JanitorIncomplete, match=pt(1)) as err:
        janitor.handler({}, None)
    assert pt(2) not in str(err.value)  # the second was deleted, so it is not listed as a failure
    assert overdue_metric() == 2  # published before raising, so the alarm sees both


def jobs(bedrock: Stubber, *numbers: int) -> None:
    bedrock.add_response(
        "list_model_customization_jobs",
        {"modelCustomizationJobSummaries": [job_summary(n) for n in numbers]},
        {"statusEquals": "InProgress"},
    )


@pytest.mark.parametrize("kind", ERRORS)
def test_janitor_stop_failing_is_recorded_and_the_next_job_is_still_stopped(
    janitor_env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Catches a failed stop ending the sweep or being swallowed as "already finished"."""
    CLIENTS.set("stepfunctions", FakeSfn(error=not_found()))
    throughputs(bedrock)
    no_deployments(bedrock)
    jobs(bedrock, 1, 2)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    if kind == "access-denied":
        bedrock.add_client_error("stop_model_customization_job", **client_error("AccessDeniedException", 403))
    else:
        fail_first(monkeypatch, CLIENTS.bedrock, "stop_model_customization_job", network(""))
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": job(2)})
    lifecycle_lookup(bedrock)
    with pytest.raises(janitor.JanitorIncomplete, match=job(1)) as err:
        janitor.handler({}, None)
    assert job(2) not in str(err.value)


@pytest.mark.parametrize("error", UNKNOWN_STATUS.values(), ids=UNKNOWN_STATUS.keys())
def test_janitor_never_stops_a_job_whose_execution_status_cannot_be_read(
    janitor_env: None, bedrock: Stubber, error: Exception
) -> None:
    """Catches an unreadable status treated as "ended": stopping a live run's training wastes what it has spent.

    No stop is queued, so a stop would fail the Stubber; the failure is reported so the alarm fires.
    """
    CLIENTS.set("stepfunctions", FakeSfn(error=error))
    throughputs(bedrock)
    no_deployments(bedrock)
    jobs(bedrock, 1)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    lifecycle_lookup(bedrock)
    with pytest.raises(janitor.JanitorIncomplete, match=job(1)):
        janitor.handler({}, None)


def dep(n: int) -> str:
    return f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/{n:012d}"


def deployments(bedrock: Stubber, *created: datetime) -> None:
    """An empty throughput listing, then one deployment per creation time (the order the janitor asks in)."""
    throughputs(bedrock)
    summaries = [
        {
            "customModelDeploymentArn": dep(n),
            "customModelDeploymentName": f"deployment-{n}",
            "modelArn": MODEL_ARN,
            "createdAt": c,
            "status": "Active",
        }
        for n, c in enumerate(created, 1)
    ]
    bedrock.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": summaries}, None)


@pytest.mark.parametrize("error", UNKNOWN_STATUS.values(), ids=UNKNOWN_STATUS.keys())
def test_janitor_keeps_a_young_deployment_when_the_execution_status_cannot_be_read(
    janitor_env: None, bedrock: Stubber, error: Exception
) -> None:
    """Catches an unreadable status treated as "ended": deleting a live run's deployment fails its evaluation.

    No delete is queued on the Stubber, so a delete would fail the call and the handler would raise.
    """
    sfn = FakeSfn(error=error)
    CLIENTS.set("stepfunctions", sfn)
    deployments(bedrock, FRESH)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    no_jobs(bedrock)
    lifecycle_lookup(bedrock)
    assert janitor.handler({}, None)["deleted_deployments"] == []
    assert sfn.calls == 1


@pytest.mark.parametrize("error", UNKNOWN_STATUS.values(), ids=UNKNOWN_STATUS.keys())
def test_janitor_still_deletes_a_deployment_past_the_time_to_live_whatever_the_status_lookup_does(
    janitor_env: None, bedrock: Stubber, error: Exception
) -> None:
    """Catches the status lookup made before the time-to-live check and its failure keeping the deployment."""
    CLIENTS.set("stepfunctions", FakeSfn(error=error))
    deployments(bedrock, OLD)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": dep(1)})
    no_jobs(bedrock)
    lifecycle_lookup(bedrock)
    assert janitor.handler({}, None)["deleted_deployments"] == [dep(1)]


@pytest.mark.parametrize(("sfn", "deleted"), EXECUTION_ENDINGS, ids=EXECUTION_ENDING_IDS)
def test_janitor_deletes_a_young_deployment_only_once_its_execution_has_ended(
    janitor_env: None, bedrock: Stubber, sfn: FakeSfn, deleted: bool
) -> None:
    """Catches the running check inverted for deployments, or ExecutionDoesNotExist not counted as ended."""
    CLIENTS.set("stepfunctions", sfn)
    deployments(bedrock, FRESH)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    if deleted:
        bedrock.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": dep(1)})
    no_jobs(bedrock)
    lifecycle_lookup(bedrock)
    assert janitor.handler({}, None)["deleted_deployments"] == ([dep(1)] if deleted else [])


@pytest.mark.parametrize("kind", [*ERRORS, "conflict"])
def test_janitor_deployment_delete_failing_is_recorded_and_the_next_deployment_is_still_deleted(
    janitor_env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Catches a failed delete ending the sweep, or being swallowed (no Lambda error, so no alarm).

    ConflictException is what Bedrock answers for a deployment still Creating: the next run must try again, so it
    is a failure too, not "already gone"."""
    CLIENTS.set("stepfunctions", FakeSfn(status="RUNNING"))
    deployments(bedrock, OLD, OLD)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    if kind == "access-denied":
        bedrock.add_client_error("delete_custom_model_deployment", **client_error("AccessDeniedException", 403))
    elif kind == "conflict":
        bedrock.add_client_error("delete_custom_model_deployment", **client_error("ConflictException"))
    else:
        fail_first(monkeypatch, CLIENTS.bedrock, "delete_custom_model_deployment", network(""))
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": dep(2)})
    no_jobs(bedrock)
    lifecycle_lookup(bedrock)
    with pytest.raises(janitor.JanitorIncomplete, match=dep(1)) as err:
        janitor.handler({}, None)
    assert dep(2) not in str(err.value)  # the second was deleted, so it is not listed as a failure
    assert overdue_metric() == 0  # published before raising


@pytest.mark.parametrize("kind", ERRORS)
def test_janitor_unreadable_deployment_tags_skip_only_that_deployment(
    janitor_env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Catches a tag lookup failure ending the sweep (the next deployment kept) or passing silently."""
    CLIENTS.set("stepfunctions", FakeSfn(status="RUNNING"))
    deployments(bedrock, OLD, OLD)
    if kind == "access-denied":
        bedrock.add_client_error("list_tags_for_resource", **client_error("AccessDeniedException", 403))
    else:
        fail_first(monkeypatch, CLIENTS.bedrock, "list_tags_for_resource", network(""))
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": dep(2)})
    no_jobs(bedrock)
    lifecycle_lookup(bedrock)
    with pytest.raises(janitor.JanitorIncomplete, match=dep(1)) as err:
        janitor.handler({}, None)
    assert dep(2) not in str(err.value)


@pytest.mark.parametrize("kind", ERRORS)
def test_janitor_deployment_listing_failing_still_sweeps_jobs_and_publishes(
    janitor_env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Catches a failed listing ending the invocation before the jobs are stopped and the metric published, or
    being swallowed."""
    CLIENTS.set("stepfunctions", FakeSfn(error=not_found()))
    throughputs(bedrock)
    if kind == "access-denied":
        bedrock.add_client_error("list_custom_model_deployments", **client_error("AccessDeniedException", 403))
    else:
        fail_first(monkeypatch, CLIENTS.bedrock, "list_custom_model_deployments", network(""))
    jobs(bedrock, 1)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": job(1)})
    lifecycle_lookup(bedrock)
    with pytest.raises(janitor.JanitorIncomplete, match="custom model deployments listing"):
        janitor.handler({}, None)
    assert overdue_metric() == 0


class FailingCloudWatch:
    def __init__(self, error: Exception) -> None:
        self.error, self.calls = error, 0

    def put_metric_data(self, **_: Any) -> None:
        self.calls += 1
        raise self.error


@pytest.mark.parametrize(("kind", "raised"), [("access-denied", ClientError), ("network", TransientServiceError)])
def test_janitor_publish_failing_fails_the_invocation_after_the_sweep(
    janitor_env: None, bedrock: Stubber, kind: str, raised: type[Exception]
) -> None:
    """The overdue metric feeds the leak alarm: a failed publish must fail the invocation (the Lambda error alarm
    fires instead), and must not have kept the sweep from deleting. Catches the publish made first, or swallowed."""
    CLIENTS.set("stepfunctions", FakeSfn(status="RUNNING"))
    cloudwatch = FailingCloudWatch(ERRORS[kind]("PutMetricData"))
    CLIENTS.set("cloudwatch", cloudwatch)
    throughputs(bedrock, OLD)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": pt(1)})
    no_deployments(bedrock)
    no_jobs(bedrock)
    lifecycle_lookup(bedrock)
    with pytest.raises(raised):
        janitor.handler({}, None)
    assert cloudwatch.calls == 1  # the Stubber's no-pending check confirms the delete was made


# ================================================================================================================
# Promote: the old model serves until the new record is written
# ================================================================================================================
@pytest.fixture
def promote_env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contracts.ENV_PROMOTION_PARAMETER, PARAMETER)


def promote_event(keep: bool = True) -> dict[str, Any]:
    spec = run_spec(throughput={"model_units": 1, "keep_after_promotion": keep, "max_wait_minutes": 60})
    return {
        "run": spec,
        "job": {"custom_model_arn": MODEL_ARN, "job_arn": "j", "job_name": "n", "status": "Completed"},
        "throughput": {"arn": PT_ARN, "name": spec["execution_name"], "status": "InService"},
        "evaluation": {"verdict": "promote", "report_uri": "s3://artifacts/report.json"},
    }


PREVIOUS = {
    "custom_model_arn": OLD_MODEL,
    "provisioned_model_arn": OLD_PT,
    "report_uri": "s3://artifacts/earlier/report.json",
    "run_name": "earlier",
    "execution_name": "earlier-0000000000000000",
    "promoted_at": "2026-11-01T00:00:00+00:00",
}


def publish_previous() -> None:
    boto3.client("ssm").put_parameter(Name=PARAMETER, Type="String", Value=json.dumps(PREVIOUS), Overwrite=True)


def parameter() -> dict[str, Any]:
    value: dict[str, Any] = json.loads(boto3.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"])
    return value


class RecordingSsm:
    """moto's SSM, recording each put's provisioned model and failing the puts listed (1-based) with `error`."""

    def __init__(
        self, events: list[tuple[str, str | None]], failing: frozenset[int] = frozenset(), error: Any = None
    ) -> None:
        self.real, self.events, self.failing, self.error, self.puts = boto3.client("ssm"), events, failing, error, 0

    def get_parameter(self, **kwargs: Any) -> Any:
        return self.real.get_parameter(**kwargs)

    def put_parameter(self, **kwargs: Any) -> Any:
        self.puts += 1
        if self.puts in self.failing:
            raise self.error
        self.events.append(("put", json.loads(kwargs["Value"])["provisioned_model_arn"]))
        return self.real.put_parameter(**kwargs)


def approvals(bedrock: Stubber) -> None:
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    bedrock.add_response("tag_resource", {}, {"resourceARN": PT_ARN, "tags": APPROVED})


def ours(bedrock: Stubber, arn: str = OLD_PT) -> None:
    """ListTagsForResource for the replaced throughput, tagged with this pipeline's name, as Promote checks it before
    deleting."""
    bedrock.add_response("list_tags_for_resource", tags(PREVIOUS["execution_name"]), {"resourceARN": arn})


def test_promote_writes_the_new_record_before_deleting_the_previous_throughput(
    promote_env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches the replaced throughput deleted before the put: applications would call a deleted model until then."""
    publish_previous()
    events: list[tuple[str, str | None]] = []
    CLIENTS.set("ssm", RecordingSsm(events))
    approvals(bedrock)
    ours(bedrock)
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": OLD_PT})
    real_tags = CLIENTS.bedrock.list_tags_for_resource
    real_delete = CLIENTS.bedrock.delete_provisioned_model_throughput

    def read_tags(**kwargs: Any) -> Any:
        events.append(("tags", kwargs["resourceARN"]))
        return real_tags(**kwargs)

    def delete(**kwargs: Any) -> Any:
        events.append(("delete", kwargs["provisionedModelId"]))
        return real_delete(**kwargs)

    monkeypatch.setattr(CLIENTS.bedrock, "list_tags_for_resource", read_tags)
    monkeypatch.setattr(CLIENTS.bedrock, "delete_provisioned_model_throughput", delete)
    promote.handler(promote_event(), None)
    assert events == [("put", PT_ARN), ("tags", OLD_PT), ("delete", OLD_PT), ("put", PT_ARN)]


@pytest.mark.parametrize(("kind", "raised"), [("access-denied", ClientError), ("network", TransientServiceError)])
def test_promote_put_failing_keeps_the_previous_model_serving(
    promote_env: None, bedrock: Stubber, kind: str, raised: type[Exception]
) -> None:
    """Catches the previous throughput deleted when the record naming its successor was never written.

    No delete is queued on the Stubber: any delete would fail with a Stubber error instead of `raised`.
    """
    publish_previous()
    events: list[tuple[str, str | None]] = []
    CLIENTS.set("ssm", RecordingSsm(events, frozenset({1}), ERRORS[kind]("PutParameter")))
    approvals(bedrock)
    with pytest.raises(raised):
        promote.handler(promote_event(), None)
    assert parameter() == PREVIOUS and events == []


@pytest.mark.parametrize(("kind", "raised"), [("access-denied", ClientError), ("network", TransientServiceError)])
def test_promote_own_throughput_delete_failing_publishes_nothing_and_deletes_nothing_else(
    promote_env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch, kind: str, raised: type[Exception]
) -> None:
    """keep_after_promotion false: the run's throughput is deleted first. If that fails, the record still names the
    previous model (which keeps serving) and the previous throughput is not touched. Catches the failure swallowed
    (the run's throughput would bill on, unapproved, until the janitor's time-to-live) or the put made anyway."""
    publish_previous()
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    if kind == "access-denied":
        bedrock.add_client_error("delete_provisioned_model_throughput", **client_error("AccessDeniedException", 403))
    else:
        calls = fail_first(monkeypatch, CLIENTS.bedrock, "delete_provisioned_model_throughput", network(""))
    with pytest.raises(raised):
        promote.handler(promote_event(keep=False), None)
    assert parameter() == PREVIOUS
    if kind == "network":
        assert calls == [{"provisionedModelId": PT_ARN}]


def test_promote_replaced_delete_failing_on_the_network_is_retried_with_the_record_kept(
    promote_env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A network error is passing: the handler raises TransientServiceError (the workflow retries) and the record,
    already naming the new model, keeps the replaced throughput listed. Catches a network error treated like a
    refusal (left pending with no retry) or the replacement dropped from the record (its bill never stops)."""
    publish_previous()
    approvals(bedrock)
    ours(bedrock)
    calls = fail_first(monkeypatch, CLIENTS.bedrock, "delete_provisioned_model_throughput", network(""))
    with pytest.raises(TransientServiceError):
        promote.handler(promote_event(), None)
    assert calls == [{"provisionedModelId": OLD_PT}]
    assert_replaced_still_recorded()


def assert_replaced_still_recorded() -> None:
    """The record names the new model and still lists the previous throughput as owed a delete."""
    value = parameter()
    assert value["provisioned_model_arn"] == PT_ARN
    (entry,) = value["replaces"]
    assert entry["kind"] == contracts.SERVING_PROVISIONED and entry["invoke_model_id"] == OLD_PT
    assert entry["provisioned_model_arn"] == OLD_PT and entry["execution_name"] == PREVIOUS["execution_name"]


def test_promote_tag_read_failing_on_the_network_deletes_nothing_and_is_retried_with_the_record_kept(
    promote_env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ownership check before the delete fails on the network: the handler raises TransientServiceError (the
    workflow retries), nothing is deleted, and the record keeps the replaced throughput listed; the retry reads the
    tags again and deletes it. Catches a network error read as "not ours" or "unverified" (the replacement would be
    refused or left pending with no retry), or a delete made without the check.

    No delete is queued on the Stubber for the first call: a delete would fail with a Stubber error instead."""
    publish_previous()
    approvals(bedrock)
    calls = fail_first(monkeypatch, CLIENTS.bedrock, "list_tags_for_resource", network(""))
    with pytest.raises(TransientServiceError):
        promote.handler(promote_event(), None)
    assert calls == [{"resourceARN": OLD_PT}]
    assert_replaced_still_recorded()

    approvals(bedrock)
    ours(bedrock)
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": OLD_PT})
    result = promote.handler(promote_event(), None)
    assert result["replaced_throughputs"] == [OLD_PT] and result["pending_replacements"] == []
    assert parameter()["replaces"] == [] and parameter()["provisioned_model_arn"] == PT_ARN


# ================================================================================================================
# Throughput: the workflow's delete step
# ================================================================================================================
def throughput_delete() -> dict[str, Any]:
    result: dict[str, Any] = throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ARN}}, None)
    return result


def test_throughput_delete_refused_raises_the_refusal(bedrock: Stubber) -> None:
    """Catches AccessDenied reported as "deleted: false" (the workflow would succeed while the throughput bills)."""
    bedrock.add_client_error("delete_provisioned_model_throughput", **client_error("AccessDeniedException", 403))
    with pytest.raises(ClientError) as err:
        throughput_delete()
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert not isinstance(err.value, TransientServiceError)


def test_throughput_delete_network_error_is_transient(bedrock: Stubber, monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches a network error escaping unmapped: the workflow retries only TransientServiceError."""
    calls = fail_first(monkeypatch, CLIENTS.bedrock, "delete_provisioned_model_throughput", network(""))
    with pytest.raises(TransientServiceError):
        throughput_delete()
    assert calls == [{"provisionedModelId": PT_ARN}]


@pytest.mark.parametrize(("kind", "raised"), [("access-denied", ClientError), ("network", TransientServiceError)])
def test_throughput_delete_waits_when_the_promotion_record_cannot_be_read(
    bedrock: Stubber, aws_env: None, monkeypatch: pytest.MonkeyPatch, kind: str, raised: type[Exception]
) -> None:
    """Catches "cannot read the record, delete anyway": the throughput may be the production model.

    No delete is queued: a delete would fail with a Stubber error instead of `raised`.
    """
    monkeypatch.setenv(contracts.ENV_PROMOTION_PARAMETER, PARAMETER)
    ssm = boto3.client("ssm")
    CLIENTS.set("ssm", ssm)
    error = ERRORS[kind]("GetParameter")

    def get_parameter(**_: Any) -> Any:
        raise error

    monkeypatch.setattr(ssm, "get_parameter", get_parameter)
    with pytest.raises(raised):
        throughput_delete()


# ================================================================================================================
# Train: stopping a job
# ================================================================================================================
@pytest.fixture
def train_env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contracts.ENV_CUSTOMIZATION_ROLE_ARN, f"arn:aws:iam::{ACCOUNT}:role/bedrock-customization")


def train_job() -> dict[str, Any]:
    return {"job_arn": JOB_ARN, "job_name": "demo-0123456789abcdef", "status": "InProgress"}


def test_train_stop_refused_raises_the_refusal(train_env: None, bedrock: Stubber) -> None:
    """Catches AccessDenied added to the "nothing to stop" codes: a running job would bill on silently."""
    bedrock.add_client_error("stop_model_customization_job", **client_error("AccessDeniedException", 403))
    with pytest.raises(ClientError) as err:
        train.handler({"action": "stop", "run": RUN, "job": train_job()}, None)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"


def test_train_stop_network_error_is_transient(
    train_env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches a network error escaping unmapped (not retried) or swallowed as "stopped: false"."""
    calls = fail_first(monkeypatch, CLIENTS.bedrock, "stop_model_customization_job", network(""))
    with pytest.raises(TransientServiceError):
        train.handler({"action": "stop", "run": RUN, "job": train_job()}, None)
    assert calls == [{"jobIdentifier": JOB_ARN}]


@pytest.mark.parametrize(("kind", "raised"), [("access-denied", ClientError), ("network", TransientServiceError)])
def test_train_timeout_whose_stop_fails_raises_the_stop_error(
    train_env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch, kind: str, raised: type[Exception]
) -> None:
    """A job past its limit whose stop fails must not be reported as timed out (which reads as handled): the stop
    error surfaces, so the workflow retries or fails loudly. Catches the stop's error swallowed before the raise."""
    running = {
        "jobArn": JOB_ARN,
        "jobName": "demo-0123456789abcdef",
        "outputModelName": "demo-0123456789abcdef",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/bedrock-customization",
        "status": "InProgress",
        "creationTime": datetime.now(UTC) - timedelta(hours=30),
        "baseModelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}",
        "hyperParameters": {},
        "trainingDataConfig": {"s3Uri": "s3://artifacts/train.jsonl"},
        "validationDataConfig": {"validators": []},
        "outputDataConfig": {"s3Uri": "s3://artifacts/out/"},
    }
    bedrock.add_response("get_model_customization_job", running, {"jobIdentifier": JOB_ARN})
    if kind == "access-denied":
        bedrock.add_client_error("stop_model_customization_job", **client_error("AccessDeniedException", 403))
    else:
        fail_first(monkeypatch, CLIENTS.bedrock, "stop_model_customization_job", network(""))
    with pytest.raises(raised):
        train.handler({"action": "describe", "run": RUN, "job": train_job()}, None)
