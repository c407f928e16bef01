"""The names the handlers' own metrics and the Powertools settings share between the stacks and the handlers.

The handlers emit these metrics in CloudWatch embedded metric format (EMF) through Powertools for AWS Lambda
(`pipeline_aws.metrics`); the dashboard (`stacks/monitoring.py`) draws them. EMF lines are written to the
function's log stream and CloudWatch extracts the metrics from there, so no PutMetricData permission is involved:
docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
(read 2026-12-01).
"""

from __future__ import annotations

from pipeline_core import contracts

# Read by Powertools itself: the service name on every log line and the metrics' default dimension, and the
# namespace of the metrics. Names as in aws_lambda_powertools/shared/constants.py (3.37.0) and the environment
# variable table of docs.aws.amazon.com/powertools/python/latest/ (read 2026-12-01).
ENV_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
ENV_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
# The dimension Powertools adds to every metric from the service name.
DIMENSION_SERVICE = "service"

METRIC_EVALUATION_CALLS = "EvaluationCalls"  # model calls one evaluation batch made (answered or failed)
METRIC_EVALUATION_THROTTLES = "EvaluationThrottles"  # calls Bedrock throttled, each retried with backoff
METRIC_QUOTA_WAITS = "QuotaWaits"  # creating calls refused by a quota: the workflow waits, then tries again
METRIC_RUNS_ADMITTED = "RunsAdmitted"  # queued runs the admission control started
METRIC_QUEUE_DEPTH = "QueueDepth"  # runs waiting in the admission queue when it was last read
METRIC_RUNS_FAILED_TO_START = "RunsFailedToStart"  # queued runs StartExecution refused for good


def metric_namespace(pipeline_name: str) -> str:
    """One namespace per pipeline, under the one the janitor already publishes in."""
    return f"{contracts.METRIC_NAMESPACE}/{pipeline_name}"


def powertools_environment(pipeline_name: str) -> dict[str, str]:
    """The variables every function of `pipeline_name` gets. They are the same for every function of a pipeline,
    so one process can host them all (the rehearsal); each log line still names its function and logger."""
    return {ENV_SERVICE_NAME: pipeline_name, ENV_METRICS_NAMESPACE: metric_namespace(pipeline_name)}
