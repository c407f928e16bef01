"""Latency percentiles and the cost per 1,000 requests."""

from __future__ import annotations

import pytest

from pipeline_core.metrics import TokenPrice, cost_per_1000_requests, latency_summary


def test_latency_p50_p95_nearest_rank() -> None:
    summary = latency_summary([float(v) for v in range(1, 101)])  # 1..100 ms
    assert summary is not None
    assert (summary.p50_ms, summary.p95_ms, summary.n) == (50.0, 95.0, 100)
    assert latency_summary([]) is None


def test_cost_per_1000_requests() -> None:
    # mean input 1000 tokens at $0.25 per 1k, mean output 200 tokens at $1.25 per 1k:
    # per request 0.25 + 0.25 = $0.50, so $500 per 1,000 requests.
    cost = cost_per_1000_requests([800, 1200], [100, 300], TokenPrice(input_per_1k=0.25, output_per_1k=1.25))
    assert cost is not None
    assert cost.mean_input_tokens == 1000
    assert cost.mean_output_tokens == 200
    assert cost.per_1000_requests == pytest.approx(500.0)
    assert cost_per_1000_requests([], [], TokenPrice(1, 1)) is None
