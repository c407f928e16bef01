"""`finetune approve` and `finetune reject` against moto: the decision sent, who sent it, and every refusal as one line
with the shared exit codes (2 unknown run or usage, 1 not waiting for approval)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from finetune.cli import main
from finetune.commands import approve as approve_cmd
from finetune.commands import reject as reject_cmd
from finetune.operator import Aws
from pipeline_core import contracts
from pipeline_core.approval import APPROVAL_REQUEST
from tests.unit.test_operator_cli import ARTIFACTS, aws, machine_arn  # noqa: F401  (aws is a fixture)

NAME = "demo-0123456789abcdef"
MOTO_CALLER = "arn:aws:sts::123456789012:user/moto"


class RecordingStates:
    """moto's Step Functions, with SendTaskSuccess recorded (moto accepts it and does nothing) or refused."""

    def __init__(self, real: Any, error: str | None = None) -> None:
        self.real, self.error = real, error
        self.sent: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def send_task_success(self, **kwargs: Any) -> dict[str, Any]:
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": f"simulated {self.error}"}}, "SendTaskSuccess")
        self.sent.append(kwargs)
        return {}


@pytest.fixture
def cli(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Aws, RecordingStates, str]]:  # noqa: F811
    for module in (approve_cmd, reject_cmd):
        monkeypatch.setattr(module, "connect", lambda args: aws)
    real = aws.client("stepfunctions")
    arn = real.start_execution(
        stateMachineArn=machine_arn(aws), name=NAME, input=json.dumps({"source": {"run_name": "demo"}})
    )["executionArn"]
    states = RecordingStates(real)
    aws.set("stepfunctions", states)
    yield aws, states, arn


def _store_request(handle: Aws, execution_arn: str, token: str = "token-1") -> None:
    body = {"task_token": token, "run_name": "demo", "execution_name": NAME, "execution_arn": execution_arn}
    key = contracts.run_prefix("demo", NAME) + APPROVAL_REQUEST
    handle.client("s3").put_object(Bucket=ARTIFACTS, Key=key, Body=json.dumps(body).encode())


def test_approve_sends_the_decision_with_the_callers_arn(
    cli: tuple[Aws, RecordingStates, str], capsys: pytest.CaptureFixture[str]
) -> None:
    handle, states, arn = cli
    _store_request(handle, arn)
    assert main(["approve", "demo"]) == 0
    (sent,) = states.sent
    assert sent["taskToken"] == "token-1"
    output = json.loads(sent["output"])
    assert output["decision"] == "approve" and output["decided_by"] == MOTO_CALLER and output["reason"] == ""
    assert output["decided_at"].endswith("+00:00")
    out = capsys.readouterr().out
    assert out.startswith(f"run demo: approved by {MOTO_CALLER} at ") and f"finetune status {NAME}" in out


def test_reject_sends_the_reason(cli: tuple[Aws, RecordingStates, str], capsys: pytest.CaptureFixture[str]) -> None:
    handle, states, arn = cli
    _store_request(handle, arn)
    assert main(["reject", NAME, "--reason", "answers  too\nlong"]) == 0
    output = json.loads(states.sent[0]["output"])
    assert output["decision"] == "reject" and output["reason"] == "answers too long"
    assert output["decided_by"] == MOTO_CALLER
    assert capsys.readouterr().out.startswith(f"run demo: rejected by {MOTO_CALLER}")


@pytest.mark.parametrize("command", [["approve", "demo"], ["reject", "demo", "--reason", "no"]])
def test_a_run_not_waiting_for_approval_exits_1_naming_the_run(
    cli: tuple[Aws, RecordingStates, str], capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    _, states, _ = cli
    assert main(command) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"finetune {command[0]}: run demo: execution {NAME} is not waiting for approval")
    assert "\n" not in err and states.sent == []


def test_an_ended_run_exits_1(cli: tuple[Aws, RecordingStates, str], capsys: pytest.CaptureFixture[str]) -> None:
    handle, states, arn = cli
    _store_request(handle, arn)
    states.real.stop_execution(executionArn=arn)
    assert main(["approve", "demo"]) == 1
    assert f"run demo: execution {NAME} is ABORTED, not waiting for approval" in capsys.readouterr().err
    assert states.sent == []


@pytest.mark.parametrize("command", [["approve", "nope"], ["reject", "nope", "--reason", "no"]])
def test_an_unknown_run_exits_2_like_the_other_commands(
    cli: tuple[Aws, RecordingStates, str], capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main(command) == 2
    assert "no execution named or starting with 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("code", ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])
def test_a_wait_that_is_over_exits_1(
    cli: tuple[Aws, RecordingStates, str], capsys: pytest.CaptureFixture[str], code: str
) -> None:
    handle, states, arn = cli
    _store_request(handle, arn)
    states.error = code
    assert main(["approve", "demo"]) == 1
    assert "is no longer waiting for approval (decided already, or timed out)" in capsys.readouterr().err


def test_a_caller_without_send_task_success_exits_2_with_the_permission_hint(
    cli: tuple[Aws, RecordingStates, str], capsys: pytest.CaptureFixture[str]
) -> None:
    handle, states, arn = cli
    _store_request(handle, arn)
    states.error = "AccessDeniedException"
    assert main(["approve", "demo"]) == 2
    err = capsys.readouterr().err
    assert "sending the decision (states:SendTaskSuccess): AccessDeniedException" in err
    assert "your identity lacks this permission" in err


def test_a_request_of_another_execution_is_not_answered(
    cli: tuple[Aws, RecordingStates, str], capsys: pytest.CaptureFixture[str]
) -> None:
    handle, states, arn = cli
    _store_request(handle, arn + "-other")
    assert main(["approve", "demo"]) == 1
    assert "the approval request names another execution" in capsys.readouterr().err
    assert states.sent == []


def test_reject_needs_a_reason(cli: tuple[Aws, RecordingStates, str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["reject", "demo"])
    assert exit_.value.code == 2
    assert main(["reject", "demo", "--reason", "  "]) == 2
    assert "--reason must say why" in capsys.readouterr().err
    handle, states, arn = cli
    _store_request(handle, arn)
    assert main(["reject", "demo", "--reason", "x" * 1001]) == 2
    assert states.sent == []
