"""Every `finetune` subcommand through a matrix of failures: one line on stderr, the right exit code, no traceback.

The AWS commands meet each failure at the client factory (`finetune.operator.Aws.client`), the one place their
clients are made; the local commands meet Ctrl-C inside their work and refuse bad input. Adding a subcommand
means adding one entry to COMMANDS (a test fails until it is there).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from finetune import cli
from finetune.operator import Aws, aws_failure

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-west-2"
MACHINE = f"arn:aws:states:{REGION}:123456789012:stateMachine:finetune-pipeline"
KEY = f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
WHERE = ("--region", REGION)


@dataclass(frozen=True)
class Case:
    """How to drive one subcommand into its work, and one input it must refuse."""

    argv: tuple[str, ...]  # reaches the command's work; {data} and {predictions} are files written per test
    bad_input: tuple[str, ...]  # refused with exit 2 (an AWS command meets a client that answers InvalidArn)
    bad_input_says: str  # a fragment of the refusal
    aws: bool = False  # the work is AWS calls, through finetune.operator.Aws.client
    interrupt_at: str = ""  # local commands: the function that raises KeyboardInterrupt (a monkeypatch target)
    interrupted: str = ""  # what the Ctrl-C line says was left behind


COMMANDS: dict[str, Case] = {
    "validate": Case(
        argv=("validate", "{data}"),
        bad_input=("validate", "{missing}"),
        bad_input_says="cannot read",
        interrupt_at="finetune.commands.validate.validate",
        interrupted="interrupted; no split file was written or changed",
    ),
    "score": Case(
        argv=("score", "{predictions}"),
        bad_input=("score", "{missing}"),
        bad_input_says="cannot read",
        interrupt_at="finetune.commands.score.score_examples",
        interrupted="interrupted; no output was written",
    ),
    "rehearse": Case(
        argv=("rehearse", "--quiet", "--output", "{out}"),
        bad_input=("rehearse", "--records", "0"),
        bad_input_says="--records must be at least 1",
        interrupt_at="finetune.rehearsal.runner.rehearse",
        interrupted="rehearsal interrupted; nothing was left running (it was all local)",
    ),
    # doctor makes its own read-only clients and reports AWS failures as check lines (tests/unit/test_doctor.py).
    "doctor": Case(
        argv=("doctor", "--cdk-json", str(ROOT / "cdk.json")),
        bad_input=("doctor", "--cdk-json", "{missing}"),
        bad_input_says="cannot read",
        interrupt_at="finetune.commands.doctor.run_checks",
        interrupted="interrupted; nothing was changed (finetune doctor only reads)",
    ),
    "submit": Case(
        argv=("submit", "{data}", *WHERE, "--data-bucket", "data", "--kms-key", KEY, "--state-machine", MACHINE),
        bad_input=("submit", "{missing}", *WHERE),
        bad_input_says="no such file or folder",
        aws=True,
        # The one file is the upload that starts the run: stopped during it, the run may or may not start.
        interrupted="interrupted while uploading s3://data/inbox/data.jsonl, the upload that starts the run: "
        "it may have started; check with `finetune runs`",
    ),
    "status": Case(
        argv=("status", "demo", *WHERE, "--state-machine", MACHINE),
        bad_input=("status", "arn:aws:states:us-west-2:123456789012:execution:x:y", *WHERE, "--state-machine", MACHINE),
        bad_input_says="no such execution",
        aws=True,
        interrupted="interrupted before the run was found; nothing was changed in AWS",
    ),
    "report": Case(
        argv=("report", "demo", *WHERE, "--artifacts-bucket", "artifacts", "--state-machine", MACHINE),
        bad_input=("report", "demo", *WHERE, "--state-machine", "garbage", "--artifacts-bucket", "a"),
        bad_input_says="InvalidArn",
        aws=True,
        interrupted="interrupted; nothing was changed in AWS and no file was written",
    ),
    "runs": Case(
        argv=("runs", *WHERE, "--state-machine", MACHINE),
        bad_input=("runs", "--limit", "1001", *WHERE),
        bad_input_says="--limit must be from 1 to 1000, got 1001",
        aws=True,
        interrupted="interrupted; nothing was changed in AWS",
    ),
    "approve": Case(
        argv=("approve", "demo", *WHERE, "--state-machine", MACHINE, "--artifacts-bucket", "artifacts"),
        bad_input=("approve", "demo", *WHERE, "--state-machine", "garbage", "--artifacts-bucket", "artifacts"),
        bad_input_says="InvalidArn",
        aws=True,
        interrupted="interrupted; if the decision was sent, `finetune status RUN` shows it",
    ),
    "reject": Case(
        argv=("reject", "demo", "--reason", "too terse", *WHERE, "--state-machine", MACHINE, "--artifacts-bucket", "a"),
        # Refused before any AWS call: a rejection's reason is recorded in the report and the notification.
        bad_input=("reject", "demo", "--reason", "   ", *WHERE, "--state-machine", MACHINE, "--artifacts-bucket", "a"),
        bad_input_says="--reason must say why",
        aws=True,
        interrupted="interrupted; if the decision was sent, `finetune status RUN` shows it",
    ),
}


def _client_error(code: str, message: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "AnyOperation"
    )


# failure -> (the exception the AWS call raises, exit code, a fragment of the advice)
FAILURES: dict[str, tuple[Callable[[], BaseException], int, str]] = {
    "no credentials": (NoCredentialsError, 2, "configure AWS credentials"),
    "access denied": (
        lambda: _client_error("AccessDeniedException", "User: arn:aws:iam::1:user/x is not authorized", 403),
        2,
        "lacks this permission",
    ),
    "kms denied": (
        lambda: _client_error("KMS.AccessDeniedException", "not allowed kms:GenerateDataKey", 400),
        2,
        "KMS key",
    ),
    "not found": (lambda: _client_error("ResourceNotFoundException", "Resource does not exist", 400), 2, "check"),
    "throttled": (lambda: _client_error("ThrottlingException", "Rate exceeded", 400), 1, "try again"),
    "network": (lambda: EndpointConnectionError(endpoint_url="https://aws.example"), 2, "your network"),
    "timeout": (lambda: ReadTimeoutError(endpoint_url="https://aws.example"), 1, "try again"),
}


class FailingClient:
    """Any AWS client whose every call raises the given exception."""

    def __init__(self, error: Callable[[], BaseException]) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise self.error()

        return fail


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No profile or endpoint from the environment reaches the commands; a client made by accident fails at once."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}?", "completion": f"a{i}"}) + "\n" for i in range(3)))
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(json.dumps({"prediction": "a", "references": ["a"]}) + "\n")
    return {
        "data": str(data),
        "predictions": str(predictions),
        "missing": str(tmp_path / "missing.jsonl"),
        "out": str(tmp_path / "out"),
    }


def _argv(argv: tuple[str, ...], files: dict[str, str]) -> list[str]:
    return [part.format(**files) for part in argv]


def _fail_aws_with(monkeypatch: pytest.MonkeyPatch, error: Callable[[], BaseException]) -> None:
    monkeypatch.setattr(Aws, "client", lambda self, service: FailingClient(error))


def _one_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"finetune {command}: "), lines[0]
    return lines[0]


def test_every_subcommand_is_in_the_matrix() -> None:
    assert set(COMMANDS) == set(cli.SUBCOMMANDS)


AWS_COMMANDS = [name for name, case in COMMANDS.items() if case.aws]


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("command", AWS_COMMANDS)
def test_aws_failures_are_one_line_with_the_right_exit_code(
    command: str,
    failure: str,
    files: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    error, code, advice = FAILURES[failure]
    _fail_aws_with(monkeypatch, error)
    assert cli.main(_argv(COMMANDS[command].argv, files)) == code
    line = _one_line(capsys, command)
    assert advice in line


@pytest.mark.parametrize("command", list(COMMANDS))
def test_ctrl_c_is_one_line_saying_what_was_left_and_exit_130(
    command: str, files: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = COMMANDS[command]

    def interrupt(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    if case.aws:
        _fail_aws_with(monkeypatch, KeyboardInterrupt)
    else:
        monkeypatch.setattr(case.interrupt_at, interrupt)
    assert cli.main(_argv(case.argv, files)) == cli.EXIT_INTERRUPTED
    assert _one_line(capsys, command) == f"finetune {command}: {case.interrupted}"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_bad_input_is_one_line_and_exit_2(
    command: str, files: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = COMMANDS[command]
    _fail_aws_with(monkeypatch, lambda: _client_error("InvalidArn", "Invalid Arn: 'garbage'"))
    assert cli.main(_argv(case.bad_input, files)) == cli.EXIT_USAGE
    assert case.bad_input_says in _one_line(capsys, command)


def test_ctrl_c_while_building_the_parser_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupt() -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupt)
    assert cli.main(["runs"]) == 130
    assert capsys.readouterr().err == "finetune: interrupted\n"


def test_an_unexpected_error_is_not_hidden(files: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Only AWS failures and Ctrl-C are turned into a line; a bug keeps its traceback for whoever reports it.
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("finetune.commands.score.score_examples", broken)
    with pytest.raises(ZeroDivisionError):
        cli.main(["score", files["predictions"]])


# ---- the one place AWS failures are explained ----------------------------------------------------------------
def _upload_failed(inner: ClientError) -> BaseException:
    """What boto3's upload_file raises for a ClientError: S3UploadFailedError, raised while handling it."""
    from boto3.exceptions import S3UploadFailedError

    try:
        raise inner
    except ClientError as err:
        try:
            raise S3UploadFailedError(f"Failed to upload f.jsonl to b/k: {err}")
        except S3UploadFailedError as wrapped:
            caught: BaseException = wrapped
    assert isinstance(caught.__context__, ClientError)  # nothing but the context links the two, as in boto3
    return caught


@pytest.mark.parametrize(
    ("error", "code", "fragments"),
    [
        (NoCredentialsError(), 2, ["Unable to locate credentials", "configure AWS credentials"]),
        (PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), 2, ["AWS_SECRET_ACCESS_KEY"]),
        (NoRegionError(), 2, ["pass --region"]),
        (ProfileNotFound(profile="nope"), 2, ["nope", "--profile"]),
        (ParamValidationError(report="Invalid bucket name"), 2, ["Invalid bucket name"]),
        (ConnectTimeoutError(endpoint_url="https://x"), 1, ["https://x", "try again"]),
        (EndpointConnectionError(endpoint_url="https://x"), 2, ["https://x", "--region"]),
        (_client_error("ExpiredToken", "The security token included in the request is expired"), 2, ["refresh"]),
        (_client_error("AccessDenied", "Access Denied", 403), 2, ["AccessDenied: Access Denied", "permission"]),
        (_client_error("KMS.DisabledException", "key is disabled"), 2, ["KMS.DisabledException", "KMS key"]),
        (_client_error("InvalidArn", "Invalid Arn"), 2, ["InvalidArn: Invalid Arn", "check the value"]),
        (_client_error("ValidationException", "1 validation error"), 2, ["ValidationException"]),
        (_client_error("StateMachineDoesNotExist", "no"), 2, ["StateMachineDoesNotExist", "check the name"]),
        (_client_error("ThrottlingException", "Rate exceeded"), 1, ["Rate exceeded", "try again"]),
        (_client_error("SlowDown", "Please reduce your request rate", 503), 1, ["SlowDown", "try again"]),
        (_client_error("InternalError", "We encountered an internal error", 500), 1, ["try again"]),
        (
            _upload_failed(_client_error("NoSuchBucket", "The specified bucket does not exist", 404)),
            2,
            ["NoSuchBucket: The specified bucket does not exist", "check the name"],
        ),
        (
            _upload_failed(
                _client_error("AccessDenied", "User is not authorized to perform: kms:GenerateDataKey on key", 403)
            ),
            2,
            ["kms:GenerateDataKey", "KMS key"],
        ),
    ],
)
def test_aws_failures_are_explained(error: BaseException, code: int, fragments: list[str]) -> None:
    failure = aws_failure(error, "doing something")
    assert failure is not None and failure.exit_code == code
    message = str(failure)
    assert message.startswith("doing something: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_only_aws_errors_are_explained() -> None:
    assert aws_failure(ValueError("x"), "doing") is None
    assert aws_failure(OSError("x"), "doing") is None


def test_a_long_aws_message_is_cut_to_one_readable_line() -> None:
    failure = aws_failure(_client_error("AccessDenied", "word\n" * 1000, 403), "doing")
    assert failure is not None and "\n" not in str(failure) and len(str(failure)) < 600


# ---- start-up ----------------------------------------------------------------------------------------------------
def test_the_cli_starts_without_importing_aws_or_the_rehearsal() -> None:
    code = (
        "import sys; from finetune.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('boto3', 'botocore', 'moto', 'aws_cdk', 'finetune.rehearsal.runner') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


# ---- a real Ctrl-C -------------------------------------------------------------------------------------------
class _StepFunctions(BaseHTTPRequestHandler):
    """Step Functions' JSON protocol, enough for `finetune status ARN`: one running execution, no events."""

    served: threading.Event

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        operation = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        if operation == "DescribeExecution":
            arn = body["executionArn"]
            answer: dict[str, Any] = {
                "executionArn": arn,
                "stateMachineArn": MACHINE,
                "name": arn.rsplit(":", 1)[1],
                "status": "RUNNING",
                "startDate": 1_700_000_000,
                "input": json.dumps({"source": {"run_name": "demo"}}),
            }
        else:
            answer = {"events": []}
            self.served.set()  # status has read the history: it is following the run
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def step_functions() -> Iterator[tuple[str, threading.Event]]:
    served = threading.Event()
    handler = type("Handler", (_StepFunctions,), {"served": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()


def test_a_real_ctrl_c_while_following_a_run_prints_one_line_and_exits_130(
    step_functions: tuple[str, threading.Event],
) -> None:
    endpoint, served = step_functions
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("AWS_PROFILE", None)
    arn = MACHINE.replace(":stateMachine:", ":execution:") + ":demo-0123456789abcdef"
    argv = [sys.executable, "-m", "finetune.cli", "status", arn, "--region", REGION, "--state-machine", MACHINE]
    process = subprocess.Popen(
        [*argv, "--interval", "3600"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Once the history was read, status sleeps until the next poll: that is where a person presses Ctrl-C.
        assert served.wait(timeout=60), "status never read the execution history"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in out + err
    assert err.splitlines() == [
        "finetune status: stopped following; the run goes on in AWS; follow it again with "
        "`finetune status demo-0123456789abcdef`"
    ]
    assert out.splitlines()[0] == "run demo: execution demo-0123456789abcdef"
