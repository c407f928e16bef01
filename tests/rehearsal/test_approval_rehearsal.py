"""Human approval end to end in the rehearsal: approve, reject, time out, and a request that cannot be stored.

The rehearsal answers through finetune.approval.decide, the function behind `finetune approve`/`reject`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from finetune.rehearsal.progress import Progress
from finetune.rehearsal.runner import RehearsalOptions, RehearsalResult, SynthesizedApp, rehearse, synthesize
from tests.rehearsal.conftest import CLEAR_WIN, SMALL_DATASET

REQUIRED = {"approval": {"mode": "required", "timeoutHours": 1}}
MOTO_CALLER = "arn:aws:sts::123456789012:user/moto"  # what moto's sts:GetCallerIdentity answers


@pytest.fixture(scope="module")
def approval_app() -> SynthesizedApp:
    return synthesize(REQUIRED)


@pytest.fixture
def run_approval(approval_app: SynthesizedApp, tmp_path: Path) -> Callable[..., RehearsalResult]:
    def run(**options: Any) -> RehearsalResult:
        options.setdefault("output_dir", tmp_path / "out")
        options.setdefault("records", SMALL_DATASET)
        for name, value in CLEAR_WIN.items():
            options.setdefault(name, value)
        return rehearse(RehearsalOptions(**options), app=approval_app, progress=Progress(io.StringIO()))

    return run


def _report(result: RehearsalResult) -> dict[str, Any]:
    path = next(p for p in result.report_files if p.name == "report.json")
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def _text(result: RehearsalResult, name: str) -> str:
    return next(p for p in result.report_files if p.name == name).read_text()


def _read_record(cloud: Any, execution_arn: str | None) -> Any:
    import boto3

    ssm = boto3.client("ssm")  # the rehearsal's Region is in the environment while after_run runs
    name = cloud.environment["PROMOTION_PARAMETER"]
    return json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])


def test_approve_promotes_and_records_the_approver(run_approval: Callable[..., RehearsalResult]) -> None:
    result = run_approval(approval="approve", after_run=_read_record)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert "Request approval" in result.states and "Record approval" in result.states
    assert [d.decision for d in result.approvals] == ["approve"]
    approval = _report(result)["approval"]
    assert approval["decision"] == "approve" and approval["decided_by"] == MOTO_CALLER
    assert approval["decided_at"] == result.approvals[0].decided_at
    assert f"Approved by {MOTO_CALLER}" in _text(result, "report.md")
    assert f"Approved by {MOTO_CALLER}" in _text(result, "report.html")
    record = result.after_run_result
    assert record["approval"] == {
        "decided_by": MOTO_CALLER,
        "decided_at": approval["decided_at"],
        "decision": "approve",
    }
    statuses = [n["message"]["status"] for n in result.notifications]
    assert statuses == ["AWAITING_APPROVAL", "PROMOTED"]
    awaiting = result.notifications[0]["message"]
    assert set(awaiting) == {"status", "run", "execution", "reason", "report"}
    assert "finetune approve demo" in awaiting["reason"] and "finetune reject demo --reason TEXT" in awaiting["reason"]
    assert awaiting["report"].endswith("/report.json") and awaiting["execution"] == result.execution_arn


def test_reject_deletes_the_throughput_and_records_the_reason(run_approval: Callable[..., RehearsalResult]) -> None:
    result = run_approval(approval="reject")
    assert result.status == "FAILED" and result.error == "ApprovalRejected"
    assert "Delete throughput" in result.states and "Promote" not in result.states
    assert result.provisioned_throughputs == [] and result.custom_model_deployments == []
    approval = _report(result)["approval"]
    assert approval["decision"] == "reject"
    assert approval["reason"] == f"rejected by {MOTO_CALLER}: rehearsal: rejected to show the cleanup path"
    assert approval["reason"] in _text(result, "report.md")
    statuses = [n["message"]["status"] for n in result.notifications]
    assert statuses == ["AWAITING_APPROVAL", "FAILED"]


def test_no_decision_in_time_rejects_and_cleans_up(run_approval: Callable[..., RehearsalResult]) -> None:
    result = run_approval(approval="timeout", approval_timeout_seconds=2)
    assert result.status == "FAILED" and result.error == "ApprovalRejected"
    assert "Approval timed out" in result.states and "Delete throughput" in result.states
    assert result.approvals == []
    assert result.provisioned_throughputs == [] and result.custom_model_deployments == []
    approval = _report(result)["approval"]
    assert approval["decision"] == "timeout" and approval["decided_by"] is None
    assert approval["reason"] == "approval timed out: no decision within 2 seconds"


def test_a_wait_that_cannot_be_bounded_is_cleaned_up(run_approval: Callable[..., RehearsalResult]) -> None:
    # The approval handler's first call (Bound approval wait: the wait cut to the execution's end) fails: no wait
    # starts, and the throughput must not outlive the run. A failing request (token not stored, nobody notified)
    # reaches the same cleanup through Request approval's own Catch (tests/infra/test_approval_workflow.py).
    result = run_approval(approval="approve", crash_handlers=frozenset({"approval"}))
    assert result.status == "FAILED" and result.error == "SimulatedHandlerCrash"
    assert "Bound approval wait" in result.states and "Request approval" not in result.states
    assert "Delete throughput" in result.states
    assert "Promote" not in result.states and result.approvals == []
    assert result.provisioned_throughputs == [] and result.custom_model_deployments == []
