"""Logging, metrics and the handler decorator built on Powertools for AWS Lambda (pipeline_aws.logs, .metrics,
.observability): the keys every line carries, the EMF document's shape, and a flush per invocation that never
raises."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pipeline_aws import logs, metrics, observability
from pipeline_aws.errors import QuotaExceeded, TransientServiceError
from pipeline_aws.observability import instrumented
from pipeline_core import contracts, telemetry

ROOT = Path(__file__).resolve().parents[3]
NAMESPACE = telemetry.metric_namespace("demo-pipe")


@pytest.fixture(autouse=True)
def clean_state(monkeypatch: pytest.MonkeyPatch) -> Any:
    """No metrics or binding left over from another test; the environment Powertools reads, as deployed."""
    for name, value in telemetry.powertools_environment("demo-pipe").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    metrics.flush()
    logs.bind()
    yield
    metrics.flush()
    logs.bind()


def _capture(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter())
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def _json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def _printed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


# --- logs ------------------------------------------------------------------------------------------------------


def test_a_binding_replaces_the_previous_one_and_drops_none() -> None:
    logger, stream = _capture("test-binding")
    logs.bind(run="demo", execution="demo-1", action="start")
    logs.bind(run="other", execution=None)
    logs.log(logger, "hello")
    (line,) = _json_lines(stream)
    assert line["run"] == "other" and "execution" not in line and "action" not in line
    assert logs.bound() == {"run": "other"}


def test_a_line_names_its_logger_level_message_service_and_the_caller() -> None:
    logger, stream = _capture("test-shape")
    logs.log(logger, "hello", level=logging.WARNING, count=3)
    (line,) = _json_lines(stream)
    assert (line["name"], line["level"], line["message"], line["count"]) == ("test-shape", "WARNING", "hello", 3)
    assert line["service"]  # POWERTOOLS_SERVICE_NAME when the module was imported
    assert line["location"].startswith("test_a_line_names_its_logger_level_message_service_and_the_caller:")
    assert line["timestamp"].endswith("+00:00")


def test_lines_from_worker_threads_carry_the_binding() -> None:
    """Evaluation calls log from a thread pool; a context variable would not reach them, the formatter's keys do."""
    logger, stream = _capture("test-threads")
    logs.bind(run="demo", execution="demo-1")
    workers = [threading.Thread(target=logs.log, args=(logger, f"call {i}")) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    lines = _json_lines(stream)
    assert len(lines) == 4
    assert all((line["run"], line["execution"]) == ("demo", "demo-1") for line in lines)


def test_begin_invocation_adds_the_lambda_context_and_forgets_the_last_binding() -> None:
    logger, stream = _capture("test-context")
    logs.bind(run="previous", execution="previous-1")
    context = SimpleNamespace(
        aws_request_id="req-1",
        function_name="fn",
        invoked_function_arn="arn:aws:lambda:us-west-2:123456789012:function:fn",
        memory_limit_in_mb=256,
    )
    logs.begin_invocation(context, cold_start=True)
    logs.log(logger, "first")
    logs.begin_invocation(None, cold_start=False)
    logs.log(logger, "second")
    first, second = _json_lines(stream)
    assert "run" not in first and "run" not in second
    assert (first["function_request_id"], first["function_name"], first["cold_start"]) == ("req-1", "fn", True)
    assert first["function_memory_size"] == 256 and first["function_arn"].endswith(":function:fn")
    assert second["cold_start"] is False


def test_a_pipeline_named_like_a_handler_keeps_that_handlers_lines() -> None:
    """Powertools drops records of loggers whose name contains the service name from the root handlers; a
    pipeline named "train" would silence the train handler if that filter stayed."""
    code = (
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stdout)\n"
        "from pipeline_aws import logs\n"
        "logger = logs.setup_logging('train')\n"
        "logs.bind(run='demo')\n"
        "logs.log(logger, 'job started')\n"
    )
    env = {**os.environ, telemetry.ENV_SERVICE_NAME: "train", "PYTHONPATH": str(ROOT / "lambdas" / "shared")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert (line["name"], line["service"], line["message"], line["run"]) == ("train", "train", "job started", "demo")


# --- metrics ---------------------------------------------------------------------------------------------------


def test_no_metrics_print_nothing_warn_nothing_and_raise_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.flush(run="demo", execution="demo-1") is None
    assert capsys.readouterr().out == ""


def test_the_emf_document_has_the_namespace_the_service_dimension_and_every_metric(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics.evaluation_calls(26)
    metrics.evaluation_calls(4)
    metrics.evaluation_throttled()
    metrics.evaluation_throttled()
    metrics.quota_wait()
    metrics.runs_admitted(2)
    metrics.queue_depth(7)
    metrics.queue_depth(5)  # a gauge: the last value read counts
    document = metrics.flush(run="demo", execution="demo-1", action=None)
    (printed,) = _printed(capsys)
    assert printed == document
    assert document is not None
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE == "BedrockFinetunePipeline/demo-pipe"
    assert directive["Dimensions"] == [[telemetry.DIMENSION_SERVICE]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        telemetry.METRIC_EVALUATION_CALLS: "Count",
        telemetry.METRIC_EVALUATION_THROTTLES: "Count",
        telemetry.METRIC_QUOTA_WAITS: "Count",
        telemetry.METRIC_RUNS_ADMITTED: "Count",
        telemetry.METRIC_QUEUE_DEPTH: "Count",
    }
    assert document[telemetry.DIMENSION_SERVICE] == "demo-pipe"
    values = {name: document[name] for name in (m["Name"] for m in directive["Metrics"])}
    assert values == {
        telemetry.METRIC_EVALUATION_CALLS: [30.0],
        telemetry.METRIC_EVALUATION_THROTTLES: [2.0],
        telemetry.METRIC_QUOTA_WAITS: [1.0],
        telemetry.METRIC_RUNS_ADMITTED: [2.0],
        telemetry.METRIC_QUEUE_DEPTH: [5.0],
    }
    # Run and execution are searchable properties of the document, not dimensions (unbounded values).
    assert (document["run"], document["execution"]) == ("demo", "demo-1") and "action" not in document
    assert isinstance(document["_aws"]["Timestamp"], int)


def test_a_dispatch_publishes_the_runs_it_started_and_the_queue_left_even_when_zero() -> None:
    metrics.dispatched(started=0, waiting=3)
    document = metrics.flush()
    assert document is not None
    assert (document[telemetry.METRIC_RUNS_ADMITTED], document[telemetry.METRIC_QUEUE_DEPTH]) == ([0.0], [3.0])
    metrics.dispatched(started=2, waiting=0)
    document = metrics.flush()
    assert document is not None
    assert (document[telemetry.METRIC_RUNS_ADMITTED], document[telemetry.METRIC_QUEUE_DEPTH]) == ([2.0], [0.0])


def test_a_flush_forgets_what_it_published(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.quota_wait()
    assert metrics.flush() is not None
    assert metrics.flush() is None
    assert len(_printed(capsys)) == 1


def test_disabled_metrics_are_dropped_silently(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics.quota_wait()
    assert metrics.flush() is None
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    assert metrics.flush() is None  # dropped, not kept for later
    assert capsys.readouterr().out == ""


def test_without_the_environment_the_pipelines_shared_namespace_is_used(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(telemetry.ENV_METRICS_NAMESPACE)
    monkeypatch.delenv(telemetry.ENV_SERVICE_NAME)
    metrics.runs_admitted()
    document = metrics.flush()
    assert document is not None
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == contracts.METRIC_NAMESPACE
    assert document[telemetry.METRIC_RUNS_ADMITTED] == [1.0]


def test_the_namespace_is_read_when_flushing(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics.quota_wait()
    monkeypatch.setenv(telemetry.ENV_METRICS_NAMESPACE, telemetry.metric_namespace("later"))
    document = metrics.flush()
    assert document is not None
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "BedrockFinetunePipeline/later"


def test_concurrent_counts_are_all_kept() -> None:
    def throttle() -> None:
        for _ in range(250):
            metrics.evaluation_throttled()

    workers = [threading.Thread(target=throttle) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    document = metrics.flush()
    assert document is not None and document[telemetry.METRIC_EVALUATION_THROTTLES] == [2000.0]


# --- the handler decorator -------------------------------------------------------------------------------------


def _handler(outcome: BaseException | None = None, record: bool = True) -> Any:
    @instrumented
    def handler(event: dict[str, Any], context: object = None, *, extra: str = "default") -> dict[str, Any]:
        logs.bind(run=event["run"], execution=event["execution"])
        if record:
            metrics.evaluation_calls(3)
        if outcome is not None:
            raise outcome
        return {"extra": extra, "context": context}

    return handler


def test_a_returning_handler_flushes_its_metrics_with_its_run_and_execution(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = _handler()({"run": "demo", "execution": "demo-1"}, "ctx", extra="injected")
    assert result == {"extra": "injected", "context": "ctx"}
    (document,) = _printed(capsys)
    assert (document["run"], document["execution"], document[telemetry.METRIC_EVALUATION_CALLS]) == (
        "demo",
        "demo-1",
        [3.0],
    )


def test_a_handler_called_without_a_context_still_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert _handler()({"run": "demo", "execution": "demo-1"}) == {"extra": "default", "context": None}
    assert len(_printed(capsys)) == 1


def test_a_quota_refusal_counts_one_quota_wait_and_still_raises(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(QuotaExceeded):
        _handler(QuotaExceeded("model units"), record=False)({"run": "demo", "execution": "demo-1"})
    (document,) = _printed(capsys)
    assert document[telemetry.METRIC_QUOTA_WAITS] == [1.0] and document["run"] == "demo"


@pytest.mark.parametrize("error", [TransientServiceError("ThrottlingException"), ValueError("bad event")])
def test_other_failures_flush_what_was_recorded_and_count_no_quota_wait(
    error: Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(type(error)):
        _handler(error)({"run": "demo", "execution": "demo-1"})
    (document,) = _printed(capsys)
    assert telemetry.METRIC_QUOTA_WAITS not in document and document[telemetry.METRIC_EVALUATION_CALLS] == [3.0]


def test_a_handler_that_records_nothing_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    _handler(record=False)({"run": "demo", "execution": "demo-1"})
    assert capsys.readouterr().out == ""


def test_each_invocation_starts_without_the_previous_binding() -> None:
    logger, stream = _capture("test-invocations")

    @instrumented
    def handler(event: dict[str, Any], context: object = None) -> None:
        if event.get("run"):
            logs.bind(run=event["run"])
        logs.log(logger, "line")

    handler({"run": "demo"})
    handler({})
    first, second = _json_lines(stream)
    assert first["run"] == "demo" and "run" not in second
    assert second["cold_start"] is False


def test_the_quota_error_is_recognised_by_its_class_name() -> None:
    assert QuotaExceeded.__name__ == observability.QUOTA_EXCEEDED
