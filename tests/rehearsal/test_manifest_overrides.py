"""run.json through the rehearsal: a value that loosens the quality gate stops the run at Resolve run, before any
customization job; a value that tightens it is used."""

from __future__ import annotations

from collections.abc import Callable

from finetune.rehearsal.runner import RehearsalResult


def test_a_loosening_run_json_is_refused_before_training(run_rehearsal: Callable[..., RehearsalResult]) -> None:
    result = run_rehearsal(manifest={"evaluation": {"maxPValue": 0.5}})
    assert result.status == "FAILED" and result.error == "InvalidManifest"
    assert "evaluation.maxPValue = 0.5 loosens the gate (stack allows at most 0.05)" in str(result.cause)
    assert "Start training" not in result.states and "Validate dataset" not in result.states
    assert result.jobs == [] and result.running_jobs == [] and result.provisioned_throughputs == []


def test_a_tightening_run_json_is_accepted(run_rehearsal: Callable[..., RehearsalResult]) -> None:
    result = run_rehearsal(manifest={"evaluation": {"minImprovementPoints": 5}})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert len(result.jobs) == 1
