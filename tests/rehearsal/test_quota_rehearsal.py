"""Admission control end to end: a run that meets Bedrock's quotas waits them out (QuotaExceeded retry) and
completes; the rehearsal's settings keep that wait short."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from finetune.rehearsal.runner import REHEARSAL_SETTINGS, RehearsalResult
from pipeline_core import contracts
from pipeline_core.admission import quota_retry

Run = Callable[..., RehearsalResult]


def _quota_failures(result: RehearsalResult) -> list[dict[str, Any]]:
    return [
        event["lambdaFunctionFailedEventDetails"]
        for event in result.history
        if event["type"] == "LambdaFunctionFailed"
        and event["lambdaFunctionFailedEventDetails"].get("error") == contracts.ERROR_QUOTA
    ]


def test_a_refused_creation_is_retried_and_the_run_completes(run_rehearsal: Run) -> None:
    result = run_rehearsal(faults={"quota-exceeded"})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    # Both creating calls were refused once and retried by the workflow's QuotaExceeded retry.
    assert result.quota_refusals == {"CreateModelCustomizationJob": 1, "CreateProvisionedModelThroughput": 1}
    failures = _quota_failures(result)
    assert len(failures) == 2
    assert all("ServiceQuotaExceededException" in failure["cause"] for failure in failures)
    assert "Concurrent model customization jobs" in failures[0]["cause"]
    assert len(result.jobs) == 1 and result.throughputs_created == 2  # one refused, one created
    # Exactly the one throughput created is left, serving the run's model (the run kept it), one model unit.
    assert [(pt["status"], pt["modelUnits"], pt["modelArn"]) for pt in result.provisioned_throughputs] == [
        ("InService", 1, result.jobs[0]["outputModelArn"])
    ]
    assert result.peaks["jobs"] == 1
    # The wait is the rehearsal's: quotaWaitMinutes 1 (REHEARSAL_SETTINGS) makes the first retry come after 3 s.
    schedule = quota_retry(REHEARSAL_SETTINGS["admission"]["quotaWaitMinutes"] * 60)
    assert schedule is not None and schedule.interval_seconds == 3
    retries = [
        retry
        for state in _states(json.loads(result.definition))
        for retry in state.get("Retry", [])
        if retry["ErrorEquals"] == [contracts.ERROR_QUOTA]
    ]
    assert len(retries) >= 3  # Start training, Provision throughput, Deploy candidate
    assert all((r["IntervalSeconds"], r["MaxAttempts"]) == (3, schedule.max_attempts) for r in retries)


def _states(definition: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for state in definition.get("States", {}).values():
        found.append(state)
        for branch in state.get("Branches", []):
            found.extend(_states(branch))
        if "ItemProcessor" in state:
            found.extend(_states(state["ItemProcessor"]))
    return found
