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

from pipeline_core.explain import failure_notice
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


REASON = "2 lines are not JSON (JSON-INVALID 2); 1 record over the token limit (TOO-LONG 1)"
REPORT = "s3://artifacts/runs/demo/demo-0123456789abcdef/validation/report.json"


def _format(parameter: str, state: dict[str, Any]) -> str:
    """Evaluate ``States.Format('...', $.a.b, ...)`` as Step Functions does, for paths into plain fields."""
    match = re.fullmatch(r"States\.Format\('((?:[^'\\]|\\.)*)'((?:, *\$[\w.]+)*)\)", parameter)
    assert match, parameter
    template, args = match.group(1), re.findall(r"\$((?:\.\w+)+)", match.group(2))
    values = []
    for path in args:
        value: Any = state
        for key in path.strip(".").split("."):
            value = value[key]
        values.append(str(value))
    assert template.count("{}") == len(values)
    return template.replace("{}", "%s") % tuple(values)


def test_the_cause_is_the_steps_reason_and_the_report(template_json: dict[str, dict[str, Any]]) -> None:
    """Dataset rejected -> Explain failure -> Notify failure: the error's cause carries the step's reason and the
    report's location, the explain step turns it into the notification's sentence, and the notification's report is
    the validation report."""
    states = _definition(template_json)["States"]
    rejected = states["Dataset rejected"]
    assert rejected["Parameters"] == {
        "Error": "InvalidDataset",
        "Cause.$": "States.Format('{}; report: {}', $.validation.reason, $.validation.report_uri)",
    }
    assert rejected["ResultPath"] == "$.error" and rejected["Next"] == wf.EXPLAIN_FAILURE
    explain = states[wf.EXPLAIN_FAILURE]
    assert explain["Parameters"] == {"state.$": "$"} and explain["ResultPath"] == wf.NOTICE_PATH
    assert explain["Next"] == wf.NOTIFY_FAILURE
    message = states[wf.NOTIFY_FAILURE]["Parameters"]["Message"]
    assert message["reason.$"] == f"{wf.NOTICE_PATH}.reason" and message["report.$"] == f"{wf.NOTICE_PATH}.report"

    # The state as "Dataset rejected" leaves it, then what "Explain failure" returns for it.
    state: dict[str, Any] = {
        "source": {"run_name": "demo"},
        "validation": {"valid": False, "reason": REASON, "report_uri": REPORT},
    }
    cause = _format(rejected["Parameters"]["Cause.$"], state)
    assert cause == f"{REASON}; report: {REPORT}"
    state["error"] = {"Error": rejected["Parameters"]["Error"], "Cause": cause}
    notice = failure_notice(state)
    # The report travels as its own field, so the sentence is the step's reason alone.
    assert notice == {"reason": REASON, "report": REPORT}


def test_every_validation_field_the_workflow_reads_is_in_the_steps_output(
    template_json: dict[str, dict[str, Any]],
) -> None:
    text = json.dumps(_definition(template_json))
    read = set(re.findall(r"\$\.validation\.([A-Za-z_]+)", text))
    assert {"valid", "reason", "report_uri"} <= read
    assert read <= _step_output_fields()
