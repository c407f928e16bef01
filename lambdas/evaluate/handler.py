"""Lambda handler for "Plan evaluation" (action `plan`) and each Distributed Map child of "Evaluate" (action `batch`).

`plan` streams the test-set snapshot once and writes `evaluation/plan.json`, the array of byte-range batches the
Distributed Map reads with its ItemReader. `batch` reads one batch's bytes with a ranged GET, asks every model
every example through bedrock-runtime Converse, and writes the records to `evaluation/results/batch-NNNNN.jsonl`.
Records never travel through the state document (DESIGN.md, "Evaluation at scale").

Concurrency: inside a batch, each example asks every model at once (one call in flight per model), and the
Distributed Map runs up to `run.evaluation.concurrency` batches at once, so each model (the candidate's Provisioned
Throughput included) sees at most `concurrency` requests in flight. Throttling beyond that is absorbed by the
per-call backoff here, not by failing the batch.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_aws import metrics
from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import error_code, is_transient, transient_errors
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.observability import instrumented
from pipeline_aws.s3 import put_bytes, split_uri
from pipeline_core import contracts
from pipeline_core.evaluation import (
    Batch,
    EvaluationExample,
    EvaluationFailed,
    EvaluationSpec,
    ExampleError,
    ModelCall,
    PlanError,
    RetryPolicy,
    SpecError,
    answered_record,
    batch_lines,
    converse_request,
    failed_record,
    models_to_call,
    parse_example,
    plan_batches,
)
from pipeline_core.models import DataFormat, UnsupportedModelError, get_base_model

LOGGER = setup_logging("evaluate")

__all__ = ["EvaluationFailed", "handler"]

READ_CHUNK_BYTES = 1 << 20
# Converse errors worth another attempt besides throttling and 5xx (pipeline_aws.errors.is_transient), with the
# same policy and the same bound on attempts; only a call that still fails after them becomes a failed record.
# From botocore's bedrock-runtime service model (Converse errors, read 2026-12-01):
# - ModelNotReadyException (429): "not ready to serve inference requests", the SDK itself retries it.
# - ModelTimeoutException (408): "processing time exceeded the model timeout length"; a busy model answers in time
#   on a later attempt, and recording it at once would count load against the model's score.
# - ModelErrorException (424): "an error while processing the model"; usually passing, and a prompt that fails every
#   time is still recorded as failed once the attempts run out.
RETRYABLE_CONVERSE_CODES = frozenset({"ModelNotReadyException", "ModelTimeoutException", "ModelErrorException"})
# Time kept back from the Lambda's remaining time for writing the results once the calls are done.
RESULTS_WRITE_MARGIN_SECONDS = 20.0
# A long answer (maxTokens up to 4,096) can take a minute or more to generate; botocore's default read
# timeout is 60 s. The retry policy, not botocore, decides what happens after a timeout.
CONVERSE_READ_TIMEOUT_SECONDS = 180
DEFAULT_POOL_CONNECTIONS = 10  # botocore's default max_pool_connections

DEFAULT_POLICY = RetryPolicy()


def results_key(prefix: str, index: int) -> str:
    """Where batch `index` writes its records; zero-padded so the listing sorts in batch order."""
    return f"{prefix}{contracts.EVALUATION_RESULTS}batch-{index:05d}.jsonl"


@functools.cache
def _runtime_client(pool_connections: int) -> Any:
    """One bedrock-runtime client per container (per pool size, which is fixed per deployment).

    botocore's own retries are off (one attempt in total): our RetryPolicy retries with full jitter and a time
    bound, and stacked retry layers would multiply attempts. The pool must hold one connection per worker thread,
    or threads wait for a connection and botocore logs "Connection pool is full".
    """
    import boto3
    from botocore.config import Config

    config = Config(
        # total_max_attempts, not max_attempts: botocore's legacy max_attempts counts retries, so
        # {"max_attempts": 1} would still allow one hidden retry per call.
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=pool_connections,
        read_timeout=CONVERSE_READ_TIMEOUT_SECONDS,
    )
    return boto3.client("bedrock-runtime", config=config)


# --- typed inputs ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """The fields of `$.run` this handler reads."""

    run_name: str
    execution_name: str
    base_model_id: str
    runtime_model_id: str
    artifacts_bucket: str
    artifacts_prefix: str
    evaluation: EvaluationSpec

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Run:
        try:
            run = event["run"]
            prefix = str(run["artifacts_prefix"])
            return cls(
                run_name=str(run["run_name"]),
                execution_name=str(run["execution_name"]),
                base_model_id=str(run["base_model_id"]),
                runtime_model_id=str(run["runtime_model_id"]),
                artifacts_bucket=str(run["artifacts_bucket"]),
                artifacts_prefix=prefix if prefix.endswith("/") else prefix + "/",
                evaluation=EvaluationSpec.from_run(run),
            )
        except (KeyError, TypeError, SpecError) as exc:
            raise EvaluationFailed(f"malformed evaluation event: {exc}") from exc

    @property
    def test_key(self) -> str:
        """The validated snapshot every batch reads (DESIGN.md, "Run layout in S3")."""
        return self.artifacts_prefix + contracts.DATA_TEST

    @property
    def data_format(self) -> DataFormat | None:
        """The base model's dataset format; None (detect per record) for a model missing from the catalogue."""
        try:
            return get_base_model(self.base_model_id).data_format
        except UnsupportedModelError:
            return None


# --- plan ----------------------------------------------------------------------------------------------------


def _stream(s3: Any, bucket: str, key: str) -> Iterator[bytes]:
    """The object's bytes in fixed-size chunks: the test set is never held whole."""
    with transient_errors():
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        with transient_errors():
            yield from body.iter_chunks(chunk_size=READ_CHUNK_BYTES)
    finally:
        body.close()


def plan(event: Mapping[str, Any], s3: Any) -> dict[str, Any]:
    run = Run.from_event(event)
    test_uri = (event.get("validation") or {}).get("test_uri")
    if not test_uri:
        raise EvaluationFailed(
            "validation.test_uri is null: the run has no test set to evaluate on "
            "(upload one file to be split, or name a test file in run.json)"
        )
    expected = f"s3://{run.artifacts_bucket}/{run.test_key}"
    if test_uri != expected:
        # Batch children read the snapshot at run.test_key; planning another object would misplace every range.
        raise EvaluationFailed(f"validation.test_uri is {test_uri}, but evaluation reads the snapshot {expected}")
    bucket, key = split_uri(test_uri)
    spec, data_format = run.evaluation, run.data_format

    def check(line: bytes, number: int) -> None:
        parse_example(line, number, data_format)

    try:
        batches = [
            b.to_dict()
            for b in plan_batches(
                _stream(s3, bucket, key), batch_size=spec.batch_size, max_examples=spec.max_examples, check=check
            )
        ]
    except (PlanError, ExampleError) as exc:
        raise EvaluationFailed(f"{test_uri}: {exc}") from exc
    except ClientError as exc:
        if error_code(exc) in ("NoSuchKey", "404"):
            raise EvaluationFailed(f"the test set {test_uri} does not exist") from exc
        raise
    examples = sum(b["examples"] for b in batches)
    if not examples:
        raise EvaluationFailed(f"the test set {test_uri} has no examples")
    plan_key = run.artifacts_prefix + contracts.EVALUATION_PLAN
    put_bytes(run.artifacts_bucket, plan_key, json.dumps(batches).encode(), content_type="application/json", s3=s3)
    output: dict[str, Any] = {
        "bucket": run.artifacts_bucket,
        "key": plan_key,
        "batches": len(batches),
        "examples": examples,
    }
    log(LOGGER, "evaluation planned", test_uri=test_uri, batch_size=spec.batch_size, **output)
    return output


# --- batch ---------------------------------------------------------------------------------------------------


def _read_examples(s3: Any, run: Run, batch: Batch) -> list[EvaluationExample]:
    with transient_errors():
        response = s3.get_object(Bucket=run.artifacts_bucket, Key=run.test_key, Range=batch.range_header)
        data = response["Body"].read()
    if len(data) != batch.end_byte - batch.start_byte:
        raise EvaluationFailed(
            f"batch {batch.index}: bytes {batch.start_byte}-{batch.end_byte} of the test set came back as {len(data)} "
            "bytes; the test set changed after planning"
        )
    data_format = run.data_format
    try:
        examples = [parse_example(line, number, data_format) for number, line in batch_lines(data, batch.first_line)]
    except ExampleError as exc:
        raise EvaluationFailed(f"batch {batch.index}: {exc}; the test set changed after planning?") from exc
    if len(examples) != batch.examples:
        raise EvaluationFailed(
            f"batch {batch.index}: bytes {batch.start_byte}-{batch.end_byte} of the test set hold {len(examples)} "
            f"examples, but the plan says {batch.examples}; the test set changed after planning"
        )
    return examples


def _retryable(err: BaseException) -> bool:
    if isinstance(err, ClientError) and error_code(err) in RETRYABLE_CONVERSE_CODES:
        return True
    return is_transient(err)


class _BatchCaller:
    """Asks one model one example, with the retry policy; a call that still fails becomes a failed record."""

    def __init__(self, bedrock: Any, policy: RetryPolicy, max_tokens: int, deadline: float | None) -> None:
        self.bedrock, self.policy, self.max_tokens, self.deadline = bedrock, policy, max_tokens, deadline
        self.retries = 0
        self._lock = threading.Lock()  # worker threads count retries concurrently

    def __call__(self, example: EvaluationExample, call: ModelCall) -> dict[str, Any]:
        request = converse_request(example, call.model_id, self.max_tokens)
        elapsed_ms = 0.0

        def attempt() -> Any:
            nonlocal elapsed_ms
            started = time.perf_counter()
            response = self.bedrock.converse(**request)
            elapsed_ms = (time.perf_counter() - started) * 1000
            return response

        def on_retry(number: int, err: BaseException, pause: float) -> None:
            with self._lock:
                self.retries += 1
            if _code(err) in metrics.THROTTLING_CODES:
                metrics.evaluation_throttled()
            log(
                LOGGER,
                "converse retry",
                example=example.id,
                model=call.model_id,
                attempt=number,
                error=_code(err),
                sleep_seconds=round(pause, 3),
            )

        try:
            response = self.policy.call(attempt, retryable=_retryable, deadline=self.deadline, on_retry=on_retry)
        except ClientError as err:
            return failed_record(example, call, _code(err), str(err.response.get("Error", {}).get("Message", err)))
        except BotoCoreError as err:  # connection and read timeouts that outlasted the retries
            return failed_record(example, call, _code(err), str(err))
        return answered_record(example, call, response, elapsed_ms)


def _code(err: BaseException) -> str:
    return error_code(err) if isinstance(err, ClientError) else type(err).__name__


def evaluate_examples(
    examples: Sequence[EvaluationExample],
    calls: Sequence[ModelCall],
    *,
    bedrock: Any,
    policy: RetryPolicy,
    max_tokens: int,
    concurrency: int,
    deadline: float | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Every (example, model) answered concurrently; records in example order, then model order, and retries."""
    caller = _BatchCaller(bedrock, policy, max_tokens, deadline)
    # Example-major order spreads each model's calls evenly over time instead of bursting one model at a time.
    pairs = [(example, call) for example in examples for call in calls]
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="converse") as pool:
        records = list(pool.map(lambda pair: caller(*pair), pairs))
    return records, caller.retries


def run_batch(
    event: Mapping[str, Any], s3: Any, bedrock: Any, policy: RetryPolicy, deadline: float | None
) -> dict[str, Any]:
    run = Run.from_event(event)
    try:
        batch = Batch.from_mapping(event["batch"])
        candidate = str(event["candidate_model_id"])
    except (KeyError, TypeError, PlanError) as exc:
        raise EvaluationFailed(f"malformed batch event: {exc}") from exc
    spec = run.evaluation
    # The champion is asked only while the gate compares with it (pipeline_core.evaluation.spec.champion_to_call).
    calls = models_to_call(candidate, run.runtime_model_id, spec.reference_models, spec.champion_to_call)
    examples = _read_examples(s3, run, batch)
    started = time.monotonic()
    records, retries = evaluate_examples(
        examples,
        calls,
        bedrock=bedrock,
        policy=policy,
        max_tokens=spec.max_tokens,
        # One call in flight per model: the Map's MaxConcurrency (= evaluation.concurrency) bounds each model.
        concurrency=len(calls),
        deadline=deadline,
    )
    metrics.evaluation_calls(len(records))
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    key = results_key(run.artifacts_prefix, batch.index)
    put_bytes(run.artifacts_bucket, key, body, content_type="application/x-ndjson", s3=s3)
    failed = sum(1 for r in records if r["error"] is not None)
    output: dict[str, Any] = {"index": batch.index, "examples": len(examples), "calls": len(records), "failed": failed}
    log(LOGGER, "batch evaluated", retries=retries, seconds=round(time.monotonic() - started, 1), **output)
    return output


# --- entry point ---------------------------------------------------------------------------------------------


def _deadline(context: object, policy: RetryPolicy) -> float | None:
    """The policy-clock time after which no retry may start, leaving time to write the results."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return policy.clock() + float(remaining()) / 1000 - RESULTS_WRITE_MARGIN_SECONDS


@instrumented
def handler(
    event: Mapping[str, Any],
    context: object = None,
    *,
    s3: Any = None,
    bedrock: Any = None,
    policy: RetryPolicy | None = None,
) -> dict[str, Any]:
    """Lambda entry point. `s3`, `bedrock` (bedrock-runtime) and `policy` are injectable for tests."""
    run = event.get("run") or {}
    bind(run=run.get("run_name"), execution=run.get("execution_name"), action=event.get("action"))
    s3 = s3 if s3 is not None else CLIENTS.s3
    action = event.get("action")
    if action == "plan":
        return plan(event, s3)
    if action == "batch":
        policy = policy or DEFAULT_POLICY
        if bedrock is None:
            concurrency = Run.from_event(event).evaluation.concurrency
            bedrock = _runtime_client(max(concurrency, DEFAULT_POOL_CONNECTIONS))
        return run_batch(event, s3, bedrock, policy, _deadline(context, policy))
    raise EvaluationFailed(f"unknown action {action!r}; expected 'plan' or 'batch'")
