"""`finetune doctor --rehearsal`: the doctor's checks against moto and the Bedrock stand-in, with the app deployed."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from finetune import doctor_rehearsal
from finetune.cli import main
from finetune.commands import doctor
from finetune.rehearsal.runner import SynthesizedApp

pytestmark = pytest.mark.slow

# The stand-in's catalogue lifecycles on this date make the default base model (Llama 3.1 70B) Active.
TODAY = date(2026, 12, 1)
EVERY_CHECK = [
    "credentials",
    "region",
    "base model",
    "base model access",
    "quota: custom-model units",
    "quota: customization jobs",
    "stack FinetuneDataPlane",
    "stack FinetunePipeline",
    "data bucket events",
    "KMS key",
]


@pytest.fixture
def run_doctor(
    rehearsal_app: SynthesizedApp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    """`finetune doctor --rehearsal --json [--fault F ...]` with the session's synthesized app; (code, checks)."""
    monkeypatch.setattr(doctor_rehearsal, "synthesize", lambda pipeline: rehearsal_app)
    monkeypatch.setattr(doctor, "today", lambda: TODAY)

    def run(*faults: str) -> tuple[int, dict[str, dict[str, str]]]:
        argv = ["doctor", "--rehearsal", "--json"] + [arg for fault in faults for arg in ("--fault", fault)]
        code = main(argv)
        checks = json.loads(capsys.readouterr().out)
        return code, {check["name"]: check for check in checks}

    return run


def test_a_ready_account_passes_every_check(run_doctor: Any) -> None:
    code, checks = run_doctor()
    assert code == 0
    assert list(checks) == EVERY_CHECK
    assert {name: check["status"] for name, check in checks.items()} == dict.fromkeys(EVERY_CHECK, "ok")
    assert "finetune-data-123456789012-us-west-2" in checks["stack FinetuneDataPlane"]["detail"]
    assert "sends its events to EventBridge" in checks["data bucket events"]["detail"]


def test_a_base_model_past_its_end_of_life_blocks_a_run(run_doctor: Any) -> None:
    code, checks = run_doctor("base-model-eol")
    assert code == 1
    base = checks["base model"]
    assert base["status"] == "fail" and "reached end of life" in base["detail"]
    assert "meta.llama3-1-8b-instruct-v1:0:128k" in base["fix"]  # the catalogue's Active alternative here
    assert "base model access" not in checks


def test_a_legacy_base_model_warns_with_its_days_left(run_doctor: Any) -> None:
    code, checks = run_doctor("base-model-legacy")
    assert code == 0
    base = checks["base model"]
    assert base["status"] == "warn" and "90 days left" in base["detail"] and "Provisioned Throughput" in base["detail"]


def test_a_model_unit_quota_too_low_blocks_a_run(run_doctor: Any) -> None:
    code, checks = run_doctor("quota-too-low")
    assert code == 1
    quota = checks["quota: custom-model units"]
    assert quota["status"] == "fail" and "is 0" in quota["detail"] and "L-BE77399C" in quota["fix"]
    assert [name for name, check in checks.items() if check["status"] != "ok"] == ["quota: custom-model units"]


def test_no_customization_job_quota_blocks_a_run(run_doctor: Any) -> None:
    code, checks = run_doctor("no-job-quota")
    assert code == 1 and checks["quota: customization jobs"]["status"] == "fail"


@pytest.mark.parametrize(
    ("fault", "words"),
    [("no-access", "aws-marketplace:Subscribe"), ("agreement-pending", "again in a few minutes")],
)
def test_model_access_that_is_not_available_blocks_a_run(run_doctor: Any, fault: str, words: str) -> None:
    code, checks = run_doctor(fault)
    assert code == 1
    access = checks["base model access"]
    assert access["status"] == "fail" and words in access["fix"]


def test_before_the_first_deploy_the_stacks_are_warnings(run_doctor: Any) -> None:
    code, checks = run_doctor("not-deployed")
    assert code == 0
    assert (
        checks["stack FinetuneDataPlane"]["status"] == "warn"
        and "make deploy" in checks["stack FinetuneDataPlane"]["fix"]
    )
    assert "data bucket events" not in checks and "KMS key" not in checks


def test_a_disabled_key_and_silent_bucket_block_a_run(run_doctor: Any) -> None:
    code, checks = run_doctor("key-disabled", "events-off")
    assert code == 1
    assert checks["KMS key"]["status"] == "fail" and "aws kms enable-key" in checks["KMS key"]["fix"]
    assert checks["data bucket events"]["status"] == "fail"


def test_the_text_report_has_one_line_per_check_and_a_verdict(
    run_doctor: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run_doctor()  # the fixture's patches; the text run below reuses them
    assert main(["doctor", "--rehearsal", "--fault", "quota-too-low"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("finetune doctor: pipeline 'finetune'") and "REHEARSAL" in lines[0]
    assert sum(line[:2] in ("✓ ", "! ", "✗ ") for line in lines) == len(EVERY_CHECK)
    assert "    fix: request an increase to at least 1: " in "\n".join(lines)
    assert lines[-1] == "9 ok, 0 warnings, 1 problem: a run would fail: fix the ✗ lines first"
