"""The handlers' log stream of one rehearsed run: every line a handler wrote, and every metrics document, names
the run and the execution it belongs to (CloudWatch Logs Insights filters on them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from finetune.rehearsal.runner import RehearsalResult
from pipeline_core import telemetry

Run = Callable[..., RehearsalResult]

# Every handler of the workflow's happy path, by the logger name its lines carry.
WORKFLOW_HANDLERS = {
    "trigger",
    "resolve_run",
    "validate_dataset",
    "train",
    "throughput",
    "evaluate",
    "aggregate",
    "promote",
}


def _lines(result: RehearsalResult) -> list[dict[str, Any]]:
    text = (result.output_dir / "handlers.log").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_every_handler_line_and_metrics_document_carries_the_run_and_the_execution(run_rehearsal: Run) -> None:
    result = run_rehearsal()
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    lines = _lines(result)
    handler_lines = [line for line in lines if line.get("name") in WORKFLOW_HANDLERS]
    # Not vacuous: each handler of the happy path wrote lines.
    assert {line["name"] for line in handler_lines} == WORKFLOW_HANDLERS
    execution = next(line["execution"] for line in handler_lines if line["name"] == "trigger")
    run = next(line["run"] for line in handler_lines if line["name"] == "trigger")
    for line in handler_lines:
        assert (line.get("run"), line.get("execution")) == (run, execution), line
    documents = [line for line in lines if "_aws" in line]
    assert documents, "the evaluation batches publish metrics"
    for document in documents:
        assert (document.get("run"), document.get("execution")) == (run, execution), document
    # Powertools writes each metric's values as a list.
    calls = sum(sum(document.get(telemetry.METRIC_EVALUATION_CALLS, [])) for document in documents)
    assert calls > 0
