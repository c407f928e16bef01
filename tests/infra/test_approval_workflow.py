"""Optional human approval (pipeline.approval): the wait, its bound, every way out, and the approval role."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline_core.approval import CLEANUP_MARGIN_SECONDS, bounded_timeout
from stacks.settings import SettingsError, load_settings
from stacks.workflow import (
    APPROVAL_REJECTED,
    APPROVAL_TIMED_OUT,
    APPROVED,
    BOUND_APPROVAL_WAIT,
    DELETE_THROUGHPUT,
    GATE,
    PROMOTE,
    RECORD_APPROVAL,
    REQUEST_APPROVAL,
)
from tests.infra.cfn import resources
from tests.infra.test_nag import _synth_with_nag
from tests.infra.test_workflow import render_definition

REQUIRED = {"approval": {"mode": "required", "timeoutHours": 12}}


def _pipeline(templates: dict[str, Any]) -> dict[str, Any]:
    return next(t.to_json() for name, t in templates.items() if name.endswith("Pipeline"))


@pytest.fixture(scope="module")
def approval_template() -> dict[str, Any]:
    from tests.infra.conftest import synthesize

    return _pipeline(synthesize(REQUIRED))


def test_without_the_setting_the_gate_leads_straight_to_promote(template_json: dict[str, Any]) -> None:
    definition = render_definition(next(t for n, t in template_json.items() if n.endswith("Pipeline")))
    assert REQUEST_APPROVAL not in definition["States"]
    gate = definition["States"][GATE]
    assert {c["Next"] for c in gate["Choices"]} == {PROMOTE}
    assert "approval.$" not in json.dumps(definition["States"][PROMOTE]["Parameters"])


def test_approval_waits_on_a_task_token_bounded_by_the_run_spec(approval_template: dict[str, Any]) -> None:
    states = render_definition(approval_template)["States"]
    assert {c["Next"] for c in states[GATE]["Choices"]} == {BOUND_APPROVAL_WAIT}
    # The bound is computed in the state just before the wait: TimeoutSecondsPath is read when the wait starts.
    bound = states[BOUND_APPROVAL_WAIT]
    assert bound["Parameters"] == {"action": "bound", "run.$": "$.run"}
    assert bound["ResultPath"] == "$.run.approval" and bound["Next"] == REQUEST_APPROVAL
    assert [(c["ErrorEquals"], c["Next"]) for c in bound["Catch"]] == [(["States.ALL"], DELETE_THROUGHPUT)]
    request = states[REQUEST_APPROVAL]
    assert request["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert request["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert request["TimeoutSecondsPath"] == "$.run.approval.timeout_seconds"
    assert request["ResultPath"] == "$.approval" and request["Next"] == RECORD_APPROVAL
    catches = {tuple(c["ErrorEquals"]): c["Next"] for c in request["Catch"]}
    assert catches == {("States.Timeout",): APPROVAL_TIMED_OUT, ("States.ALL",): DELETE_THROUGHPUT}
    assert states[APPROVAL_TIMED_OUT]["Next"] == RECORD_APPROVAL
    record = states[RECORD_APPROVAL]
    assert record["Next"] == APPROVED
    assert [c["Next"] for c in record["Catch"]] == [DELETE_THROUGHPUT]
    approved = states[APPROVED]
    assert approved["Choices"] == [{"Variable": "$.approval.decision", "StringEquals": "approve", "Next": PROMOTE}]
    assert approved["Default"] == APPROVAL_REJECTED
    assert states[APPROVAL_REJECTED]["Next"] == DELETE_THROUGHPUT
    assert states[APPROVAL_REJECTED]["Parameters"] == {"Error": "ApprovalRejected", "Cause.$": "$.approval.reason"}
    assert states[PROMOTE]["Parameters"]["approval.$"] == "$.approval"


def test_the_run_spec_carries_the_timeout_in_seconds() -> None:
    from stacks.pipeline_stack import run_defaults

    assert run_defaults(load_settings(REQUIRED))["approval"] == {
        "mode": "required",
        "timeout_seconds": 12 * 3600,
        "execution_timeout_seconds": 36 * 3600,  # what Bound approval wait cuts each wait to
    }
    assert run_defaults(load_settings({}))["approval"]["mode"] == "none"


def _policy_statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    found = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = json.dumps(policy["Properties"].get("Roles"))
        if role_prefix in roles:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def test_the_approval_role_writes_only_the_request_and_the_reports_and_publishes_only_to_the_topic(
    approval_template: dict[str, Any],
) -> None:
    statements = _policy_statements(approval_template, "ApprovalRole")
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "s3:DeleteObject" not in actions and not any(a.startswith("states:") for a in actions)
    assert not any(a.startswith("bedrock:") for a in actions)
    text = json.dumps(statements)
    assert "approval/request.json" in text and "report.*" in text
    publish = [s for s in statements if s["Action"] == "sns:Publish"]
    assert len(publish) == 1 and "Notifications" in json.dumps(publish[0]["Resource"])


def test_no_approval_function_without_the_setting(template_json: dict[str, Any]) -> None:
    pipeline = next(t for n, t in template_json.items() if n.endswith("Pipeline"))
    assert not [k for k in resources(pipeline, "AWS::Lambda::Function") if k.startswith("Approval")]


def test_nag_passes_with_approval_required(synth: Any, tmp_path: Path) -> None:
    assert _synth_with_nag(synth, tmp_path, REQUIRED) == []


# ---- settings --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("approval", "expected"),
    [
        ({"mode": "maybe"}, "pipeline.approval.mode = 'maybe' is not allowed: expected one of none, required"),
        ({"timeoutHours": 0}, "pipeline.approval.timeoutHours = 0 is not allowed: expected an integer from 1 to 168"),
        ({"timeoutHours": 169}, "pipeline.approval.timeoutHours = 169 is not allowed"),
        ({"timeoutHours": 1.5}, "pipeline.approval.timeoutHours = 1.5 is not allowed"),
        ({"timeoutHour": 2}, "pipeline.approval.timeoutHour is not a known setting"),
    ],
)
def test_bad_approval_settings_name_the_key(approval: dict[str, Any], expected: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"approval": approval})
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_defaults_are_none_and_21_hours() -> None:
    approval = load_settings({}).approval
    assert approval.mode == "none" and approval.timeout_hours == 21 and not approval.required
    # Bounds at their ends are accepted where approval is not required (no wait to fit).
    assert load_settings({"approval": {"timeoutHours": 1}}).approval.timeout_hours == 1
    assert load_settings({"approval": {"timeoutHours": 168}}).approval.timeout_hours == 168


@pytest.mark.parametrize(("hours", "ok"), [(35, True), (36, False), (37, False)])
def test_a_required_wait_ends_before_the_execution_times_out(hours: int, ok: bool) -> None:
    context = {
        "approval": {"mode": "required", "timeoutHours": hours},
        "executionTimeoutHours": 36,
        "provisionedThroughput": {"timeToLiveHours": 100},
    }
    if ok:
        settings = load_settings(context)
        assert settings.approval.timeout_hours == hours
        # Accepted as a setting, yet no run waits past its execution: each wait is cut to end CLEANUP_MARGIN_SECONDS
        # (cleanup and Promote's every attempt, about 52 min) before the execution times out (Bound approval wait).
        start = datetime(2026, 12, 1, tzinfo=UTC)
        waited = bounded_timeout(
            hours * 3600,
            execution_start=start,
            execution_timeout_seconds=settings.execution_timeout_hours * 3600,
            now=start + timedelta(hours=2),
        )
        assert waited == (36 - 2) * 3600 - CLEANUP_MARGIN_SECONDS
    else:
        with pytest.raises(SettingsError, match=r"approval\.timeoutHours = \d+ is not allowed: expected less than"):
            load_settings(context)


@pytest.mark.parametrize(("ttl", "ok"), [(14, False), (15, True), (16, True)])
def test_a_required_wait_ends_before_the_janitor_deletes_the_candidate(ttl: int, ok: bool) -> None:
    # maxWaitMinutes 60 -> 1 h, + 2 h evaluation allowance, + 12 h approval = 15 h.
    context = {"approval": {"mode": "required", "timeoutHours": 12}, "provisionedThroughput": {"timeToLiveHours": ttl}}
    if ok:
        assert load_settings(context).throughput.time_to_live_hours == ttl
    else:
        with pytest.raises(SettingsError, match=r"timeToLiveHours = 14 is not allowed with approval required"):
            load_settings(context)


def test_the_approval_definition_passes_asl_validator(approval_template: dict[str, Any], tmp_path: Path) -> None:
    from tests.infra.test_workflow import test_definition_passes_asl_validator

    test_definition_passes_asl_validator(render_definition(approval_template), tmp_path)


def test_the_cleanup_margin_covers_promotes_every_attempt(approval_template: dict[str, Any]) -> None:
    """After an approval, Promote may run every attempt its retrier allows, each to its Lambda timeout, before the
    cleanup: the margin the wait leaves counts them all, from the template's own numbers."""
    from pipeline_core import approval, contracts

    # The quota retrier every task carries never applies: Promote creates nothing and raises no QuotaExceeded.
    retriers = render_definition(approval_template)["States"][PROMOTE]["Retry"]
    (retrier,) = [r for r in retriers if contracts.ERROR_TRANSIENT in r["ErrorEquals"]]
    assert all(r["ErrorEquals"] == [contracts.ERROR_QUOTA] for r in retriers if r is not retrier)
    waits = [
        min(retrier["IntervalSeconds"] * retrier["BackoffRate"] ** k, retrier["MaxDelaySeconds"])
        for k in range(retrier["MaxAttempts"])
    ]
    (promote,) = [
        f["Properties"]
        for f in resources(approval_template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Description", "").startswith("Records the promoted model")
    ]
    assert promote["Timeout"] == contracts.PROMOTE_TIMEOUT_SECONDS
    assert 1 + retrier["MaxAttempts"] == approval.PROMOTE_ATTEMPTS
    assert sum(waits) == approval.PROMOTE_RETRY_WAIT_SECONDS
    worst = (1 + retrier["MaxAttempts"]) * promote["Timeout"] + sum(waits)
    assert 15 * 60 + worst == CLEANUP_MARGIN_SECONDS


@pytest.mark.parametrize(("hours", "ok"), [(20, True), (21, True), (22, False)])
def test_required_alone_works_with_every_other_default(hours: int, ok: bool) -> None:
    """The default wait is the longest the default time-to-live allows (24 >= 1 + 2 + 21): catches a default that
    makes `approval.mode: required` fail synthesis unless three other settings change with it."""
    if hours == 21:
        assert load_settings({"approval": {"mode": "required"}}).approval.timeout_hours == 21
    context = {"approval": {"mode": "required", "timeoutHours": hours}}
    if ok:
        assert load_settings(context).approval.timeout_hours == hours
    else:
        with pytest.raises(SettingsError) as err:
            load_settings(context)
        assert "timeToLiveHours = 24" in str(err.value)
