"""pipeline_core.approval: decisions, their reasons, the notification, and the reports' approval section."""

from __future__ import annotations

import json

import pytest

from pipeline_core.approval import (
    MAX_REASON_CHARS,
    Decision,
    InvalidDecision,
    awaiting_message,
    decision_from,
    timeout_reason,
    with_approval_html,
    with_approval_json,
    with_approval_markdown,
)

BOB = "arn:aws:sts::123456789012:assumed-role/Approver/bob"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(2, "2 seconds"), (3599, "3599 seconds"), (3600, "1 hours"), (5400, "1.5 hours"), (72 * 3600, "72 hours")],
)
def test_timeout_reason(seconds: int, expected: str) -> None:
    assert timeout_reason(seconds) == f"approval timed out: no decision within {expected}"


def test_a_rejection_names_who_and_why_and_is_one_bounded_line() -> None:
    decided = decision_from({"decision": "reject", "decided_by": BOB, "reason": "a\n b"}, timeout_seconds=60)
    assert decided.reason == f"rejected by {BOB}: a b" and not decided.approved
    long = decision_from({"decision": "reject", "decided_by": BOB, "reason": "x" * 5000}, timeout_seconds=60)
    assert long.reason == f"rejected by {BOB}: " + "x" * MAX_REASON_CHARS
    bare = decision_from({"decision": "reject", "decided_by": BOB}, timeout_seconds=60)
    assert bare.reason == f"rejected by {BOB}"


def test_an_approval_and_a_timeout() -> None:
    approved = decision_from({"decision": "approve", "decided_by": BOB, "decided_at": "t"}, timeout_seconds=60)
    assert approved.approved and approved.reason == f"approved by {BOB}"
    assert approved.record() == {"decided_by": BOB, "decided_at": "t", "decision": "approve"}
    timed_out = decision_from({"decision": "timeout", "decided_by": BOB}, timeout_seconds=60)
    assert not timed_out.approved and timed_out.reason == "approval timed out: no decision within 60 seconds"


@pytest.mark.parametrize("raw", [{}, {"decision": "yes"}, {"decision": "approve"}, {"decision": "reject"}])
def test_an_incomplete_decision_is_refused(raw: dict[str, str]) -> None:
    with pytest.raises(InvalidDecision):
        decision_from(raw, timeout_seconds=60)


def test_the_awaiting_message_has_the_notification_fields_and_both_commands() -> None:
    message = awaiting_message(run_name="r", execution="arn:e", timeout_seconds=72 * 3600, report="s3://b/k")
    assert message == {
        "status": "AWAITING_APPROVAL",
        "run": "r",
        "execution": "arn:e",
        "reason": "The candidate passed the quality gate and awaits a decision: run `finetune approve r` to promote it "
        "or `finetune reject r --reason TEXT` to reject it, within 72 hours; without a decision it is rejected and "
        "its throughput deleted.",
        "report": "s3://b/k",
    }


def test_the_report_sections_are_replaced_not_repeated_and_escaped() -> None:
    first = Decision("reject", BOB, "t1", "rejected by <b>: no & never")
    second = Decision("approve", BOB, "t2", f"approved by {BOB}")
    md = with_approval_markdown(with_approval_markdown("# R\n", first), second)
    assert md == f"# R\n\n## Approval\n\nApproved by {BOB} at t2.\n"
    page = with_approval_html("<html><body></body></html>", first)
    assert "rejected by &lt;b&gt;: no &amp; never" in page and "<b>" not in page
    page = with_approval_html(page, second)
    assert page.count('<section id="approval">') == 1 and "t2" in page and "t1" not in page
    assert with_approval_html("no body", second).endswith("</section>\n")
    assert json.loads(with_approval_json(json.dumps({"a": 1}), second))["approval"]["decided_at"] == "t2"
    with pytest.raises(ValueError, match="not a JSON object"):
        with_approval_json("[]", second)
