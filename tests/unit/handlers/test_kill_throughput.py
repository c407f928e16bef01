"""Provisioned Throughput is billed by the hour: the bounded wait, what `describe` reports and what cleanup keeps.

Written against the mutants `make mutate` found surviving in lambdas/throughput/handler.py (docs/mutation.md); each
test names the one-line bug it catches. The clock is frozen by replacing the handler's `_now`.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber
from handler_fixtures import ACCOUNT, HAIKU, load_handler, run_spec

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import ThroughputNotReady
from pipeline_core import contracts

throughput = load_handler("throughput")
RUN = run_spec()  # max_wait_minutes 60
NAME = RUN["execution_name"]
PT_ID = "abcdefabcdef"
PT_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/{PT_ID}"
MODEL_ARN = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/{HAIKU}/abcdefabcdef"
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
PARAMETER = "/finetune/promoted-model"


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throughput, "_now", lambda: NOW)


class FakeBedrock:
    """Answers get_provisioned_model_throughput with exactly the given fields (the Stubber insists on all of them)."""

    def __init__(self, response: dict[str, Any]) -> None:
        self.response = response
        self.asked: list[str] = []

    def get_provisioned_model_throughput(self, provisionedModelId: str) -> dict[str, Any]:
        self.asked.append(provisionedModelId)
        return self.response


def _describe(response: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    CLIENTS.set("bedrock", FakeBedrock(response))
    try:
        result: dict[str, Any] = throughput.handler({"action": "describe", "run": RUN, "throughput": state}, None)
    finally:
        CLIENTS.reset()
    return result


def _creating(created: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "provisionedModelArn": PT_ARN,
        "provisionedModelName": "name-bedrock-reports",
        "status": "Creating",
        "creationTime": created,
    } | extra


def test_describe_reports_what_bedrock_says_and_keeps_the_recorded_creation_time() -> None:
    """Catches the name/ARN read from a wrong key, or the recorded created_at replaced by Bedrock's."""
    recorded = (NOW - timedelta(minutes=5)).isoformat(timespec="seconds")
    response = _creating(NOW - timedelta(minutes=9), failureMessage=None)
    result = _describe(response, {"arn": PT_ARN, "created_at": recorded})
    assert {k: result[k] for k in ("arn", "name", "status", "failure_message", "created_at")} == {
        "arn": PT_ARN,
        "name": "name-bedrock-reports",
        "status": "Creating",
        "failure_message": None,
        "created_at": recorded,
    }


def test_describe_takes_the_creation_time_from_bedrock_when_none_was_recorded() -> None:
    """Catches `not created_at` negated, its `and` made `or`, or the timestamp's precision changed."""
    created = datetime(2026, 12, 1, 11, 55, 30, 123456, tzinfo=UTC)
    assert _describe(_creating(created), {"arn": PT_ARN})["created_at"] == "2026-12-01T11:55:30+00:00"


def test_describe_falls_back_to_what_it_asked_for_when_bedrock_omits_name_and_arn() -> None:
    """Catches the fallbacks of `response.get(key, default)` being dropped (the result would say "None")."""
    result = _describe({"status": "InService"}, {})
    assert result["arn"] == RUN["execution_name"] and result["name"] == RUN["execution_name"]
    assert result["created_at"] is None


@pytest.mark.parametrize(
    ("waited", "raises"),
    [(timedelta(minutes=60), False), (timedelta(minutes=60, seconds=6), True), (timedelta(minutes=59), False)],
)
def test_the_wait_limit_is_exclusive_and_counted_in_minutes(waited: timedelta, raises: bool) -> None:
    """Catches `waited > limit` made `>=`, and the seconds-to-minutes conversion scaled (`* 60`, `/ 61`)."""
    created = (NOW - waited).isoformat(timespec="seconds")
    if not raises:
        assert _describe(_creating(NOW - waited), {"arn": PT_ARN, "created_at": created})["status"] == "Creating"
        return
    with pytest.raises(ThroughputNotReady) as err:
        _describe(_creating(NOW - waited), {"arn": PT_ARN, "created_at": created})
    assert (
        str(err.value) == "Provisioned Throughput name-bedrock-reports is still Creating after 60.1 minutes (limit 60)"
    )


def test_a_throughput_in_service_is_never_timed_out() -> None:
    """Catches `status == "Creating" and created_at` made `or` (an old, serving throughput would fail the run)."""
    old = NOW - timedelta(days=2)
    response = _creating(old, status="InService")
    assert _describe(response, {"arn": PT_ARN, "created_at": old.isoformat()})["status"] == "InService"


def test_status_and_creation_are_logged_with_their_fields(caplog: pytest.LogCaptureFixture) -> None:
    """Catches the log lines operators search for ("throughput creating", "throughput status") losing message or
    fields."""
    caplog.set_level(logging.INFO)
    created = NOW - timedelta(minutes=1)

    class Create:
        def create_provisioned_model_throughput(self, **_: Any) -> dict[str, Any]:
            return {"provisionedModelArn": PT_ARN}

    CLIENTS.set("bedrock", Create())
    throughput.handler({"action": "create", "run": RUN, "job": {"custom_model_arn": MODEL_ARN}}, None)
    _describe(_creating(created), {"arn": PT_ARN, "created_at": created.isoformat()})
    lines = {r.getMessage(): r for r in caplog.records if r.name == "throughput"}
    assert getattr(lines["throughput creating"], "arn", None) == PT_ARN
    assert getattr(lines["throughput status"], "status", None) == "Creating"


# ---- cleanup and the promotion record --------------------------------------------------------------------------
@pytest.fixture
def promotion(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> Any:
    import boto3

    monkeypatch.setenv(contracts.ENV_PROMOTION_PARAMETER, PARAMETER)
    ssm = boto3.client("ssm")
    CLIENTS.set("ssm", ssm)
    return ssm


def _record(ssm: Any, value: str) -> None:
    ssm.put_parameter(Name=PARAMETER, Type="String", Overwrite=True, Value=value)


def test_the_record_naming_the_throughput_by_id_keeps_it(
    bedrock: Stubber, promotion: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Catches the ARN's last path part compared wrongly (`rsplit(None)`, `[-2]`) and the kept result's keys."""
    caplog.set_level(logging.INFO)
    _record(promotion, json.dumps({"provisioned_model_arn": PT_ARN}))
    result = throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ID}}, None)
    assert result == {"deleted": False, "reason": f"serving: {PARAMETER} names it", "arn": PT_ID}
    (kept,) = [r for r in caplog.records if r.name == "throughput" and r.getMessage() == "throughput kept"]
    assert kept.levelno == logging.WARNING and getattr(kept, "arn", None) == PT_ID


@pytest.mark.parametrize(
    "value",
    [
        "not json",  # not written by this pipeline
        json.dumps({"provisioned_model_arn": "no-slash-here"}),  # no path part to compare
        json.dumps({"provisioned_model_arn": None}),
    ],
)
def test_a_record_that_names_nothing_usable_does_not_stop_the_delete(
    bedrock: Stubber, promotion: Any, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    """Catches an unreadable record counted as serving (the bill would run on), or a crash on an ARN with no `/`."""
    caplog.set_level(logging.INFO)
    _record(promotion, value)
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    result = throughput.handler({"action": "delete", "run": RUN, "throughput": {"arn": PT_ARN}}, None)
    assert result == {"deleted": True, "arn": PT_ARN}
    (deleted,) = [r for r in caplog.records if r.name == "throughput" and r.getMessage() == "throughput delete"]
    assert getattr(deleted, "deleted", None) is True


# ---- the run spec's throughput settings and the handler's envelope -----------------------------------------------
def test_the_run_specs_model_units_and_wait_limit_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches `model_units` / `max_wait_minutes` read from a wrong key, or `run.get("throughput") or {}` made
    `and {}` (every run would buy one unit and wait 60 minutes whatever it asked for)."""
    run = run_spec(throughput={"model_units": 3, "max_wait_minutes": 5, "keep_after_promotion": True})
    seen: dict[str, Any] = {}

    class Create:
        def create_provisioned_model_throughput(self, **kwargs: Any) -> dict[str, Any]:
            seen.update(kwargs)
            return {"provisionedModelArn": PT_ARN}

    CLIENTS.set("bedrock", Create())
    throughput.handler({"action": "create", "run": run, "job": {"custom_model_arn": MODEL_ARN}}, None)
    assert seen["modelUnits"] == 3
    created = NOW - timedelta(minutes=6)
    CLIENTS.set("bedrock", FakeBedrock(_creating(created)))
    with pytest.raises(ThroughputNotReady, match=r"after 6\.0 minutes \(limit 5\)$"):
        throughput.handler({"action": "describe", "run": run, "throughput": {"created_at": created.isoformat()}}, None)


def test_without_throughput_settings_one_unit_and_sixty_minutes_apply() -> None:
    """Catches the defaults (1 model unit, 60 minutes) changed or dropped."""
    run = {k: v for k, v in RUN.items() if k != "throughput"}
    parsed = throughput.Run.from_event(run)
    assert (parsed.model_units, parsed.max_wait_minutes) == (1, 60.0)


def test_describe_by_name_reports_the_arn_bedrock_returns() -> None:
    """Catches the ARN read from a wrong key (the result would carry the name it asked with, not the ARN)."""
    result = _describe(_creating(NOW, status="InService"), {})
    assert result["arn"] == PT_ARN


def test_every_log_line_carries_the_run_execution_and_action(caplog: pytest.LogCaptureFixture) -> None:
    """Catches the handler's bind() losing run, execution or action (CloudWatch searches filter on them)."""
    from pipeline_aws.logs import formatter

    caplog.set_level(logging.INFO)
    _describe(_creating(NOW, status="InService"), {"arn": PT_ARN})
    (line,) = [json.loads(formatter().format(r)) for r in caplog.records if r.name == "throughput"]
    assert (line["run"], line["execution"], line["action"]) == ("demo", RUN["execution_name"], "describe")


def test_an_unknown_action_is_refused_by_name() -> None:
    """Catches the refusal losing its message."""
    with pytest.raises(ValueError, match=r"^unknown action 'stop': expected create, "):
        throughput.handler({"action": "stop", "run": RUN}, None)
