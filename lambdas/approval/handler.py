"""Lambda handler for human approval (settings `pipeline.approval.mode: required`): `bound`, `request` and `record`.

`bound` is invoked by `Bound approval wait` just before `Request approval`, whose TimeoutSecondsPath is read when
that state starts: it returns `$.run.approval` with `timeout_seconds` cut so the wait ends CLEANUP_MARGIN_SECONDS
before the execution times out (an execution that times out runs no Catch, so nothing would delete the throughput).

`request` is invoked by `Request approval` with `.waitForTaskToken`: it stores the task token where `finetune
approve`/`reject` find it (`runs/<run>/<execution>/approval/request.json`, SSE-KMS) and publishes the
AWAITING_APPROVAL notification. Either call failing fails the state, whose Catch deletes the candidate's throughput:
a request nobody can answer must not hold a throughput until the timeout. `record` writes the decision (approve,
reject, or the timeout the workflow caught) into report.json, report.md and report.html and returns `$.approval`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import transient_errors
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.observability import instrumented
from pipeline_aws.s3 import put_bytes, put_json, read_text
from pipeline_core import contracts
from pipeline_core.approval import (
    APPROVAL_REQUEST,
    ENV_TOPIC_ARN,
    awaiting_message,
    bounded_timeout,
    decision_from,
    request_document,
    with_approval_html,
    with_approval_json,
    with_approval_markdown,
)

LOGGER = setup_logging("approval")
MAX_REPORT_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 72 * 3600


def _timeout_seconds(run: Mapping[str, Any]) -> int:
    return int((run.get("approval") or {}).get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS)


def _instant(text: str) -> datetime:
    """`$$.Execution.StartTime`, an ISO 8601 instant such as 2026-12-01T20:58:53.123Z."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def bound(event: Mapping[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """`$.run.approval` with the wait bounded by what is left of the execution (`configured_timeout_seconds` keeps
    the setting)."""
    run = event["run"]
    approval = dict(run.get("approval") or {})
    configured = int(approval.get("configured_timeout_seconds") or _timeout_seconds(run))
    start = run.get("execution_start_time")
    limit = approval.get("execution_timeout_seconds")
    now = now or datetime.now(UTC)
    timeout = configured
    if start and limit:
        timeout = bounded_timeout(
            configured, execution_start=_instant(str(start)), execution_timeout_seconds=int(limit), now=now
        )
    else:
        log(LOGGER, "execution start or timeout unknown; the approval wait is the setting", level=30)
    if timeout < configured:
        log(LOGGER, "approval wait cut to end before the execution times out", configured=configured, timeout=timeout)
    return {**approval, "configured_timeout_seconds": configured, "timeout_seconds": timeout}


def request(event: Mapping[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    run = event["run"]
    evaluation = event.get("evaluation") or {}
    now = now or datetime.now(UTC)
    timeout = _timeout_seconds(run)
    document = request_document(
        task_token=str(event["task_token"]),
        run=run,
        execution_arn=str(event["execution_arn"]),
        requested_at=now.isoformat(timespec="seconds"),
        expires_at=(now + timedelta(seconds=timeout)).isoformat(timespec="seconds"),
    )
    uri = put_json(str(run["artifacts_bucket"]), str(run["artifacts_prefix"]) + APPROVAL_REQUEST, document)
    message = awaiting_message(
        run_name=str(run["run_name"]),
        execution=str(event["execution_arn"]),
        timeout_seconds=timeout,
        report=evaluation.get("report_uri"),
    )
    with transient_errors():
        CLIENTS.get("sns").publish(
            TopicArn=os.environ[ENV_TOPIC_ARN],
            Subject="Bedrock fine-tuning run awaiting approval",
            Message=json.dumps(message),
        )
    log(LOGGER, "approval requested", request_uri=uri, expires_at=document["expires_at"])
    return {"request_uri": uri, "expires_at": document["expires_at"]}


def record(event: Mapping[str, Any]) -> dict[str, Any]:
    run = event["run"]
    decision = decision_from(event.get("approval") or {}, timeout_seconds=_timeout_seconds(run))
    bucket, prefix = str(run["artifacts_bucket"]), str(run["artifacts_prefix"])
    for name, update, content_type in (
        (contracts.REPORT_JSON, with_approval_json, "application/json"),
        (contracts.REPORT_MD, with_approval_markdown, "text/markdown; charset=utf-8"),
        (contracts.REPORT_HTML, with_approval_html, "text/html"),
    ):
        text, _ = read_text(bucket, prefix + name, max_bytes=MAX_REPORT_BYTES)
        put_bytes(bucket, prefix + name, update(text, decision).encode(), content_type=content_type)
    log(LOGGER, "approval recorded", **decision.as_dict())
    return decision.as_dict()


@instrumented
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    run = event["run"]
    bind(run=run.get("run_name"), execution=run.get("execution_name"))
    action = event.get("action")
    if action == "bound":
        return bound(event)
    if action == "request":
        return request(event)
    if action == "record":
        return record(event)
    raise ValueError(f"unknown action {action!r}: expected bound, request or record")
