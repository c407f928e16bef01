"""Renders an EvaluationReport as one self-contained report.html: inline CSS and SVG, no scripts, no external assets.

Everything that comes from data (model names, predictions, references, settings) goes through html.escape,
because predictions are model output and may contain markup.
"""

from __future__ import annotations

import json
from html import escape

from pipeline_core.metrics.gate import signed
from pipeline_core.report.model import EvaluationReport, Role
from pipeline_core.report.render import (
    NOT_AVAILABLE,
    SIMULATED_NOTICE,
    column_title,
    comparison_rows,
    operations_rows,
    quality_rows,
)

_COLOURS = {Role.CANDIDATE: "#1b6ac9", Role.CHAMPION: "#137333", Role.BASE: "#8a8f98", Role.REFERENCE: "#d08a1e"}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d1f23;padding:0 1rem}
table{border-collapse:collapse;margin:0.5rem 0 1.5rem}
th,td{border:1px solid #d5d8dc;padding:0.3rem 0.6rem;text-align:left;vertical-align:top}
th{background:#f2f4f6}
td.text{white-space:pre-wrap;max-width:28rem;font-family:ui-monospace,monospace;font-size:0.85rem}
.warning{border-left:4px solid #c98a00;padding:0.4rem 0.8rem}
.simulated{background:#fff3cd;border:2px solid #c98a00;padding:0.8rem 1rem;font-weight:bold}
.promote{color:#137333}.reject{color:#b3261e}
figure{display:inline-block;margin:0 1.5rem 1rem 0}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _line(x1: float, x2: float, y1: float, y2: float) -> str:
    return f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" stroke="#1d1f23" stroke-width="1.5"/>'


def _text(x: float, y: float, text: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" text-anchor="middle">{_e(text)}</text>'


def bar_chart(report: EvaluationReport, metric: str) -> str:
    """One metric's means as bars on a 0-100 axis, each with a whisker for its 95% CI."""
    width, height, left, top, bar, gap = 80 + 90 * len(report.models), 240, 40, 20, 50, 40
    plot = height - top - 40

    def y(value: float) -> float:
        return top + plot * (1 - max(0.0, min(100.0, value)) / 100)

    parts = [
        f'<svg role="img" aria-label="{_e(metric)} by model" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f"<title>{_e(metric)}: mean and 95% confidence interval per model</title>",
    ]
    for tick in (0, 25, 50, 75, 100):
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e3e5e8"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end">{tick}</text>'
        )
    for index, model in enumerate(report.models):
        x = left + gap / 2 + index * (bar + gap)
        centre = x + bar / 2
        parts.append(_text(centre, height - 22, column_title(model)))
        estimate = model.metrics.get(metric)
        if estimate is None:
            parts.append(_text(centre, y(0) - 4, "n/a"))
            continue
        top_y, lo, hi = y(estimate.value), y(estimate.ci_low), y(estimate.ci_high)
        tooltip = f"{model.name}: {estimate.value:.1f} [{estimate.ci_low:.1f}, {estimate.ci_high:.1f}]"
        colour = _COLOURS[model.role]
        parts.append(
            f'<rect x="{x:.1f}" y="{top_y:.1f}" width="{bar}" height="{y(0) - top_y:.1f}" fill="{colour}">'
            f"<title>{_e(tooltip)}</title></rect>"
        )
        # The whisker: a vertical line across the CI with short caps at both ends.
        parts.append(_line(centre, centre, lo, hi))
        parts.append(_line(centre - 8, centre + 8, lo, lo))
        parts.append(_line(centre - 8, centre + 8, hi, hi))
        parts.append(_text(centre, hi - 5, f"{estimate.value:.1f}"))
    parts.append("</svg>")
    return "".join(parts)


def _differences(report: EvaluationReport) -> str:
    if not report.top_differences:
        return "<p>The fine-tuned and base models scored the same on every example both answered.</p>"
    header = [
        "Example",
        "Reference(s)",
        "Fine-tuned answer",
        "Base answer",
        f"{report.primary_metric} (fine-tuned / base)",
        "Difference",
    ]
    rows = []
    for d in report.top_differences:
        rows.append(
            f"<tr><td>{_e(d.id)}</td>"
            f'<td class="text">{_e(chr(10).join(d.references))}</td>'
            f'<td class="text">{_e(d.candidate_prediction)}</td>'
            f'<td class="text">{_e(d.base_prediction)}</td>'
            f"<td>{d.candidate_score:.1f} / {d.base_score:.1f}</td><td>{_e(signed(d.difference))}</td></tr>"
        )
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_html(report: EvaluationReport) -> str:
    simulated = f'<p class="simulated">{_e(SIMULATED_NOTICE)}</p>' if report.simulated else ""
    title = "Evaluation report" + (" (SIMULATED RUN)" if report.simulated else "") + f": {report.run.run_name}"
    warnings = "".join(f'<p class="warning">Warning: {_e(w)}</p>' for w in report.run.warnings)
    verdict = report.gate.verdict.value
    reasons = "".join(f"<li>{_e(r)}</li>" for r in report.gate.reasons)
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.gate.notes)
    notes = f"<p>Notes:</p><ul>{notes}</ul>" if notes else ""
    charts = "".join(f"<figure>{bar_chart(report, m)}<figcaption>{_e(m)}</figcaption></figure>" for m in report.metrics)
    run_rows = [
        ["Dataset SHA-256", report.run.dataset_sha256],
        ["Customization job", report.run.job_arn or NOT_AVAILABLE],
        *([f"{column_title(m)} model ({m.name})", m.model_arn or NOT_AVAILABLE] for m in report.models),
        ["Bootstrap resamples / seed", f"{report.resamples} / {report.seed}"],
    ]
    settings = json.dumps(dict(report.run.settings), indent=2, sort_keys=True)
    serving = "" if report.run.serving is None else f"<p>{_e(' '.join(report.run.serving.sentences()))}</p>"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"{simulated}<h1>{_e(title)}</h1>{warnings}"
        f'<p>Verdict: <strong class="{verdict}">{_e(verdict)}</strong> '
        f"(quality gate on <code>{_e(report.primary_metric)}</code>)</p><ul>{reasons}</ul>{notes}"
        "<h2>Quality</h2><p>Mean score 0-100 with its 95% bootstrap confidence interval; the &ldquo;vs&rdquo; "
        "columns give the fine-tuned model's relative change against each other model.</p>"
        f"{_table(*quality_rows(report))}{charts}"
        "<h2>Paired comparisons</h2><p>Fine-tuned minus the other model on the examples both answered; "
        "p-value from a two-sided paired permutation test.</p>"
        f"{_table(*comparison_rows(report))}"
        f"<h2>Operations</h2>{_table(*operations_rows(report))}{serving}"
        f"<h2>Where fine-tuned and base differ most</h2>{_differences(report)}"
        f"<h2>Run</h2>{_table(['', ''], run_rows)}<h3>Settings used</h3><pre>{_e(settings)}</pre>"
        f"{simulated}</body></html>\n"
    )
