"""The operator commands (runs, status, report) work against a rehearsed pipeline, not only against moto stubs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from finetune.cli import main
from finetune.rehearsal.runner import LocalCloud, RehearsalResult

REGION = ["--region", "us-west-2"]


def operate(capsys: pytest.CaptureFixture[str]) -> Callable[[LocalCloud, str | None], dict[str, tuple[int, str, str]]]:
    """An after_run hook: run the operator commands against the rehearsal's resources while they exist."""

    def run(cloud: LocalCloud, execution_arn: str | None) -> dict[str, tuple[int, str, str]]:
        assert execution_arn is not None
        machine = ["--state-machine", cloud.state_machine_arn, *REGION]
        commands = {
            "runs": ["runs", *machine],
            "status": ["status", execution_arn, "--no-follow", *machine],
            "report": ["report", execution_arn, "--artifacts-bucket", cloud.artifacts_bucket, *machine],
            "unknown": ["report", "no-such-run", "--artifacts-bucket", cloud.artifacts_bucket, *machine],
        }
        outcomes: dict[str, tuple[int, str, str]] = {}
        capsys.readouterr()
        for name, argv in commands.items():
            code = main(argv)
            captured = capsys.readouterr()
            outcomes[name] = (code, captured.out, captured.err)
        return outcomes

    return run


def test_operator_commands_follow_a_promoted_run(
    run_rehearsal: Callable[..., RehearsalResult], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_rehearsal(after_run=operate(capsys))
    assert result.promoted
    out: dict[str, tuple[int, str, str]] = result.after_run_result
    execution_name = result.execution_arn.rsplit(":", 1)[-1] if result.execution_arn else ""

    code, text, _ = out["runs"]
    assert code == 0 and execution_name in text and "SUCCEEDED" in text

    code, text, _ = out["status"]
    assert code == 0
    for state in ("Validate dataset", "Start training", "Provision throughput", "Evaluate", "Promote"):
        assert state in text, state

    code, text, _ = out["report"]
    assert code == 0 and "| Metric | Fine-tuned | Base |" in text and "SIMULATED" in text.upper()

    code, _, err = out["unknown"]
    assert code == 2 and "no-such-run" in err and len(err.strip().splitlines()) == 1


def test_operator_commands_report_a_rejected_run_with_exit_status_1(
    run_rehearsal: Callable[..., RehearsalResult], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_rehearsal(faults={"worse-candidate"}, after_run=operate(capsys))
    assert result.error == "CandidateRejected"
    out: dict[str, tuple[int, str, str]] = result.after_run_result
    code, text, _ = out["status"]
    assert code == 1 and "rejected" in text and "is below base" in text
    assert text.splitlines()[-1].startswith("report: s3://") and text.endswith("/report.json\n")  # the evidence
    code, text, _ = out["report"]
    assert code == 1 and "reject" in text.lower()
