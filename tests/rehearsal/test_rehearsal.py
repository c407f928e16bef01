"""End to end through the local rehearsal: the synthesized state machine in moto, real handlers, simulated Bedrock."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from finetune.cli import main
from finetune.operator import failure_report
from finetune.rehearsal.bedrock_standin import FAULTS as STANDIN_FAULT_NAMES
from finetune.rehearsal.runner import (
    REHEARSAL_FAULTS,
    STANDIN_FAULTS,
    RehearsalError,
    RehearsalResult,
    exit_code,
    readable_cause,
    summary_lines,
    synthesize,
)

Run = Callable[..., RehearsalResult]


def _statuses(result: RehearsalResult) -> list[str]:
    return [note["message"].get("status") for note in result.notifications]


def test_happy_path_promotes_and_keeps_the_throughput(run_rehearsal: Run) -> None:
    result = run_rehearsal()
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert exit_code(result) == 0
    assert result.states[0] == "Receive upload" and result.states[-1] == "Run promoted"
    assert "Promote" in result.states and "Delete throughput" not in result.states
    assert len(result.jobs) == 1 and result.running_jobs == []
    assert len(result.provisioned_throughputs) == 1  # keepAfterPromotion is true in cdk.json
    assert result.provisioned_throughputs[0]["status"] == "InService"
    assert _statuses(result) == ["PROMOTED"]
    names = {path.name for path in result.report_files}
    assert {"report.json", "report.md", "report.html", "validation-report.json"} <= names
    assert result.table_md is not None and "SIMULATED" in result.table_md
    report = json.loads((result.output_dir / "report.json").read_text())
    assert "simulated" in json.dumps(report).lower()
    lines = summary_lines(result)
    assert lines[0].startswith("Execution SUCCEEDED")
    assert any(line.startswith("Report: ") and "report.md" in line for line in lines)
    assert lines[-1].startswith(
        "Simulated Bedrock still holds 0 custom model deployment(s), 1 Provisioned Throughput(s) and 0 running"
    )
    assert lines[2].startswith("Still billing in AWS (simulated here): 1 model unit of Provisioned Throughput")
    (note,) = result.notifications
    assert note["message"]["reason"] == "The fine-tuned model passed the quality gate and was promoted"
    assert note["message"]["report"].endswith("/report.json") and note["message"]["report"].startswith("s3://")


def test_promotion_deletes_the_throughput_when_settings_say_so(run_rehearsal: Run) -> None:
    app = synthesize({"provisionedThroughput": {"keepAfterPromotion": False}})
    result = run_rehearsal(app=app)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.provisioned_throughputs == []
    assert _statuses(result) == ["PROMOTED"]
    assert summary_lines(result)[2].startswith("Nothing left billing except storage")


def test_invalid_dataset_stops_before_any_job(run_rehearsal: Run, tmp_path: Path) -> None:
    dataset = tmp_path / "bad.jsonl"
    good = '{"messages": [{"role": "user", "content": "q%d"}, {"role": "assistant", "content": "answer %d"}]}\n'
    dataset.write_text("".join(good % (i, i) for i in range(40)) + "{not json\n" + '{"prompt": "x"}\n')
    stale = tmp_path / "out" / "report.md"  # what an earlier, promoted rehearsal left in the folder
    stale.parent.mkdir(parents=True)
    stale.write_text("Verdict: promote")
    result = run_rehearsal(dataset=dataset, run_name="broken")
    assert not stale.exists(), "the folder shows this run's outcome only"
    assert result.status == "FAILED" and exit_code(result) == 1
    assert result.error == "InvalidDataset"
    # Where the line-numbered report is: the notification's `report` (the sentence no longer repeats it), what
    # `finetune status` prints from the execution history, and the local copy the rehearsal's summary names.
    (note,) = result.notifications
    uri = note["message"]["report"]
    assert uri.startswith("s3://") and uri.endswith(
        f"/{str(result.execution_arn).rsplit(':', 1)[-1]}/validation/report.json"
    )
    assert failure_report(result.history) == uri
    assert f"Report: {result.output_dir / 'validation-report.json'} " in summary_lines(result)[3]
    assert result.jobs == []  # nothing was paid for
    assert result.provisioned_throughputs == []
    assert _statuses(result) == ["FAILED"]
    report = json.loads((result.output_dir / "validation-report.json").read_text())
    errors = {(f["rule"], f["line"]) for f in report["findings"] if f["severity"] == "error"}
    assert ("JSON-INVALID", 41) in errors  # the report names the line
    assert any(line == 42 for _, line in errors)


FAULTS = {
    "job-failed": ("TrainingFailed", "job-failed"),
    "job-stopped": ("TrainingFailed", "ended Stopped"),
    "pt-failed": ("ThroughputFailed", "pt-failed"),
    "pt-stuck": ("ThroughputNotReady", "still Creating"),
    "handler-crash": ("SimulatedHandlerCrash", "aggregate handler"),
    "worse-candidate": ("CandidateRejected", "below base"),
}


#: Faults that need more than the smallest dataset (none now: runtime-errors, whose failed base call no longer rejects
#: the candidate, is tested in test_champion.py).
RECORDS: dict[str, int] = {}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_fails_cleanly(run_rehearsal: Run, fault: str) -> None:
    error, cause_fragment = FAULTS[fault]
    result = run_rehearsal(faults={fault}, **({"records": RECORDS[fault]} if fault in RECORDS else {}))
    assert result.status == "FAILED" and exit_code(result) == 1
    assert result.error == error, result.cause
    assert cause_fragment in (result.cause or "")
    assert _statuses(result) == ["FAILED"]
    # The notification says what went wrong in one sentence, the same one the execution's cause and the closing
    # lines give; never the state document, a stack trace or a path to code.
    notification = result.notifications[0]["message"]
    assert set(notification) == {"status", "run", "execution", "reason", "report"}
    assert notification["reason"] == result.cause == readable_cause(result.cause, error)
    assert cause_fragment in notification["reason"]
    for banned in ("Traceback", "stackTrace", 'File "', ".py", "{"):
        assert banned not in notification["reason"], banned
    assert notification["report"] is None or notification["report"].startswith("s3://")
    assert result.provisioned_throughputs == []
    assert result.running_jobs == []
    reason = summary_lines(result)[1]
    assert reason == f"Reason: {error}: {notification['reason']}"
    assert summary_lines(result)[2].startswith("Nothing left billing except storage")


def test_worse_candidate_is_rejected_by_the_gate_and_its_throughput_deleted(run_rehearsal: Run) -> None:
    result = run_rehearsal(faults={"worse-candidate"})
    assert "Quality gate" in result.states and "Candidate rejected" in result.states
    assert "Delete throughput" in result.states and "Promote" not in result.states
    assert "did not pass the quality gate" in (result.cause or "")
    assert result.provisioned_throughputs == []
    (note,) = result.notifications
    assert note["message"]["report"].endswith("/report.json")  # the rejection's evidence
    assert "Report: s3://" not in note["message"]["reason"]  # given once, as the report
    assert summary_lines(result)[2] == (
        "Nothing left billing except storage: the run's files in S3, and the custom model at Bedrock's monthly "
        "storage fee"
    )


def test_throttle_burst_is_retried_and_the_run_completes(run_rehearsal: Run) -> None:
    result = run_rehearsal(faults={"throttle-burst"})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    throttled = sum(n for (op, _, code), n in result.standin_errors.items() if code == "ThrottlingException")
    assert throttled > 0


def test_the_same_upload_twice_starts_one_execution_and_one_job(run_rehearsal: Run) -> None:
    result = run_rehearsal(faults={"duplicate-event"})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    # StartExecution with a running execution's name and the same input returns that execution (AWS's idempotency);
    # with another input it fails ExecutionAlreadyExists, which the trigger reports as a duplicate.
    first, second = result.trigger_results
    assert second.get("reason") == "duplicate" or second["execution_arn"] == first["execution_arn"]
    assert result.executions == 1
    assert len(result.jobs) == 1


def test_unknown_fault_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["rehearse", "--fault", "meteor-strike"])
    assert exit_info.value.code == 2
    assert "unknown fault 'meteor-strike'" in capsys.readouterr().err


def test_help_lists_every_fault(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["rehearse", "--help"])
    text = capsys.readouterr().out
    assert set(FAULTS) < set(REHEARSAL_FAULTS)
    for fault, line in REHEARSAL_FAULTS.items():
        assert f"  {fault} " in text and "\n" not in line
    for option in ("--base-model ID", "--region REGION"):
        assert option in text


def test_the_stand_in_knows_every_fault_the_rehearsal_passes_it() -> None:
    assert set(STANDIN_FAULT_NAMES) == STANDIN_FAULTS
    assert set(REHEARSAL_FAULTS) >= STANDIN_FAULTS >= {"base-model-eol", "base-model-legacy"}


def test_output_that_is_a_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "data.jsonl"
    target.write_text("{}\n")
    assert main(["rehearse", "--output", str(target)]) == 2
    assert f"--output {target} is a file" in capsys.readouterr().err


def test_bad_settings_are_one_line_naming_the_key() -> None:
    with pytest.raises(
        RehearsalError,
        match=r"^cdk.json with the rehearsal's overrides: pipeline\.provisionedThroughput\.modelUnits = -1",
    ):
        synthesize({"provisionedThroughput": {"modelUnits": -1}})
