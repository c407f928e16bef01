"""The evaluation's promises, checked end to end: configured accuracies land in the report's intervals, throttling
loses no example, and a candidate worse than base is rejected for that reason with its throughput deleted."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from finetune.rehearsal.runner import RehearsalResult
from pipeline_core.explain import ELLIPSIS, MAX_CHARS, REASON_SEPARATOR

Run = Callable[..., RehearsalResult]

PRIMARY_METRIC = "token_f1"  # cdk.json's evaluation.metric


def _report(result: RehearsalResult) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((result.output_dir / "report.json").read_text())
    return report


def _models_by_role(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {model["role"]: model for model in report["models"]}


def _planned_examples(result: RehearsalResult) -> int:
    """The example count "Plan evaluation" wrote into the state document, read from the execution history."""
    for event in result.history:
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == "Plan evaluation":
            return int(json.loads(details["output"])["plan"]["examples"])
    raise AssertionError("the execution never left Plan evaluation")


def test_report_intervals_contain_the_configured_accuracies(run_rehearsal: Run) -> None:
    # 1,000 records -> a 100-example test set (testShare 0.1): intervals about +-8 points wide.
    configured = {"candidate": 0.85, "base": 0.6}
    result = run_rehearsal(records=1000, candidate_accuracy=configured["candidate"], base_accuracy=configured["base"])
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    planned = _planned_examples(result)
    assert planned == 100
    models = _models_by_role(_report(result))
    assert result.table_md is not None
    for role, accuracy in configured.items():
        estimate = models[role]["metrics"][PRIMARY_METRIC]
        low, high = estimate["ci95"]
        assert estimate["n"] == planned
        assert low <= 100 * accuracy <= high, f"{role}: configured {100 * accuracy} outside [{low}, {high}]"
        # The Markdown table shows the same figures: "mean [low, high]" in the metric's row.
        cell = f"{estimate['mean']:.1f} [{low:.1f}, {high:.1f}]"
        row = next(line for line in result.table_md.splitlines() if line.startswith(f"| {PRIMARY_METRIC} |"))
        assert cell in row, (cell, row)


def test_throttle_burst_loses_no_example(run_rehearsal: Run) -> None:
    result = run_rehearsal(faults={"throttle-burst"})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    throttled = sum(n for (_, _, code), n in result.standin_errors.items() if code == "ThrottlingException")
    assert throttled > 0  # the fault really fired, so the retries were exercised
    planned = _planned_examples(result)
    report = _report(result)
    # Every planned example has one scored record per model in the results files...
    scored: dict[str, set[str]] = defaultdict(set)
    for record in result.evaluation_records:
        assert record["error"] is None, record
        scored[record["model"]].add(str(record["id"]))
    assert len(scored) == 2
    assert len(result.evaluation_records) == 2 * planned
    assert all(len(ids) == planned for ids in scored.values())
    # ... and the report counts all of them, none failed or missing.
    for model in report["models"]:
        assert model["examples"] == planned
        assert model["failed_calls"] == 0 and model["missing_calls"] == 0
        assert model["metrics"][PRIMARY_METRIC]["n"] == planned


def test_worse_candidate_is_rejected_because_it_is_below_base(run_rehearsal: Run) -> None:
    result = run_rehearsal(faults={"worse-candidate"})
    assert result.status == "FAILED" and result.error == "CandidateRejected", (result.error, result.cause)
    report = _report(result)
    gate = report["gate"]
    assert gate["verdict"] == "reject"
    models = _models_by_role(report)
    assert models["candidate"]["metrics"][PRIMARY_METRIC]["mean"] < models["base"]["metrics"][PRIMARY_METRIC]["mean"]
    improvement = next(check for check in gate["checks"] if check["name"] == "min_improvement_points")
    assert not improvement["passed"]
    assert re.search(rf"candidate {PRIMARY_METRIC} [\d.]+ is below base [\d.]+", improvement["reason"])
    assert improvement["reason"] in gate["reasons"]
    # The execution's cause (and so the notification) is one sentence naming why: the gate's reasons, each whole
    # (cut between reasons, never inside one, to fit the sentence's limit), the first being that it is below base;
    # the report, which the notification points at, lists every reason.
    cause = result.cause or ""
    prefix = "The fine-tuned model did not pass the quality gate: "
    assert cause.startswith(prefix + improvement["reason"]), cause
    said = cause.removeprefix(prefix).split(REASON_SEPARATOR)
    omitted = len(gate["reasons"]) - (len(said) - 1)
    if said[-1].startswith("and "):
        assert said[:-1] == gate["reasons"][: len(said) - 1]
        assert said[-1] == f"and {omitted} more reason{'s' if omitted > 1 else ''} in the report"
    else:
        assert said == gate["reasons"]
    assert len(cause) <= MAX_CHARS and ELLIPSIS not in cause
    assert "\\u" not in cause, "no JSON escapes in what a person reads"
    (notice,) = result.notifications
    assert notice["message"]["reason"] == cause and notice["message"]["report"].endswith("/report.json")
    assert "Delete throughput" in result.states and "Promote" not in result.states
    assert result.provisioned_throughputs == []
