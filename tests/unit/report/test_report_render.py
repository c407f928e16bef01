"""The three renderings: the table figures, the JSON shape, escaping, and the simulated-run notice."""

from __future__ import annotations

import json
from dataclasses import replace

from report_fixtures import BASE, REFERENCE, SCRIPT

from pipeline_core.report import SIMULATED_NOTICE, EvaluationReport, render_html, render_json, render_markdown


def _table_row(markdown: str, metric: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {metric} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_markdown_table_shape_and_figures(report: EvaluationReport) -> None:
    markdown = render_markdown(report)
    header = f"| Metric | Fine-tuned | Base | {REFERENCE} | vs base | vs {REFERENCE} |"
    assert header in markdown
    _, candidate, base, reference, vs_base, vs_reference = _table_row(markdown, "exact_match")
    assert candidate.startswith("91.2 [")
    assert base.startswith("73.2 [")
    assert reference.startswith("83.0 [")
    assert vs_base == "+24.6%"  # (91.2 - 73.2) / 73.2
    assert vs_reference == "+9.9%"  # (91.2 - 83.0) / 83.0
    assert "**Verdict: promote**" in markdown
    assert "SIMULATED" not in markdown


def test_json_holds_every_figure(report: EvaluationReport) -> None:
    data = json.loads(render_json(report))
    assert data["simulated"] is False
    assert data["run"]["dataset_sha256"] == "ab" * 32
    assert data["run"]["job_arn"].endswith("model-customization-job/abc")
    candidate = data["models"][0]
    assert candidate["role"] == "candidate"
    assert candidate["model_arn"].endswith("provisioned-model/xyz")
    assert candidate["metrics"]["exact_match"]["mean"] == 91.2
    assert len(candidate["metrics"]["exact_match"]["ci95"]) == 2
    assert candidate["failed_calls"] == 1
    assert candidate["latency"] == {"p50_ms": 149.0, "p95_ms": 194.0, "n": 1000}
    assert candidate["cost"]["per_1000_requests_usd"] == 500.0
    vs_base = next(c for c in data["comparisons"] if c["metric"] == "exact_match" and c["other"] == BASE)
    assert round(vs_base["relative_change_percent"], 1) == 24.6
    assert vs_base["p_value"] < 0.01
    assert data["gate"]["verdict"] == "promote"
    assert data["gate"]["thresholds"]["metric"] == "exact_match"
    assert len(data["top_differences"]) == 10
    assert data["evaluation"]["resamples"] == 200


def test_html_is_self_contained_and_escaped(report: EvaluationReport) -> None:
    page = render_html(report)
    assert page.startswith("<!doctype html>")
    assert "<script" not in page  # the model's markup is shown, never run
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert SCRIPT not in page
    assert "support-bot &amp; co" in page
    for external in ("http://", "https://", "src=", "<link", "@import"):
        assert external not in page
    assert page.count("<svg") == 2  # one chart per metric
    assert 'stroke-width="1.5"' in page  # CI whiskers
    assert "+24.6%" in page and "+9.9%" in page
    assert "Where fine-tuned and base differ most" in page


def test_markdown_escapes_table_cells(report: EvaluationReport) -> None:
    piped = replace(report, run=replace(report.run, run_name="a|b"))
    assert "a\\|b" in render_markdown(piped)


def test_simulated_run_is_said_in_every_rendering(simulated_report: EvaluationReport) -> None:
    markdown = render_markdown(simulated_report)
    page = render_html(simulated_report)
    data = json.loads(render_json(simulated_report))
    assert markdown.startswith("# Evaluation report (SIMULATED RUN)")
    assert SIMULATED_NOTICE in markdown
    assert "<title>Evaluation report (SIMULATED RUN)" in page
    assert 'class="simulated"' in page
    assert data["simulated"] is True
    assert data["notice"] == SIMULATED_NOTICE


def test_lifecycle_warnings_appear_in_every_rendering(report: EvaluationReport) -> None:
    warning = "Base model Claude 3 Haiku is LEGACY in us-west-2; end of life 2027-01-31 <soon>"
    warned = replace(report, run=replace(report.run, warnings=(warning,)))
    assert json.loads(render_json(warned))["run"]["warnings"] == [warning]
    assert f"> **Warning:** {warning}" in render_markdown(warned)
    assert "Warning: Base model Claude 3 Haiku is LEGACY" in render_html(warned) and "&lt;soon&gt;" in render_html(
        warned
    )
    assert "Warning" not in render_markdown(report), "no warning line without a warning"
