"""Promote records who approved (settings approval "required") in the promotion record and in `$.promotion`."""

from __future__ import annotations

from typing import Any

from botocore.stub import Stubber
from test_promote import approvals, env, event, parameter, promote  # noqa: F401  (env is a fixture)

APPROVAL = {
    "decision": "approve",
    "decided_by": "arn:aws:iam::123456789012:user/alice",
    "decided_at": "2026-12-01T10:00:00+00:00",
    "reason": "approved by arn:aws:iam::123456789012:user/alice",
}
RECORDED = {k: APPROVAL[k] for k in ("decided_by", "decided_at", "decision")}


def test_the_approver_is_recorded_in_the_parameter_and_the_output(env: None, bedrock: Stubber) -> None:  # noqa: F811
    approvals(bedrock)
    result = promote.handler({**event(keep=True), "approval": APPROVAL}, None)
    assert result["approval"] == RECORDED
    assert parameter()["approval"] == RECORDED


def test_without_approval_nothing_is_recorded(env: None, bedrock: Stubber) -> None:  # noqa: F811
    approvals(bedrock)
    result = promote.handler(event(keep=True), None)
    assert "approval" not in result and "approval" not in parameter()


def test_an_undecided_approval_document_is_not_recorded(env: None, bedrock: Stubber) -> None:  # noqa: F811
    approvals(bedrock)
    empty: dict[str, Any] = {}
    result = promote.handler({**event(keep=True), "approval": empty}, None)
    assert "approval" not in result and "approval" not in parameter()
