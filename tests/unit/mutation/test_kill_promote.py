"""Promote's record-keeping details that the handler tests drive only through whole promotions.

Written against the mutants `make mutate MUTANTS='lambdas.promote.*'` found surviving (docs/mutation.md); each
test names the one-line bug it catches. Private helpers are called directly where a whole promotion does not show
the value (an entry's fields, the kind of an old `$.throughput`, a log line's fields).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from handler_fixtures import ACCOUNT, load_handler

from pipeline_aws.clients import CLIENTS
from pipeline_aws.logs import formatter
from pipeline_core import contracts

promote = load_handler("promote")
PT = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/abcdefabcdef"
OLD_PT = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/000000000000"
DEPLOYMENT = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/abcdefabcdef"


def _lines(caplog: pytest.LogCaptureFixture) -> dict[str, dict[str, Any]]:
    return {line["message"]: line for line in (json.loads(formatter().format(r)) for r in caplog.records)}


def test_an_old_throughput_without_kind_takes_the_kind_its_arn_names() -> None:
    """Catches `_kind` ignoring the ARN (reading no key, or passing None) and falling back to the run's mode."""
    provisioned_run = {"serving": {"mode": contracts.SERVING_PROVISIONED}}
    assert promote._kind(provisioned_run, {"arn": DEPLOYMENT}) == contracts.SERVING_ON_DEMAND
    assert promote._kind({"serving": {"mode": contracts.SERVING_ON_DEMAND}}, {}) == contracts.SERVING_ON_DEMAND
    assert promote._kind({}, {}) == contracts.SERVING_PROVISIONED


def test_an_unknown_kind_names_the_two_it_expects() -> None:
    """Catches the error message's list of kinds changing."""
    with pytest.raises(ValueError) as err:
        promote._kind({}, {"kind": "spot"})
    assert str(err.value) == "unknown serving kind 'spot': expected provisionedThroughput or onDemand"


def test_every_pending_replacement_is_kept_with_its_execution() -> None:
    """Catches `found += ...` turned into `found = ...` (only the last pending entry survives) and the execution
    name dropped from an entry."""
    value = {
        "replaces": [
            {"kind": contracts.SERVING_PROVISIONED, "invoke_model_id": OLD_PT, "execution_name": "first-0001"},
            {"kind": contracts.SERVING_ON_DEMAND, "invoke_model_id": DEPLOYMENT, "execution_name": "second-0002"},
        ]
    }
    assert promote._replacements(value) == [
        {
            "kind": contracts.SERVING_PROVISIONED,
            "invoke_model_id": OLD_PT,
            "provisioned_model_arn": OLD_PT,
            "execution_name": "first-0001",
        },
        {
            "kind": contracts.SERVING_ON_DEMAND,
            "invoke_model_id": DEPLOYMENT,
            "provisioned_model_arn": None,
            "execution_name": "second-0002",
        },
    ]


def test_an_entry_without_an_execution_records_none_not_the_text_none() -> None:
    """Catches `str(execution) if execution else None` always taking the first branch ("None")."""
    assert promote._entry((contracts.SERVING_PROVISIONED, PT), None)["execution_name"] is None
    assert promote._entry((contracts.SERVING_PROVISIONED, PT), "run-1")["execution_name"] == "run-1"


def test_keeping_the_throughput_is_the_default_when_the_run_does_not_say() -> None:
    """Catches the keep_after_promotion default turned into None, False or nothing (a promoted model deleted)."""
    event = {
        "run": {"run_name": "demo", "execution_name": "demo-0123456789abcdef"},
        "job": {"custom_model_arn": f"arn:aws:bedrock:us-west-2:{ACCOUNT}:custom-model/x/abcdefabcdef"},
        "throughput": {"arn": PT},
    }
    assert promote.PromoteInput.from_event(event).keep_throughput is True


class _Ssm:
    def __init__(self, value: str) -> None:
        self.value = value

    def get_parameter(self, *, Name: str) -> dict[str, Any]:
        return {"Parameter": {"Name": Name, "Value": self.value}}


def test_a_foreign_parameter_is_logged_with_its_name(caplog: pytest.LogCaptureFixture) -> None:
    """Catches the "not written by the pipeline" line losing its message or the parameter's name."""
    CLIENTS.set("ssm", _Ssm("not json"))
    try:
        caplog.set_level(logging.INFO)
        assert promote._read("/finetune/promoted-model") is None
    finally:
        CLIENTS.reset()
    line = _lines(caplog)["promotion parameter not written by the pipeline; nothing it names is deleted"]
    assert line["name_"] == "/finetune/promoted-model"  # "name" is a LogRecord attribute: logs.py suffixes it


def test_deleting_a_replaced_resource_logs_its_kind_and_outcome(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Catches the "deleting what this promotion replaces" line losing its message, kind or delete result."""
    monkeypatch.setattr(promote, "delete_serving", lambda kind, arn: {"deleted": True, "arn": arn})
    caplog.set_level(logging.INFO)
    assert promote._delete_replaced(contracts.SERVING_ON_DEMAND, DEPLOYMENT) is True
    line = _lines(caplog)["deleting what this promotion replaces"]
    assert (line["kind"], line["arn"], line["deleted"]) == (contracts.SERVING_ON_DEMAND, DEPLOYMENT, True)


def test_a_refused_delete_logs_the_arn_and_the_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Catches the "not deleted" line (what an operator must delete by hand) losing its message, ARN or error."""
    from botocore.exceptions import ClientError

    def refuse(kind: str, arn: str) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Delete")

    monkeypatch.setattr(promote, "delete_serving", refuse)
    caplog.set_level(logging.INFO)
    assert promote._delete_replaced(contracts.SERVING_PROVISIONED, OLD_PT) is False
    line = _lines(caplog)["replaced throughput not deleted; it stays recorded in the parameter"]
    assert line["arn"] == OLD_PT and "AccessDeniedException" in line["error"]
