"""Promote under the promotion lock: two promotions never interleave their read-decide-write of the record, and a
run whose champion was replaced while it was evaluated is refused before anything is tagged or written."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from handler_fixtures import ACCOUNT, HAIKU, load_handler, run_spec

from pipeline_aws import lock
from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import TransientServiceError
from pipeline_core import contracts

promote = load_handler("promote")
PARAMETER = "/finetune/promoted-model"
TABLE = "finetune-admission"
P0 = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/000000000000"
PA = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/aaaaaaaaaaaa"
PB = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/bbbbbbbbbbbb"
M0 = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/000000000000"
MA = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/aaaaaaaaaaaa"
MB = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/bbbbbbbbbbbb"
CHAMPION_P0 = {"model_id": P0, "kind": contracts.SERVING_PROVISIONED, "run_name": "earlier", "served": True}


class FakeBedrock:
    """Bedrock's tag and delete calls, recorded; `on_tag` runs once, inside the first tag call (an interleaving)."""

    def __init__(self) -> None:
        self.tagged: list[str] = []
        self.deleted: list[str] = []
        self.on_tag: Callable[[], None] | None = None

    def tag_resource(self, resourceARN: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        self.tagged.append(resourceARN)
        hook, self.on_tag = self.on_tag, None
        if hook:
            hook()
        return {}

    def list_tags_for_resource(self, resourceARN: str) -> dict[str, Any]:
        return {"tags": [{"key": contracts.TAG_PIPELINE, "value": "finetune"}]}

    def delete_provisioned_model_throughput(self, provisionedModelId: str) -> dict[str, Any]:
        self.deleted.append(provisionedModelId)
        return {}


@pytest.fixture
def bedrock(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> FakeBedrock:
    monkeypatch.setenv(contracts.ENV_PROMOTION_PARAMETER, PARAMETER)
    monkeypatch.setenv(contracts.ENV_ADMISSION_TABLE, TABLE)
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    fake = FakeBedrock()
    CLIENTS.set("bedrock", fake)
    return fake


def event(name: str, model: str, throughput: str, champion: Any, *, compare: bool = True) -> dict[str, Any]:
    spec = run_spec(
        run_name=name,
        execution_name=f"{name}-0123456789abcdef",
        throughput={"model_units": 1, "keep_after_promotion": True, "max_wait_minutes": 60},
    )
    gate = {**spec["evaluation"]["gate"], "champion": {"enabled": compare}}
    spec["evaluation"] = {**spec["evaluation"], "gate": gate, "champion": champion}
    return {
        "run": spec,
        "job": {"custom_model_arn": model, "job_arn": "j", "job_name": "n", "status": "Completed"},
        "throughput": {"arn": throughput, "name": spec["execution_name"], "status": "InService"},
        "evaluation": {"verdict": "promote", "report_uri": f"s3://artifacts/runs/{name}/report.json"},
    }


def publish(value: dict[str, Any]) -> None:
    boto3.client("ssm").put_parameter(Name=PARAMETER, Type="String", Value=json.dumps(value), Overwrite=True)


def record() -> dict[str, Any] | None:
    try:
        found = boto3.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    except ClientError:
        return None
    value: dict[str, Any] = json.loads(found)
    return value


def earlier() -> dict[str, Any]:
    return {
        "custom_model_arn": M0,
        "serving_kind": contracts.SERVING_PROVISIONED,
        "invoke_model_id": P0,
        "provisioned_model_arn": P0,
        "run_name": "earlier",
        "execution_name": "earlier-0000000000000000",
    }


def lock_item() -> dict[str, Any] | None:
    item: dict[str, Any] | None = boto3.client("dynamodb").get_item(TableName=TABLE, Key=lock.LOCK_KEY).get("Item")
    return item


def test_a_second_promotion_waits_for_the_first_and_is_refused_once_the_champion_changed(
    bedrock: FakeBedrock,
) -> None:
    """Both runs were compared with P0; A promotes while B is refused the lock, then B finds A is the champion."""
    publish(earlier())
    attempts: list[BaseException] = []

    def b_meanwhile() -> None:
        with pytest.raises(TransientServiceError, match="promotion lock") as raised:
            promote.handler(event("b", MB, PB, CHAMPION_P0), None)
        attempts.append(raised.value)

    bedrock.on_tag = b_meanwhile  # B runs while A holds the lock, between A's read and its write
    promote.handler(event("a", MA, PA, CHAMPION_P0), None)
    assert len(attempts) == 1
    assert record() is not None and record()["invoke_model_id"] == PA  # type: ignore[index]
    assert bedrock.deleted == [P0]  # A replaced P0 and deleted it
    with pytest.raises(promote.ChampionChanged, match=r"run a promoted .*re-run to compare with the new champion"):
        promote.handler(event("b", MB, PB, CHAMPION_P0), None)  # the workflow's retry
    assert record()["invoke_model_id"] == PA  # type: ignore[index]
    assert MB not in bedrock.tagged and PB not in bedrock.tagged  # B approved nothing: its cleanup deletes PB
    assert lock_item() is None


def test_serialized_promotions_without_champion_comparison_orphan_nothing(bedrock: FakeBedrock) -> None:
    """With the comparison off, B promotes after A and its record replaces A's throughput, which it deletes."""
    publish(earlier())
    refused: list[str] = []

    def b_meanwhile() -> None:
        with pytest.raises(TransientServiceError):
            promote.handler(event("b", MB, PB, None, compare=False), None)
        refused.append("b")

    bedrock.on_tag = b_meanwhile
    promote.handler(event("a", MA, PA, None, compare=False), None)
    promote.handler(event("b", MB, PB, None, compare=False), None)
    assert refused == ["b"]
    assert record()["invoke_model_id"] == PB  # type: ignore[index]
    assert bedrock.deleted == [P0, PA]  # every approved throughput the record stopped naming is gone


def test_a_changed_champion_is_refused_and_nothing_is_written(bedrock: FakeBedrock) -> None:
    promote.handler(event("a", MA, PA, None), None)
    before = record()
    old = {**CHAMPION_P0, "model_id": P0, "run_name": "earlier"}
    with pytest.raises(promote.ChampionChanged, match=rf"run a promoted {MA}.*compared with {P0}"):
        promote.handler(event("b", MB, PB, old), None)
    assert record() == before and bedrock.tagged == [MA, PA] and bedrock.deleted == []
    assert lock_item() is None  # released after the refusal


def test_a_champion_appearing_where_there_was_none_is_refused(bedrock: FakeBedrock) -> None:
    publish(earlier())
    with pytest.raises(promote.ChampionChanged, match="compared with no champion"):
        promote.handler(event("b", MB, PB, None), None)
    assert record() == earlier() and bedrock.tagged == []


def test_an_unchanged_champion_is_replaced(bedrock: FakeBedrock) -> None:
    publish(earlier())
    promote.handler(event("b", MB, PB, CHAMPION_P0), None)
    assert record()["invoke_model_id"] == PB and bedrock.deleted == [P0]  # type: ignore[index]


def test_no_champion_before_and_none_now_promotes(bedrock: FakeBedrock) -> None:
    promote.handler(event("b", MB, PB, None), None)
    assert record()["invoke_model_id"] == PB and bedrock.tagged == [MB, PB]  # type: ignore[index]
    assert lock_item() is None


def test_a_retry_of_its_own_promotion_is_not_mistaken_for_a_changed_champion(bedrock: FakeBedrock) -> None:
    promote.handler(event("b", MB, PB, None), None)
    promote.handler(event("b", MB, PB, None), None)  # the record names this execution now
    assert record()["invoke_model_id"] == PB  # type: ignore[index]


class FailingDynamo:
    """DynamoDB whose put_item or delete_item raises `error`; everything else goes to moto."""

    def __init__(self, method: str, error: Exception) -> None:
        self.real, self.method, self.error = boto3.client("dynamodb"), method, error

    def __getattr__(self, name: str) -> Any:
        if name == self.method:
            raise self.error
        return getattr(self.real, name)


def throttled(operation: str) -> ClientError:
    error = {"Error": {"Code": "ThrottlingException", "Message": "slow"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    return ClientError(error, operation)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error", [EndpointConnectionError(endpoint_url="https://dynamodb"), throttled("PutItem")], ids=["network", "5xx"]
)
def test_a_lock_that_cannot_be_taken_is_transient_and_nothing_is_promoted(
    bedrock: FakeBedrock, error: Exception
) -> None:
    CLIENTS.set("dynamodb", FailingDynamo("put_item", error))
    with pytest.raises(TransientServiceError):
        promote.handler(event("b", MB, PB, None), None)
    assert record() is None and bedrock.tagged == []


def test_a_refused_lock_write_is_not_mistaken_for_a_held_lock(bedrock: FakeBedrock) -> None:
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutItem")
    CLIENTS.set("dynamodb", FailingDynamo("put_item", denied))
    with pytest.raises(ClientError, match="AccessDenied"):
        promote.handler(event("b", MB, PB, None), None)
    assert record() is None and bedrock.tagged == []


def test_a_failed_release_does_not_fail_a_published_promotion(bedrock: FakeBedrock) -> None:
    CLIENTS.set("dynamodb", FailingDynamo("delete_item", EndpointConnectionError(endpoint_url="https://dynamodb")))
    promote.handler(event("b", MB, PB, None), None)
    assert record()["invoke_model_id"] == PB  # type: ignore[index]
    assert lock_item() is not None  # left to its lease


def hold(owner: str, expires_at: int) -> None:
    item = {**lock.LOCK_KEY, "owner": {"S": owner}, "expires_at": {"N": str(expires_at)}}
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)


@pytest.mark.parametrize(("expires_at", "taken"), [(999, True), (1000, False), (1001, False)])
def test_another_owners_lease_is_taken_only_once_expired(bedrock: FakeBedrock, expires_at: int, taken: bool) -> None:
    hold("other", expires_at)
    if taken:
        lock.acquire(TABLE, "me", wait_seconds=0, clock=lambda: 1000.0)
        assert lock_item()["owner"]["S"] == "me"  # type: ignore[index]
        assert lock_item()["expires_at"]["N"] == str(1000 + lock.LEASE_SECONDS)  # type: ignore[index]
    else:
        with pytest.raises(TransientServiceError):
            lock.acquire(TABLE, "me", wait_seconds=0, clock=lambda: 1000.0)
        assert lock_item()["owner"]["S"] == "other"  # type: ignore[index]


def test_a_held_lock_is_waited_for_within_the_wait_and_taken_when_released(bedrock: FakeBedrock) -> None:
    hold("other", 5000)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            assert lock.release(TABLE, "other")

    lock.acquire(TABLE, "me", wait_seconds=10, sleep=sleep, clock=lambda: 1000.0)
    assert lock_item()["owner"]["S"] == "me" and len(sleeps) == 2  # type: ignore[index]


def test_the_wait_is_bounded(bedrock: FakeBedrock) -> None:
    hold("other", 5000)
    sleeps: list[float] = []
    with pytest.raises(TransientServiceError):
        lock.acquire(TABLE, "me", wait_seconds=4, sleep=sleeps.append, clock=lambda: 1000.0)
    assert sum(sleeps) == 4


def test_the_lease_outlasts_promotes_timeout() -> None:
    assert lock.LEASE_SECONDS > contracts.PROMOTE_TIMEOUT_SECONDS


@pytest.mark.parametrize(("wait", "polls"), [(3.9, 1), (4.0, 2), (4.1, 2)])
def test_the_wait_never_sleeps_past_its_bound(bedrock: FakeBedrock, wait: float, polls: int) -> None:
    hold("other", 5000)
    sleeps: list[float] = []
    with pytest.raises(TransientServiceError):
        lock.acquire(TABLE, "me", wait_seconds=wait, sleep=sleeps.append, clock=lambda: 1000.0)
    assert len(sleeps) == polls and sum(sleeps) <= wait


# ---- one owner per invocation: a retry of the same execution does not share the lock -----------------------------
EXECUTION = "b-0123456789abcdef"
FIRST, RETRY = lock.owner_of(EXECUTION, "request-1"), lock.owner_of(EXECUTION, "request-2")


@pytest.mark.parametrize(("expires_at", "taken"), [(999, True), (1000, False), (1001, False)])
def test_another_request_of_the_same_execution_takes_over_only_once_the_lease_expired(
    bedrock: FakeBedrock, expires_at: int, taken: bool
) -> None:
    hold(FIRST, expires_at)
    if taken:
        lock.acquire(TABLE, RETRY, wait_seconds=0, clock=lambda: 1000.0)
    else:
        with pytest.raises(TransientServiceError):
            lock.acquire(TABLE, RETRY, wait_seconds=0, clock=lambda: 1000.0)
    assert lock_item()["owner"]["S"] == (RETRY if taken else FIRST)  # type: ignore[index]


def test_the_same_invocation_takes_its_own_lock_again(bedrock: FakeBedrock) -> None:
    hold(FIRST, 5000)
    lock.acquire(TABLE, FIRST, wait_seconds=0, clock=lambda: 1000.0)
    assert lock_item()["expires_at"]["N"] == str(1000 + lock.LEASE_SECONDS)  # type: ignore[index]


def test_release_matches_the_exact_owner_not_the_execution(bedrock: FakeBedrock) -> None:
    hold(RETRY, 5000)
    assert not lock.release(TABLE, FIRST)  # the first invocation ends while its retry promotes
    assert lock_item()["owner"]["S"] == RETRY  # type: ignore[index]
    assert lock.release(TABLE, RETRY) and lock_item() is None


class Context:
    """A Lambda context: its request id and the time left."""

    def __init__(self, request_id: str, remaining_seconds: float = 300) -> None:
        self.aws_request_id, self.remaining_seconds = request_id, remaining_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_seconds * 1000)


def test_an_overlapping_retry_of_the_same_execution_waits_and_the_first_release_leaves_its_lock(
    bedrock: FakeBedrock,
) -> None:
    """Step Functions retries Promote while the first invocation still runs: the retry is refused the lock."""
    refused: list[str] = []

    def retry_meanwhile() -> None:
        with pytest.raises(TransientServiceError, match="promotion lock"):
            promote.handler(event("b", MB, PB, None), Context("request-2", remaining_seconds=0))
        refused.append("retry")
        assert lock_item()["owner"]["S"] == FIRST  # type: ignore[index]

    bedrock.on_tag = retry_meanwhile
    promote.handler(event("b", MB, PB, None), Context("request-1", remaining_seconds=0))
    assert refused == ["retry"] and lock_item() is None
    assert record()["invoke_model_id"] == PB  # type: ignore[index]


# ---- the lock wait leaves Promote PROMOTE_BUDGET_SECONDS of its invocation -----------------------------------------
@pytest.mark.parametrize(
    ("remaining", "wait"), [(None, 0.0), (0, 0.0), (199, 0.0), (200, 0.0), (201, 1.0), (300, 100.0)]
)
def test_the_lock_wait_is_what_is_left_beyond_the_budget(remaining: float | None, wait: float) -> None:
    assert promote.PROMOTE_BUDGET_SECONDS == 200
    context = None if remaining is None else Context("r", remaining_seconds=remaining)
    assert promote.lock_wait_seconds(context) == wait


@pytest.mark.parametrize(("remaining", "polls"), [(203.9, 1), (204, 2), (204.1, 2)])
def test_a_held_lock_is_given_up_while_the_budget_is_left(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch, remaining: float, polls: int
) -> None:
    """Another promotion holds the lock: Promote polls only while more than the budget would be left, then raises
    TransientServiceError (retried by the workflow) instead of running into its Lambda timeout."""
    hold("other", 2**40)
    sleeps: list[float] = []
    real = lock.acquire

    def acquire(table: str, owner: str, *, wait_seconds: float) -> None:
        real(table, owner, wait_seconds=wait_seconds, sleep=sleeps.append)

    monkeypatch.setattr(promote, "acquire", acquire)
    with pytest.raises(TransientServiceError, match="promotion lock"):
        promote.handler(event("b", MB, PB, None), Context("r", remaining_seconds=remaining))
    assert len(sleeps) == polls and remaining - sum(sleeps) >= promote.PROMOTE_BUDGET_SECONDS
    assert record() is None and bedrock.tagged == []


def test_release_leaves_another_owners_lock(bedrock: FakeBedrock) -> None:
    hold("other", 5000)
    assert not lock.release(TABLE, "me")
    assert lock_item()["owner"]["S"] == "other"  # type: ignore[index]
