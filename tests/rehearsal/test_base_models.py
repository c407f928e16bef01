"""The rehearsal for every family and data format in the catalogue, and for the base model's lifecycle.

One model of each family/format: the demo data follows the model's format, buckets live in its Region, and the
run promotes, or stops at Resolve run (documented end of life) before any job, or synthesis refuses the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
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
from pipeline_core.models import CATALOGUE, DEFAULT_BASE_MODEL_ID, DataFormat

Run = Callable[..., RehearsalResult]


@dataclass(frozen=True)
class Case:
    model_id: str
    region: str | None  # None: the one model_overrides picks
    promotes: bool
    records: int  # the fewest the model's quota and a significant quality gate allow


CASES = {
    # Nova: 8 training records at least; 13 test examples let the paired test pass (see conftest.CLEAR_WIN).
    "nova-lite": Case("amazon.nova-lite-v1:0:300k", None, True, 126),
    # Nova 2 Lite: at least 200 training records (models.py), so 80% of 252 after the split.
    "nova-2-lite": Case("amazon.nova-2-lite-v1:0:256k", None, True, 252),
    # Documented end-of-life (unconfirmed): stopped before training, so the dataset only has to be readable.
    "llama-3.2": Case("meta.llama3-2-1b-instruct-v1:0:128k", None, False, 10),
    "titan-text-express": Case("amazon.titan-text-express-v1:0:8k", "us-east-1", False, 10),
}


def _first_training_record(cloud: LocalCloud, execution_arn: str | None) -> dict[str, Any]:
    """After the run, while moto still holds it: the first record of the training split, and the buckets' Region."""
    import boto3

    region = cloud.resources.app.region
    s3 = boto3.client("s3", region_name=region)
    location = s3.get_bucket_location(Bucket=cloud.artifacts_bucket)["LocationConstraint"]
    found: dict[str, Any] = {"bucket_region": location or "us-east-1"}  # S3 answers None for us-east-1
    upload = s3.get_object(Bucket=cloud.data_bucket, Key="inbox/demo.jsonl")["Body"].read()
    found["record"] = json.loads(upload.splitlines()[0])
    return found


def _format_of(record: dict[str, Any]) -> DataFormat:
    if set(record) == {"prompt", "completion"}:
        return DataFormat.PROMPT_COMPLETION
    if record.get("schemaVersion") == "bedrock-conversation-2024":
        return DataFormat.CONVERSE
    return DataFormat.CLAUDE_MESSAGES


@pytest.fixture(scope="module")
def apps() -> dict[str, SynthesizedApp]:
    """Each case's app, synthesized once (about a second each after the session's first)."""
    return {name: synthesize(model_overrides(case.model_id, case.region)) for name, case in sorted(CASES.items())}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_family_rehearses_in_its_region_with_its_format(
    run_rehearsal: Run, apps: dict[str, SynthesizedApp], name: str
) -> None:
    case, app = CASES[name], apps[name]
    model = CATALOGUE[case.model_id]
    assert app.base_model_id == case.model_id and app.region in model.regions
    result = run_rehearsal(app=app, records=case.records, after_run=_first_training_record)
    seen = result.after_run_result
    assert seen["bucket_region"] == app.region
    assert _format_of(seen["record"]) is model.data_format
    assert result.base_model == f"{model.display_name} ({model.model_id})"
    if case.promotes:
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert [n["message"]["status"] for n in result.notifications] == ["PROMOTED"]
        assert len(result.jobs) == 1
        assert result.jobs[0]["baseModelArn"].endswith(f"::foundation-model/{model.model_id}")
        # The base model is compared through the id the catalogue says it is invoked by. Nova 2 Lite's is the
        # inference profile: the stand-in refuses its plain id, so the promotion shows the profile was used.
        models = {record["model"] for record in result.evaluation_records}
        assert model.runtime_model_id in models
        if model.runtime_model_id != model.foundation_model_id:
            assert model.foundation_model_id not in models
            assert not [key for key in result.standin_errors if key[1] == model.foundation_model_id]
        return
    assert result.status == "FAILED" and exit_code(result) == 1
    assert result.error == "BaseModelUnavailable", result.cause
    assert "Resolve run" in result.states
    assert "Validate dataset" not in result.states and "Start training" not in result.states
    assert result.jobs == []  # no customization job was started: nothing was paid for
    cause = result.cause or ""
    assert model.foundation_model_id in cause and "END_OF_LIFE" in cause
    assert "no customization job was started" in cause
    reason = summary_lines(result)[1]  # what a person reads: the handler's message, not its stack trace
    assert reason == f"Reason: BaseModelUnavailable: {cause}"
    assert "File " not in reason and "stackTrace" not in reason
    (note,) = result.notifications
    assert note["message"]["status"] == "FAILED"
    assert note["message"]["reason"] == cause


def test_an_end_of_life_model_is_refused_at_synthesis_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["rehearse", "--base-model", "anthropic.claude-3-haiku-20240307-v1:0:200k"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "--base-model" in err and "reached end of life in us-west-2 on 2026-09-10" in err
    with pytest.raises(RehearsalError, match=r"^cdk.json with the rehearsal's overrides: .*end of life"):
        synthesize(model_overrides("anthropic.claude-3-haiku-20240307-v1:0:200k"))


def test_model_overrides_move_the_region_and_drop_foreign_hyperparameters() -> None:
    assert model_overrides() == {}
    nova = model_overrides("amazon.nova-lite-v1:0:300k")
    assert nova["region"] == "us-east-1" and nova["baseModelId"] == "amazon.nova-lite-v1:0:300k"
    # cdk.json's Llama hyperparameters: Nova takes epochCount and learningRate, not batchSize.
    assert nova[runner.HYPERPARAMETERS_REPLACED] == {"epochCount": 5, "learningRate": 0.0001}
    assert "region" not in model_overrides("meta.llama3-1-8b-instruct-v1:0:128k")  # us-west-2 already
    assert model_overrides("amazon.titan-text-express-v1:0:8k", "us-east-1")["region"] == "us-east-1"
    assert model_overrides(region="us-east-1") == {"region": "us-east-1"}
    merged = runner.apply_overrides({"region": "us-west-2", "hyperparameters": {"batchSize": 1}}, nova)
    assert merged["hyperparameters"] == {"epochCount": 5, "learningRate": 0.0001}


def test_rehearse_passes_base_model_and_region_to_the_rehearsal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[Any] = []

    def fake_rehearse(options: runner.RehearsalOptions, **_: Any) -> None:
        seen.append(options.settings_overrides)
        raise RehearsalError("stop here")

    monkeypatch.setattr(runner, "rehearse", fake_rehearse)
    argv = ["rehearse", "--base-model", "amazon.titan-text-express-v1:0:8k", "--region", "us-east-1"]
    assert main([*argv, "--output", str(tmp_path)]) == 2
    assert seen == [model_overrides("amazon.titan-text-express-v1:0:8k", "us-east-1")]
    assert "stop here" in capsys.readouterr().err


# ---- lifecycle faults --------------------------------------------------------------------------------------------
def test_base_model_legacy_warns_in_report_and_notification_and_completes(run_rehearsal: Run) -> None:
    result = run_rehearsal(faults={"base-model-legacy"})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert "LEGACY" in result.base_model_lifecycle and "fault base-model-legacy" in result.base_model_lifecycle
    report = (result.output_dir / "report.md").read_text()
    warning = next(line for line in report.splitlines() if line.startswith("> **Warning:**"))
    assert "meta.llama3-1-70b-instruct-v1:0" in warning and "LEGACY" in warning and "90 days" in warning
    (note,) = result.notifications
    assert note["message"]["status"] == "PROMOTED"
    assert any("LEGACY" in text and "90 days" in text for text in note["message"]["warnings"])


def test_base_model_eol_stops_before_any_job(run_rehearsal: Run) -> None:
    result = run_rehearsal(faults={"base-model-eol"})
    assert result.status == "FAILED" and result.error == "BaseModelUnavailable", result.cause
    assert result.jobs == [] and "Start training" not in result.states
    (note,) = result.notifications
    reason = note["message"]["reason"]
    assert "Llama 3.1 70B Instruct" in reason and "END_OF_LIFE" in reason and "stackTrace" not in reason
    # Lambda's error payload, as the runtime reports it, stays in the execution history, with the handler's frames
    # and none of the rehearsal's.
    cause = next(
        details["cause"]
        for event in result.history
        for key, details in event.items()
        if key.endswith("FailedEventDetails") and "stackTrace" in str(details.get("cause", ""))
    )
    assert "END_OF_LIFE" in cause
    trace = json.loads(cause)["stackTrace"]
    assert any("lambdas/resolve_run/handler.py" in frame for frame in trace)
    assert not any("moto_patches" in frame for frame in trace)


def _cli(monkeypatch: pytest.MonkeyPatch, app: SynthesizedApp, argv: list[str]) -> int:
    """`finetune rehearse` in-process, on the session's app (cdk.json unchanged) instead of a fresh synthesis."""
    monkeypatch.setattr(runner, "synthesize", lambda overrides=None, outdir=None: app)
    return main(["rehearse", "--quiet", *argv])


def test_cli_base_model_eol_exits_1_and_says_no_job_was_started(
    monkeypatch: pytest.MonkeyPatch, rehearsal_app: SynthesizedApp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _cli(monkeypatch, rehearsal_app, ["--fault", "base-model-eol", "--records", "10", "--output", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    last = [line.split("] ", 1)[-1] for line in err.strip().splitlines()[-3:]]
    assert last[0] == "Report: none written (handler logs in " + str(tmp_path / "handlers.log") + ")"
    assert last[1].startswith("Base model: Llama 3.1 70B Instruct (meta.llama3-1-70b-instruct-v1:0:128k)")
    assert "END_OF_LIFE" in last[1] and "fault base-model-eol" in last[1]
    assert last[2].endswith("running customization job(s) (no customization job was started)")
    assert "Traceback" not in err


def test_cli_defaults_promote_with_llama_3_1_70b(
    monkeypatch: pytest.MonkeyPatch, rehearsal_app: SynthesizedApp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `make demo` runs: every default (1,000 records, 0.9 vs 0.7), only the output folder chosen."""
    assert rehearsal_app.base_model_id == DEFAULT_BASE_MODEL_ID == "meta.llama3-1-70b-instruct-v1:0:128k"
    code = _cli(monkeypatch, rehearsal_app, ["--output", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Execution SUCCEEDED" in err and "the candidate passed the quality gate and was promoted" in err
    assert "Base model: Llama 3.1 70B Instruct (meta.llama3-1-70b-instruct-v1:0:128k), simulated lifecycle ACTIVE" in (
        err
    )
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["valid"] is True
