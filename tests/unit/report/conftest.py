"""Session fixtures for the report tests: the sample evaluation, aggregated once, real and simulated."""

from __future__ import annotations

import pytest
from report_fixtures import build_report

from pipeline_core.report import EvaluationReport


@pytest.fixture(scope="session")
def report() -> EvaluationReport:
    built: EvaluationReport = build_report(simulated=False)
    return built


@pytest.fixture(scope="session")
def simulated_report() -> EvaluationReport:
    built: EvaluationReport = build_report(simulated=True)
    return built
