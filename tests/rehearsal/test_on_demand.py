"""End to end: the candidate is served the cheapest way its model allows.

Nova Lite in us-east-1 allows on-demand serving (a custom model deployment, nothing billed while idle): the
rehearsal promotes it without buying any Provisioned Throughput. The default Llama 3.1 70B does not: it promotes
through Provisioned Throughput and never asks for a deployment. A deployment that fails or never comes into service
fails the run with exit code 1 and leaves nothing behind. After every run the stand-in holds no deployment and no
throughput except the promoted one that is kept.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from finetune.cli import main
from finetune.rehearsal import runner
from finetune.rehearsal.runner import (
    LocalCloud,
    RehearsalError,
    RehearsalResult,
    SynthesizedApp,
    exit_code,
    model_overrides,
    summary_lines,
    synthesize,
)
from pipeline_core import contracts

Run = Callable[..., RehearsalResult]

ON_DEMAND_MODEL = "amazon.nova-lite-v1:0:300k"
ON_DEMAND_REGION = "us-east-1"
#: Nova's quota takes 8 training records; 126 records give 13 test examples, which let the paired test pass with
#: conftest.CLEAR_WIN (as in test_base_models).
ON_DEMAND_RECORDS = 126
DEPLOYMENT = ":custom-model-deployment/"


@pytest.fixture(scope="module")
def on_demand_app() -> SynthesizedApp:
    """The app for Nova Lite in us-east-1, as `finetune rehearse --base-model ... --region us-east-1` builds it."""
    return synthesize(model_overrides(ON_DEMAND_MODEL, ON_DEMAND_REGION))


def _after_run(cloud: LocalCloud, execution_arn: str | None) -> dict[str, Any]:
    """While moto and the stand-in still run: the promotion record, and the tags of what it names."""
    import boto3

    region = cloud.resources.app.region
    ssm = boto3.client("ssm", region_name=region)
    try:
        raw = ssm.get_parameter(Name=os.environ[contracts.ENV_PROMOTION_PARAMETER])["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return {"record": None, "tags": {}}
    if raw.strip() == contracts.PROMOTION_PLACEHOLDER:  # what the stack creates the parameter with: nothing promoted
        return {"record": None, "tags": {}}
    record = json.loads(raw)
    if not record.get("invoke_model_id"):  # nothing kept serving it
        return {"record": record, "tags": {}}
    bedrock = boto3.client("bedrock", region_name=region)  # the stand-in, through AWS_ENDPOINT_URL_BEDROCK
    tags = bedrock.list_tags_for_resource(resourceARN=record["invoke_model_id"])["tags"]
    return {"record": record, "tags": {tag["key"]: tag["value"] for tag in tags}}


def _held_only_what_was_promoted(result: RehearsalResult) -> None:
    """The stand-in holds no deployment and no throughput, except the promoted one if it is kept."""
    record = (result.after_run_result or {}).get("record") if result.promoted else None
    kept = {record["invoke_model_id"]} if record else set()
    held = {item["customModelDeploymentArn"] for item in result.custom_model_deployments} | {
        item["provisionedModelArn"] for item in result.provisioned_throughputs
    }
    assert held <= kept, (held, kept)
    assert result.running_jobs == []


def test_a_model_that_does_not_allow_on_demand_promotes_through_provisioned_throughput(run_rehearsal: Run) -> None:
    result = run_rehearsal(after_run=_after_run)  # the default Llama 3.1 70B in us-west-2
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.deployments_created == 0 and result.custom_model_deployments == []
    assert result.throughputs_created >= 1
    assert "Provision throughput" in result.states and "Deploy candidate" not in result.states
    record = result.after_run_result["record"]
    assert record["serving_kind"] == contracts.SERVING_PROVISIONED
    assert record["invoke_model_id"] == record["provisioned_model_arn"]
    assert ":provisioned-model/" in record["invoke_model_id"]
    _held_only_what_was_promoted(result)
    assert exit_code(result) == 0
    kept = len(result.provisioned_throughputs)  # 1: keepAfterPromotion is true in cdk.json
    assert summary_lines(result)[-1].startswith(
        f"Simulated Bedrock still holds 0 custom model deployment(s), {kept} Provisioned Throughput(s)"
    )
    # The kept throughput bills every hour: the closing lines say so, and how to stop it.
    billing = summary_lines(result)[2]
    assert billing.startswith("Still billing in AWS (simulated here): 1 model unit of Provisioned Throughput ")
    assert "every hour until deleted (kept after promotion" in billing and "keepAfterPromotion false" in billing


def _cli(monkeypatch: pytest.MonkeyPatch, app: SynthesizedApp, argv: list[str]) -> tuple[int, RehearsalResult]:
    """`finetune rehearse --quiet --base-model <Nova Lite> --region us-east-1 ...` in-process, on the module's app
    (the command must ask for exactly the overrides it was synthesized with); returns the exit code and the result,
    with the promotion record read before moto went away."""
    wanted = model_overrides(ON_DEMAND_MODEL, ON_DEMAND_REGION)
    results: list[RehearsalResult] = []
    real_rehearse = runner.rehearse

    def synthesized(overrides: Any = None, outdir: Any = None) -> SynthesizedApp:
        assert overrides == wanted
        return app

    def rehearse(options: runner.RehearsalOptions, **kwargs: Any) -> RehearsalResult:
        results.append(real_rehearse(dataclasses.replace(options, after_run=_after_run), **kwargs))
        return results[-1]

    monkeypatch.setattr(runner, "synthesize", synthesized)
    monkeypatch.setattr(runner, "rehearse", rehearse)
    argv = ["rehearse", "--quiet", "--base-model", ON_DEMAND_MODEL, "--region", ON_DEMAND_REGION, *argv]
    code = main(argv)
    (result,) = results
    return code, result


def _closing_line(err: str) -> str:
    return err.strip().splitlines()[-1].split("] ", 1)[-1]


def test_a_model_that_allows_on_demand_promotes_without_any_provisioned_throughput(
    monkeypatch: pytest.MonkeyPatch, on_demand_app: SynthesizedApp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--records", str(ON_DEMAND_RECORDS), "--candidate-accuracy", "1.0", "--base-accuracy", "0.3"]
    code, result = _cli(monkeypatch, on_demand_app, [*argv, "--output", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.throughputs_created == 0 and result.provisioned_throughputs == []
    assert result.deployments_created >= 1
    assert "Deploy candidate" in result.states and "Provision throughput" not in result.states
    assert "Promote" in result.states
    record = result.after_run_result["record"]
    assert record["serving_kind"] == contracts.SERVING_ON_DEMAND
    assert DEPLOYMENT in record["invoke_model_id"]
    assert record["invoke_model_id"].startswith(f"arn:aws:bedrock:{ON_DEMAND_REGION}:")
    # The candidate was evaluated through the deployment, exactly as applications will call it.
    assert record["invoke_model_id"] in {item["model"] for item in result.evaluation_records}
    _held_only_what_was_promoted(result)
    # Kept after promotion (keepAfterPromotion is true in cdk.json): Active, approved so the janitor leaves it alone.
    held = result.custom_model_deployments
    assert [(item["customModelDeploymentArn"], item["status"]) for item in held] == [
        (record["invoke_model_id"], "Active")
    ]
    assert result.after_run_result["tags"].get(contracts.TAG_APPROVED) == "true"
    assert "Execution SUCCEEDED" in err and "Traceback" not in err
    assert _closing_line(err).startswith(
        f"Simulated Bedrock still holds {len(held)} custom model deployment(s), 0 Provisioned Throughput(s) and 0 "
        "running customization job(s)"
    )
    # A kept deployment bills per token only: nothing by the hour.
    assert "Nothing left billing by the hour: on-demand deployment " in err
    assert "bills per token when called, nothing while idle (kept after promotion)" in err
    assert "Still billing" not in err


def test_a_deployment_not_kept_after_promotion_is_deleted(run_rehearsal: Run) -> None:
    overrides = {**model_overrides(ON_DEMAND_MODEL, ON_DEMAND_REGION),
                 "provisionedThroughput": {"keepAfterPromotion": False}}  # fmt: skip
    result = run_rehearsal(app=synthesize(overrides), records=ON_DEMAND_RECORDS, after_run=_after_run)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.deployments_created >= 1 and result.throughputs_created == 0
    record = result.after_run_result["record"]
    assert record["serving_kind"] == contracts.SERVING_ON_DEMAND and record["invoke_model_id"] is None
    assert result.custom_model_deployments == [] and result.provisioned_throughputs == []
    assert summary_lines(result)[2] == (
        "Nothing left billing except storage: the run's files in S3, and the custom model at Bedrock's monthly "
        "storage fee"
    )


@pytest.mark.parametrize("fault", ["deployment-stuck", "deployment-failed"])
def test_a_deployment_that_never_serves_exits_1_and_is_deleted(
    monkeypatch: pytest.MonkeyPatch,
    on_demand_app: SynthesizedApp,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:
    argv = ["--records", str(ON_DEMAND_RECORDS), "--fault", fault, "--output", str(tmp_path)]
    code, result = _cli(monkeypatch, on_demand_app, argv)
    err = capsys.readouterr().err
    assert code == 1, err
    assert result.status == "FAILED", (result.error, result.cause)
    assert result.deployments_created >= 1 and result.throughputs_created == 0
    assert "Deploy candidate" in result.states and "Promote" not in result.states
    assert "Delete throughput" in result.states  # the cleanup state deletes whichever kind $.throughput names
    if fault == "deployment-stuck":
        assert result.error == contracts.ERROR_DEPLOYMENT_TIMEOUT, result.cause
        # Given up on after the rehearsal's wait bound (6 s, 1-second polls), not at the first look.
        assert result.states.count("Check deployment") >= 3
    else:
        assert "Deployment did not come into service" in result.states
        assert "deployment-failed" in (result.cause or ""), result.cause  # the stand-in's failureMessage
    assert result.custom_model_deployments == [] and result.provisioned_throughputs == []
    assert result.after_run_result["record"] is None  # nothing was promoted
    assert [note["message"]["status"] for note in result.notifications] == ["FAILED"]
    _held_only_what_was_promoted(result)
    assert "Execution FAILED" in err and "Traceback" not in err
    assert _closing_line(err).startswith(
        "Simulated Bedrock still holds 0 custom model deployment(s), 0 Provisioned Throughput(s) and 0 running"
    )


@pytest.mark.parametrize(
    ("fault", "on_demand", "hint"),
    [
        ("deployment-stuck", False, "--base-model amazon.nova-lite-v1:0:300k --region us-east-1"),
        ("deployment-failed", False, "--base-model amazon.nova-lite-v1:0:300k --region us-east-1"),
        ("pt-stuck", True, "Provisioned Throughput, such as the default"),
        ("pt-failed", True, "Provisioned Throughput, such as the default"),
    ],
)
def test_a_fault_for_the_other_serving_mode_is_a_usage_error(
    run_rehearsal: Run, rehearsal_app: SynthesizedApp, on_demand_app: SynthesizedApp, fault: str, on_demand: bool,
    hint: str,
) -> None:  # fmt: skip
    app = on_demand_app if on_demand else rehearsal_app
    with pytest.raises(RehearsalError) as raised:
        run_rehearsal(app=app, faults={fault})
    message = str(raised.value)
    assert message.startswith(f"--fault {fault} would do nothing: {app.base_model_id} in {app.region} is served ")
    assert hint in message and "\n" not in message


def test_the_cli_refuses_a_deployment_fault_for_a_provisioned_model_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, rehearsal_app: SynthesizedApp, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(runner, "synthesize", lambda overrides=None, outdir=None: rehearsal_app)
    assert main(["rehearse", "--quiet", "--fault", "deployment-stuck"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("finetune rehearse: --fault deployment-stuck would do nothing: ") and "\n" not in err


@pytest.mark.parametrize(
    ("setting", "modes", "mode"),
    [
        ("auto", ("provisionedThroughput", "onDemand"), "onDemand"),
        ("auto", ("provisionedThroughput",), "provisionedThroughput"),
        ("provisionedThroughput", ("provisionedThroughput", "onDemand"), "provisionedThroughput"),
        ("onDemand", ("provisionedThroughput", "onDemand"), "onDemand"),
    ],
)
def test_the_rehearsals_serving_mode_follows_the_setting_and_the_model(
    setting: str, modes: tuple[str, ...], mode: str
) -> None:
    assert runner._serving_mode(setting, modes) == mode


def test_the_apps_know_how_they_serve(rehearsal_app: SynthesizedApp, on_demand_app: SynthesizedApp) -> None:
    assert rehearsal_app.serving_mode == contracts.SERVING_PROVISIONED
    assert on_demand_app.serving_mode == contracts.SERVING_ON_DEMAND
