"""Evaluation metrics, statistics and the quality gate: pure Python, no AWS calls, no third-party packages.

Metric names (see `METRICS`) are a public contract documented in docs/metrics.md.
"""

from pipeline_core.metrics.evaluate import Observation, compare, observe, score_examples, summarise
from pipeline_core.metrics.gate import (
    MIN_PAIRED_EXAMPLES,
    ChampionThresholds,
    GateCheck,
    GateEvidence,
    GateResult,
    GateThresholds,
    ModelEvidence,
    Verdict,
    evaluate_gate,
)
from pipeline_core.metrics.labels import accuracy, macro_f1, normalize_label
from pipeline_core.metrics.numeric import tatqa_em, tatqa_f1
from pipeline_core.metrics.operational import (
    CostEstimate,
    LatencySummary,
    TokenPrice,
    cost_per_1000_requests,
    latency_summary,
)
from pipeline_core.metrics.registry import DEFAULT_METRIC, METRICS, Metric, get_metric, metric_names
from pipeline_core.metrics.stats import (
    Estimate,
    PairedTest,
    bootstrap_mean,
    bootstrap_statistic,
    paired_statistic_test,
    paired_test,
    percentile,
    relative_change,
)
from pipeline_core.metrics.structured import SchemaError, check_schema, json_schema, json_valid, schema_violations
from pipeline_core.metrics.text import exact_match, normalize_answer, token_f1

__all__ = [
    "DEFAULT_METRIC",
    "METRICS",
    "MIN_PAIRED_EXAMPLES",
    "ChampionThresholds",
    "CostEstimate",
    "Estimate",
    "GateCheck",
    "GateEvidence",
    "GateResult",
    "GateThresholds",
    "LatencySummary",
    "Metric",
    "ModelEvidence",
    "Observation",
    "PairedTest",
    "SchemaError",
    "TokenPrice",
    "Verdict",
    "accuracy",
    "bootstrap_mean",
    "bootstrap_statistic",
    "check_schema",
    "compare",
    "cost_per_1000_requests",
    "evaluate_gate",
    "exact_match",
    "get_metric",
    "json_schema",
    "json_valid",
    "latency_summary",
    "macro_f1",
    "metric_names",
    "normalize_answer",
    "normalize_label",
    "observe",
    "paired_statistic_test",
    "paired_test",
    "percentile",
    "relative_change",
    "schema_violations",
    "score_examples",
    "summarise",
    "tatqa_em",
    "tatqa_f1",
    "token_f1",
]
