"""Scheduled Lambda handler that stops the pipeline from paying for what no run needs any more.

Deletes Provisioned Throughputs tagged with this pipeline and not approved that are older than the
time-to-live or whose execution has ended (no-commitment throughput is billed hourly until deleted), stops
customization jobs whose workflow execution has ended, and publishes the number of leaked throughputs found as
a CloudWatch metric. One failed delete does not stop the others; the handler raises at the end so the alarm on
Lambda errors fires.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline_aws.bedrock import delete_throughput, tag_map
from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import is_code, transient_errors
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_core import contracts

LOGGER = setup_logging("janitor")


class JanitorIncomplete(RuntimeError):
    """Some overdue resource could not be cleaned up; the details are in the log lines before this error."""


@dataclass(frozen=True)
class Environment:
    pipeline_name: str
    ttl: timedelta
    namespace: str
    state_machine_arn: str

    @classmethod
    def from_env(cls) -> Environment:
        return cls(
            pipeline_name=os.environ[contracts.ENV_PIPELINE_NAME],
            ttl=timedelta(hours=float(os.environ[contracts.ENV_TTL_HOURS])),
            namespace=os.environ.get(contracts.ENV_METRIC_NAMESPACE) or contracts.METRIC_NAMESPACE,
            state_machine_arn=os.environ[contracts.ENV_STATE_MACHINE_ARN],
        )

    def execution_arn(self, execution_name: str) -> str:
        """arn:...:stateMachine:<sm> -> arn:...:execution:<sm>:<name> (the documented ARN format)."""
        return self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + execution_name


@dataclass
class Sweep:
    deleted: list[str] = field(default_factory=list)
    stopped_jobs: list[str] = field(default_factory=list)
    overdue: int = 0
    failures: list[str] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        return {"deleted": self.deleted, "stopped_jobs": self.stopped_jobs, "overdue": self.overdue}


def _pages(operation: str, items: str, **kwargs: Any) -> Iterator[Mapping[str, Any]]:
    with transient_errors():
        for page in CLIENTS.bedrock.get_paginator(operation).paginate(**kwargs):
            yield from page.get(items, [])


def _tags(arn: str) -> dict[str, str]:
    with transient_errors():
        return tag_map(CLIENTS.bedrock.list_tags_for_resource(resourceARN=arn).get("tags", []))


def _ours(tags: Mapping[str, str], env: Environment) -> bool:
    return tags.get(contracts.TAG_PIPELINE) == env.pipeline_name


def sweep_throughputs(env: Environment, now: datetime, sweep: Sweep) -> None:
    """Delete our unpromoted throughput that is past its time-to-live or whose execution has ended.

    An execution that ended (failed, timed out, stopped by hand) without deleting its throughput has leaked it;
    waiting for the time-to-live would bill up to a day for nothing. Both count as overdue for the alarm.
    """
    for summary in _pages("list_provisioned_model_throughputs", "provisionedModelSummaries"):
        arn = str(summary["provisionedModelArn"])
        created = summary.get("creationTime")
        tags = _tags(arn)
        if not _ours(tags, env) or tags.get(contracts.TAG_APPROVED) == "true":
            continue
        execution = tags.get(contracts.TAG_EXECUTION)
        past_ttl = isinstance(created, datetime) and now - created > env.ttl
        try:
            orphaned = not past_ttl and bool(execution) and not _execution_running(env, str(execution))
        except Exception as err:  # cannot tell: leave it for the time-to-live rather than delete a live run's
            log(LOGGER, "execution status unknown", level=30, arn=arn, execution=execution, error=repr(err))
            orphaned = False
        if not (past_ttl or orphaned):
            continue
        sweep.overdue += 1
        try:
            result = delete_throughput(arn)
        except Exception as err:  # keep going: one stuck throughput must not keep the others billing
            sweep.failures.append(arn)
            log(LOGGER, "throughput delete failed", level=40, arn=arn, error=repr(err))
            continue
        if result["deleted"]:
            sweep.deleted.append(arn)
        why = "past its time-to-live" if past_ttl else "its execution has ended"
        log(LOGGER, "leaked throughput", why=why, created=created, execution=execution, **result)


def _execution_running(env: Environment, execution_name: str) -> bool:
    try:
        with transient_errors():
            status = CLIENTS.sfn.describe_execution(executionArn=env.execution_arn(execution_name))["status"]
    except Exception as err:
        if is_code(err, "ExecutionDoesNotExist"):
            return False
        raise
    return bool(status == "RUNNING")


def sweep_jobs(env: Environment, sweep: Sweep) -> None:
    for summary in _pages("list_model_customization_jobs", "modelCustomizationJobSummaries", statusEquals="InProgress"):
        arn = str(summary["jobArn"])
        try:
            tags = _tags(arn)
            execution = tags.get(contracts.TAG_EXECUTION)
            if not _ours(tags, env) or not execution or _execution_running(env, execution):
                continue
            with transient_errors():
                CLIENTS.bedrock.stop_model_customization_job(jobIdentifier=arn)
        except Exception as err:
            if is_code(err, "ValidationException", "ResourceNotFoundException"):
                continue  # finished between the listing and the stop
            sweep.failures.append(arn)
            log(LOGGER, "job stop failed", level=40, job_arn=arn, error=repr(err))
            continue
        sweep.stopped_jobs.append(arn)
        log(LOGGER, "orphaned training job stopped", job_arn=arn, execution=execution)


def publish(env: Environment, overdue: int) -> None:
    with transient_errors():
        CLIENTS.cloudwatch.put_metric_data(
            Namespace=env.namespace,
            MetricData=[
                {
                    "MetricName": contracts.METRIC_OVERDUE_THROUGHPUTS,
                    "Dimensions": [{"Name": "Pipeline", "Value": env.pipeline_name}],
                    "Value": overdue,
                    "Unit": "Count",
                }
            ],
        )


def handler(event: Mapping[str, Any] | None = None, context: object = None) -> dict[str, Any]:
    env = Environment.from_env()
    bind(pipeline=env.pipeline_name)
    sweep = Sweep()
    sweep_throughputs(env, datetime.now(UTC), sweep)
    sweep_jobs(env, sweep)
    publish(env, sweep.overdue)
    log(LOGGER, "janitor finished", failures=sweep.failures, **sweep.result())
    if sweep.failures:
        raise JanitorIncomplete(f"could not clean up {len(sweep.failures)} resource(s): {', '.join(sweep.failures)}")
    return sweep.result()
