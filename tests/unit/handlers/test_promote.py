"""Promote: the SSM parameter names the approved model, the throughput is kept (tagged) or deleted, and the throughput
a promotion replaces is deleted only after the new value is published, exactly once across retries."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from handler_fixtures import ACCOUNT, HAIKU, client_error, load_handler, run_spec

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import TransientServiceError
from pipeline_core import contracts
from pipeline_core.names import RunNames

promote = load_handler("promote")
PARAMETER = "/finetune/promoted-model"
PT_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/abcdefabcdef"
OLD_PT = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/000000000000"
MODEL_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/abcdefabcdef"
OLD_MODEL = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/000000000000"
APPROVED = [{"key": contracts.TAG_APPROVED, "value": "true"}]
REPORT = "s3://artifacts/runs/demo/demo-0123456789abcdef/report.json"


@pytest.fixture
def env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contracts.ENV_PROMOTION_PARAMETER, PARAMETER)


def event(keep: bool, **run: Any) -> dict[str, Any]:
    spec = run_spec(throughput={"model_units": 1, "keep_after_promotion": keep, "max_wait_minutes": 60}, **run)
    return {
        "run": spec,
        "job": {"custom_model_arn": MODEL_ARN, "job_arn": "j", "job_name": "n", "status": "Completed"},
        "throughput": {"arn": PT_ARN, "name": spec["execution_name"], "status": "InService"},
        "evaluation": {"verdict": "promote", "report_uri": REPORT},
    }


def parameter() -> dict[str, Any]:
    found = boto3.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]
    assert found["Type"] == "String"
    value: dict[str, Any] = json.loads(found["Value"])
    return value


def previous(**extra: Any) -> dict[str, Any]:
    """A value an earlier promotion of this pipeline wrote."""
    return {
        "custom_model_arn": OLD_MODEL,
        "provisioned_model_arn": OLD_PT,
        "report_uri": "s3://artifacts/runs/earlier/earlier-0000000000000000/report.json",
        "run_name": "earlier",
        "execution_name": "earlier-0000000000000000",
        "promoted_at": "2026-11-01T00:00:00+00:00",
    } | extra


def replaced(arn: str, execution: str = "earlier-0000000000000000") -> dict[str, Any]:
    """A `replaces` entry as this version writes it: the kind, the ARN to delete, where it came from."""
    kind = contracts.SERVING_ON_DEMAND if ":custom-model-deployment/" in arn else contracts.SERVING_PROVISIONED
    return {
        "kind": kind,
        "invoke_model_id": arn,
        "provisioned_model_arn": arn if kind == contracts.SERVING_PROVISIONED else None,
        "execution_name": execution,
    }


def publish(value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    boto3.client("ssm").put_parameter(Name=PARAMETER, Type="String", Value=text, Overwrite=True)


def approvals(bedrock: Stubber) -> None:
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    bedrock.add_response("tag_resource", {}, {"resourceARN": PT_ARN, "tags": APPROVED})


def owned(bedrock: Stubber, arn: str, pipeline: str | None = "finetune") -> None:
    """ListTagsForResource for what the record names: tagged with this pipeline's name unless told otherwise."""
    tags = [{"key": contracts.TAG_RUN, "value": "earlier"}]
    if pipeline is not None:
        tags.append({"key": contracts.TAG_PIPELINE, "value": pipeline})
    bedrock.add_response("list_tags_for_resource", {"tags": tags}, {"resourceARN": arn})


def deletes(bedrock: Stubber, arn: str, error: str | None = None, status: int = 400) -> None:
    if error:
        bedrock.add_client_error("delete_provisioned_model_throughput", **client_error(error, status))
    else:
        bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": arn})


class FailingPuts:
    """SSM whose put_parameter fails on the listed call numbers (1-based); everything else goes to moto."""

    def __init__(self, failing: set[int], code: str = "ThrottlingException") -> None:
        self.real, self.failing, self.code, self.puts = boto3.client("ssm"), failing, code, 0

    def get_parameter(self, **kwargs: Any) -> Any:
        return self.real.get_parameter(**kwargs)

    def put_parameter(self, **kwargs: Any) -> Any:
        self.puts += 1
        if self.puts in self.failing:
            error = {"Error": {"Code": self.code, "Message": "simulated"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
            raise ClientError(error, "PutParameter")  # type: ignore[arg-type]
        return self.real.put_parameter(**kwargs)


def test_keep_tags_model_and_throughput_and_writes_ssm(env: None, bedrock: Stubber) -> None:
    approvals(bedrock)
    result = promote.handler(event(keep=True), None)
    assert result == {
        "parameter_name": PARAMETER,
        "custom_model_arn": MODEL_ARN,
        "serving_kind": contracts.SERVING_PROVISIONED,
        "invoke_model_id": PT_ARN,
        "provisioned_model_arn": PT_ARN,
        "report_uri": REPORT,
        "throughput_kept": True,
        "replaced_throughputs": [],
        "pending_replacements": [],
        "refused_replacements": [],
    }
    value = parameter()
    assert value["custom_model_arn"] == MODEL_ARN and value["provisioned_model_arn"] == PT_ARN
    assert value["serving_kind"] == contracts.SERVING_PROVISIONED and value["invoke_model_id"] == PT_ARN
    assert value["report_uri"] == REPORT and value["run_name"] == "demo"
    assert value["execution_name"] == "demo-0123456789abcdef" and value["promoted_at"]
    assert value["replaces"] == []


def test_not_keeping_deletes_the_throughput_and_publishes_null(env: None, bedrock: Stubber) -> None:
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    deletes(bedrock, PT_ARN)
    result = promote.handler(event(keep=False), None)
    assert result["provisioned_model_arn"] is None and result["throughput_kept"] is False
    assert parameter()["provisioned_model_arn"] is None


def test_not_keeping_without_an_arn_deletes_the_throughput_by_the_runs_resource_name(
    env: None, bedrock: Stubber
) -> None:
    names = RunNames.for_execution("demo-0123456789abcdef", "2026-12-01T10:00:00.000Z")
    request = event(keep=False, resource_name=names.resource_name, token_seed=names.token_seed)
    request["throughput"] = {}
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    deletes(bedrock, names.resource_name)
    assert promote.handler(request, None)["provisioned_model_arn"] is None


def test_promote_twice_overwrites_and_tolerates_an_already_deleted_throughput(env: None, bedrock: Stubber) -> None:
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    deletes(bedrock, PT_ARN)
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    deletes(bedrock, PT_ARN, "ResourceNotFoundException", 404)
    promote.handler(event(keep=False), None)
    promote.handler(event(keep=False), None)
    assert parameter()["provisioned_model_arn"] is None


def test_a_new_promotion_deletes_the_previous_promotions_throughput(env: None, bedrock: Stubber) -> None:
    """The previous throughput is approved (the janitor keeps it), so promote must delete it once replaced."""
    publish(previous())
    approvals(bedrock)
    owned(bedrock, OLD_PT)
    deletes(bedrock, OLD_PT)
    result = promote.handler(event(keep=True), None)
    assert result["replaced_throughputs"] == [OLD_PT] and result["provisioned_model_arn"] == PT_ARN
    value = parameter()
    assert value["provisioned_model_arn"] == PT_ARN and value["replaces"] == []


def test_a_retried_promotion_does_not_delete_its_own_throughput(env: None, bedrock: Stubber) -> None:
    for _ in range(2):
        approvals(bedrock)
    promote.handler(event(keep=True), None)
    assert promote.handler(event(keep=True), None)["replaced_throughputs"] == []


@pytest.mark.parametrize(("error", "status"), [("ThrottlingException", 429), ("ConflictException", 409)])
def test_a_failed_delete_of_the_replaced_throughput_is_retried_until_it_is_gone(
    env: None, bedrock: Stubber, error: str, status: int
) -> None:
    """The retry finds the parameter already naming this execution and deletes what the record says it replaced."""
    publish(previous())
    approvals(bedrock)
    owned(bedrock, OLD_PT)
    deletes(bedrock, OLD_PT, error, status)
    with pytest.raises(TransientServiceError):
        promote.handler(event(keep=True), None)
    value = parameter()
    assert value["provisioned_model_arn"] == PT_ARN  # published before anything was deleted
    assert value["replaces"] == [replaced(OLD_PT)]

    approvals(bedrock)
    owned(bedrock, OLD_PT)
    deletes(bedrock, OLD_PT)
    result = promote.handler(event(keep=True), None)
    assert result["replaced_throughputs"] == [OLD_PT]
    assert parameter()["replaces"] == [] and parameter()["provisioned_model_arn"] == PT_ARN


def test_a_failed_put_leaves_the_previous_throughput_serving_and_named(env: None, bedrock: Stubber) -> None:
    publish(previous())
    approvals(bedrock)  # no delete queued: the Stubber fails the test if one is made
    CLIENTS.set("ssm", FailingPuts({1}))
    with pytest.raises(TransientServiceError):
        promote.handler(event(keep=True), None)
    assert parameter() == previous()


def test_a_failed_clearing_put_is_retried_and_deletes_nothing_twice(env: None, bedrock: Stubber) -> None:
    publish(previous())
    ssm = FailingPuts({2})
    CLIENTS.set("ssm", ssm)
    approvals(bedrock)
    owned(bedrock, OLD_PT)
    deletes(bedrock, OLD_PT)
    with pytest.raises(TransientServiceError):
        promote.handler(event(keep=True), None)
    approvals(bedrock)
    owned(bedrock, OLD_PT)
    deletes(bedrock, OLD_PT, "ResourceNotFoundException", 404)  # already gone: not an error
    assert promote.handler(event(keep=True), None)["replaced_throughputs"] == [OLD_PT]
    assert parameter()["replaces"] == [] and ssm.puts == 3


def test_a_refused_delete_stays_recorded_and_the_next_promotion_deletes_it(env: None, bedrock: Stubber) -> None:
    """AccessDenied does not pass by retrying; failing the run would delete the throughput just published."""
    publish(previous())
    approvals(bedrock)
    owned(bedrock, OLD_PT)
    deletes(bedrock, OLD_PT, "AccessDeniedException", 403)
    result = promote.handler(event(keep=True), None)
    assert result["pending_replacements"] == [OLD_PT] and result["replaced_throughputs"] == []
    assert parameter()["replaces"] == [replaced(OLD_PT)]

    # The next promotion (another execution, another model and throughput) replaces both.
    next_pt = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/222222222222"
    next_model = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/222222222222"
    later = event(keep=True, execution_name="demo-2222222222222222")
    later["job"]["custom_model_arn"], later["throughput"]["arn"] = next_model, next_pt
    bedrock.add_response("tag_resource", {}, {"resourceARN": next_model, "tags": APPROVED})
    bedrock.add_response("tag_resource", {}, {"resourceARN": next_pt, "tags": APPROVED})
    owned(bedrock, OLD_PT)
    deletes(bedrock, OLD_PT)
    owned(bedrock, PT_ARN)
    deletes(bedrock, PT_ARN)
    result = promote.handler(later, None)
    assert result["replaced_throughputs"] == [OLD_PT, PT_ARN] and result["pending_replacements"] == []
    assert parameter()["replaces"] == [] and parameter()["provisioned_model_arn"] == next_pt


@pytest.mark.parametrize(
    "value",
    [
        OLD_PT,  # not JSON
        json.dumps([OLD_PT]),  # JSON, not an object
        json.dumps({"provisioned_model_arn": OLD_PT}),  # no custom model or execution
        json.dumps(previous(provisioned_model_arn="my-throughput")),  # not a throughput ARN
        json.dumps(previous(provisioned_model_arn=None, replaces=[{"provisioned_model_arn": "x"}, "y"])),
        # Neither key names a throughput's or a deployment's ARN.
        json.dumps(previous(provisioned_model_arn=None, invoke_model_id="custom-model-deployment/abcdefabcdef")),
        json.dumps(previous(provisioned_model_arn=None, replaces=[{"kind": "onDemand", "invoke_model_id": "d"}])),
    ],
)
def test_a_parameter_not_written_by_the_pipeline_has_nothing_it_names_deleted(
    env: None, bedrock: Stubber, value: str
) -> None:
    publish(value)
    approvals(bedrock)  # no delete queued: the Stubber fails the test if one is made
    result = promote.handler(event(keep=True), None)
    assert result["replaced_throughputs"] == [] and parameter()["provisioned_model_arn"] == PT_ARN


def test_a_previous_value_naming_the_same_throughput_deletes_nothing(env: None, bedrock: Stubber) -> None:
    publish(previous(provisioned_model_arn=PT_ARN, replaces=[{"provisioned_model_arn": PT_ARN}]))
    approvals(bedrock)  # no delete queued
    result = promote.handler(event(keep=True), None)
    assert result["replaced_throughputs"] == [] and parameter()["replaces"] == []


def test_a_reused_execution_name_is_not_mistaken_for_a_retry(env: None, bedrock: Stubber) -> None:
    """After 90 days the same upload gets the same execution name; its new model must still be published."""
    publish(previous(execution_name="demo-0123456789abcdef"))
    approvals(bedrock)
    owned(bedrock, OLD_PT)
    deletes(bedrock, OLD_PT)
    result = promote.handler(event(keep=True), None)
    assert result["replaced_throughputs"] == [OLD_PT]
    assert parameter()["custom_model_arn"] == MODEL_ARN


def test_throttled_tagging_is_transient(env: None, bedrock: Stubber) -> None:
    bedrock.add_client_error("tag_resource", **client_error("ThrottlingException", 429))
    with pytest.raises(TransientServiceError):
        promote.handler(event(keep=True), None)


# ---- a candidate served on demand: the deployment is what is kept, published and later replaced ---------------
DEP_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model-deployment/abcdefabcdef"
OLD_DEP = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model-deployment/000000000000"
ON_DEMAND = {"mode": contracts.SERVING_ON_DEMAND, "max_wait_minutes": 60}


def on_demand_event(keep: bool, **run: Any) -> dict[str, Any]:
    request = event(keep, serving=ON_DEMAND, **run)
    request["throughput"] = {"kind": contracts.SERVING_ON_DEMAND, "arn": DEP_ARN, "status": "Active"}
    return request


def deployment_approvals(bedrock: Stubber) -> None:
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    bedrock.add_response("tag_resource", {}, {"resourceARN": DEP_ARN, "tags": APPROVED})


def deletes_deployment(bedrock: Stubber, identifier: str, error: str | None = None, status: int = 400) -> None:
    if error:
        bedrock.add_client_error("delete_custom_model_deployment", **client_error(error, status))
    else:
        bedrock.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": identifier})


def test_a_kept_deployment_is_tagged_approved_and_published_as_the_model_id(env: None, bedrock: Stubber) -> None:
    deployment_approvals(bedrock)
    result = promote.handler(on_demand_event(keep=True), None)
    assert result["serving_kind"] == contracts.SERVING_ON_DEMAND and result["invoke_model_id"] == DEP_ARN
    assert result["provisioned_model_arn"] is None and result["throughput_kept"] is True
    value = parameter()
    assert value["serving_kind"] == contracts.SERVING_ON_DEMAND and value["invoke_model_id"] == DEP_ARN
    assert value["provisioned_model_arn"] is None and value["custom_model_arn"] == MODEL_ARN


def test_a_deployment_not_kept_is_deleted_and_no_model_id_is_published(env: None, bedrock: Stubber) -> None:
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    deletes_deployment(bedrock, DEP_ARN)
    result = promote.handler(on_demand_event(keep=False), None)
    assert result["invoke_model_id"] is None and result["throughput_kept"] is False
    assert parameter()["invoke_model_id"] is None and parameter()["serving_kind"] == contracts.SERVING_ON_DEMAND


def test_a_deployment_without_an_arn_is_deleted_by_the_runs_name(env: None, bedrock: Stubber) -> None:
    request = on_demand_event(keep=False)
    request["throughput"] = {}  # the run's serving mode says which kind
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    deletes_deployment(bedrock, request["run"]["execution_name"])
    assert promote.handler(request, None)["invoke_model_id"] is None


def test_a_failed_delete_of_an_unkept_deployment_publishes_nothing(env: None, bedrock: Stubber) -> None:
    bedrock.add_response("tag_resource", {}, {"resourceARN": MODEL_ARN, "tags": APPROVED})
    deletes_deployment(bedrock, DEP_ARN, "ConflictException", 409)
    with pytest.raises(TransientServiceError):
        promote.handler(on_demand_event(keep=False), None)
    with pytest.raises(ClientError):
        boto3.client("ssm").get_parameter(Name=PARAMETER)


def test_a_deployment_replaces_a_throughput_and_deletes_it_as_a_throughput(env: None, bedrock: Stubber) -> None:
    publish(previous())
    deployment_approvals(bedrock)
    owned(bedrock, OLD_PT)
    deletes(bedrock, OLD_PT)
    result = promote.handler(on_demand_event(keep=True), None)
    assert result["replaced_throughputs"] == [OLD_PT] and parameter()["replaces"] == []


def test_a_throughput_replaces_a_deployment_and_deletes_it_as_a_deployment(env: None, bedrock: Stubber) -> None:
    publish(previous(provisioned_model_arn=None, serving_kind=contracts.SERVING_ON_DEMAND, invoke_model_id=OLD_DEP))
    approvals(bedrock)
    owned(bedrock, OLD_DEP)
    deletes_deployment(bedrock, OLD_DEP)
    result = promote.handler(event(keep=True), None)
    assert result["replaced_throughputs"] == [OLD_DEP]
    value = parameter()
    assert value["invoke_model_id"] == PT_ARN and value["serving_kind"] == contracts.SERVING_PROVISIONED
    assert value["replaces"] == []


def test_a_deployment_replacing_a_deployment_records_it_until_its_delete_succeeds(env: None, bedrock: Stubber) -> None:
    publish(previous(provisioned_model_arn=None, serving_kind=contracts.SERVING_ON_DEMAND, invoke_model_id=OLD_DEP))
    deployment_approvals(bedrock)
    owned(bedrock, OLD_DEP)
    deletes_deployment(bedrock, OLD_DEP, "ConflictException", 409)
    with pytest.raises(TransientServiceError):
        promote.handler(on_demand_event(keep=True), None)
    assert parameter()["invoke_model_id"] == DEP_ARN and parameter()["replaces"] == [replaced(OLD_DEP)]

    deployment_approvals(bedrock)
    owned(bedrock, OLD_DEP)
    deletes_deployment(bedrock, OLD_DEP, "ResourceNotFoundException", 404)  # gone meanwhile: not an error
    assert promote.handler(on_demand_event(keep=True), None)["replaced_throughputs"] == [OLD_DEP]
    assert parameter()["replaces"] == []


def test_a_refused_deployment_delete_stays_pending_and_the_next_promotion_deletes_both_kinds(
    env: None, bedrock: Stubber
) -> None:
    publish(previous(provisioned_model_arn=None, serving_kind=contracts.SERVING_ON_DEMAND, invoke_model_id=OLD_DEP))
    approvals(bedrock)
    owned(bedrock, OLD_DEP)
    deletes_deployment(bedrock, OLD_DEP, "AccessDeniedException", 403)
    result = promote.handler(event(keep=True), None)
    assert result["pending_replacements"] == [OLD_DEP]
    assert parameter()["replaces"] == [replaced(OLD_DEP)]

    later = on_demand_event(keep=True, execution_name="demo-2222222222222222")
    later["job"]["custom_model_arn"] = next_model = MODEL_ARN.replace("abcdefabcdef", "222222222222")
    bedrock.add_response("tag_resource", {}, {"resourceARN": next_model, "tags": APPROVED})
    bedrock.add_response("tag_resource", {}, {"resourceARN": DEP_ARN, "tags": APPROVED})
    owned(bedrock, OLD_DEP)
    deletes_deployment(bedrock, OLD_DEP)
    owned(bedrock, PT_ARN)
    deletes(bedrock, PT_ARN)
    result = promote.handler(later, None)
    assert result["replaced_throughputs"] == [OLD_DEP, PT_ARN] and result["pending_replacements"] == []


def test_replacements_recorded_before_kinds_existed_are_still_deleted(env: None, bedrock: Stubber) -> None:
    """An entry holding only provisioned_model_arn (an earlier version's record) is a throughput."""
    earlier = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/111111111111"
    publish(previous(replaces=[{"provisioned_model_arn": earlier, "execution_name": "older-1"}]))
    approvals(bedrock)
    owned(bedrock, earlier)
    deletes(bedrock, earlier)
    owned(bedrock, OLD_PT)
    deletes(bedrock, OLD_PT)
    assert promote.handler(event(keep=True), None)["replaced_throughputs"] == [earlier, OLD_PT]


def test_an_unknown_serving_kind_is_refused_before_anything_is_tagged(env: None, bedrock: Stubber) -> None:
    request = event(keep=True)
    request["throughput"]["kind"] = "spot"
    with pytest.raises(ValueError, match="unknown serving kind 'spot'"):
        promote.handler(request, None)


# ---- only what carries this pipeline's tag is deleted: the record may have been written or redirected by anyone --
@pytest.mark.parametrize(
    ("owner", "why"),
    [(None, "has no finetune:pipeline tag"), ("other-team", "tagged finetune:pipeline=other-team")],
    ids=["untagged", "another-pipeline"],
)
def test_a_recorded_throughput_not_tagged_as_ours_is_never_deleted(
    env: None, bedrock: Stubber, caplog: pytest.LogCaptureFixture, owner: str | None, why: str
) -> None:
    """A redirected record must not take down another team's throughput; the promotion itself still succeeds."""
    publish(previous())
    approvals(bedrock)
    owned(bedrock, OLD_PT, owner)  # no delete queued: the Stubber fails the test if one is made
    result = promote.handler(event(keep=True), None)
    assert result["replaced_throughputs"] == [] and result["pending_replacements"] == []
    ((refusal),) = result["refused_replacements"]
    assert refusal["arn"] == OLD_PT and why in refusal["reason"]
    value = parameter()
    assert value["provisioned_model_arn"] == PT_ARN and value["replaces"] == []  # dropped: never tried again
    assert any("not deleting what the promotion record names" in r.getMessage() for r in caplog.records)


def test_a_recorded_deployment_of_another_pipeline_is_never_deleted(env: None, bedrock: Stubber) -> None:
    publish(previous(provisioned_model_arn=None, serving_kind=contracts.SERVING_ON_DEMAND, invoke_model_id=OLD_DEP))
    approvals(bedrock)
    owned(bedrock, OLD_DEP, "finetune-dev")  # a prefix of ours is not ours either
    result = promote.handler(event(keep=True), None)
    assert [r["arn"] for r in result["refused_replacements"]] == [OLD_DEP] and result["replaced_throughputs"] == []


def test_only_the_recorded_throughputs_tagged_as_ours_are_deleted(env: None, bedrock: Stubber) -> None:
    foreign = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/999999999999"
    publish(previous(replaces=[{"provisioned_model_arn": foreign, "execution_name": "older-1"}]))
    approvals(bedrock)
    owned(bedrock, foreign, "other-team")
    owned(bedrock, OLD_PT)
    deletes(bedrock, OLD_PT)
    result = promote.handler(event(keep=True), None)
    assert result["replaced_throughputs"] == [OLD_PT]
    assert [r["arn"] for r in result["refused_replacements"]] == [foreign]
    assert parameter()["replaces"] == []


@pytest.mark.parametrize(("error", "status"), [("AccessDeniedException", 403), ("ValidationException", 400)])
def test_unreadable_tags_delete_nothing_and_keep_the_entry_recorded(
    env: None, bedrock: Stubber, error: str, status: int
) -> None:
    """Nobody can tell whose it is: nothing is deleted, the promotion succeeds, the next one checks again."""
    publish(previous())
    approvals(bedrock)
    bedrock.add_client_error("list_tags_for_resource", **client_error(error, status))
    result = promote.handler(event(keep=True), None)
    assert result["pending_replacements"] == [OLD_PT] and result["replaced_throughputs"] == []
    assert result["refused_replacements"] == []
    assert parameter()["replaces"] == [replaced(OLD_PT)] and parameter()["provisioned_model_arn"] == PT_ARN


def test_throttled_tag_reads_are_retried_by_the_workflow_and_delete_on_the_retry(env: None, bedrock: Stubber) -> None:
    publish(previous())
    approvals(bedrock)
    bedrock.add_client_error("list_tags_for_resource", **client_error("ThrottlingException", 429))
    with pytest.raises(TransientServiceError):
        promote.handler(event(keep=True), None)
    assert parameter()["replaces"] == [replaced(OLD_PT)]  # published; the deletion is still owed

    approvals(bedrock)
    owned(bedrock, OLD_PT)
    deletes(bedrock, OLD_PT)
    assert promote.handler(event(keep=True), None)["replaced_throughputs"] == [OLD_PT]


def test_a_recorded_throughput_already_gone_counts_as_replaced(env: None, bedrock: Stubber) -> None:
    publish(previous())
    approvals(bedrock)
    bedrock.add_client_error("list_tags_for_resource", **client_error("ResourceNotFoundException", 404))
    deletes(bedrock, OLD_PT, "ResourceNotFoundException", 404)
    assert promote.handler(event(keep=True), None)["replaced_throughputs"] == [OLD_PT]
    assert parameter()["replaces"] == []


def test_a_promotion_without_its_pipelines_name_deletes_nothing_it_replaces(
    env: None, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(contracts.ENV_PIPELINE_NAME, raising=False)
    publish(previous())
    approvals(bedrock)
    owned(bedrock, OLD_PT)
    result = promote.handler(event(keep=True, pipeline_name=""), None)
    assert result["replaced_throughputs"] == [] and [r["arn"] for r in result["refused_replacements"]] == [OLD_PT]


def test_the_placeholder_the_stack_creates_means_nothing_was_promoted(
    env: None, bedrock: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    publish(contracts.PROMOTION_PLACEHOLDER)
    approvals(bedrock)  # nothing to check or delete
    result = promote.handler(event(keep=True), None)
    assert result["replaced_throughputs"] == [] and result["refused_replacements"] == []
    assert parameter()["provisioned_model_arn"] == PT_ARN
    assert not any("not written by the pipeline" in r.getMessage() for r in caplog.records)
