"""The operations dashboard: how runs end, how long each stage takes, the admission queue and the quota waits,
evaluation load on Bedrock, idle throughput, and how many days the base models have before their end of life.

The alarms live in the pipeline stack; this construct only draws the metrics an operator reads when one fires
or while a run is in flight. Metrics: Step Functions (docs.aws.amazon.com/step-functions/latest/dg/
procedure-cw-metrics.html), Lambda (docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html),
Bedrock runtime (docs.aws.amazon.com/bedrock/latest/userguide/monitoring.html#runtime-cloudwatch-metrics), and the
handlers' own metrics in embedded metric format (pipeline_core.telemetry: one namespace per pipeline, dimension
`service` = the pipeline's name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from pipeline_core import contracts, telemetry

BEDROCK_NAMESPACE = "AWS/Bedrock"
WIDTH = 24  # a dashboard row is 24 units wide


@dataclass(frozen=True)
class DashboardProps:
    """What the dashboard draws; the stack passes the constructs it already holds."""

    pipeline_name: str
    state_machine: sfn.IStateMachine
    evaluate: lambda_.IFunction
    trigger: lambda_.IFunction
    janitor: lambda_.IFunction
    # Days to end of life at which the alarms fire (settings lifecycleWarningDays), drawn as a line.
    lifecycle_warning_days: int
    # Every stage's function by the label the dashboard shows (durations per stage); defaults to the three above.
    stage_functions: Mapping[str, lambda_.IFunction] = field(default_factory=dict)
    metric_namespace: str = contracts.METRIC_NAMESPACE
    period: Duration = field(default_factory=lambda: Duration.minutes(5))


class PipelineDashboard(Construct):
    """A CloudWatch dashboard named ``<pipeline>-pipeline`` with one row per question an operator asks."""

    def __init__(self, scope: Construct, construct_id: str, *, props: DashboardProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        period = props.period
        sm = props.state_machine
        stages = dict(props.stage_functions) or {
            "trigger": props.trigger,
            "evaluate": props.evaluate,
            "janitor": props.janitor,
        }

        outcomes = cloudwatch.GraphWidget(
            title="Executions by outcome",
            left=[
                sm.metric_started(period=period, statistic="Sum", label="started"),
                sm.metric_succeeded(period=period, statistic="Sum", label="succeeded (promoted)"),
                sm.metric_failed(period=period, statistic="Sum", label="failed or rejected"),
                sm.metric_timed_out(period=period, statistic="Sum", label="timed out"),
                sm.metric_aborted(period=period, statistic="Sum", label="aborted"),
            ],
            width=12,
        )
        execution_time = cloudwatch.GraphWidget(
            title="Execution time",
            left=[
                sm.metric_time(period=period, statistic="Average", label="average"),
                sm.metric_time(period=period, statistic="Maximum", label="maximum"),
            ],
            width=12,
        )
        stage_durations = cloudwatch.GraphWidget(
            title="Stage durations (Lambda, p90)",
            left=[
                fn.metric_duration(period=period, statistic="p90", label=label) for label, fn in sorted(stages.items())
            ],
            width=12,
        )
        stage_errors = cloudwatch.GraphWidget(
            title="Stage errors and throttles (Lambda)",
            left=[
                fn.metric_errors(period=period, statistic="Sum", label=f"{label} errors")
                for label, fn in sorted(stages.items())
            ],
            right=[
                fn.metric_throttles(period=period, statistic="Sum", label=f"{label} throttles")
                for label, fn in sorted(stages.items())
            ],
            width=12,
        )
        evaluate = props.evaluate
        evaluation = cloudwatch.GraphWidget(
            title="Evaluation batches (evaluate function)",
            left=[
                evaluate.metric_invocations(period=period, statistic="Sum", label="invocations"),
                evaluate.metric_errors(period=period, statistic="Sum", label="errors"),
            ],
            right=[evaluate.metric_duration(period=period, statistic="Average", label="duration (avg)")],
            width=8,
        )
        # Every model evaluation calls (base, references, and the candidate's Provisioned Throughput, whose ARN
        # is only known at run time) shows up as its own line through a search over the ModelId dimension.
        bedrock_load = cloudwatch.GraphWidget(
            title="Bedrock invocations (left) and throttles (right) by model",
            left=[self._bedrock("Invocations", "Sum")],
            right=[self._bedrock("InvocationThrottles", "Sum")],
            width=8,
        )
        bedrock_latency = cloudwatch.GraphWidget(
            title="Bedrock invocation latency by model (p90, ms)",
            left=[self._bedrock("InvocationLatency", "p90")],
            width=8,
        )
        overdue = cloudwatch.Metric(
            namespace=props.metric_namespace,
            metric_name=contracts.METRIC_OVERDUE_THROUGHPUTS,
            dimensions_map={"Pipeline": props.pipeline_name},
            period=Duration.hours(1),
            statistic="Maximum",
            label="overdue Provisioned Throughput",
        )
        throughput = cloudwatch.GraphWidget(
            title="Provisioned Throughput past its time-to-live (janitor)",
            left=[overdue],
            right=[props.janitor.metric_errors(period=Duration.hours(1), statistic="Sum", label="janitor errors")],
            width=16,
        )
        overdue_now = cloudwatch.SingleValueWidget(
            title="Overdue throughput now", metrics=[overdue], width=8, set_period_to_time_range=False
        )
        # The janitor publishes nothing for a model without an end-of-life date, so an empty graph means no
        # announced end of life.
        end_of_life = [
            cloudwatch.Metric(
                namespace=props.metric_namespace,
                metric_name=contracts.METRIC_DAYS_TO_END_OF_LIFE,
                dimensions_map={"Pipeline": props.pipeline_name, contracts.DIMENSION_MODEL: role},
                period=Duration.hours(1),
                statistic="Minimum",
                label=label,
            )
            for role, label in (
                (contracts.MODEL_PROMOTED, "promoted model's base model"),
                (contracts.MODEL_CONFIGURED, "configured base model"),
            )
        ]
        days_to_end_of_life = cloudwatch.GraphWidget(
            title="Days to end of life of the base models (janitor; empty: no end-of-life date announced)",
            left=end_of_life,
            left_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
            left_annotations=[
                cloudwatch.HorizontalAnnotation(
                    value=props.lifecycle_warning_days,
                    label=f"alarm at {props.lifecycle_warning_days} days",
                    color=cloudwatch.Color.RED,
                    fill=cloudwatch.Shading.BELOW,
                )
            ],
            width=16,
        )
        days_now = cloudwatch.SingleValueWidget(
            title="Days to end of life now", metrics=end_of_life, width=8, set_period_to_time_range=False
        )

        queue, queue_now = self._queue_widgets()

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{props.pipeline_name}-pipeline",
            default_interval=Duration.days(7),
            widgets=[
                [self._title(f"# {props.pipeline_name} fine-tuning pipeline")],
                [outcomes, execution_time],
                [stage_durations, stage_errors],
                [queue, queue_now],
                [evaluation, bedrock_load, bedrock_latency],
                [throughput, overdue_now],
                [days_to_end_of_life, days_now],
            ],
        )

    def _handler_metric(self, name: str, statistic: str, label: str) -> cloudwatch.Metric:
        """One of the handlers' EMF metrics (pipeline_aws.metrics)."""
        return cloudwatch.Metric(
            namespace=telemetry.metric_namespace(self.props.pipeline_name),
            metric_name=name,
            dimensions_map={telemetry.DIMENSION_SERVICE: self.props.pipeline_name},
            period=self.props.period,
            statistic=statistic,
            label=label,
        )

    def _queue_widgets(self) -> tuple[cloudwatch.GraphWidget, cloudwatch.SingleValueWidget]:
        """Runs waiting and admitted, and what the quotas hold back: creating calls refused by a quota (the
        workflow waits, then retries) and evaluation calls Bedrock throttled."""
        depth = self._handler_metric(telemetry.METRIC_QUEUE_DEPTH, "Maximum", "queue depth (max)")
        graph = cloudwatch.GraphWidget(
            title="Admission queue (left) and quota waits and throttles (right)",
            left=[
                depth,
                self._handler_metric(telemetry.METRIC_RUNS_ADMITTED, "Sum", "runs admitted"),
            ],
            right=[
                self._handler_metric(telemetry.METRIC_QUOTA_WAITS, "Sum", "quota waits (training, throughput)"),
                self._handler_metric(telemetry.METRIC_EVALUATION_THROTTLES, "Sum", "evaluation calls throttled"),
                self._handler_metric(telemetry.METRIC_EVALUATION_CALLS, "Sum", "evaluation calls"),
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
            right_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
            width=16,
        )
        now = cloudwatch.SingleValueWidget(
            title="Runs waiting now", metrics=[depth], width=8, set_period_to_time_range=False
        )
        return graph, now

    @staticmethod
    def _title(markdown: str) -> cloudwatch.TextWidget:
        return cloudwatch.TextWidget(markdown=markdown, width=WIDTH, height=1)

    def _bedrock(self, metric_name: str, statistic: str) -> cloudwatch.MathExpression:
        seconds = int(self.props.period.to_seconds())
        search = f'{{{BEDROCK_NAMESPACE},ModelId}} MetricName="{metric_name}"'
        return cloudwatch.MathExpression(
            expression=f"SEARCH('{search}', '{statistic}', {seconds})",
            using_metrics={},
            label=metric_name,
            period=self.props.period,
        )
