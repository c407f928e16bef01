"""Evaluation reports: the aggregate result, the aggregator that builds it, and its JSON/Markdown/HTML renderings."""

from pipeline_core.report.aggregate import Aggregator, EvaluationRecord, aggregate
from pipeline_core.report.html import render_html
from pipeline_core.report.model import (
    Comparison,
    EvaluationReport,
    ExampleDifference,
    ModelResult,
    ModelRoles,
    Role,
    RunInfo,
)
from pipeline_core.report.render import SIMULATED_NOTICE, render_json, render_markdown, to_dict
from pipeline_core.report.serving import ServingInfo, billed_hours

__all__ = [
    "SIMULATED_NOTICE",
    "Aggregator",
    "Comparison",
    "EvaluationRecord",
    "EvaluationReport",
    "ExampleDifference",
    "ModelResult",
    "ModelRoles",
    "Role",
    "RunInfo",
    "ServingInfo",
    "aggregate",
    "billed_hours",
    "render_html",
    "render_json",
    "render_markdown",
    "to_dict",
]
