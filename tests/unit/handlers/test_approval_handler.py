"""The approval handler: `request` stores the task token (SSE-KMS) and notifies; `record` writes the decision into
the three reports. Every AWS write is also tried failing: the request then raises, so the workflow cleans up."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from handler_fixtures import ARTIFACTS, load_handler, run_spec

from pipeline_aws.clients import CLIENTS
from pipeline_core import contracts
from pipeline_core.approval import APPROVAL_REQUEST, ENV_TOPIC_ARN
from pipeline_core.approval import CLEANUP_MARGIN_SECONDS as MARGIN

approval = load_handler("approval")
EXECUTION = "arn:aws:states:us-west-2:123456789012:execution:finetune-pipeline:demo-0123456789abcdef"
PREFIX = contracts.run_prefix("demo", "demo-0123456789abcdef")
REPORT = f"s3://{ARTIFACTS}/{PREFIX}report.json"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def env(buckets: Any, kms_key: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    monkeypatch.setenv(ENV_TOPIC_ARN, topic)
    return {"topic": topic, "queue": queue, "key": kms_key}


def _run(timeout_seconds: int = 7200) -> dict[str, Any]:
    return run_spec(approval={"mode": "required", "timeout_seconds": timeout_seconds})


def _request_event() -> dict[str, Any]:
    return {
        "action": "request",
        "task_token": "token-1",
        "execution_arn": EXECUTION,
        "run": _run(),
        "evaluation": {"verdict": "promote", "report_uri": REPORT},
    }


def _messages(queue: str) -> list[dict[str, Any]]:
    got = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def test_request_stores_the_token_encrypted_and_notifies(env: dict[str, str]) -> None:
    result = approval.request(_request_event(), now=NOW)
    key = PREFIX + APPROVAL_REQUEST
    assert result == {"request_uri": f"s3://{ARTIFACTS}/{key}", "expires_at": "2026-12-01T12:00:00+00:00"}
    stored = boto3.client("s3").get_object(Bucket=ARTIFACTS, Key=key)
    assert stored["ServerSideEncryption"] == "aws:kms" and stored["SSEKMSKeyId"] == env["key"]
    assert json.loads(stored["Body"].read()) == {
        "task_token": "token-1",
        "run_name": "demo",
        "execution_name": "demo-0123456789abcdef",
        "execution_arn": EXECUTION,
        "requested_at": "2026-12-01T10:00:00+00:00",
        "expires_at": "2026-12-01T12:00:00+00:00",
    }
    (message,) = _messages(env["queue"])
    assert message["status"] == "AWAITING_APPROVAL" and message["run"] == "demo"
    assert message["execution"] == EXECUTION and message["report"] == REPORT
    assert set(message) == {"status", "run", "execution", "reason", "report"}
    assert (
        "`finetune approve demo`" in message["reason"] and "`finetune reject demo --reason TEXT`" in message["reason"]
    )
    assert "within 2 hours" in message["reason"]


class Failing:
    """A client whose ``method`` raises AccessDenied; everything else goes to the real (moto) client."""

    def __init__(self, real: Any, method: str) -> None:
        self.real, self.method, self.calls = real, method, 0

    def __getattr__(self, name: str) -> Any:
        if name == self.method:

            def fail(**kwargs: Any) -> Any:
                self.calls += 1
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, name)

            return fail
        return getattr(self.real, name)


def test_a_request_that_cannot_be_stored_raises_and_notifies_nobody(env: dict[str, str]) -> None:
    CLIENTS.set("s3", Failing(boto3.client("s3"), "put_object"))
    with pytest.raises(ClientError, match="AccessDenied"):
        approval.request(_request_event(), now=NOW)
    assert _messages(env["queue"]) == []  # nobody is asked to answer a wait they could not find


def test_a_request_whose_notification_fails_raises(env: dict[str, str]) -> None:
    sns = Failing(boto3.client("sns"), "publish")
    CLIENTS.set("sns", sns)
    with pytest.raises(ClientError, match="AccessDenied"):
        approval.handler(_request_event())
    assert sns.calls == 1


def _reports() -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket=ARTIFACTS, Key=PREFIX + "report.json", Body=json.dumps({"verdict": "promote"}).encode())
    s3.put_object(Bucket=ARTIFACTS, Key=PREFIX + "report.md", Body=b"# Report\n\n| a |\n")
    s3.put_object(Bucket=ARTIFACTS, Key=PREFIX + "report.html", Body=b"<html><body><h1>Report</h1></body></html>")


def _read(name: str) -> Any:
    response = boto3.client("s3").get_object(Bucket=ARTIFACTS, Key=PREFIX + name)
    assert response["ServerSideEncryption"] == "aws:kms"
    return response["Body"].read().decode()


def _record(decision: dict[str, Any], timeout_seconds: int = 7200) -> dict[str, Any]:
    event = {"action": "record", "run": _run(timeout_seconds), "evaluation": {}, "approval": decision}
    result: dict[str, Any] = approval.handler(event)
    return result


ALICE = "arn:aws:iam::123456789012:user/alice"


def test_record_writes_an_approval_into_the_three_reports(env: dict[str, str]) -> None:
    _reports()
    decided = {"decision": "approve", "decided_by": ALICE, "decided_at": "2026-12-01T11:00:00+00:00", "reason": ""}
    result = _record(decided)
    assert result == {**decided, "reason": f"approved by {ALICE}"}
    assert json.loads(_read("report.json")) == {"verdict": "promote", "approval": result}
    assert _read("report.md").endswith(f"\n## Approval\n\nApproved by {ALICE} at 2026-12-01T11:00:00+00:00.\n")
    html = _read("report.html")
    assert f"Approved by {ALICE}" in html and html.endswith("</section>\n</body></html>")


def test_record_a_rejection_with_its_reason(env: dict[str, str]) -> None:
    _reports()
    decided = {"decision": "reject", "decided_by": ALICE, "decided_at": "t", "reason": "too  verbose\nanswers"}
    result = _record(decided)
    assert result["reason"] == f"rejected by {ALICE}: too verbose answers"
    assert result["reason"] in _read("report.md")


def test_record_a_timeout(env: dict[str, str]) -> None:
    _reports()
    result = _record({"decision": "timeout", "decided_at": "2026-12-01T12:00:00Z"}, timeout_seconds=72 * 3600)
    assert result == {
        "decision": "timeout",
        "decided_by": None,
        "decided_at": "2026-12-01T12:00:00Z",
        "reason": "approval timed out: no decision within 72 hours",
    }
    assert json.loads(_read("report.json"))["approval"] == result


def test_record_fails_when_a_report_cannot_be_written(env: dict[str, str]) -> None:
    _reports()
    CLIENTS.set("s3", Failing(boto3.client("s3"), "put_object"))
    with pytest.raises(ClientError, match="AccessDenied"):
        _record({"decision": "approve", "decided_by": ALICE, "decided_at": "t"})


def test_record_refuses_a_decision_it_cannot_act_on(env: dict[str, str]) -> None:
    _reports()
    from pipeline_core.approval import InvalidDecision

    with pytest.raises(InvalidDecision, match="decision 'maybe' is not one of approve, reject, timeout"):
        _record({"decision": "maybe", "decided_by": ALICE})
    with pytest.raises(InvalidDecision, match="must say who"):
        _record({"decision": "approve"})


def test_an_unknown_action_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown action 'start'"):
        approval.handler({"action": "start", "run": _run()})


# ---- bound: the wait ends CLEANUP_MARGIN_SECONDS before the execution times out ------------------------------------
START = "2026-12-01T08:00:00.123Z"  # $$.Execution.StartTime
HOUR = 3600


def _bound_event(configured: int, *, execution_hours: int | None = 36, start: str | None = START) -> dict[str, Any]:
    spec = {"mode": "required", "timeout_seconds": configured}
    if execution_hours is not None:
        spec["execution_timeout_seconds"] = execution_hours * HOUR
    return {"action": "bound", "run": run_spec(approval=spec, execution_start_time=start)}


def _left(now: datetime) -> int:
    """Seconds from `now` to CLEANUP_MARGIN_SECONDS before a 36 h execution that started at START ends."""
    end = datetime(2026, 12, 1, 8, 0, 0, 123000, tzinfo=UTC) + timedelta(hours=36) - timedelta(seconds=MARGIN)
    return int((end - now).total_seconds())


@pytest.mark.parametrize(("offset", "cut"), [(-1, False), (0, False), (1, True)])
def test_the_wait_is_the_setting_up_to_the_time_left_and_cut_above_it(offset: int, cut: bool) -> None:
    now = NOW  # two hours into the execution
    left = _left(now)
    result = approval.bound(_bound_event(left + offset), now=now)
    assert result["timeout_seconds"] == (left if cut else left + offset)
    assert result["configured_timeout_seconds"] == left + offset
    assert result["mode"] == "required" and result["execution_timeout_seconds"] == 36 * HOUR


def test_a_wait_never_passes_the_executions_end() -> None:
    start = datetime(2026, 12, 1, 8, 0, 0, 123000, tzinfo=UTC)
    end = start + timedelta(hours=36)
    for hours_in in (0, 1, 12, 30, 35, 35.75, 36, 40):
        now = start + timedelta(hours=hours_in)
        waited = approval.bound(_bound_event(168 * HOUR), now=now)["timeout_seconds"]
        assert waited >= 1
        if now + timedelta(seconds=MARGIN) < end:
            assert now + timedelta(seconds=waited + MARGIN) <= end  # cleanup still has its margin
        else:
            assert waited == 1  # nothing left: the wait times out at once and the run is cleaned up


def test_a_bound_is_taken_from_the_setting_again_on_a_retry() -> None:
    """A retried bound reads the setting it kept, not the cut value an earlier attempt wrote."""
    first = approval.bound(_bound_event(100 * HOUR), now=NOW)
    again = approval.bound({"action": "bound", "run": run_spec(approval=first, execution_start_time=START)}, now=NOW)
    assert again == first and first["configured_timeout_seconds"] == 100 * HOUR


@pytest.mark.parametrize(("execution_hours", "start"), [(None, START), (36, None)])
def test_without_the_executions_start_or_timeout_the_wait_is_the_setting(
    execution_hours: int | None, start: str | None
) -> None:
    result = approval.bound(_bound_event(12 * HOUR, execution_hours=execution_hours, start=start), now=NOW)
    assert result["timeout_seconds"] == 12 * HOUR


def test_the_handler_routes_bound() -> None:
    assert approval.handler(_bound_event(HOUR), None)["timeout_seconds"] >= 1
