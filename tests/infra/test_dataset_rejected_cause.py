"""A rejected dataset's failure cause is the validation step's one-line reason plus the report's location, and every
field of the step's output the workflow reads exists."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

from test_workflow import render_definition

from stacks import workflow as wf

HANDLER = Path(__file__).resolve().parents[2] / "lambdas" / "validate_dataset" / "handler.py"


def _step_output_fields() -> set[str]:
    spec = importlib.util.spec_from_file_location("validate_dataset_handler_contract", HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return {field.name for field in dataclasses.fields(module.StepOutput)}


def _definition(template_json: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pipeline = next(t for name, t in template_json.items() if name.endswith("Pipeline"))
    return render_definition(pipeline)


def test_the_cause_is_the_steps_reason_and_the_report(template_json: dict[str, dict[str, Any]]) -> None:
    definition = _definition(template_json)
    rejected = next(state for name, state in definition["States"].items() if name == "Dataset rejected")
    assert rejected["Parameters"] == {
        "Error": "InvalidDataset",
        "Cause.$": "States.Format('{}; report: {}', $.validation.reason, $.validation.report_uri)",
    }
    assert rejected["Next"] == wf.NOTIFY_FAILURE


def test_every_validation_field_the_workflow_reads_is_in_the_steps_output(
    template_json: dict[str, dict[str, Any]],
) -> None:
    text = json.dumps(_definition(template_json))
    read = set(re.findall(r"\$\.validation\.([A-Za-z_]+)", text))
    assert {"valid", "reason", "report_uri"} <= read
    assert read <= _step_output_fields()
