"""Resolve run finds the champion (the promoted model) and whether it is still served: `run.evaluation.champion`.

No parameter, the stack's placeholder or a value the pipeline did not write: no champion. A record whose throughput
was not kept, or whose throughput or deployment is gone or not in service: a champion that is not served (the gate
compares with base only, and the report says why). A lookup Bedrock refuses for another reason than "not found"
stops the run with a clear error instead of quietly judging against base only; throttling is retried.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from handler_fixtures import DATA, DEFAULTS, PROMOTION_PARAMETER, load_handler

from pipeline_aws.champion import ChampionLookupFailed, champion_entry, find_champion
from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import TransientServiceError
from pipeline_core import contracts

resolve_run = load_handler("resolve_run")

PT = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefghijkl"
DEPLOYMENT = "arn:aws:bedrock:us-west-2:123456789012:custom-model-deployment/abcdefghijkl"
CUSTOM_MODEL = "arn:aws:bedrock:us-west-2:123456789012:custom-model/x/abc"


def aws_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


class FakeBedrock:
    """GetFoundationModel answers Active; the serving lookups answer from `status` (an exception is raised)."""

    def __init__(self) -> None:
        self.status: Any = "InService"
        self.calls: list[tuple[str, str]] = []

    def get_foundation_model(self, *, modelIdentifier: str) -> dict[str, Any]:
        return {"modelDetails": {"modelLifecycle": {"status": "ACTIVE"}, "customizationsSupported": ["FINE_TUNING"]}}

    def _answer(self, operation: str, identifier: str) -> dict[str, Any]:
        self.calls.append((operation, identifier))
        if isinstance(self.status, Exception):
            raise self.status
        return {"status": self.status}

    def get_provisioned_model_throughput(self, *, provisionedModelId: str) -> dict[str, Any]:
        return self._answer("GetProvisionedModelThroughput", provisionedModelId)

    def get_custom_model_deployment(self, *, customModelDeploymentIdentifier: str) -> dict[str, Any]:
        return self._answer("GetCustomModelDeployment", customModelDeploymentIdentifier)


@pytest.fixture
def bedrock(aws_env: None) -> Iterator[FakeBedrock]:
    fake = FakeBedrock()
    CLIENTS.set("bedrock", fake)
    yield fake


def record(**changes: Any) -> dict[str, Any]:
    """A promotion record as Promote writes it."""
    value: dict[str, Any] = {
        "custom_model_arn": CUSTOM_MODEL,
        "serving_kind": contracts.SERVING_PROVISIONED,
        "invoke_model_id": PT,
        "provisioned_model_arn": PT,
        "report_uri": "s3://artifacts/runs/first/x/report.json",
        "run_name": "first",
        "execution_name": "first-0123",
        "promoted_at": "2026-11-30T10:00:00+00:00",
        "replaces": [],
    }
    return {**value, **changes}


def put(value: str) -> None:
    boto3.client("ssm").put_parameter(Name=PROMOTION_PARAMETER, Value=value, Type="String", Overwrite=True)


# ---- no champion -------------------------------------------------------------------------------------------------
def test_no_parameter_is_no_champion(bedrock: FakeBedrock) -> None:
    assert find_champion(PROMOTION_PARAMETER) is None
    assert bedrock.calls == []


@pytest.mark.parametrize(
    "value",
    [
        contracts.PROMOTION_PLACEHOLDER,  # what the stack creates the parameter with
        "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/zzzzzzzzzzzz",  # not written by the pipeline
        json.dumps({"invoke_model_id": PT}),  # a JSON object without a custom model
        json.dumps([PT]),
    ],
)
def test_the_placeholder_or_a_value_the_pipeline_did_not_write_is_no_champion(bedrock: FakeBedrock, value: str) -> None:
    put(value)
    assert find_champion(PROMOTION_PARAMETER) is None
    assert bedrock.calls == []  # nothing it names is even looked up


# ---- a champion that is not served ------------------------------------------------------------------------------
def test_a_promotion_that_kept_no_throughput_is_a_champion_nothing_serves(bedrock: FakeBedrock) -> None:
    put(json.dumps(record(invoke_model_id=None, provisioned_model_arn=None)))
    champion = find_champion(PROMOTION_PARAMETER)
    assert champion is not None
    assert champion["served"] is False and champion["model_id"] is None and champion["run_name"] == "first"
    assert "without keeping what served it" in champion["note"]
    assert bedrock.calls == []


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (aws_error("ResourceNotFoundException"), "does not exist any more"),
        ("Failed", f"{PT} is Failed"),
        ("Creating", f"{PT} is Creating"),
    ],
)
def test_a_throughput_that_is_gone_or_not_in_service_is_not_served(
    bedrock: FakeBedrock, status: Any, words: str
) -> None:
    put(json.dumps(record()))
    bedrock.status = status
    champion = find_champion(PROMOTION_PARAMETER)
    assert champion is not None and champion["served"] is False
    assert words in champion["note"] and "run first" in champion["note"]
    assert bedrock.calls == [("GetProvisionedModelThroughput", PT)]


# ---- a served champion --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["InService", "Updating"])
def test_an_in_service_throughput_is_a_served_champion(bedrock: FakeBedrock, status: str) -> None:
    put(json.dumps(record()))
    bedrock.status = status
    assert find_champion(PROMOTION_PARAMETER) == {
        "model_id": PT,
        "kind": contracts.SERVING_PROVISIONED,
        "run_name": "first",
        "served": True,
        "note": f"the champion (run first, promoted 2026-11-30T10:00:00+00:00) is served by {PT} ({status})",
    }


@pytest.mark.parametrize(("status", "served"), [("Active", True), ("Creating", False), ("Failed", False)])
def test_an_on_demand_champion_is_served_while_its_deployment_is_active(
    bedrock: FakeBedrock, status: str, served: bool
) -> None:
    put(
        json.dumps(
            record(serving_kind=contracts.SERVING_ON_DEMAND, invoke_model_id=DEPLOYMENT, provisioned_model_arn=None)
        )
    )
    bedrock.status = status
    champion = find_champion(PROMOTION_PARAMETER)
    assert champion is not None and champion["served"] is served and champion["kind"] == contracts.SERVING_ON_DEMAND
    assert bedrock.calls == [("GetCustomModelDeployment", DEPLOYMENT)]


def test_an_on_demand_champion_in_a_stack_that_may_not_invoke_deployments_is_not_looked_up(
    bedrock: FakeBedrock,
) -> None:
    put(
        json.dumps(
            record(serving_kind=contracts.SERVING_ON_DEMAND, invoke_model_id=DEPLOYMENT, provisioned_model_arn=None)
        )
    )
    champion = find_champion(PROMOTION_PARAMETER, on_demand_allowed=False)
    assert champion is not None and champion["served"] is False and "may no longer invoke" in champion["note"]
    assert bedrock.calls == []


def test_a_record_written_before_on_demand_serving_is_read_by_its_provisioned_model_arn(bedrock: FakeBedrock) -> None:
    old = record()
    del old["serving_kind"], old["invoke_model_id"]
    put(json.dumps(old))
    champion = find_champion(PROMOTION_PARAMETER)
    assert champion is not None and champion["served"] is True and champion["model_id"] == PT
    assert champion["kind"] == contracts.SERVING_PROVISIONED


# ---- the lookup failing ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["AccessDeniedException", "ValidationException"])
def test_a_refused_lookup_stops_the_run_instead_of_comparing_with_base_only(bedrock: FakeBedrock, code: str) -> None:
    put(json.dumps(record()))
    bedrock.status = aws_error(code)
    with pytest.raises(
        ChampionLookupFailed, match=f"cannot tell whether the promoted model {PT} is still served.*{code}"
    ):
        find_champion(PROMOTION_PARAMETER)


@pytest.mark.parametrize(("code", "status"), [("ThrottlingException", 400), ("InternalServerException", 500)])
def test_a_throttled_or_failed_lookup_is_retried_by_the_workflow(bedrock: FakeBedrock, code: str, status: int) -> None:
    put(json.dumps(record()))
    bedrock.status = aws_error(code, status)
    with pytest.raises(TransientServiceError):
        find_champion(PROMOTION_PARAMETER)


def test_a_throttled_parameter_read_is_retried_by_the_workflow(bedrock: FakeBedrock) -> None:
    class ThrottledSsm:
        def get_parameter(self, **_: Any) -> Any:
            raise aws_error("ThrottlingException")

    CLIENTS.set("ssm", ThrottledSsm())
    with pytest.raises(TransientServiceError):
        find_champion(PROMOTION_PARAMETER)


def test_the_entry_is_a_pure_function_of_the_record_and_the_status() -> None:
    """Catches a status outside the kind's serving set counted as served (e.g. Active for a throughput)."""
    assert champion_entry(record(), "Active")["served"] is False
    assert champion_entry(record(), "InService")["served"] is True
    assert champion_entry(record(), None)["served"] is False


# ---- through the handler ------------------------------------------------------------------------------------------
def _event() -> dict[str, Any]:
    source = {"bucket": DATA, "key": "inbox/demo.jsonl", "etag": "e", "version_id": None, "run_name": "demo"}
    return {"source": source, "execution_name": "demo-0123456789abcdef"}


@pytest.fixture
def env(buckets: Any, defaults_env: dict[str, Any], bedrock: FakeBedrock) -> Any:
    buckets.put_object(Bucket=DATA, Key="inbox/demo.jsonl", Body=b"{}\n")
    return buckets


def test_the_run_spec_records_the_champion(env: Any, bedrock: FakeBedrock) -> None:
    put(json.dumps(record()))
    run = resolve_run.handler(_event(), None)
    assert run["evaluation"]["champion"]["model_id"] == PT
    assert run["evaluation"]["champion"]["served"] is True


def test_the_run_spec_records_no_champion_when_nothing_was_promoted(env: Any, bedrock: FakeBedrock) -> None:
    put(contracts.PROMOTION_PLACEHOLDER)
    assert resolve_run.handler(_event(), None)["evaluation"]["champion"] is None


def test_a_switched_off_comparison_does_not_read_the_record(
    env: Any, bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = json.loads(json.dumps(DEFAULTS))
    defaults["evaluation"]["gate"]["champion"] = {"enabled": False, "min_improvement_points": 0.0, "max_p_value": 0.05}
    monkeypatch.setenv(contracts.ENV_DEFAULTS, json.dumps(defaults))
    put(json.dumps(record()))
    run = resolve_run.handler(_event(), None)
    assert run["evaluation"]["champion"] is None
    assert run["evaluation"]["gate"]["champion"]["enabled"] is False
    assert bedrock.calls == []


def test_a_refused_lookup_fails_the_handler_with_its_class_name(env: Any, bedrock: FakeBedrock) -> None:
    put(json.dumps(record()))
    bedrock.status = aws_error("AccessDeniedException")
    with pytest.raises(resolve_run.ChampionLookupFailed):
        resolve_run.handler(_event(), None)
