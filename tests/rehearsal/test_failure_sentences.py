"""A failed rehearsal's notification, `finetune status`, `finetune runs` and the closing lines say the same sentence."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

import pytest

from finetune.cli import main
from finetune.rehearsal import runner
from finetune.rehearsal.runner import LocalCloud, RehearsalResult, readable_cause, summary_lines

BANNED = ("Traceback", "stackTrace", 'File "', "handler.py", "{", "errorMessage")

#: fault -> (error name, words the sentence must contain to name what went wrong)
CASES = {
    "pt-stuck": ("ThroughputNotReady", ("Provisioned Throughput", "is still Creating after")),
    "job-failed": ("TrainingFailed", ("Customization job", "ended Failed")),
}


def operate(cloud: LocalCloud, execution_arn: str | None) -> dict[str, tuple[int, str, str]]:
    """An after_run hook: `finetune status` and `finetune runs` against the rehearsal's state machine."""
    assert execution_arn is not None
    machine = ["--state-machine", cloud.state_machine_arn, "--region", cloud.resources.app.region]
    outcomes = {}
    for name, argv in {"status": ["status", execution_arn, "--no-follow"], "runs": ["runs"]}.items():
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*argv, *machine])
        outcomes[name] = (code, out.getvalue(), err.getvalue())
    return outcomes


@pytest.mark.parametrize("fault", sorted(CASES))
def test_the_notification_and_status_name_what_went_wrong_without_a_trace(
    run_rehearsal: Callable[..., RehearsalResult], fault: str
) -> None:
    error, words = CASES[fault]
    result = run_rehearsal(faults={fault}, after_run=operate)
    assert result.status == "FAILED" and result.error == error, result.cause
    (note,) = result.notifications
    message = note["message"]
    assert message["status"] == "FAILED" and message["run"] == "demo"
    assert message["execution"] == result.execution_arn and message["report"] is None
    reason = message["reason"]
    assert all(word in reason for word in words), reason
    assert not [banned for banned in BANNED if banned in reason], reason

    code, status, err = result.after_run_result["status"]
    assert status, err
    assert code == 1
    assert status.rstrip().splitlines()[-1] == f"FAILED: failed ({error}): {reason}"
    code, runs, _ = result.after_run_result["runs"]
    assert code == 0 and runs.splitlines()[1].rstrip().endswith(reason)
    assert (
        summary_lines(result)[1]
        == f"Reason: {error}: {readable_cause(result.cause, error)}"
        == (f"Reason: {error}: {reason}")
    )
    for text in (status, runs):
        assert not [banned for banned in BANNED if banned in text], text


class AccessDeniedException(Exception):  # named as botocore names the AWS error it stands for
    """What a handler raises when AWS refuses a call; a Python built-in error would be a fault in the code, whose
    message the sentence never shows (pipeline_core.explain)."""


def _failing(monkeypatch: pytest.MonkeyPatch, folder: str, action: str | None, message: str) -> None:
    """Make the rehearsal's ``folder`` handler raise on ``action`` (None: on every call)."""
    real_load = runner.load_handler

    def load(name: str, tag: str) -> Callable[[Any, Any], Any]:
        handler = real_load(name, tag)
        if name != folder:
            return handler

        def broken(event: Any, context: Any) -> Any:
            if action is None or (isinstance(event, dict) and event.get("action") == action):
                raise AccessDeniedException(message)
            return handler(event, context)

        return broken

    monkeypatch.setattr(runner, "load_handler", load)


def test_a_cleanup_failure_says_what_the_cleanup_met_and_why_the_run_failed(
    run_rehearsal: Callable[..., RehearsalResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing(monkeypatch, "throughput", "delete", "not authorized to perform bedrock:DeleteProvisionedModelThroughput")
    result = run_rehearsal(faults={"worse-candidate"})
    assert result.status == "FAILED" and result.error == "CandidateRejected", result.cause
    (note,) = result.notifications
    message = note["message"]
    assert message["status"] == "CLEANUP_FAILED" and set(message) == {"status", "run", "execution", "reason", "report"}
    reason = message["reason"]
    assert reason.startswith("Cleaning up after the failure did not finish (")
    assert "not authorized to perform bedrock:DeleteProvisionedModelThroughput" in reason
    assert "may still be running and billing" in reason and "did not pass the quality gate" in reason
    assert not [banned for banned in BANNED if banned in reason], reason
    assert message["report"].endswith("/report.json")
    assert result.cause == reason  # the Fail state's cause is the same sentence
    # The throughput was left behind: the closing lines say it bills, and that it was not promoted.
    billing = summary_lines(result)[2]
    assert billing.startswith("Still billing in AWS (simulated here): 1 model unit of Provisioned Throughput")
    assert "not promoted, yet not deleted: delete it now" in billing


def test_when_the_explanation_itself_fails_a_fixed_sentence_is_still_sent(
    run_rehearsal: Callable[..., RehearsalResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing(monkeypatch, "explain", None, "the explain function is broken")
    result = run_rehearsal(faults={"pt-stuck"})
    assert result.status == "FAILED" and result.error == "ThroughputNotReady"
    assert "Failure not explained" in result.states
    (note,) = result.notifications
    assert note["message"]["status"] == "FAILED" and note["message"]["report"] is None
    assert note["message"]["reason"] == (
        "The run failed, and its error could not be put in words; the execution history has it"
    )
    assert result.cause == note["message"]["reason"]
    assert result.provisioned_throughputs == []
