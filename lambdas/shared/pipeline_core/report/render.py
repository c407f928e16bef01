"""Renders an EvaluationReport as report.json (every figure) and report.md (the tables a reviewer reads)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pipeline_core.metrics.gate import signed
from pipeline_core.metrics.stats import DEFAULT_CONFIDENCE, Estimate
from pipeline_core.report.model import EvaluationReport, ModelResult, Role

SCHEMA_VERSION = 1
SIMULATED_NOTICE = (
    "SIMULATED RUN: these figures come from simulated model responses (the local rehearsal), "
    "not from Amazon Bedrock. They say nothing about the model's quality."
)
NOT_AVAILABLE = "n/a"


# Formatting shared by the Markdown and HTML renderings, so both show the same figures.
def score_cell(estimate: Estimate | None) -> str:
    if estimate is None:
        return NOT_AVAILABLE
    return f"{estimate.value:.1f} [{estimate.ci_low:.1f}, {estimate.ci_high:.1f}]"


def change_cell(percent: float | None) -> str:
    return NOT_AVAILABLE if percent is None else f"{signed(percent)}%"


def column_title(model: ModelResult) -> str:
    if model.role is Role.CANDIDATE:
        return "Fine-tuned"
    if model.role is Role.BASE:
        return "Base"
    if model.role is Role.CHAMPION:
        return "Champion"
    return model.name


def vs_title(model: ModelResult) -> str:
    if model.role in (Role.BASE, Role.CHAMPION):
        return f"vs {model.role.value}"
    return f"vs {model.name}"


def quality_rows(report: EvaluationReport) -> tuple[list[str], list[list[str]]]:
    """The headline table: | Metric | Fine-tuned | Base | <refs> | vs base | vs <refs> |."""
    others = report.models[1:]
    header = ["Metric", *(column_title(m) for m in report.models), *(vs_title(m) for m in others)]
    rows = []
    for metric in report.metrics:
        cells = [metric, *(score_cell(m.metrics.get(metric)) for m in report.models)]
        for other in others:
            comparison = report.comparison(metric, other.name)
            cells.append(change_cell(comparison.relative_change_percent if comparison else None))
        rows.append(cells)
    return header, rows


def comparison_rows(report: EvaluationReport) -> tuple[list[str], list[list[str]]]:
    header = ["Metric", "Fine-tuned vs", "Difference (points) [95% CI]", "p-value", "Paired examples"]
    rows = []
    for c in report.comparisons:
        if c.test is None:
            rows.append([c.metric, c.other, NOT_AVAILABLE, NOT_AVAILABLE, "0"])
        else:
            t = c.test
            rows.append(
                [
                    c.metric,
                    c.other,
                    f"{signed(t.difference)} [{signed(t.ci_low)}, {signed(t.ci_high)}]",
                    f"{t.p_value:.3g}",
                    str(t.n),
                ]
            )
    return header, rows


def operations_rows(report: EvaluationReport) -> tuple[list[str], list[list[str]]]:
    header = ["", *(column_title(m) for m in report.models)]

    def row(label: str, cell: Callable[[ModelResult], str]) -> list[str]:
        return [label, *(cell(m) for m in report.models)]

    return header, [
        row("Examples", lambda m: str(m.examples)),
        row("Failed or missing calls", lambda m: f"{m.unanswered} ({100 * m.failed_share:.1f}%)"),
        row("Latency p50 (ms)", lambda m: f"{m.latency.p50_ms:.0f}" if m.latency else NOT_AVAILABLE),
        row("Latency p95 (ms)", lambda m: f"{m.latency.p95_ms:.0f}" if m.latency else NOT_AVAILABLE),
        row("Cost per 1,000 requests (USD)", lambda m: f"{m.cost.per_1000_requests:.2f}" if m.cost else NOT_AVAILABLE),
    ]


def _estimate(estimate: Estimate | None) -> dict[str, Any] | None:
    if estimate is None:
        return None
    return {"mean": estimate.value, "ci95": [estimate.ci_low, estimate.ci_high], "n": estimate.n}


def to_dict(report: EvaluationReport) -> dict[str, Any]:
    """Every figure in the report as plain JSON types."""
    t = report.thresholds
    return {
        "schema_version": SCHEMA_VERSION,
        "simulated": report.simulated,
        "notice": SIMULATED_NOTICE if report.simulated else None,
        "run": {
            "run_name": report.run.run_name,
            "dataset_sha256": report.run.dataset_sha256,
            "job_arn": report.run.job_arn,
            "model_arns": dict(report.run.model_arns),
            "settings": dict(report.run.settings),
            "warnings": list(report.run.warnings),
            "serving": None if report.run.serving is None else report.run.serving.to_dict(),
            "champion": None if report.run.champion is None else dict(report.run.champion),
        },
        "evaluation": {
            "metrics": list(report.metrics),
            "primary_metric": report.primary_metric,
            "confidence": DEFAULT_CONFIDENCE,
            "interval": "percentile bootstrap",
            "test": "paired sign-flip permutation test, two-sided",
            "latency_percentiles": "nearest rank, successful calls only",
            "resamples": report.resamples,
            "seed": report.seed,
        },
        "models": [
            {
                "name": m.name,
                "role": m.role.value,
                "model_arn": m.model_arn,
                "examples": m.examples,
                "failed_calls": m.failed_calls,
                "missing_calls": m.missing_calls,
                "failed_share": m.failed_share,
                "metrics": {name: _estimate(m.metrics.get(name)) for name in report.metrics},
                "latency": None
                if m.latency is None
                else {"p50_ms": m.latency.p50_ms, "p95_ms": m.latency.p95_ms, "n": m.latency.n},
                "cost": None
                if m.cost is None
                else {
                    "per_1000_requests_usd": m.cost.per_1000_requests,
                    "mean_input_tokens": m.cost.mean_input_tokens,
                    "mean_output_tokens": m.cost.mean_output_tokens,
                },
            }
            for m in report.models
        ],
        "comparisons": [
            {
                "metric": c.metric,
                "candidate": report.candidate.name,
                "other": c.other,
                "relative_change_percent": c.relative_change_percent,
                "difference": c.test.difference if c.test else None,
                "ci95": [c.test.ci_low, c.test.ci_high] if c.test else None,
                "p_value": c.test.p_value if c.test else None,
                "n": c.test.n if c.test else 0,
            }
            for c in report.comparisons
        ],
        "gate": {
            "verdict": report.gate.verdict.value,
            "reasons": list(report.gate.reasons),
            "notes": list(report.gate.notes),
            "checks": [{"name": c.name, "passed": c.passed, "reason": c.reason} for c in report.gate.checks],
            "thresholds": {
                "metric": t.metric,
                "min_score": t.min_score,
                "min_improvement_points": t.min_improvement_points,
                "min_improvement_percent": t.min_improvement_percent,
                "max_p_value": t.max_p_value,
                "max_failed_share": t.max_failed_share,
                "min_paired_examples": t.min_paired_examples,
                "champion": {
                    "enabled": t.champion.enabled,
                    "min_improvement_points": t.champion.min_improvement_points,
                    "max_p_value": t.champion.max_p_value,
                },
            },
        },
        "top_differences": [
            {
                "id": d.id,
                "references": list(d.references),
                "candidate_prediction": d.candidate_prediction,
                "base_prediction": d.base_prediction,
                "candidate_score": d.candidate_score,
                "base_score": d.base_score,
                "difference": d.difference,
            }
            for d in report.top_differences
        ],
    }


def render_json(report: EvaluationReport) -> str:
    # allow_nan=False: a NaN would make the file unreadable to strict JSON parsers, so fail loudly instead.
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _md_cell(text: str) -> str:
    # A pipe would split the cell and a newline would end the row.
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(report: EvaluationReport) -> str:
    lines: list[str] = []
    title = "Evaluation report" + (" (SIMULATED RUN)" if report.simulated else "")
    lines += [f"# {title}: {_md_cell(report.run.run_name)}", ""]
    if report.simulated:
        lines += [f"> **{SIMULATED_NOTICE}**", ""]
    lines += [f"> **Warning:** {_md_cell(warning)}\n" for warning in report.run.warnings]
    lines += [f"**Verdict: {report.gate.verdict.value}** (quality gate on `{report.primary_metric}`)", ""]
    lines += [f"- {_md_cell(reason)}" for reason in report.gate.reasons]
    if report.gate.notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {_md_cell(note)}" for note in report.gate.notes]
    lines += ["", "## Quality", "", 'Mean score 0-100 with its 95% bootstrap confidence interval; "vs" columns give']
    lines += ["the fine-tuned model's relative change against each other model.", ""]
    lines += _md_table(*quality_rows(report))
    lines += ["", "## Paired comparisons", "", "Fine-tuned minus the other model on the examples both answered;"]
    lines += ["p-value from a two-sided paired permutation test.", ""]
    lines += _md_table(*comparison_rows(report))
    lines += ["", "## Operations", ""]
    lines += _md_table(*operations_rows(report))
    if report.run.serving is not None:
        lines += ["", *(f"- {_md_cell(sentence)}" for sentence in report.run.serving.sentences())]
    lines += ["", "## Run", ""]
    lines += [f"- Dataset SHA-256: `{_md_cell(report.run.dataset_sha256)}`"]
    lines += [f"- Customization job: `{_md_cell(report.run.job_arn or NOT_AVAILABLE)}`"]
    for model in report.models:
        lines += [
            f"- {column_title(model)} model ({_md_cell(model.name)}): `{_md_cell(model.model_arn or NOT_AVAILABLE)}`"
        ]
    lines += [f"- Bootstrap resamples: {report.resamples}, seed: {report.seed}"]
    lines += [
        "",
        "Settings used:",
        "",
        "```json",
        json.dumps(dict(report.run.settings), indent=2, sort_keys=True),
        "```",
    ]
    lines += ["", "The examples where the fine-tuned and base models differ most are listed in report.html."]
    if report.simulated:
        lines += ["", f"_{SIMULATED_NOTICE}_"]
    return "\n".join(lines) + "\n"
