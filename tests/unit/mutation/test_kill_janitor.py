"""Why the janitor deletes an unpromoted resource, and the warning it leaves when it cannot tell.

Written against the mutants `make mutate` found surviving in lambdas/janitor/handler.py (docs/mutation.md); each
test names the one-line bug it catches. `_why_overdue` is called directly: the handler tests drive it through a
full sweep, which does not show the reason text or the warning's fields.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from handler_fixtures import ACCOUNT, load_handler

from pipeline_aws.logs import formatter
from pipeline_core import contracts

janitor = load_handler("janitor")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/abcdefabcdef"
ENV = janitor.Environment(
    pipeline_name="finetune",
    ttl=timedelta(hours=24),
    namespace=contracts.METRIC_NAMESPACE,
    state_machine_arn=f"arn:aws:states:us-west-2:{ACCOUNT}:stateMachine:finetune",
    promotion_parameter="/finetune/promoted-model",
    base_model_id="anthropic.claude-3-haiku-20240307-v1:0:200k",
    lifecycle_warning_days=30,
)
TAGS = {contracts.TAG_PIPELINE: "finetune", contracts.TAG_EXECUTION: "demo-0123456789abcdef"}


def test_past_the_time_to_live_says_so() -> None:
    """Catches the reason text logged for a deleted resource changing."""
    assert janitor._why_overdue(ENV, NOW, ARN, NOW - timedelta(hours=25), TAGS) == "past its time-to-live"


def test_an_ended_execution_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches the reason text logged for a young resource whose execution has ended changing."""
    monkeypatch.setattr(janitor, "_execution_running", lambda env, execution_name: False)
    assert janitor._why_overdue(ENV, NOW, ARN, NOW - timedelta(hours=1), TAGS) == "its execution has ended"


def test_an_unreadable_execution_status_keeps_the_resource_and_warns_with_its_fields(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Catches the "execution status unknown" warning losing its message, level, ARN, execution or error."""

    def unreadable(env: object, execution_name: str) -> bool:
        raise RuntimeError("AccessDenied")

    monkeypatch.setattr(janitor, "_execution_running", unreadable)
    caplog.set_level(logging.INFO)
    assert janitor._why_overdue(ENV, NOW, ARN, NOW - timedelta(hours=1), TAGS) is None
    [record] = [r for r in caplog.records if r.name == "janitor"]
    line = json.loads(formatter().format(record))
    assert (line["level"], line["message"]) == ("WARNING", "execution status unknown")
    assert (line["arn"], line["execution"]) == (ARN, "demo-0123456789abcdef")
    assert line["error"] == "RuntimeError('AccessDenied')"


def test_the_sweep_logs_each_leaked_throughput_and_each_failed_delete(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Catches the "leaked throughput" line (read to find what the janitor deleted and why) or the error-level
    "throughput delete failed" line (what an operator must delete by hand) losing its message, level or fields."""
    stuck = ARN.replace("abcdefabcdef", "stuck0000000")
    created = NOW - timedelta(hours=25)
    summaries = [
        {"provisionedModelArn": ARN, "creationTime": created},
        {"provisionedModelArn": stuck, "creationTime": created},
    ]

    def delete(arn: str) -> dict[str, object]:
        if arn == stuck:
            raise RuntimeError("ConflictException")
        return {"deleted": True, "arn": arn}

    monkeypatch.setattr(janitor, "_pages", lambda operation, items: iter(summaries))
    monkeypatch.setattr(janitor, "_tags", lambda arn: TAGS)
    monkeypatch.setattr(janitor, "delete_throughput", delete)
    caplog.set_level(logging.INFO)
    sweep = janitor.Sweep()
    janitor.sweep_throughputs(ENV, NOW, sweep)
    assert (sweep.deleted, sweep.failures, sweep.overdue) == ([ARN], [stuck], 2)
    lines = {line["message"]: line for line in (json.loads(formatter().format(r)) for r in caplog.records)}
    leaked = lines["leaked throughput"]
    assert (leaked["why"], leaked["execution"], leaked["arn"], leaked["deleted"]) == (
        "past its time-to-live",
        "demo-0123456789abcdef",
        ARN,
        True,
    )
    assert leaked["created_"] == str(created)  # "created" is a LogRecord attribute, so logs.log suffixes it
    failed = lines["throughput delete failed"]
    assert (failed["level"], failed["arn"], failed["error"]) == ("ERROR", stuck, "RuntimeError('ConflictException')")
