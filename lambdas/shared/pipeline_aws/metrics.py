"""The handlers' own metrics, in CloudWatch embedded metric format (EMF) through Powertools for AWS Lambda.

Handlers call the functions below as things happen; `flush` (run after every invocation by
`pipeline_aws.observability.instrumented`) prints one EMF document to stdout, the function's log stream, where
CloudWatch extracts the metrics: no PutMetricData call and no IAM permission. The namespace and the `service`
dimension come from the function's environment (`pipeline_core.telemetry.powertools_environment`), read at flush
time so one process can host several pipelines' handlers one after the other (the rehearsal).
Metrics docs: docs.aws.amazon.com/powertools/python/latest/core/metrics/ (read 2026-12-01).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from pipeline_core import contracts, telemetry

# The error codes of a throttled call (Bedrock runtime: ThrottlingException; the others from other AWS APIs).
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})

# One invocation's metrics, summed (counts) or last seen (gauges) as they are recorded, then published as one
# value each: worker threads (evaluation calls) record concurrently, and a value per event could reach EMF's 100
# values per metric. A flush takes them all.
_LOCK = threading.Lock()
_counts: dict[str, float] = {}
_gauges: dict[str, float] = {}


def _count(name: str, value: float) -> None:
    with _LOCK:
        _counts[name] = _counts.get(name, 0.0) + value


def _gauge(name: str, value: float) -> None:
    with _LOCK:
        _gauges[name] = value


def evaluation_calls(count: int) -> None:
    """Model calls an evaluation batch made, answered or failed."""
    _count(telemetry.METRIC_EVALUATION_CALLS, count)


def evaluation_throttled() -> None:
    """One model call Bedrock throttled (it is retried with backoff)."""
    _count(telemetry.METRIC_EVALUATION_THROTTLES, 1)


def quota_wait() -> None:
    """A creating call (training job, throughput, deployment) refused by a quota: the workflow waits and retries."""
    _count(telemetry.METRIC_QUOTA_WAITS, 1)


def runs_admitted(count: int = 1) -> None:
    """Queued runs the admission control started."""
    _count(telemetry.METRIC_RUNS_ADMITTED, count)


def queue_depth(depth: int) -> None:
    """Runs waiting in the admission queue, as last read (a gauge: the dashboard draws its maximum)."""
    _gauge(telemetry.METRIC_QUEUE_DEPTH, depth)


def runs_failed_to_start(count: int = 1) -> None:
    """Queued runs StartExecution refused with a non-transient error: taken out of the queue, not retried."""
    _count(telemetry.METRIC_RUNS_FAILED_TO_START, count)


def dispatched(started: int, waiting: int, failed: int = 0) -> None:
    """One dispatch of the admission queue: the runs it started, the runs it could not start (only when some),
    and the runs still waiting after it."""
    runs_admitted(started)
    if failed:
        runs_failed_to_start(failed)
    queue_depth(waiting)


def flush(**properties: Any) -> dict[str, Any] | None:
    """Print this invocation's metrics as one EMF document and forget them; `properties` (e.g. run, execution)
    become searchable top-level fields of the document, not dimensions. Nothing recorded, or metrics disabled
    (POWERTOOLS_METRICS_DISABLED): prints nothing, raises nothing, returns None; else returns the document."""
    with _LOCK:
        values = {**_counts, **_gauges}
        _counts.clear()
        _gauges.clear()
    if not values or is_metrics_disabled():
        return None
    # EphemeralMetrics keeps its values on the instance (Metrics shares them process-wide), so the document holds
    # exactly this invocation's values.
    emf = EphemeralMetrics(
        namespace=os.environ.get(telemetry.ENV_METRICS_NAMESPACE) or contracts.METRIC_NAMESPACE,
        service=os.environ.get(telemetry.ENV_SERVICE_NAME) or None,
    )
    for name, value in sorted(values.items()):
        emf.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for key, value in properties.items():
        if value is not None:
            emf.add_metadata(key=key, value=value)
    document: dict[str, Any] = dict(emf.serialize_metric_set())
    # One line on stdout, as EphemeralMetrics.flush_metrics prints it: the log stream CloudWatch reads EMF from.
    print(json.dumps(document, separators=(",", ":")))
    return document
