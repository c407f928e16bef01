"""The janitor deletes only this pipeline's overdue, unapproved throughputs, stops orphaned jobs, reports metrics,
and reports how many days the promoted and the configured base models have before their end of life."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from handler_fixtures import ACCOUNT, HAIKU, client_error, load_handler

from pipeline_aws.errors import TransientServiceError
from pipeline_core import contracts

janitor = load_handler("janitor")
NOW = datetime.now(UTC)
OLD, FRESH = NOW - timedelta(hours=30), NOW - timedelta(hours=1)
MODEL_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/abcdefabcdef"
PARAMETER = "/finetune/promoted-model"
# The configured base model is given by its customization id; GetFoundationModel is asked about the model version.
CONFIGURED = "meta.llama3-1-70b-instruct-v1:0:128k"
CONFIGURED_FM = "meta.llama3-1-70b-instruct-v1:0"
HAIKU_FM = "anthropic.claude-3-haiku-20240307-v1:0"
WARNING_DAYS = 60


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
    monkeypatch.setenv(contracts.ENV_PROMOTION_PARAMETER, PARAMETER)
    monkeypatch.setenv(contracts.ENV_BASE_MODEL_ID, CONFIGURED)
    monkeypatch.setenv(contracts.ENV_LIFECYCLE_WARNING_DAYS, str(WARNING_DAYS))
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


def no_deployments(bedrock: Stubber) -> None:
    bedrock.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []}, None)


def no_jobs(bedrock: Stubber) -> None:
    bedrock.add_response("list_model_customization_jobs", {"modelCustomizationJobSummaries": []}, None)


def foundation_model(model_id: str, status: str = "ACTIVE", end_of_life: datetime | None = None) -> dict[str, Any]:
    lifecycle: dict[str, Any] = {"status": status}
    if end_of_life is not None:
        lifecycle |= {"legacyTime": NOW - timedelta(days=120), "endOfLifeTime": end_of_life}
    return {
        "modelDetails": {
            "modelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{model_id}",
            "modelId": model_id,
            "modelLifecycle": lifecycle,
        }
    }


def configured_active(bedrock: Stubber) -> None:
    """Nothing promoted (the parameter does not exist in moto) and the configured model Active: one lookup."""
    bedrock.add_response("get_foundation_model", foundation_model(CONFIGURED_FM), {"modelIdentifier": CONFIGURED_FM})


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
    no_deployments(bedrock)
    no_jobs(bedrock)
    configured_active(bedrock)
    result = janitor.handler({}, None)
    assert result == {
        "deleted": [pt_arn(1)],
        "deleted_deployments": [],
        "stopped_jobs": [],
        "overdue": 1,
        "days_to_end_of_life": {},
    }
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
    no_deployments(bedrock)
    no_jobs(bedrock)
    configured_active(bedrock)
    result = janitor.handler({}, None)
    assert result == {
        "deleted": [pt_arn(1)],
        "deleted_deployments": [],
        "stopped_jobs": [],
        "overdue": 1,
        "days_to_end_of_life": {},
    }
    assert overdue_metric() == 1


def test_stops_jobs_whose_execution_has_ended(env: str, bedrock: Stubber) -> None:
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": []}, None)
    no_deployments(bedrock)
    bedrock.add_response(
        "list_model_customization_jobs",
        {"modelCustomizationJobSummaries": [job_summary(1), job_summary(2), job_summary(3)]},
        {"statusEquals": "InProgress"},
    )
    bedrock.add_response("list_tags_for_resource", tags(**{contracts.TAG_EXECUTION: "gone-exec"}), None)
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": job_arn(1)})
    bedrock.add_response("list_tags_for_resource", tags(**{contracts.TAG_EXECUTION: "running-exec"}), None)
    bedrock.add_response("list_tags_for_resource", tags("other", **{contracts.TAG_EXECUTION: "gone-exec"}), None)
    configured_active(bedrock)
    result = janitor.handler({}, None)
    assert result == {
        "deleted": [],
        "deleted_deployments": [],
        "stopped_jobs": [job_arn(1)],
        "overdue": 0,
        "days_to_end_of_life": {},
    }
    assert overdue_metric() == 0


def test_one_failed_delete_does_not_stop_the_others_and_fails_the_invocation(env: str, bedrock: Stubber) -> None:
    bedrock.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": [summary(1, OLD), summary(2, OLD)]}, None
    )
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_client_error("delete_provisioned_model_throughput", **client_error("ConflictException"))
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": pt_arn(2)})
    no_deployments(bedrock)
    no_jobs(bedrock)
    configured_active(bedrock)
    with pytest.raises(janitor.JanitorIncomplete, match=pt_arn(1)):
        janitor.handler({}, None)
    assert overdue_metric() == 2  # published before raising, so the alarm sees both


def test_already_deleted_throughput_counts_as_overdue_but_not_deleted(env: str, bedrock: Stubber) -> None:
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [summary(1, OLD)]}, None)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_client_error("delete_provisioned_model_throughput", **client_error("ResourceNotFoundException", 404))
    no_deployments(bedrock)
    no_jobs(bedrock)
    configured_active(bedrock)
    assert janitor.handler({}, None) == {
        "deleted": [],
        "deleted_deployments": [],
        "stopped_jobs": [],
        "overdue": 1,
        "days_to_end_of_life": {},
    }


# ---- Days to end of life -----------------------------------------------------------------------------------
def empty_sweep(bedrock: Stubber) -> None:
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": []}, None)
    no_deployments(bedrock)
    no_jobs(bedrock)


def promote(custom_model_arn: str = MODEL_ARN) -> None:
    value = {"custom_model_arn": custom_model_arn, "provisioned_model_arn": None, "report_uri": None}
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=json.dumps(value), Type="String")


def base_of(bedrock: Stubber, custom_model_arn: str, base_arn: str) -> None:
    bedrock.add_response(
        "get_custom_model",
        {
            "modelArn": custom_model_arn,
            "modelName": "m",
            "baseModelArn": base_arn,
            "creationTime": OLD,
        },
        {"modelIdentifier": custom_model_arn},
    )


def fm_arn(model_id: str) -> str:
    return f"arn:aws:bedrock:us-west-2::foundation-model/{model_id}"


def days_metric(role: str) -> list[float]:
    """Every DaysToEndOfLife datapoint published for the role (moto keeps them all)."""
    stats = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=contracts.METRIC_NAMESPACE,
        MetricName=contracts.METRIC_DAYS_TO_END_OF_LIFE,
        Dimensions=[{"Name": "Pipeline", "Value": "finetune"}, {"Name": contracts.DIMENSION_MODEL, "Value": role}],
        StartTime=NOW - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=60,
        Statistics=["Minimum"],
    )
    return [float(p["Minimum"]) for p in stats["Datapoints"]]


def end_of_life_error(message: str) -> dict[str, Any]:
    return {"service_error_code": "ResourceNotFoundException", "service_message": message, "http_status_code": 404}


# Half a day of slack keeps the whole-day count the same however long the test takes to run.
IN_30_DAYS = NOW + timedelta(days=30, hours=12)


def test_active_models_without_an_end_of_life_date_publish_no_days(env: str, bedrock: Stubber) -> None:
    promote()
    empty_sweep(bedrock)
    base_of(bedrock, MODEL_ARN, fm_arn(HAIKU))  # a custom model's base ARN carries the ":200k" suffix
    bedrock.add_response("get_foundation_model", foundation_model(HAIKU_FM), {"modelIdentifier": HAIKU_FM})
    configured_active(bedrock)
    assert janitor.handler({}, None)["days_to_end_of_life"] == {}
    assert days_metric(contracts.MODEL_PROMOTED) == [] and days_metric(contracts.MODEL_CONFIGURED) == []
    assert overdue_metric() == 0, "the overdue metric is still published beside them"


def test_legacy_promoted_base_model_with_end_of_life_in_30_days(
    env: str, bedrock: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    promote()
    empty_sweep(bedrock)
    base_of(bedrock, MODEL_ARN, fm_arn(HAIKU))
    bedrock.add_response(
        "get_foundation_model", foundation_model(HAIKU_FM, "LEGACY", IN_30_DAYS), {"modelIdentifier": HAIKU_FM}
    )
    configured_active(bedrock)
    assert janitor.handler({}, None)["days_to_end_of_life"] == {contracts.MODEL_PROMOTED: 30}
    assert days_metric(contracts.MODEL_PROMOTED) == [30.0]
    assert days_metric(contracts.MODEL_CONFIGURED) == []
    warnings = [r for r in caplog.records if r.getMessage() == "base model nearing end of life"]
    assert [(vars(r)["model"], vars(r)["model_id"], vars(r)["days_to_end_of_life"]) for r in warnings] == [
        ("promoted", HAIKU_FM, 30)
    ]


def test_one_lookup_when_the_promoted_and_configured_base_models_are_the_same(
    env: str, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(contracts.ENV_BASE_MODEL_ID, HAIKU)
    promote()
    empty_sweep(bedrock)
    base_of(bedrock, MODEL_ARN, fm_arn(HAIKU))
    # Only one answer is queued: a second GetFoundationModel would find none and fail the invocation.
    bedrock.add_response(
        "get_foundation_model", foundation_model(HAIKU_FM, "LEGACY", IN_30_DAYS), {"modelIdentifier": HAIKU_FM}
    )
    result = janitor.handler({}, None)
    assert result["days_to_end_of_life"] == {contracts.MODEL_PROMOTED: 30, contracts.MODEL_CONFIGURED: 30}
    assert days_metric(contracts.MODEL_PROMOTED) == [30.0] and days_metric(contracts.MODEL_CONFIGURED) == [30.0]


def test_a_model_past_its_end_of_life_reports_zero_days(env: str, bedrock: Stubber) -> None:
    empty_sweep(bedrock)
    bedrock.add_client_error(
        "get_foundation_model",
        expected_params={"modelIdentifier": CONFIGURED_FM},
        **end_of_life_error("This model version has reached the end of its life. Please refer to the AWS docs."),
    )
    assert janitor.handler({}, None)["days_to_end_of_life"] == {contracts.MODEL_CONFIGURED: 0}
    assert days_metric(contracts.MODEL_CONFIGURED) == [0.0]


def test_an_unknown_model_is_a_failure_not_an_end_of_life(env: str, bedrock: Stubber) -> None:
    empty_sweep(bedrock)
    bedrock.add_client_error("get_foundation_model", **end_of_life_error("Could not find model."))
    with pytest.raises(janitor.JanitorIncomplete, match=f"lifecycle of {CONFIGURED_FM}"):
        janitor.handler({}, None)
    assert days_metric(contracts.MODEL_CONFIGURED) == []


@pytest.mark.parametrize(("code", "status"), [("ThrottlingException", 429), ("AccessDeniedException", 403)])
def test_a_failed_lifecycle_lookup_never_stops_the_sweep_and_fails_at_the_end(
    env: str, bedrock: Stubber, code: str, status: int
) -> None:
    promote()
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [summary(1, OLD)]}, None)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": pt_arn(1)})
    no_deployments(bedrock)
    no_jobs(bedrock)
    base_of(bedrock, MODEL_ARN, fm_arn(HAIKU))
    bedrock.add_response(
        "get_foundation_model", foundation_model(HAIKU_FM, "LEGACY", IN_30_DAYS), {"modelIdentifier": HAIKU_FM}
    )
    bedrock.add_client_error(
        "get_foundation_model", expected_params={"modelIdentifier": CONFIGURED_FM}, **client_error(code, status)
    )
    with pytest.raises(janitor.JanitorIncomplete, match=f"lifecycle of {CONFIGURED_FM}"):
        janitor.handler({}, None)
    assert overdue_metric() == 1, "the sweep ran and its metric was published"
    assert days_metric(contracts.MODEL_PROMOTED) == [30.0], "the other model's lookup is unaffected"
    assert days_metric(contracts.MODEL_CONFIGURED) == []


def test_no_promoted_model_reports_only_the_configured_one(env: str, bedrock: Stubber) -> None:
    empty_sweep(bedrock)  # no parameter: no GetCustomModel is queued, so calling it would fail the invocation
    bedrock.add_response(
        "get_foundation_model",
        foundation_model(CONFIGURED_FM, "LEGACY", NOW + timedelta(days=10, hours=12)),
        {"modelIdentifier": CONFIGURED_FM},
    )
    assert janitor.handler({}, None)["days_to_end_of_life"] == {contracts.MODEL_CONFIGURED: 10}
    assert days_metric(contracts.MODEL_CONFIGURED) == [10.0]
    assert days_metric(contracts.MODEL_PROMOTED) == []


@pytest.mark.parametrize("broken", ["not json", "custom model gone"])
def test_an_unreadable_promotion_fails_at_the_end_but_the_configured_model_is_reported(
    env: str, bedrock: Stubber, broken: str
) -> None:
    if broken == "not json":
        boto3.client("ssm").put_parameter(Name=PARAMETER, Value="arn:aws:bedrock:hand-written", Type="String")
    else:
        promote()
    empty_sweep(bedrock)
    if broken == "custom model gone":
        bedrock.add_client_error("get_custom_model", **client_error("ResourceNotFoundException", 404))
    bedrock.add_response(
        "get_foundation_model",
        foundation_model(CONFIGURED_FM, "LEGACY", IN_30_DAYS),
        {"modelIdentifier": CONFIGURED_FM},
    )
    with pytest.raises(janitor.JanitorIncomplete, match="lifecycle of the promoted model"):
        janitor.handler({}, None)
    assert days_metric(contracts.MODEL_CONFIGURED) == [30.0]


def test_a_model_trained_from_a_custom_model_is_followed_to_its_foundation_model(env: str, bedrock: Stubber) -> None:
    parent = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/123456123456"
    promote()
    empty_sweep(bedrock)
    base_of(bedrock, MODEL_ARN, parent)
    base_of(bedrock, parent, fm_arn(HAIKU))
    bedrock.add_response(
        "get_foundation_model", foundation_model(HAIKU_FM, "LEGACY", IN_30_DAYS), {"modelIdentifier": HAIKU_FM}
    )
    configured_active(bedrock)
    assert janitor.handler({}, None)["days_to_end_of_life"] == {contracts.MODEL_PROMOTED: 30}


class _Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.mark.parametrize(
    ("remaining_ms", "looked_up"),
    [
        (janitor.LIFECYCLE_RESERVE_SECONDS * 1000 - 1, False),
        (janitor.LIFECYCLE_RESERVE_SECONDS * 1000, True),
        (janitor.LIFECYCLE_RESERVE_SECONDS * 1000 + 1, True),
    ],
    ids=["below", "at", "above"],
)
def test_lifecycle_lookups_run_only_with_time_to_spare_after_the_sweep(
    env: str, bedrock: Stubber, remaining_ms: int, looked_up: bool
) -> None:
    empty_sweep(bedrock)
    if looked_up:
        configured_active(bedrock)
        assert janitor.handler({}, _Context(remaining_ms))["days_to_end_of_life"] == {}
    else:
        with pytest.raises(janitor.JanitorIncomplete, match="no time left"):
            janitor.handler({}, _Context(remaining_ms))
    assert overdue_metric() == 0, "the sweep's metric is published either way"


@pytest.mark.parametrize(
    ("days_away", "expected_days", "warned"),
    [
        (timedelta(days=WARNING_DAYS + 1), WARNING_DAYS + 1, False),  # above the threshold
        (timedelta(days=WARNING_DAYS), WARNING_DAYS, True),  # at it
        (timedelta(days=WARNING_DAYS) - timedelta(seconds=1), WARNING_DAYS - 1, True),  # just inside it
        (timedelta(days=WARNING_DAYS - 1), WARNING_DAYS - 1, True),  # below it
        (timedelta(0), 0, True),  # the end of life is now
        (-timedelta(days=3), 0, True),  # already past, but Bedrock still describes the model
    ],
)
def test_days_to_end_of_life_against_the_warning_threshold(
    env: str,
    bedrock: Stubber,
    caplog: pytest.LogCaptureFixture,
    days_away: timedelta,
    expected_days: int,
    warned: bool,
) -> None:
    now = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    bedrock.add_response(
        "get_foundation_model",
        foundation_model(CONFIGURED_FM, "LEGACY", now + days_away),
        {"modelIdentifier": CONFIGURED_FM},
    )
    sweep = janitor.Sweep()
    janitor.check_end_of_life(janitor.Environment.from_env(), now, sweep)
    assert sweep.failures == [] and sweep.days_to_end_of_life == {contracts.MODEL_CONFIGURED: expected_days}
    messages = [r.getMessage() for r in caplog.records if getattr(r, "model_id", None) == CONFIGURED_FM]
    assert messages == ["base model nearing end of life" if warned else "base model lifecycle"]


def test_published_metric_data_names_pipeline_and_model(env: str, bedrock: Stubber) -> None:
    """The exact datapoints the alarms and the dashboard read: dimension names and values are the contract."""
    empty_sweep(bedrock)
    bedrock.add_response(
        "get_foundation_model",
        foundation_model(CONFIGURED_FM, "LEGACY", IN_30_DAYS),
        {"modelIdentifier": CONFIGURED_FM},
    )
    cloudwatch = boto3.client("cloudwatch")
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "put_metric_data",
            {},
            {
                "Namespace": contracts.METRIC_NAMESPACE,
                "MetricData": [
                    {
                        "MetricName": contracts.METRIC_OVERDUE_THROUGHPUTS,
                        "Dimensions": [{"Name": "Pipeline", "Value": "finetune"}],
                        "Value": 0,
                        "Unit": "Count",
                    },
                    {
                        "MetricName": contracts.METRIC_DAYS_TO_END_OF_LIFE,
                        "Dimensions": [
                            {"Name": "Pipeline", "Value": "finetune"},
                            {"Name": "Model", "Value": "configured"},
                        ],
                        "Value": 30,
                        "Unit": "None",
                    },
                ],
            },
        )
        janitor.CLIENTS.set("cloudwatch", cloudwatch)
        janitor.handler({}, None)
        stub.assert_no_pending_responses()


def test_a_failed_publish_fails_the_invocation_after_the_sweep(env: str, bedrock: Stubber) -> None:
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [summary(1, OLD)]}, None)
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": pt_arn(1)})
    no_deployments(bedrock)
    no_jobs(bedrock)
    configured_active(bedrock)
    cloudwatch = boto3.client("cloudwatch")
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("put_metric_data", **client_error("Throttling", 400))
        janitor.CLIENTS.set("cloudwatch", cloudwatch)
        with pytest.raises(TransientServiceError):
            janitor.handler({}, None)


# ---- On-demand custom model deployments ----------------------------------------------------------------------
def deployment_arn(n: int) -> str:
    return f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/{n:012d}"


def deployment_summary(n: int, created: datetime, status: str = "Active") -> dict[str, Any]:
    return {
        "customModelDeploymentArn": deployment_arn(n),
        "customModelDeploymentName": f"deployment-{n}",
        "modelArn": MODEL_ARN,
        "createdAt": created,
        "status": status,
    }


def test_deletes_only_ended_or_expired_unapproved_pipeline_deployments(env: str, bedrock: Stubber) -> None:
    """Catches the approval, pipeline or execution check dropped for deployments, or nextToken not followed."""
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": []}, None)
    bedrock.add_response(
        "list_custom_model_deployments",
        {"modelDeploymentSummaries": [deployment_summary(1, OLD), deployment_summary(2, OLD)], "nextToken": "p2"},
        {},
    )
    # The listing is read whole before any tag lookup.
    bedrock.add_response(
        "list_custom_model_deployments",
        {
            "modelDeploymentSummaries": [
                deployment_summary(3, OLD),
                deployment_summary(4, FRESH),
                deployment_summary(5, FRESH, "Failed"),
                deployment_summary(6, FRESH),
            ]
        },
        {"nextToken": "p2"},
    )
    bedrock.add_response("list_tags_for_resource", tags(), {"resourceARN": deployment_arn(1)})  # past the TTL
    bedrock.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": deployment_arn(1)})
    bedrock.add_response("list_tags_for_resource", tags(**{contracts.TAG_APPROVED: "true"}), None)  # promoted
    bedrock.add_response("list_tags_for_resource", tags("another-pipeline"), None)  # not ours
    bedrock.add_response("list_tags_for_resource", tags(**{contracts.TAG_EXECUTION: "running-exec"}), None)
    # Its execution never existed in this account (moto answers ExecutionDoesNotExist): it has ended.
    bedrock.add_response("list_tags_for_resource", tags(**{contracts.TAG_EXECUTION: "gone-exec"}), None)
    bedrock.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": deployment_arn(5)})
    bedrock.add_response("list_tags_for_resource", tags(), None)  # young, no execution tag: only the TTL applies
    no_jobs(bedrock)
    configured_active(bedrock)
    result = janitor.handler({}, None)
    assert result == {
        "deleted": [],
        "deleted_deployments": [deployment_arn(1), deployment_arn(5)],
        "stopped_jobs": [],
        "overdue": 0,
        "days_to_end_of_life": {},
    }
    assert overdue_metric() == 0, "an idle deployment bills nothing: it is not an overdue throughput"


@pytest.mark.parametrize(
    ("age", "deleted"),
    [
        (timedelta(hours=24) - timedelta(seconds=1), False),
        (timedelta(hours=24), False),
        (timedelta(hours=24) + timedelta(seconds=1), True),
    ],
    ids=["below", "at", "above"],
)
def test_deployment_time_to_live_boundary(env: str, bedrock: Stubber, age: timedelta, deleted: bool) -> None:
    """timeToLiveHours is 24 here; a deployment goes once it is strictly older. Catches `>=` or the TTL ignored."""
    now = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    bedrock.add_response(
        "list_custom_model_deployments", {"modelDeploymentSummaries": [deployment_summary(1, now - age)]}, None
    )
    bedrock.add_response("list_tags_for_resource", tags(), None)  # no execution tag: only the TTL applies
    if deleted:
        bedrock.add_response(
            "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": deployment_arn(1)}
        )
    sweep = janitor.Sweep()
    janitor.sweep_deployments(janitor.Environment.from_env(), now, sweep)
    assert sweep.deleted_deployments == ([deployment_arn(1)] if deleted else [])
    assert sweep.failures == [] and sweep.overdue == 0


def test_a_deployment_already_gone_is_neither_deleted_nor_a_failure(env: str, bedrock: Stubber) -> None:
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": []}, None)
    bedrock.add_response(
        "list_custom_model_deployments", {"modelDeploymentSummaries": [deployment_summary(1, OLD)]}, None
    )
    bedrock.add_response("list_tags_for_resource", tags(), None)
    bedrock.add_client_error("delete_custom_model_deployment", **client_error("ResourceNotFoundException", 404))
    no_jobs(bedrock)
    configured_active(bedrock)
    assert janitor.handler({}, None)["deleted_deployments"] == []


# ---- whose a resource is comes from its tags only; what cannot be read is never deleted -------------------------
def test_an_overdue_throughput_without_the_pipeline_tag_is_never_deleted(env: str, bedrock: Stubber) -> None:
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [summary(1, OLD)]}, None)
    bedrock.add_response("list_tags_for_resource", {"tags": [{"key": contracts.TAG_EXECUTION, "value": "x"}]}, None)
    no_deployments(bedrock)
    no_jobs(bedrock)
    configured_active(bedrock)  # no delete queued: the Stubber fails the test if one is made
    assert janitor.handler({}, None)["deleted"] == []
    assert overdue_metric() == 0


@pytest.mark.parametrize(("error", "status"), [("AccessDeniedException", 403), ("ThrottlingException", 429)])
def test_unreadable_throughput_tags_delete_nothing_and_fail_the_invocation_after_the_sweep(
    env: str, bedrock: Stubber, error: str, status: int
) -> None:
    bedrock.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": [summary(1, OLD), summary(2, OLD)]}, None
    )
    bedrock.add_client_error("list_tags_for_resource", **client_error(error, status))
    bedrock.add_response("list_tags_for_resource", tags(), None)  # the next one is still swept
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": pt_arn(2)})
    no_deployments(bedrock)
    no_jobs(bedrock)
    configured_active(bedrock)
    with pytest.raises(janitor.JanitorIncomplete, match=pt_arn(1)):
        janitor.handler({}, None)
    assert overdue_metric() == 1  # only the one whose tags said it is ours


def test_the_placeholder_the_stack_creates_reports_only_the_configured_model(env: str, bedrock: Stubber) -> None:
    boto3.client("ssm").put_parameter(Name=PARAMETER, Type="String", Value=contracts.PROMOTION_PLACEHOLDER)
    bedrock.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": []}, None)
    no_deployments(bedrock)
    no_jobs(bedrock)
    configured_active(bedrock)  # no GetCustomModel: nothing promoted
    assert janitor.handler({}, None)["days_to_end_of_life"] == {}
