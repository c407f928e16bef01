"""The evaluate handler on moto S3: `plan` writes byte-range batches; `batch` asks every model, records every call."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from handler_fixtures import ARTIFACTS, load_handler, run_spec

from pipeline_core import contracts
from pipeline_core.evaluation import EvaluationFailed, RetryPolicy
from pipeline_core.metrics import GateThresholds, get_metric
from pipeline_core.report import Aggregator, ModelRoles, RunInfo

evaluate: ModuleType = load_handler("evaluate")

PT_ARN = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefghijkl"
BASE = "anthropic.claude-3-haiku-20240307-v1:0"
REFERENCE = "amazon.nova-micro-v1:0"
RECORD_KEYS = {
    "id",
    "model",
    "role",
    "prediction",
    "references",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "error",
}


def spec(**evaluation: Any) -> dict[str, Any]:
    run: dict[str, Any] = run_spec()
    run["evaluation"] = {**run["evaluation"], "batch_size": 2, "concurrency": 3, **evaluation}
    return run


def claude_line(i: int, question: str | None = None) -> bytes:
    record = {
        "system": "Answer with one word.",
        "messages": [
            {"role": "user", "content": question or f"Question {i}: ¿qué número?"},
            {"role": "assistant", "content": f"answer {i} ✓"},
        ],
    }
    return json.dumps(record, ensure_ascii=False).encode()


# CRLF, a blank line and multi-byte UTF-8 in the snapshot: the ranges must still be exact.
TEST_SET = b"\r\n".join([claude_line(1), claude_line(2), b"", claude_line(3), claude_line(4), claude_line(5)]) + b"\r\n"


@pytest.fixture
def s3(kms_key: str, buckets: Any) -> Any:
    client = boto3.client("s3")
    client.put_object(Bucket=ARTIFACTS, Key=run_spec()["artifacts_prefix"] + contracts.DATA_TEST, Body=TEST_SET)
    return client


def snapshot_uri(run: dict[str, Any]) -> str:
    return f"s3://{ARTIFACTS}/{run['artifacts_prefix']}{contracts.DATA_TEST}"


def plan_event(run: dict[str, Any], uri: str | None = "default") -> dict[str, Any]:
    return {"action": "plan", "run": run, "validation": {"test_uri": snapshot_uri(run) if uri == "default" else uri}}


class FakeRuntime:
    """bedrock-runtime's Converse: answers, or raises what `behaviour(model, attempt)` returns. Thread-safe."""

    def __init__(self, behaviour: Callable[[str, int], BaseException | None] | None = None, delay: float = 0) -> None:
        self.behaviour = behaviour or (lambda model, attempt: None)
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.attempts: dict[tuple[str, str], int] = {}
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def converse(self, **request: Any) -> dict[str, Any]:
        model, question = request["modelId"], request["messages"][-1]["content"][0]["text"]
        with self.lock:
            self.requests.append(request)
            attempt = self.attempts[(model, question)] = self.attempts.get((model, question), 0) + 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self.delay)
            error = self.behaviour(model, attempt)
            if error is not None:
                raise error
            number = question.split(":")[0].removeprefix("Question ")
            answer = f"answer {number} ✓" if model == PT_ARN else "something else"
            return {
                "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15},
                "metrics": {"latencyMs": 250 if model == PT_ARN else 400},
            }
        finally:
            with self.lock:
                self.in_flight -= 1


def client_error(code: str, status: int) -> BaseException:
    error: BaseException = ClientError(
        {"Error": {"Code": code, "Message": f"simulated {code}"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Converse",
    )
    return error


def read_timeout() -> BaseException:
    error: BaseException = ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-west-2.amazonaws.com")
    return error


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self.lock:
            self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def policy(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(max_attempts=4, sleep=sleeps, random=lambda: 0.5)


def planned(s3: Any, run: dict[str, Any]) -> list[dict[str, Any]]:
    output = evaluate.handler(plan_event(run), s3=s3)
    body = s3.get_object(Bucket=output["bucket"], Key=output["key"])["Body"].read()
    batches: list[dict[str, Any]] = json.loads(body)
    return batches


def read_records(s3: Any, run: dict[str, Any], index: int) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=ARTIFACTS, Key=evaluate.results_key(run["artifacts_prefix"], index))["Body"].read()
    return [json.loads(line) for line in body.decode().splitlines()]


def run_batches(s3: Any, run: dict[str, Any], fake: FakeRuntime, policy: RetryPolicy) -> Iterator[dict[str, Any]]:
    for batch in planned(s3, run):
        event = {"action": "batch", "run": run, "batch": batch, "candidate_model_id": PT_ARN}
        yield evaluate.handler(event, s3=s3, bedrock=fake, policy=policy)


# --- plan ----------------------------------------------------------------------------------------------------


def test_plan_writes_exact_byte_ranges_with_sse_kms(s3: Any, kms_key: str) -> None:
    run = spec()
    output = evaluate.handler(plan_event(run), s3=s3)
    key = run["artifacts_prefix"] + contracts.EVALUATION_PLAN
    assert output == {"bucket": ARTIFACTS, "key": key, "batches": 3, "examples": 5}
    head = s3.head_object(Bucket=ARTIFACTS, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == kms_key
    batches = json.loads(s3.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read())
    assert [(b["index"], b["first_line"], b["examples"]) for b in batches] == [(0, 1, 2), (1, 4, 2), (2, 6, 1)]
    for batch in batches:  # a ranged GET returns exactly the batch's lines, CRLF included
        got = s3.get_object(
            Bucket=ARTIFACTS,
            Key=run["artifacts_prefix"] + contracts.DATA_TEST,
            Range=f"bytes={batch['start_byte']}-{batch['end_byte'] - 1}",
        )["Body"].read()
        assert got == TEST_SET[batch["start_byte"] : batch["end_byte"]]
        assert got.endswith(b"\r\n")


def test_plan_caps_examples(s3: Any) -> None:
    output = evaluate.handler(plan_event(spec(max_examples=3)), s3=s3)
    assert (output["batches"], output["examples"]) == (2, 3)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (None, "validation.test_uri is null"),
        (f"s3://{ARTIFACTS}/somewhere/else.jsonl", "evaluation reads the snapshot"),
    ],
)
def test_plan_refuses_a_missing_or_foreign_test_set(s3: Any, uri: str | None, message: str) -> None:
    with pytest.raises(EvaluationFailed, match=message) as caught:
        evaluate.handler(plan_event(spec(), uri), s3=s3)
    assert type(caught.value).__name__ == contracts.ERROR_EVALUATION


def test_plan_names_a_bad_line_and_a_missing_file(s3: Any) -> None:
    run = spec()
    key = run["artifacts_prefix"] + contracts.DATA_TEST
    s3.put_object(Bucket=ARTIFACTS, Key=key, Body=claude_line(1) + b"\n" + b'{"prompt": "no completion"}\n')
    # The base model's format decides how a record is read: Claude 3 Haiku records need messages.
    with pytest.raises(EvaluationFailed, match="line 2: 'messages' must be a non-empty list"):
        evaluate.handler(plan_event(run), s3=s3)
    s3.delete_object(Bucket=ARTIFACTS, Key=key)
    with pytest.raises(EvaluationFailed, match="does not exist"):
        evaluate.handler(plan_event(run), s3=s3)
    s3.put_object(Bucket=ARTIFACTS, Key=key, Body=b"\n\n")
    with pytest.raises(EvaluationFailed, match="has no examples"):
        evaluate.handler(plan_event(run), s3=s3)


# --- batch ---------------------------------------------------------------------------------------------------


def test_batch_all_succeed(s3: Any, kms_key: str, policy: RetryPolicy, sleeps: Sleeps) -> None:
    run = spec(reference_models=[REFERENCE], max_tokens=64)
    fake = FakeRuntime()
    outputs = list(run_batches(s3, run, fake, policy))
    assert outputs == [
        {"index": 0, "examples": 2, "calls": 6, "failed": 0},
        {"index": 1, "examples": 2, "calls": 6, "failed": 0},
        {"index": 2, "examples": 1, "calls": 3, "failed": 0},
    ]
    assert sleeps.calls == []
    # Every model got every example with the record's system prompt, greedy decoding and the run's max tokens.
    assert sorted(fake.attempts) == sorted(
        (m, f"Question {i}: ¿qué número?") for m in (PT_ARN, BASE, REFERENCE) for i in range(1, 6)
    )
    request = fake.requests[0]
    assert request["system"] == [{"text": "Answer with one word."}]
    assert request["inferenceConfig"] == {"maxTokens": 64, "temperature": 0}
    assert request["messages"][0]["role"] == "user"

    key = evaluate.results_key(run["artifacts_prefix"], 1)
    assert key.endswith("evaluation/results/batch-00001.jsonl")
    head = s3.head_object(Bucket=ARTIFACTS, Key=key)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", kms_key)
    records = read_records(s3, run, 1)
    assert [(r["id"], r["role"]) for r in records] == [
        ("4", "candidate"),
        ("4", "base"),
        ("4", "reference"),
        ("5", "candidate"),
        ("5", "base"),
        ("5", "reference"),
    ]  # ids are line numbers in the test set: line 3 is blank
    assert all(set(r) == RECORD_KEYS for r in records)
    assert records[0] == {
        "id": "4",
        "model": PT_ARN,
        "role": "candidate",
        "prediction": "answer 3 ✓",
        "references": ["answer 3 ✓"],
        "latency_ms": 250.0,
        "input_tokens": 12,
        "output_tokens": 3,
        "error": None,
    }


def test_records_are_what_the_aggregator_reads(s3: Any, policy: RetryPolicy) -> None:
    run = spec()
    list(run_batches(s3, run, FakeRuntime(), policy))
    aggregator = Aggregator(
        roles=ModelRoles(candidate=PT_ARN, base=BASE),
        metrics=[get_metric("token_f1")],
        thresholds=GateThresholds(max_p_value=None),
    )
    assert sum(aggregator.add_batch(read_records(s3, run, i)) for i in range(3)) == 10
    report = aggregator.finish(RunInfo(run_name="demo", dataset_sha256="0" * 64, simulated=False))
    assert report.candidate.metrics["token_f1"].value == 100.0  # type: ignore[union-attr]
    assert report.base.metrics["token_f1"].value == 0.0  # type: ignore[union-attr]


def test_throttled_then_succeeds(s3: Any, policy: RetryPolicy, sleeps: Sleeps) -> None:
    # Every candidate call is throttled twice, then the base call once with a bare 503 and once ModelNotReady.
    def behaviour(model: str, attempt: int) -> BaseException | None:
        if model == PT_ARN and attempt <= 2:
            return client_error("ThrottlingException", 429)
        if model == BASE and attempt == 1:
            return client_error("ServiceUnavailableException", 503)
        if model == BASE and attempt == 2:
            return client_error("ModelNotReadyException", 429)
        return None

    run = spec()
    fake = FakeRuntime(behaviour)
    outputs = list(run_batches(s3, run, fake, policy))
    assert sum(o["failed"] for o in outputs) == 0
    assert all(count == 3 for count in fake.attempts.values())
    assert len(sleeps.calls) == 2 * 2 * 5  # two retries per call, two models, five examples
    assert set(sleeps.calls) == {0.5, 1.0}  # random() = 0.5 of the 1 s and 2 s caps
    assert all(r["error"] is None for i in range(3) for r in read_records(s3, run, i))


def test_persistent_failures_are_recorded_and_never_scored(s3: Any, policy: RetryPolicy, sleeps: Sleeps) -> None:
    def behaviour(model: str, attempt: int) -> BaseException | None:
        if model == PT_ARN:
            return client_error("ThrottlingException", 429)  # retried until the policy gives up
        if model == BASE:
            return client_error("ValidationException", 400)  # not retryable: recorded at once
        return None

    run = spec()
    fake = FakeRuntime(behaviour)
    outputs = list(run_batches(s3, run, fake, policy))
    assert [o["failed"] for o in outputs] == [4, 4, 2]
    assert {count for (model, _), count in fake.attempts.items() if model == PT_ARN} == {4}
    assert {count for (model, _), count in fake.attempts.items() if model == BASE} == {1}
    records = read_records(s3, run, 0)
    candidate = records[0]
    assert candidate["error"] == "ThrottlingException: simulated ThrottlingException"
    assert (candidate["prediction"], candidate["latency_ms"], candidate["input_tokens"]) == (None, None, None)
    assert records[1]["error"] == "ValidationException: simulated ValidationException"

    aggregator = Aggregator(
        roles=ModelRoles(candidate=PT_ARN, base=BASE), metrics=[get_metric("token_f1")], thresholds=GateThresholds()
    )
    for i in range(3):
        aggregator.add_batch(read_records(s3, run, i))
    report = aggregator.finish(RunInfo(run_name="demo", dataset_sha256="0" * 64, simulated=False))
    assert report.candidate.failed_calls == 5
    assert report.candidate.metrics["token_f1"] is None


@pytest.mark.parametrize(("code", "status"), [("ModelTimeoutException", 408), ("ModelErrorException", 424)])
@pytest.mark.parametrize("failures", [3, 4])  # the policy fixture allows 4 attempts: one below the bound, and at it
def test_model_timeouts_and_model_errors_are_retried_like_throttling(
    s3: Any, policy: RetryPolicy, sleeps: Sleeps, code: str, status: int, failures: int
) -> None:
    def behaviour(model: str, attempt: int) -> BaseException | None:
        return client_error(code, status) if model == PT_ARN and attempt <= failures else None

    run = spec()
    fake = FakeRuntime(behaviour)
    outputs = list(run_batches(s3, run, fake, policy))
    attempts = {count for (model, _), count in fake.attempts.items() if model == PT_ARN}
    candidate = [r for i in range(3) for r in read_records(s3, run, i) if r["model"] == PT_ARN]
    assert len(candidate) == 5
    if failures < policy.max_attempts:
        assert attempts == {failures + 1} and sum(o["failed"] for o in outputs) == 0
        assert all(r["error"] is None and r["prediction"] for r in candidate)
    else:
        assert attempts == {policy.max_attempts} and sum(o["failed"] for o in outputs) == 5
        assert all(r["error"] == f"{code}: simulated {code}" for r in candidate)
    # The throttling backoff: three sleeps at most per call, half (random() = 0.5) of the 1, 2 and 4 s caps.
    assert len(sleeps.calls) == 5 * min(failures, policy.max_attempts - 1)
    assert set(sleeps.calls) == {0.5, 1.0, 2.0}
    assert {count for (model, _), count in fake.attempts.items() if model == BASE} == {1}


def test_unknown_5xx_and_timeouts_are_retried(s3: Any, policy: RetryPolicy) -> None:
    def behaviour(model: str, attempt: int) -> BaseException | None:
        if attempt == 1:
            return client_error("SomethingBroke", 502)
        if attempt == 2:
            return read_timeout()
        return None

    fake = FakeRuntime(behaviour)
    assert sum(o["failed"] for o in run_batches(s3, spec(), fake, policy)) == 0
    assert set(fake.attempts.values()) == {3}


def test_a_timeout_that_persists_is_recorded_with_its_type(s3: Any, policy: RetryPolicy) -> None:
    fake = FakeRuntime(lambda model, attempt: read_timeout() if model == BASE else None)
    run = spec()
    list(run_batches(s3, run, fake, policy))
    assert read_records(s3, run, 2)[1]["error"].startswith("ReadTimeoutError: ")


def test_a_batch_keeps_one_call_in_flight_per_model(s3: Any, policy: RetryPolicy) -> None:
    """Per-model concurrency is the Map's MaxConcurrency; a batch never multiplies it by its own pool."""
    fake = FakeRuntime(delay=0.05)
    run = spec(concurrency=3, batch_size=5)
    list(run_batches(s3, run, fake, policy))
    assert fake.peak == 2  # candidate and base, each answering one example at a time


def test_the_lambda_deadline_bounds_retries(s3: Any, sleeps: Sleeps) -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 21_000  # 1 s left after the margin kept for writing results

    policy = RetryPolicy(max_attempts=10, sleep=sleeps, clock=lambda: 0.0, random=lambda: 1.0)
    run = spec()
    batch = planned(s3, run)[0]
    fake = FakeRuntime(lambda model, attempt: client_error("ThrottlingException", 429))
    event = {"action": "batch", "run": run, "batch": batch, "candidate_model_id": PT_ARN}
    output = evaluate.handler(event, Context(), s3=s3, bedrock=fake, policy=policy)
    assert output["failed"] == 4
    assert set(sleeps.calls) == {1.0}  # the 2 s sleep would pass the deadline
    assert set(fake.attempts.values()) == {2}


def test_a_batch_that_no_longer_matches_the_test_set_fails(s3: Any, policy: RetryPolicy) -> None:
    run = spec()
    batch = planned(s3, run)[0]
    for bad in ({**batch, "examples": 3}, {**batch, "end_byte": batch["end_byte"] + 5}):
        event = {"action": "batch", "run": run, "batch": bad, "candidate_model_id": PT_ARN}
        with pytest.raises(EvaluationFailed, match="changed after planning"):
            evaluate.handler(event, s3=s3, bedrock=FakeRuntime(), policy=policy)


def test_malformed_events_fail_clearly(s3: Any) -> None:
    with pytest.raises(EvaluationFailed, match="unknown action"):
        evaluate.handler({"action": "score", "run": spec()}, s3=s3)
    with pytest.raises(EvaluationFailed, match=r"batch\.start_byte"):
        evaluate.handler(
            {"action": "batch", "run": spec(), "batch": {"index": 0}, "candidate_model_id": PT_ARN},
            s3=s3,
            bedrock=FakeRuntime(),
        )
    with pytest.raises(EvaluationFailed, match="metric"):
        evaluate.handler(plan_event(spec(metric="bleu")), s3=s3)


def test_runtime_client_leaves_retries_to_the_policy(aws_env: None) -> None:
    evaluate._runtime_client.cache_clear()
    client = evaluate._runtime_client(16)
    config = client.meta.config
    # botocore's legacy `max_attempts` counts retries (it becomes total_max_attempts = max_attempts + 1), so
    # "one attempt, no botocore retry" is total_max_attempts = 1.
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert config.max_pool_connections == 16
    assert evaluate._runtime_client(16) is client  # one client per container
    evaluate._runtime_client.cache_clear()


# --- through real boto3 to the local Bedrock stand-in ------------------------------------------------------------


def test_batch_through_boto3_and_the_standin_rides_out_throttling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real client configuration, Converse serialisation and error parsing against simulated Bedrock."""
    from finetune.rehearsal.bedrock_standin import BedrockStandIn, SimulationConfig
    from finetune.rehearsal.moto_support import moto_with_passthrough

    for key, value in {
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    # An on-demand id stands in for the candidate: the stand-in only serves a PT after a simulated training job.
    candidate = "amazon.nova-lite-v1:0"
    # The base's runtime id is a live model: the stand-in answers Claude 3 Haiku in us-west-2 as end of life.
    base = "amazon.nova-micro-v1:0"
    config = SimulationConfig(
        accuracy={candidate: 1.0, base: 0.0},
        on_demand_models=frozenset({candidate, base}),
        faults=frozenset({"throttle-burst"}),
        throttle_share=0.5,
        on_demand_rps=None,
    )
    with moto_with_passthrough(), BedrockStandIn(config) as standin:
        for key, value in standin.env().items():
            monkeypatch.setenv(key, value)
        evaluate._runtime_client.cache_clear()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        run = spec()
        run["runtime_model_id"] = base
        s3.put_object(Bucket=ARTIFACTS, Key=run["artifacts_prefix"] + contracts.DATA_TEST, Body=TEST_SET)
        standin.learn(line.decode() for line in TEST_SET.split(b"\r\n") if line)
        policy = RetryPolicy(sleep=lambda seconds: None)
        outputs = []
        for batch in planned(s3, run):
            event = {"action": "batch", "run": run, "batch": batch, "candidate_model_id": candidate}
            outputs.append(evaluate.handler(event, s3=s3, policy=policy))  # the module's own boto3 client
        throttled = sum(n for (op, _, code), n in standin.errors.items() if code == "ThrottlingException")
        records = [r for i in range(len(outputs)) for r in read_records(s3, run, i)]
    evaluate._runtime_client.cache_clear()
    assert throttled > 0
    assert sum(o["failed"] for o in outputs) == 0
    candidate_records = [r for r in records if r["role"] == "candidate"]
    assert [r["prediction"] for r in candidate_records] == [r["references"][0] for r in candidate_records]
    assert all(r["input_tokens"] > 0 for r in records)
