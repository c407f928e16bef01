"""The rehearsal's closing lines: a readable reason, the base model's simulated lifecycle, and the jobs started."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from finetune.rehearsal.runner import RehearsalResult, readable_cause, summary_lines
from pipeline_core.explain import sentence

LAMBDA_ERROR = json.dumps(
    {
        "errorMessage": "Base model X is END_OF_LIFE in us-west-2; no customization job was started",
        "errorType": "BaseModelUnavailable",
        "requestId": "r-1",
        "stackTrace": ['  File "/lambdas/resolve_run/handler.py", line 210, in handler\n    raise ...\n'],
    }
)


@pytest.mark.parametrize(
    ("cause", "shown"),
    [
        (LAMBDA_ERROR, "Base model X is END_OF_LIFE in us-west-2; no customization job was started"),
        ("Customization job j ended Failed: boom", "Customization job j ended Failed: boom"),  # not JSON
        # JSON of another shape is never shown: the sentence says that the run failed and where to look.
        (
            '{"detail": "a JSON cause of another shape"}',
            "The run failed without saying why; the execution history has the details",
        ),
        ('["a", "list"]', "The run failed without saying why; the execution history has the details"),
        (None, ""),
    ],
    ids=["lambda-error", "text", "other-json", "json-list", "none"],
)
def test_readable_cause(cause: str | None, shown: str) -> None:
    assert readable_cause(cause) == shown


def test_readable_cause_is_the_notifications_sentence() -> None:
    assert readable_cause(LAMBDA_ERROR, "BaseModelUnavailable") == sentence("BaseModelUnavailable", LAMBDA_ERROR)
    assert readable_cause('{"x": 1}', "ThroughputFailed") == sentence("ThroughputFailed", '{"x": 1}')
    assert "ThroughputFailed" in readable_cause('{"x": 1}', "ThroughputFailed")


def _result(**fields: Any) -> RehearsalResult:
    values: dict[str, Any] = {
        "status": "FAILED",
        "error": "BaseModelUnavailable",
        "cause": LAMBDA_ERROR,
        "execution_arn": "arn:aws:states:us-west-2:123456789012:execution:m:e",
        "executions": 1,
        "output_dir": Path("out"),
        "report_files": [],
        "table_md": None,
        "states": [],
        "trigger_results": [],
        "notifications": [],
        "provisioned_throughputs": [],
        "running_jobs": [],
        "jobs": [],
        "standin_errors": {},
        "definition": "{}",
        "executed_definition": "{}",
        "cloud": None,
        "seconds": 1.0,
        "base_model": "Llama 3.1 70B Instruct (meta.llama3-1-70b-instruct-v1:0:128k)",
        "base_model_lifecycle": "END_OF_LIFE (fault base-model-eol) in us-west-2 on 2026-12-01",
    }
    values.update(fields)
    return RehearsalResult(**values)


def test_no_job_started_is_said_in_words_with_the_base_models_lifecycle() -> None:
    lines = summary_lines(_result())
    assert lines[1] == "Reason: BaseModelUnavailable: Base model X is END_OF_LIFE in us-west-2; no customization job " \
        "was started"  # fmt: skip
    assert lines[-2] == (
        "Base model: Llama 3.1 70B Instruct (meta.llama3-1-70b-instruct-v1:0:128k), simulated lifecycle END_OF_LIFE "
        "(fault base-model-eol) in us-west-2 on 2026-12-01"
    )
    assert lines[-1] == (
        "Simulated Bedrock still holds 0 custom model deployment(s), 0 Provisioned Throughput(s) and 0 running "
        "customization job(s) "
        "(no customization job was started)"
    )


@pytest.mark.parametrize("jobs", [1, 2])
def test_started_jobs_are_counted(jobs: int) -> None:
    lines = summary_lines(_result(jobs=[{"status": "Completed"}] * jobs, base_model=""))
    assert lines[-1].endswith(f"({jobs} job(s) started in total)")
    assert not any(line.startswith("Base model:") for line in lines)  # unknown: not printed


@pytest.mark.parametrize(("deployments", "throughputs"), [(0, 1), (1, 0), (2, 3)])
def test_the_deployments_and_throughputs_still_held_are_counted_apart(deployments: int, throughputs: int) -> None:
    result = _result(
        custom_model_deployments=[{"status": "Active"}] * deployments,
        provisioned_throughputs=[{"status": "InService"}] * throughputs,
    )
    assert summary_lines(result)[-1].startswith(
        f"Simulated Bedrock still holds {deployments} custom model deployment(s), {throughputs} Provisioned "
        "Throughput(s) and 0 running customization job(s)"
    )
