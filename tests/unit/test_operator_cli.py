"""The operator commands (submit, status, report, runs) against moto, with the real trigger handler in the loop."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from finetune.cli import main
from finetune.commands import report as report_cmd
from finetune.commands import runs as runs_cmd
from finetune.commands import status as status_cmd
from finetune.commands import submit as submit_cmd
from finetune.operator import Aws, OperatorError, Progress, execution_arn, verdict
from pipeline_aws.clients import CLIENTS
from pipeline_core import contracts

REGION, ACCOUNT = "us-west-2", "123456789012"
DATA, ARTIFACTS = "finetune-data-123456789012-us-west-2", "finetune-artifacts-123456789012-us-west-2"
QUEUE_TABLE = "finetune-admission-queue"
ROOT = Path(__file__).resolve().parents[2]
RECORD = b'{"prompt": "2+2?", "completion": "4"}\n'
COMMANDS = (submit_cmd, status_cmd, report_cmd, runs_cmd)


def _load_trigger() -> ModuleType:
    spec = importlib.util.spec_from_file_location("operator_test_trigger", ROOT / "lambdas" / "trigger" / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the handler loads
    spec.loader.exec_module(module)
    return module


trigger = _load_trigger()


class FakeCloudFormation:
    """DescribeStacks over a dict of stack outputs (moto's CloudFormation needs extras the project does not pin)."""

    def __init__(self, stacks: dict[str, dict[str, str]]) -> None:
        self.stacks = stacks
        self.calls = 0

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.calls += 1
        if StackName not in self.stacks:
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}},
                "DescribeStacks",
            )
        outputs = [{"OutputKey": k, "OutputValue": v} for k, v in self.stacks[StackName].items()]
        return {"Stacks": [{"StackName": StackName, "Outputs": outputs}]}


class FakeStates:
    """Executions with chosen statuses, outputs and histories (moto's executions only ever run)."""

    def __init__(self, machine: str) -> None:
        self.machine = machine
        self.executions: dict[str, dict[str, Any]] = {}
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.script: dict[str, list[dict[str, Any]]] = {}  # successive describe results while following

    def add(self, name: str, status: str, history: list[dict[str, Any]] | None = None, **extra: Any) -> str:
        arn = execution_arn(self.machine, name)
        start = datetime(2025, 1, 1, 12, 0, tzinfo=UTC) + timedelta(hours=len(self.executions))
        run = name.rsplit("-", 1)[0]
        self.executions[arn] = {
            "executionArn": arn,
            "stateMachineArn": self.machine,
            "name": name,
            "status": status,
            "startDate": start,
            "input": json.dumps({"source": {"run_name": run}}),
            **({"stopDate": start + timedelta(minutes=95)} if status != "RUNNING" else {}),
            **extra,
        }
        self.histories[arn] = history or []
        return arn

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        if executionArn not in self.executions:
            raise ClientError(
                {"Error": {"Code": "ExecutionDoesNotExist", "Message": "Execution does not exist"}}, "DescribeExecution"
            )
        if self.script.get(executionArn):
            self.executions[executionArn].update(self.script[executionArn].pop(0))
        return dict(self.executions[executionArn])

    def get_execution_history(self, executionArn: str, maxResults: int = 1000, **_: Any) -> dict[str, Any]:
        return {"events": self.histories[executionArn]}

    def list_executions(self, stateMachineArn: str, maxResults: int = 1000, **_: Any) -> dict[str, Any]:
        keys = ("executionArn", "name", "status", "startDate", "stopDate")
        items = [{k: e[k] for k in keys if k in e} for e in self.executions.values()]
        return {"executions": sorted(items, key=lambda e: e["startDate"], reverse=True)[:maxResults]}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """A moto account with the pipeline's key, buckets and state machine, and stack outputs naming them."""
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    CLIENTS.reset()
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        key_arn = session.client("kms").create_key()["KeyMetadata"]["Arn"]
        s3 = session.client("s3")
        for bucket in (DATA, ARTIFACTS):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        machine = session.client("stepfunctions").create_state_machine(
            name="finetune-pipeline",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
        )["stateMachineArn"]
        session.client("dynamodb").create_table(  # the admission queue as stacks/admission.py declares it
            TableName=QUEUE_TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        handle = Aws(session)
        handle.set(
            "cloudformation",
            FakeCloudFormation(
                {
                    "FinetuneDataPlane": {
                        "DataBucketName": DATA,
                        "ArtifactsBucketName": ARTIFACTS,
                        "PipelineKeyArn": key_arn,
                    },
                    "FinetunePipeline": {"StateMachineArn": machine, "AdmissionQueueTableName": QUEUE_TABLE},
                }
            ),
        )
        for module in COMMANDS:
            monkeypatch.setattr(module, "connect", lambda args: handle)
        monkeypatch.setenv(contracts.ENV_STATE_MACHINE_ARN, machine)
        monkeypatch.setenv(contracts.ENV_ADMISSION_TABLE, QUEUE_TABLE)  # the trigger queues before it starts
        monkeypatch.setenv(contracts.ENV_MAX_CONCURRENT_RUNS, "2")
        yield handle
    CLIENTS.reset()


def machine_arn(aws: Aws) -> str:
    return str(aws.client("cloudformation").stacks["FinetunePipeline"]["StateMachineArn"])


def fire_trigger_on_wait(aws: Aws, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """Stand in for EventBridge: the first time submit sleeps, run the real trigger handler for ``key``."""
    fired: list[bool] = []

    def sleep(_: float) -> None:
        if not fired:
            head = aws.client("s3").head_object(Bucket=DATA, Key=key)
            event = {"detail": {"bucket": {"name": DATA}, "object": {"key": key, "etag": head["ETag"].strip('"')}}}
            trigger.handler(event)
            fired.append(True)

    monkeypatch.setattr("finetune.commands.submit.time.sleep", sleep)


# ---- submit ------------------------------------------------------------------------------------------------
def test_submit_file_uploads_to_inbox_with_the_pipeline_key_and_finds_its_execution(
    aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "Support Tickets.jsonl"
    data.write_bytes(RECORD * 3)
    fire_trigger_on_wait(aws, monkeypatch, "inbox/support-tickets.jsonl")
    assert main(["submit", str(data)]) == 0
    out = capsys.readouterr().out
    assert "run support-tickets: execution support-tickets-" in out
    head = aws.client("s3").head_object(Bucket=DATA, Key="inbox/support-tickets.jsonl")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == aws.client("cloudformation").stacks["FinetuneDataPlane"]["PipelineKeyArn"]


def test_submit_folder_writes_run_json_last_and_matches_the_triggers_execution_name(
    aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "v2"
    folder.mkdir()
    for part in ("train", "validation", "test"):
        (folder / f"{part}.jsonl").write_bytes(RECORD * 2)
    (folder / "run.json").write_text(json.dumps({"train": "ignored.jsonl", "keepThroughput": False}))
    fire_trigger_on_wait(aws, monkeypatch, "runs/support-v2/run.json")
    haiku = "anthropic.claude-3-haiku-20240307-v1:0:200k"
    assert main(["submit", str(folder), "--name", "support-v2", "--base-model", haiku]) == 0
    manifest = json.loads(aws.client("s3").get_object(Bucket=DATA, Key="runs/support-v2/run.json")["Body"].read())
    assert manifest == {
        "train": "train.jsonl",
        "validation": "validation.jsonl",
        "test": "test.jsonl",
        "keepThroughput": False,
        "baseModelId": haiku,
    }
    # The execution submit reports is the one the trigger started (same fingerprint of the files it reads).
    started = aws.client("stepfunctions").list_executions(stateMachineArn=machine_arn(aws))["executions"]
    assert len(started) == 1 and started[0]["name"] in capsys.readouterr().out


def test_plan_orders_uploads(tmp_path: Path) -> None:
    for part in ("test", "train"):
        (tmp_path / f"{part}.jsonl").write_bytes(RECORD)
    plan = submit_cmd.plan(tmp_path, "r1", None)
    assert [u.key for u in plan.uploads] == ["runs/r1/train.jsonl", "runs/r1/test.jsonl", "runs/r1/run.json"]
    assert plan.trigger_key == "runs/r1/run.json"


def test_submit_reports_when_no_execution_starts(aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "quiet.jsonl"
    data.write_bytes(RECORD)
    assert main(["submit", str(data), "--wait", "0"]) == 1
    assert "no execution of run quiet started within 0 s" in capsys.readouterr().err


def test_submit_with_explicit_resources_needs_no_stack(aws: Aws, tmp_path: Path) -> None:
    cfn = aws.client("cloudformation")
    data = tmp_path / "x.jsonl"
    data.write_bytes(RECORD)
    flags = ["--data-bucket", DATA, "--kms-key", cfn.stacks["FinetuneDataPlane"]["PipelineKeyArn"]]
    assert main(["submit", str(data), *flags, "--state-machine", machine_arn(aws), "--no-wait"]) == 0
    assert cfn.calls == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["submit", "missing.jsonl"], "no such file or folder"),
        (["submit", "{folder}"], "has no train.jsonl"),
        (["submit", "{file}", "--base-model", "gpt-4"], "not in the model catalogue"),
        (["submit", "{file}", "--name", "!!!"], "empty run name"),
        (["submit", "{file}", "--stack-prefix", "Nope"], "stack NopeDataPlane not found in us-west-2"),
        (["status", "does-not-exist"], "no execution named or starting with 'does-not-exist'"),
        (["status", "arn:aws:states:us-west-2:123456789012:execution:finetune-pipeline:gone"], "no such execution"),
        (["runs", "--limit", "0"], "--limit must be from 1 to 1000"),
        (["report", "nothing"], "no execution named or starting with"),
    ],
)
def test_usage_errors_and_missing_things_exit_2_with_one_line(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    data = tmp_path / "ok.jsonl"
    data.write_bytes(RECORD)
    argv = [a.format(folder=tmp_path / "empty", file=data) for a in argv]
    (tmp_path / "empty").mkdir()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_validation_without_test_is_refused(tmp_path: Path) -> None:
    for part in ("train", "validation"):
        (tmp_path / f"{part}.jsonl").write_bytes(RECORD)
    with pytest.raises(OperatorError, match=r"no test\.jsonl"):
        submit_cmd.plan(tmp_path, "x", None)


# ---- status --------------------------------------------------------------------------------------------------
def _event(seconds: int, kind: str, **details: Any) -> dict[str, Any]:
    return {"timestamp": datetime(2025, 1, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=seconds), "type": kind, **details}


def _entered(seconds: int, name: str) -> dict[str, Any]:
    return _event(seconds, "TaskStateEntered", stateEnteredEventDetails={"name": name})


def _job(seconds: int, status: str) -> dict[str, Any]:
    output = json.dumps({"job": {"job_name": "support-v2-job", "status": status}})
    return _event(seconds, "TaskStateExited", stateExitedEventDetails={"name": "Check training", "output": output})


HISTORY = [
    _event(0, "ExecutionStarted"),
    _entered(1, "Resolve run"),
    _entered(3, "Validate dataset"),
    _entered(50, "Start training"),
    _entered(55, "Check training"),
    _job(56, "InProgress"),
    _entered(655, "Check training"),
    _job(656, "InProgress"),
    _entered(3655, "Check training"),
    _job(3656, "Completed"),
    _entered(3700, "Provision throughput"),
]


@pytest.fixture
def states(aws: Aws) -> FakeStates:
    fake = FakeStates(machine_arn(aws))
    aws.set("stepfunctions", fake)
    return fake


def test_status_shows_each_state_once_with_elapsed_time_and_the_job_status(
    states: FakeStates, capsys: pytest.CaptureFixture[str]
) -> None:
    output = json.dumps({"promotion": {"parameter_name": "/finetune/promoted-model"}})
    states.add(
        "support-v2-0123456789abcdef", "SUCCEEDED", [*HISTORY, _event(5400, "ExecutionSucceeded")], output=output
    )
    assert main(["status", "support-v2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "run support-v2: execution support-v2-0123456789abcdef",
        "[0:00:01] Resolve run",
        "[0:00:03] Validate dataset",
        "[0:00:50] Start training",
        "[0:00:55] Check training",
        "[0:00:56]   training job support-v2-job: InProgress",
        "[1:00:56]   training job support-v2-job: Completed",
        "[1:01:40] Provision throughput",
        "[1:30:00] succeeded",
        "SUCCEEDED: promoted",
    ]


def test_status_follows_a_running_execution_until_it_ends(
    states: FakeStates, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = states.add("r-0123456789abcdef", "RUNNING", HISTORY[:3])
    states.script[arn] = [
        {},  # the first describe: still running
        {"status": "FAILED", "error": "CandidateRejected", "cause": "did not beat the base model"},
    ]
    monkeypatch.setattr("finetune.commands.status.time.sleep", lambda _: states.histories[arn].extend(HISTORY[3:5]))
    assert main(["status", "--interval", "0"]) == 1
    out = capsys.readouterr().out
    assert "[0:00:50] Start training" in out
    assert out.rstrip().endswith("FAILED: rejected: did not beat the base model")


def test_status_no_follow_returns_while_running(states: FakeStates, capsys: pytest.CaptureFixture[str]) -> None:
    states.add("r-0123456789abcdef", "RUNNING", HISTORY)
    assert main(["status", "r-0123456789abcdef", "--no-follow"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("RUNNING: running (in Provision throughput)")


def test_progress_feeds_only_new_events() -> None:
    progress = Progress()
    assert len(progress.feed(HISTORY[:3])) == 2
    assert progress.feed(HISTORY[:3]) == []


# ---- report --------------------------------------------------------------------------------------------------
REPORT_MD = (
    "# Evaluation\n\nSome text.\n\n| model | token_f1 |\n|---|---|\n| candidate | 91.2 |\n| base | 73.2 |\n\nMore.\n"
)


def test_report_prints_the_table_and_opens_the_html(
    aws: Aws, states: FakeStates, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    output = json.dumps({"promotion": {"x": 1}})
    states.add("support-v2-0123456789abcdef", "SUCCEEDED", output=output)
    prefix = contracts.run_prefix("support-v2", "support-v2-0123456789abcdef")
    s3 = aws.client("s3")
    s3.put_object(Bucket=ARTIFACTS, Key=prefix + contracts.REPORT_MD, Body=REPORT_MD.encode())
    s3.put_object(Bucket=ARTIFACTS, Key=prefix + contracts.REPORT_HTML, Body=b"<html>report</html>")
    opened: list[str] = []
    monkeypatch.setattr("finetune.commands.report.webbrowser.open", opened.append)
    assert main(["report", "support-v2-0123456789abcdef", "--open"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:4] == ["| model | token_f1 |", "|---|---|", "| candidate | 91.2 |", "| base | 73.2 |"]
    assert "SUCCEEDED: promoted" in out and "Some text" not in out
    assert len(opened) == 1 and opened[0].startswith("file://")
    assert Path(opened[0].removeprefix("file://")).read_bytes() == b"<html>report</html>"


def test_report_of_a_run_that_failed_before_evaluation_exits_1(
    states: FakeStates, capsys: pytest.CaptureFixture[str]
) -> None:
    states.add("bad-0123456789abcdef", "FAILED", error="InvalidDataset", cause="see s3://x/report.txt")
    assert main(["report", "bad"]) == 1
    assert (
        "no report for bad-0123456789abcdef: FAILED: invalid dataset: see s3://x/report.txt" in capsys.readouterr().out
    )


def test_report_of_a_rejected_run_prints_the_table_and_exits_1(
    aws: Aws, states: FakeStates, capsys: pytest.CaptureFixture[str]
) -> None:
    states.add("rej-0123456789abcdef", "FAILED", error="CandidateRejected", cause="gate")
    prefix = contracts.run_prefix("rej", "rej-0123456789abcdef")
    aws.client("s3").put_object(Bucket=ARTIFACTS, Key=prefix + contracts.REPORT_MD, Body=REPORT_MD.encode())
    assert main(["report", "rej"]) == 1
    assert "FAILED: rejected" in capsys.readouterr().out


# ---- runs ----------------------------------------------------------------------------------------------------
def test_runs_lists_recent_executions_with_verdicts(states: FakeStates, capsys: pytest.CaptureFixture[str]) -> None:
    states.add("a-0000000000000001", "SUCCEEDED", output=json.dumps({"promotion": {"x": 1}}))
    states.add("b-0000000000000002", "FAILED", error="CandidateRejected", cause="below base")
    states.add("c-0000000000000003", "RUNNING")
    assert main(["runs", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["STARTED", "(UTC)", "RUN", "EXECUTION", "STATUS", "VERDICT", "DURATION", "REASON"]
    assert len(lines) == 3
    assert lines[1].split()[2:] == ["c", "c-0000000000000003", "RUNNING", "running"]
    assert lines[2].split()[2:] == ["b", "b-0000000000000002", "FAILED", "rejected", "1:35:00", "below", "base"]


#: What an execution that failed in a Lambda handler carries when nothing turned it into a sentence (an execution
#: from before the workflow did, or one stopped by hand with such a cause).
RAW_CAUSE = json.dumps(
    {
        "errorMessage": "Provisioned Throughput p is still Creating after 60 minutes (limit 60)",
        "errorType": "ThroughputNotReady",
        "stackTrace": ['  File "/var/task/handler.py", line 9, in handler\n    raise ThroughputNotReady(x)\n'],
    }
)


def test_runs_and_status_show_a_raw_lambda_cause_as_the_notifications_sentence(
    states: FakeStates, capsys: pytest.CaptureFixture[str]
) -> None:
    said = "Provisioned Throughput p is still Creating after 60 minutes (limit 60)"
    states.add("p-0000000000000001", "FAILED", error="ThroughputNotReady", cause=RAW_CAUSE)
    assert main(["runs"]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.rstrip().endswith(said)
    assert main(["status", "p-0000000000000001"]) == 1
    out = capsys.readouterr().out
    assert out.rstrip().endswith(f"FAILED: failed (ThroughputNotReady): {said}")
    for text in (row, out):
        assert "stackTrace" not in text and 'File "' not in text and "{" not in text


def test_a_failure_without_a_cause_still_says_what_went_wrong(
    states: FakeStates, capsys: pytest.CaptureFixture[str]
) -> None:
    states.add("t-0000000000000001", "TIMED_OUT")
    states.add("x-0000000000000002", "FAILED", error="States.Timeout")
    assert main(["runs"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert rows[0].rstrip().endswith("A step ran past its time limit (States.Timeout)")
    assert rows[1].rstrip().endswith("The run failed without saying why; the execution history has the details")


def test_runs_against_moto_step_functions(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    client = aws.client("stepfunctions")
    client.start_execution(stateMachineArn=machine_arn(aws), name="demo-0123456789abcdef", input="{}")
    assert main(["runs"]) == 0
    assert "demo-0123456789abcdef" in capsys.readouterr().out


def test_verdicts() -> None:
    assert verdict({"status": "FAILED", "error": "TrainingFailed"}) == "failed (TrainingFailed)"
    assert verdict({"status": "TIMED_OUT"}) == "timed out"
    assert verdict({"status": "SUCCEEDED", "output": "{}"}) == "succeeded"


def test_help_lists_the_operator_commands_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("submit", "status", "report", "runs"))
    with pytest.raises(SystemExit):
        main(["status", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "2 usage error, not found" in text and "130 interrupted" in text


def test_no_region_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for key in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(Path(sys.prefix) / "no-such-config"))
    assert main(["runs"]) == 2
    assert "no AWS Region configured" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["runs"], ["status", "demo"], ["report", "demo"]])
def test_an_unreachable_endpoint_is_one_line_not_a_traceback(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on the discard port of the loopback address: every call fails to connect at once.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"finetune {argv[0]}: ") and "127.0.0.1:9" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


# ---- AWS failures from real clients ------------------------------------------------------------------------
def _one_line(err: str, command: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"finetune {command}: ")
    return lines[0]


def test_submit_to_a_bucket_that_does_not_exist_is_one_line(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # boto3's upload_file wraps the NoSuchBucket ClientError in an S3UploadFailedError.
    data = tmp_path / "train.jsonl"
    data.write_bytes(RECORD)
    key = aws.client("cloudformation").stacks["FinetuneDataPlane"]["PipelineKeyArn"]
    flags = ["--data-bucket", "nosuch", "--kms-key", key, "--state-machine", machine_arn(aws)]
    assert main(["submit", str(data), *flags]) == 2
    assert _one_line(capsys.readouterr().err, "submit") == (
        "finetune submit: uploading train.jsonl to s3://nosuch/inbox/train.jsonl: NoSuchBucket: The specified "
        "bucket does not exist; check --data-bucket and --region, or the stack's DataBucketName output"
    )


@pytest.mark.parametrize(
    ("machine", "says"),
    [
        ("garbage", "InvalidArn: Invalid State Machine Arn: 'garbage'"),
        (f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:nope", "StateMachineDoesNotExist"),
    ],
)
def test_runs_with_a_bad_state_machine_is_one_line(
    aws: Aws, capsys: pytest.CaptureFixture[str], machine: str, says: str
) -> None:
    assert main(["runs", "--state-machine", machine]) == 2
    line = _one_line(capsys.readouterr().err, "runs")
    assert line.startswith(f"finetune runs: listing the executions of {machine}: ") and says in line
    assert line.endswith("check --state-machine (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME) and --region")


@pytest.fixture
def no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials anywhere botocore looks (environment, files, container or instance metadata)."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_aws_configuration")
def test_no_credentials_is_one_line_saying_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:finetune-pipeline"
    assert main(["runs", "--region", REGION, "--state-machine", machine]) == 2
    line = _one_line(capsys.readouterr().err, "runs")
    assert "Unable to locate credentials" in line and "configure AWS credentials" in line


@pytest.mark.usefixtures("no_aws_configuration")
def test_an_unknown_profile_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--region", REGION, "--profile", "nosuchprofile"]) == 2
    line = _one_line(capsys.readouterr().err, "runs")
    assert "nosuchprofile" in line and "check --profile" in line


# ---- Ctrl-C: what was left behind ---------------------------------------------------------------------------
class Interrupting:
    """A client that passes calls through, except that one method raises KeyboardInterrupt."""

    def __init__(self, client: Any, method: str) -> None:
        self.client, self.method = client, method

    def __getattr__(self, name: str) -> Any:
        if name == self.method:

            def interrupt(*args: Any, **kwargs: Any) -> Any:
                raise KeyboardInterrupt

            return interrupt
        return getattr(self.client, name)


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "r"
    folder.mkdir()
    for part in ("train", "test"):
        (folder / f"{part}.jsonl").write_bytes(RECORD * 2)
    return folder


@pytest.mark.parametrize(
    ("method", "says"),
    [
        ("describe_stacks", "interrupted before anything was uploaded; no run was started"),
        (
            "upload_file",
            f"interrupted after uploading 0 of 2 data file(s) to s3://{DATA}/runs/r/, before run.json: no run was "
            "started; submit again to start it",
        ),
        (
            "put_object",
            f"interrupted while uploading s3://{DATA}/runs/r/run.json, the upload that starts the run: it may have "
            "started; check with `finetune runs`",
        ),
        (
            "describe_execution",
            "interrupted after the upload; run r starts in AWS all the same: follow it with `finetune status r`",
        ),
    ],
)
def test_submit_interrupted_says_whether_a_run_was_started(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str, says: str
) -> None:
    service = {"describe_stacks": "cloudformation", "describe_execution": "stepfunctions"}.get(method, "s3")
    aws.set(service, Interrupting(aws.client(service), method))
    assert main(["submit", str(_folder(tmp_path))]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == f"finetune submit: {says}"
    progress = ("uploaded s3://", "waiting up to ")
    assert all(line.startswith(progress) for line in err.splitlines()[:-1])  # progress lines only
    objects = aws.client("s3").list_objects_v2(Bucket=DATA).get("Contents", [])
    assert any(o["Key"].endswith("run.json") for o in objects) == (method == "describe_execution")


def test_status_interrupted_while_following_says_the_run_goes_on(
    states: FakeStates, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    states.add("r-0123456789abcdef", "RUNNING", HISTORY[:3])

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("finetune.commands.status.time.sleep", interrupt)
    assert main(["status", "r"]) == 130
    out, err = capsys.readouterr()
    assert "[0:00:01] Resolve run" in out
    assert err == (
        "finetune status: stopped following; the run goes on in AWS; follow it again with "
        "`finetune status r-0123456789abcdef`\n"
    )


# ---- bounds -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("interval", "code"), [("-0.5", 2), ("0", 0), ("3600", 0), ("3600.5", 2), ("nan", 2), ("inf", 2)]
)
def test_status_interval_is_bounded(
    states: FakeStates, capsys: pytest.CaptureFixture[str], interval: str, code: int
) -> None:
    states.add("r-0123456789abcdef", "RUNNING", HISTORY[:3])
    assert main(["status", "r", "--no-follow", "--interval", interval]) == code
    if code == 2:
        assert _one_line(capsys.readouterr().err, "status") == (
            f"finetune status: --interval must be from 0 to 3600 seconds, got {float(interval):g}"
        )


@pytest.mark.parametrize(("wait", "code"), [("-1", 2), ("0", 0), ("3600", 0), ("3601", 2), ("nan", 2)])
def test_submit_wait_is_bounded(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str], wait: str, code: int
) -> None:
    data = tmp_path / "w.jsonl"
    data.write_bytes(RECORD)
    assert main(["submit", str(data), "--no-wait", "--wait", wait]) == code
    if code == 2:
        assert _one_line(capsys.readouterr().err, "submit") == (
            f"finetune submit: --wait must be from 0 to 3600 seconds, got {float(wait):g}"
        )


@pytest.mark.parametrize(("limit", "code"), [("0", 2), ("1", 0), ("1000", 0), ("1001", 2)])
def test_runs_limit_is_bounded(states: FakeStates, capsys: pytest.CaptureFixture[str], limit: str, code: int) -> None:
    states.add("a-0000000000000001", "SUCCEEDED")
    assert main(["runs", "--limit", limit]) == code
    if code == 2:
        assert "--limit must be from 1 to 1000" in _one_line(capsys.readouterr().err, "runs")


def test_report_size_is_bounded(
    aws: Aws, states: FakeStates, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    states.add("big-0123456789abcdef", "SUCCEEDED", output=json.dumps({"promotion": {"x": 1}}))
    prefix = contracts.run_prefix("big", "big-0123456789abcdef")
    aws.client("s3").put_object(Bucket=ARTIFACTS, Key=prefix + contracts.REPORT_MD, Body=REPORT_MD.encode())
    monkeypatch.setattr(report_cmd, "MAX_REPORT_BYTES", len(REPORT_MD))
    assert main(["report", "big"]) == 0  # at the limit
    capsys.readouterr()
    monkeypatch.setattr(report_cmd, "MAX_REPORT_BYTES", len(REPORT_MD) - 1)
    assert main(["report", "big"]) == 2
    assert f"is larger than {len(REPORT_MD) - 1:,} bytes" in _one_line(capsys.readouterr().err, "report")


def test_an_interrupted_open_leaves_no_partial_html(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    opened: list[str] = []
    monkeypatch.setattr("finetune.commands.report.webbrowser.open", opened.append)
    real = tempfile.NamedTemporaryFile

    def interrupted_midway(*args: Any, **kwargs: Any) -> Any:
        handle = real(*args, **kwargs)

        def write(data: bytes) -> int:
            handle.file.write(data[:3])
            raise KeyboardInterrupt

        handle.write = write  # type: ignore[method-assign,assignment]
        return handle

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", interrupted_midway)
    with pytest.raises(KeyboardInterrupt):
        report_cmd._open_in_browser(b"<html>report</html>")
    assert list(tmp_path.iterdir()) == [] and opened == []


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{" + b" " * 64 * 1024 + b"}", "is larger than 65536 bytes"),
        (b"\xff{}", "not UTF-8"),
        (b"[" * 30_000 + b"]" * 30_000, "not valid JSON"),
        (b"[]", "expected a JSON object"),
    ],
)
def test_a_bad_run_json_in_the_folder_is_one_line(tmp_path: Path, content: bytes, says: str) -> None:
    folder = _folder(tmp_path)
    (folder / "run.json").write_bytes(content)
    with pytest.raises(OperatorError, match=says):
        submit_cmd.plan(folder, "r", None)


def test_run_json_at_the_size_limit_is_read(tmp_path: Path) -> None:
    from pipeline_core.manifest import MAX_MANIFEST_BYTES

    folder = _folder(tmp_path)
    text = '{"keepThroughput": false}'
    (folder / "run.json").write_text(text + " " * (MAX_MANIFEST_BYTES - len(text)))
    body = json.loads(submit_cmd.plan(folder, "r", None).uploads[-1].body)
    assert body["keepThroughput"] is False


# ---- the admission queue -------------------------------------------------------------------------------------
def _queue(*names: str, start: float = 1_764_000_000.0) -> None:
    """Queue runs as the trigger does when no slot is free, one second apart, in the order given."""
    from pipeline_aws.admission import enqueue

    for offset, name in enumerate(names):
        source = {"run_name": run_name_of_test(name), "key": f"inbox/{run_name_of_test(name)}.jsonl"}
        assert enqueue(QUEUE_TABLE, name, {"source": source}, now=lambda o=offset: start + o)


def _cells(line: str) -> list[str]:
    """A row's words, the start date and time as one (a queued run has "-" there)."""
    words = line.split()
    return words if words[0] == "-" else [" ".join(words[:2]), *words[2:]]


def run_name_of_test(name: str) -> str:
    return name.rsplit("-", 1)[0]


QUEUED_NAMES = ("zulu-0000000000000001", "alpha-0000000000000002", "mike-0000000000000003")  # in arrival order


def test_runs_lists_queued_runs_first_by_position_in_arrival_order(
    states: FakeStates, capsys: pytest.CaptureFixture[str]
) -> None:
    states.add("busy-00000000000000aa", "RUNNING")
    _queue(*QUEUED_NAMES)
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    queued = [line.split() for line in lines[1:4]]
    assert [row[2] for row in queued] == list(QUEUED_NAMES)  # arrival order, not name order
    assert [row[3] for row in queued] == ["QUEUED"] * 3
    assert [" ".join(row[4:8]) for row in queued] == ["position 1 of 3", "position 2 of 3", "position 3 of 3"]
    assert all(row[0] == "-" and "waiting for a slot since 2025-11-24" in " ".join(row) for row in queued)
    assert _cells(lines[4])[2:5] == ["busy-00000000000000aa", "RUNNING", "running"]
    assert len(lines) == 5


def test_a_run_started_while_runs_reads_the_queue_is_listed_once(
    states: FakeStates, capsys: pytest.CaptureFixture[str]
) -> None:
    _queue(*QUEUED_NAMES)
    states.add("zulu-0000000000000001", "RUNNING")  # started, not yet taken off the queue
    assert main(["runs"]) == 0
    rows = [_cells(line) for line in capsys.readouterr().out.splitlines()[1:]]
    assert [(row[2], row[3]) for row in rows] == [
        ("alpha-0000000000000002", "QUEUED"),
        ("mike-0000000000000003", "QUEUED"),
        ("zulu-0000000000000001", "RUNNING"),
    ]


@pytest.mark.parametrize(("limit", "shown"), [("1", 1), ("2", 2), ("3", 3), ("4", 3)])
def test_runs_limit_bounds_the_queued_rows_too(
    states: FakeStates, capsys: pytest.CaptureFixture[str], limit: str, shown: int
) -> None:
    _queue(*QUEUED_NAMES)
    assert main(["runs", "--limit", limit]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[2] for row in rows] == list(QUEUED_NAMES[:shown])


def test_runs_lists_a_queued_run_that_failed_to_start_with_its_error(
    states: FakeStates, capsys: pytest.CaptureFixture[str]
) -> None:
    """StartExecution refused it for good (pipeline_aws.admission): out of the queue, shown with the error."""
    from botocore.exceptions import ClientError

    from pipeline_aws import admission

    _queue(*QUEUED_NAMES)
    head = admission.queued(QUEUE_TABLE)[0]
    refusal = ClientError({"Error": {"Code": "ValidationException", "Message": "bad input"}}, "StartExecution")
    admission.Dispatcher(QUEUE_TABLE, "arn:aws:states:us-west-2:1:stateMachine:m", 2)._fail(head, refusal)
    assert main(["runs"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [(row[2], row[3]) for row in rows] == [
        ("alpha-0000000000000002", "QUEUED"),
        ("mike-0000000000000003", "QUEUED"),
        ("zulu-0000000000000001", "FAILED_TO_START"),
    ]
    assert " ".join(rows[0][4:8]) == "position 1 of 2"
    assert " ".join(rows[2][4:]) == "could not start: ValidationException: bad input"


def test_runs_without_the_queue_output_lists_executions_only(
    aws: Aws, states: FakeStates, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pipeline deployed before admission control has no AdmissionQueueTableName output: nothing is queued."""
    del aws.client("cloudformation").stacks["FinetunePipeline"]["AdmissionQueueTableName"]
    _queue(*QUEUED_NAMES)
    states.add("a-0000000000000001", "SUCCEEDED")
    assert main(["runs"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [_cells(row)[2] for row in rows] == ["a-0000000000000001"]


def test_runs_reads_the_queue_table_the_flag_names(
    aws: Aws, states: FakeStates, capsys: pytest.CaptureFixture[str]
) -> None:
    _queue(*QUEUED_NAMES)
    assert main(["runs", "--queue-table", "no-such-table"]) == 2
    err = _one_line(capsys.readouterr().err, "runs")
    assert "reading the admission queue no-such-table" in err and "ResourceNotFoundException" in err


@pytest.mark.parametrize(
    ("ref", "position"),
    [("zulu", 1), ("alpha-0000000000000002", 2), ("mike-00000", 3), (None, 3)],
)
def test_status_of_a_queued_run_says_queued_and_its_position(
    states: FakeStates, capsys: pytest.CaptureFixture[str], ref: str | None, position: int
) -> None:
    states.add("zulu-00000000000000ff", "SUCCEEDED")  # an earlier run of the same name: the queued one is newer
    _queue(*QUEUED_NAMES)
    assert main(["status", *([ref] if ref else []), "--no-follow"]) == 0
    out = capsys.readouterr().out.splitlines()
    name = QUEUED_NAMES[position - 1]
    assert out == [
        f"run {run_name_of_test(name)}: execution {name}",
        f"QUEUED: position {position} of 3, waiting for a slot since 2025-11-24 16:00:0{position - 1} UTC",
    ]


def test_status_follows_a_queued_run_until_it_starts_then_follows_the_execution(
    states: FakeStates, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline_aws.admission import queued

    _queue(*QUEUED_NAMES)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    sleeps: list[float] = []

    def a_slot_frees(seconds: float) -> None:
        """Each poll, the oldest queued run starts (the dispatcher's work); then the followed run's execution ends."""
        sleeps.append(seconds)
        followed = execution_arn(states.machine, "alpha-0000000000000002")
        if followed in states.executions:
            states.executions[followed].update(status="SUCCEEDED", output=json.dumps({"promotion": {"x": 1}}))
            return
        oldest = queued(QUEUE_TABLE)[0]
        states.add(oldest.execution_name, "RUNNING", HISTORY[:2])
        dynamodb.delete_item(TableName=QUEUE_TABLE, Key={"pk": {"S": "QUEUE"}, "sk": {"S": oldest.arrival}})

    monkeypatch.setattr("finetune.commands.status.time.sleep", a_slot_frees)
    assert main(["status", "alpha", "--interval", "7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "run alpha: execution alpha-0000000000000002"
    assert out[1].startswith("QUEUED: position 2 of 3")
    assert out[2].startswith("QUEUED: position 1 of 2")
    assert out[3:] == [
        "run alpha: execution alpha-0000000000000002",
        "[0:00:01] Resolve run",
        "SUCCEEDED: promoted",
    ]
    assert sleeps == [7, 7, 7]


def test_status_interrupted_while_queued_says_the_run_stays_queued(
    states: FakeStates, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _queue(*QUEUED_NAMES)

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("finetune.commands.status.time.sleep", interrupt)
    assert main(["status", "zulu"]) == 130
    err = capsys.readouterr().err
    assert err == (
        "finetune status: stopped following; the run stays queued; follow it again with `finetune status zulu`\n"
    )


def test_submit_of_a_run_the_trigger_queues_says_queued_and_its_position(
    aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every run slot taken: the trigger queues the upload, and submit says so instead of 'no execution started'."""
    monkeypatch.setenv(contracts.ENV_MAX_CONCURRENT_RUNS, "1")
    aws.client("stepfunctions").start_execution(stateMachineArn=machine_arn(aws), name="busy-00000000000000aa")
    data = tmp_path / "waits.jsonl"
    data.write_bytes(RECORD)
    fire_trigger_on_wait(aws, monkeypatch, "inbox/waits.jsonl")
    assert main(["submit", str(data)]) == 0
    out, err = capsys.readouterr()
    (queued,) = [line for line in out.splitlines() if "QUEUED" in line]
    assert queued.startswith("run waits: execution waits-") and queued.endswith(
        "QUEUED (position 1 of 1): it starts when a run slot frees"
    )
    assert "follow it with: finetune status waits" in err
    assert [
        e["name"] for e in aws.client("stepfunctions").list_executions(stateMachineArn=machine_arn(aws))["executions"]
    ] == ["busy-00000000000000aa"]
