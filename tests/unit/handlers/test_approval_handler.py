"""The approval handler: `request` stores the task token (SSE-KMS) and notifies; `record` writes the decision into
the three reports. Every AWS write is also tried failing: the request then raises, so the workflow cleans up."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from handler_fixtures import ARTIFACTS, load_handler, run_spec

from pipeline_aws.clients import CLIENTS
from pipeline_core import contracts
from pipeline_core.approval import APPROVAL_REQUEST, ENV_TOPIC_ARN

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
