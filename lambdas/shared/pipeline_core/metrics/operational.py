"""Operational figures per model: latency percentiles and the estimated cost per 1,000 requests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline_core.metrics.stats import percentile


@dataclass(frozen=True)
class LatencySummary:
    """Nearest-rank p50/p95 of successful calls' latency, in milliseconds."""

    p50_ms: float
    p95_ms: float
    n: int


@dataclass(frozen=True)
class TokenPrice:
    """On-demand price in USD per 1,000 input and per 1,000 output tokens, passed in by the caller.

    Prices change and differ by Region, so none are hard-coded here. A model served from Provisioned
    Throughput is billed by the hour instead; leave it out of the price table and its cost reads "n/a".
    """

    input_per_1k: float
    output_per_1k: float


@dataclass(frozen=True)
class CostEstimate:
    """Estimated USD per 1,000 requests, from the mean token counts of successful calls."""

    per_1000_requests: float
    mean_input_tokens: float
    mean_output_tokens: float


def latency_summary(latencies_ms: Sequence[float]) -> LatencySummary | None:
    """p50 and p95 by nearest rank; None when there were no successful calls."""
    if not latencies_ms:
        return None
    return LatencySummary(percentile(latencies_ms, 50), percentile(latencies_ms, 95), len(latencies_ms))


def cost_per_1000_requests(
    input_tokens: Sequence[int], output_tokens: Sequence[int], price: TokenPrice
) -> CostEstimate | None:
    """mean(input) x input price per 1k tokens + mean(output) x output price per 1k tokens, times 1000 / 1000.

    Per request: mean_in / 1000 x input_per_1k + mean_out / 1000 x output_per_1k; per 1,000 requests the
    two factors of 1000 cancel.
    """
    if not input_tokens or len(input_tokens) != len(output_tokens):
        return None
    mean_in = math.fsum(input_tokens) / len(input_tokens)
    mean_out = math.fsum(output_tokens) / len(output_tokens)
    return CostEstimate(mean_in * price.input_per_1k + mean_out * price.output_per_1k, mean_in, mean_out)
