"""End to end: a second run that beats base but loses to the champion (the model in production) is rejected.

The weaker-than-champion fault runs a first run that is promoted, then the rehearsal's own run in the same local
cloud, whose model the stand-in makes better than base and worse than the champion. The second report shows
candidate, champion and base; the champion keeps serving, and the rejected run's throughput is deleted. When the
champion's throughput was not kept, nothing serves it: the second run is compared with base only, and says so.
With runtime-errors, the base model's failed call leaves its example out of the comparison instead of rejecting.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from finetune.rehearsal.runner import LocalCloud, RehearsalResult, SynthesizedApp, exit_code, still_billing, synthesize
from pipeline_core import contracts

Run = Callable[..., RehearsalResult]
FAULT = "weaker-than-champion"


def _record(cloud: LocalCloud, execution_arn: str | None) -> dict[str, Any] | None:
    """The promotion record, read while moto still holds it."""
    import boto3

    ssm = boto3.client("ssm", region_name=cloud.resources.app.region)
    try:
        raw = ssm.get_parameter(Name=os.environ[contracts.ENV_PROMOTION_PARAMETER])["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    try:
        value: dict[str, Any] = json.loads(raw)
    except ValueError:
        return None
    return value


def _report(result: RehearsalResult) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((result.output_dir / "report.json").read_text())
    return report


def test_a_second_run_that_loses_to_the_champion_is_rejected_and_the_champion_keeps_serving(
    run_rehearsal: Run,
) -> None:
    # 300 records (30 test examples): enough for the paired test to find the candidate better than base.
    result = run_rehearsal(faults={FAULT}, after_run=_record, records=300)
    champion = result.champion_run
    assert champion is not None and champion.status == "SUCCEEDED"  # run 1 was promoted
    assert result.status == "FAILED" and exit_code(result) == 1
    assert result.error == "CandidateRejected", result.cause
    assert "champion" in (result.cause or "")

    report = _report(result)
    roles = {m["role"]: m for m in report["models"]}
    assert list(roles)[:3] == ["candidate", "champion", "base"]
    candidate, best, base = (roles[r]["metrics"]["token_f1"]["mean"] for r in ("candidate", "champion", "base"))
    assert base < candidate < best, (base, candidate, best)  # beats base, loses to the champion
    assert report["gate"]["verdict"] == "reject"
    assert report["run"]["champion"]["served"] is True and report["run"]["champion"]["run_name"] == champion.run_name
    # Every reason is about the champion: against base alone the candidate would have passed.
    assert report["gate"]["reasons"] and all("champion" in reason for reason in report["gate"]["reasons"])
    markdown = (result.output_dir / "report.md").read_text()
    assert "| Metric | Fine-tuned | Champion | Base | vs champion | vs base |" in markdown

    # The champion is still served, by the throughput its record names; run 2's throughput is gone.
    record = result.after_run_result
    assert record is not None and record["run_name"] == champion.run_name
    assert [t["provisionedModelArn"] for t in result.provisioned_throughputs] == [record["invoke_model_id"]]
    assert result.provisioned_throughputs[0]["status"] == "InService"
    assert roles["champion"]["model_arn"] == record["invoke_model_id"]
    assert result.running_jobs == [] and len(result.jobs) == 2
    # The closing line calls the champion's throughput the model in production, not a leftover to delete.
    assert result.promotion_record["invoke_model_id"] == record["invoke_model_id"]
    billing = still_billing(result)
    assert "kept after promotion" in billing and "not promoted" not in billing, billing


@pytest.fixture(scope="module")
def app_without_kept_throughput() -> SynthesizedApp:
    """The app with provisionedThroughput.keepAfterPromotion false: a promoted model is not served afterwards."""
    return synthesize({"provisionedThroughput": {"keepAfterPromotion": False}})


def test_a_champion_no_longer_served_leaves_the_comparison_with_base_only(
    run_rehearsal: Run, app_without_kept_throughput: SynthesizedApp
) -> None:
    result = run_rehearsal(app=app_without_kept_throughput, faults={FAULT}, after_run=_record)
    assert result.champion_run is not None and result.champion_run.status == "SUCCEEDED"
    report = _report(result)
    assert "champion" not in {m["role"] for m in report["models"]}
    assert report["run"]["champion"]["served"] is False
    note = report["gate"]["notes"][0]
    assert "promoted without keeping what served it" in note, note
    assert note.endswith("the gate compared the candidate with base only")
    assert "the gate compared the candidate with base only" in (result.output_dir / "report.md").read_text()
    assert result.provisioned_throughputs == []  # nothing kept: neither the champion's nor this run's


def test_the_base_models_failed_call_no_longer_rejects_the_candidate(run_rehearsal: Run) -> None:
    """With 300 records (30 test examples) runtime-errors makes the base model fail 1 call for good; that example is
    left out of the comparison with base, and the candidate is promoted."""
    result = run_rehearsal(faults={"runtime-errors"}, records=300)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    report = _report(result)
    base = next(m for m in report["models"] if m["role"] == "base")
    candidate = next(m for m in report["models"] if m["role"] == "candidate")
    assert base["failed_calls"] >= 1 and candidate["failed_calls"] == 0
    notes = report["gate"]["notes"]
    assert any("left out" in note and "ModelErrorException" in note for note in notes), notes
