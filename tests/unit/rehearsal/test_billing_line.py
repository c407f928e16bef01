"""The rehearsal's closing line on what a run leaves billing: a kept throughput, a kept deployment, or nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from finetune.rehearsal.billing import PREFIX, PRICING_PAGE, billing_line, final_state
from finetune.rehearsal.runner import RehearsalResult, summary_lines

PT_ARN = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefabcdef"
DEPLOYMENT_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdefabcdef"
MODEL = "Llama 3.1 70B Instruct"


def throughput(units: int = 1, arn: str = PT_ARN) -> dict[str, Any]:
    return {"provisionedModelArn": arn, "provisionedModelName": "demo-1", "modelUnits": units, "status": "InService"}


def deployment(arn: str = DEPLOYMENT_ARN) -> dict[str, Any]:
    return {"customModelDeploymentArn": arn, "modelDeploymentName": "demo-1", "status": "Active"}


def promoted(arn: str, per_hour: float | None = None) -> dict[str, Any]:
    return {
        "promotion": {"invoke_model_id": arn, "provisioned_model_arn": arn, "throughput_kept": True},
        "run": {"pricing": {"model_unit_per_hour": per_hour}},
    }


def test_promoted_with_the_throughput_kept_says_it_bills_every_hour_and_how_to_stop_it() -> None:
    line = billing_line(throughputs=[throughput()], deployments=[], state=promoted(PT_ARN), model=MODEL, trained=True)
    assert line == (
        PREFIX + f"1 model unit of Provisioned Throughput demo-1 serving the fine-tuned {MODEL}, every hour until "
        "deleted (kept after promotion so applications can call it; set provisionedThroughput.keepAfterPromotion "
        f"false to delete it instead; its hourly price per model unit: {PRICING_PAGE} (set pricing.modelUnitPerHour "
        "to see it here)); plus storage: the run's files in S3, and the custom model at Bedrock's monthly storage fee"
    )


@pytest.mark.parametrize(("units", "per_hour", "shown"), [(1, 20.5, "$20.50"), (2, 20.5, "$41.00"), (3, 0.1, "$0.30")])
def test_a_configured_price_is_multiplied_by_the_model_units(units: int, per_hour: float, shown: str) -> None:
    line = billing_line(
        throughputs=[throughput(units)], deployments=[], state=promoted(PT_ARN, per_hour), model=MODEL, trained=True
    )
    assert f"about {shown} an hour at pricing.modelUnitPerHour ${per_hour:g}" in line
    assert f"{units} model unit{'s' if units > 1 else ''} of" in line and PRICING_PAGE not in line


def test_promoted_on_demand_bills_nothing_by_the_hour() -> None:
    line = billing_line(
        throughputs=[], deployments=[deployment()], state=promoted(DEPLOYMENT_ARN), model="Nova Lite", trained=True
    )
    assert line == (
        "Nothing left billing by the hour: on-demand deployment demo-1 of the fine-tuned Nova Lite bills per token "
        "when called, nothing while idle (kept after promotion); plus storage: the run's files in S3, and the custom "
        "model at Bedrock's monthly storage fee"
    )
    assert not line.startswith(PREFIX)


@pytest.mark.parametrize("trained", [True, False])
def test_a_rejected_run_leaves_nothing_billing_but_storage(trained: bool) -> None:
    line = billing_line(throughputs=[], deployments=[], state={}, model=MODEL, trained=trained)
    expected = "Nothing left billing except storage: the run's files in S3"
    assert line == expected + (", and the custom model at Bedrock's monthly storage fee" if trained else "")


def test_a_throughput_left_without_a_promotion_is_called_out() -> None:
    line = billing_line(throughputs=[throughput()], deployments=[deployment()], state={}, model="", trained=True)
    assert line.startswith(PREFIX + "1 model unit of Provisioned Throughput demo-1 serving the fine-tuned model")
    assert "not promoted, yet not deleted: delete it now" in line
    assert "(not promoted, yet not deleted: delete it now)" in line  # the deployment too
    other = billing_line(
        throughputs=[throughput(arn=PT_ARN[:-1] + "0")], deployments=[], state=promoted(PT_ARN), model=MODEL,
        trained=True,
    )  # fmt: skip
    assert "not promoted" in other and "kept after promotion" not in other


def test_the_final_state_is_the_succeeded_executions_output() -> None:
    state = promoted(PT_ARN)
    history = [
        {"type": "ExecutionStarted"},
        {"type": "ExecutionSucceeded", "executionSucceededEventDetails": {"output": json.dumps(state)}},
    ]
    assert final_state(history) == state
    assert final_state([{"type": "ExecutionFailed", "executionFailedEventDetails": {"error": "X"}}]) == {}
    bad = [{"executionSucceededEventDetails": {"output": "not json"}}]
    assert final_state(bad) == {} and final_state([{"executionSucceededEventDetails": {"output": "[1]"}}]) == {}


def test_summary_lines_say_what_bills_right_after_the_reason() -> None:
    history = [
        {"type": "ExecutionSucceeded", "executionSucceededEventDetails": {"output": json.dumps(promoted(PT_ARN))}}
    ]
    result = RehearsalResult(
        status="SUCCEEDED", error=None, cause=None, execution_arn="arn:e", executions=1, output_dir=Path("out"),
        report_files=[], table_md=None, states=[], trigger_results=[], notifications=[],
        provisioned_throughputs=[throughput()], running_jobs=[], jobs=[{"status": "Completed"}], standin_errors={},
        definition="{}", executed_definition="{}", cloud=None, seconds=1.0, history=history,  # type: ignore[arg-type]
        base_model=f"{MODEL} (meta.llama3-1-70b-instruct-v1:0:128k)",
    )  # fmt: skip
    lines = summary_lines(result)
    assert lines[1] == "Reason: the candidate passed the quality gate and was promoted"
    assert lines[2].startswith(
        PREFIX + f"1 model unit of Provisioned Throughput demo-1 serving the fine-tuned {MODEL},"
    )
    assert "kept after promotion" in lines[2]


CHAMPION_ARN = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/champion0000"


def test_an_earlier_runs_promoted_throughput_is_kept_after_promotion_not_left_behind() -> None:
    """Catches the champion's throughput (named by the promotion parameter, not by this rejected run's state) being
    called "not promoted, yet not deleted", which would tell the user to delete the model in production."""
    line = billing_line(
        throughputs=[throughput(arn=CHAMPION_ARN)],
        deployments=[],
        state={},
        model=MODEL,
        trained=True,
        recorded={"provisioned_model_arn": CHAMPION_ARN, "invoke_model_id": CHAMPION_ARN},
    )
    assert "kept after promotion" in line and "not promoted" not in line


def test_a_record_naming_another_throughput_does_not_excuse_a_leftover() -> None:
    """Catches any record at all excusing every throughput Bedrock still holds."""
    line = billing_line(
        throughputs=[throughput()],
        deployments=[],
        state={},
        model=MODEL,
        trained=True,
        recorded={"provisioned_model_arn": CHAMPION_ARN, "invoke_model_id": CHAMPION_ARN},
    )
    assert "not promoted, yet not deleted" in line
