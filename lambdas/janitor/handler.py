"""Scheduled Lambda handler that stops the pipeline from paying for what no run needs any more.

Deletes Provisioned Throughputs and on-demand custom model deployments tagged with this pipeline and not
approved that are older than the time-to-live or whose execution has ended (no-commitment throughput is billed
hourly until deleted; an idle deployment bills nothing but keeps an unapproved model invocable), stops
customization jobs whose workflow execution has ended, and publishes the number of leaked throughputs found as
a CloudWatch metric. It then looks up how many days the promoted model's base model and the configured base
model have before their end of life, and publishes those too. One failed delete or lookup does not stop the
rest; the handler raises at the end so the alarm on Lambda errors fires.

Nothing is deleted or stopped unless Bedrock's ListTagsForResource says it carries this pipeline's tag with this
pipeline's name; a resource whose tags cannot be read is left alone and counted as a failure. Nothing the promotion
parameter names is ever deleted here: the janitor reads the parameter only to look up the promoted model's lifecycle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline_aws.bedrock import delete_deployment, delete_throughput, tag_map
from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import is_code, transient_errors
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.observability import instrumented
from pipeline_aws.ssm import read_parameter
from pipeline_core import contracts
from pipeline_core.end_of_life import ModelLifecycle, foundation_model_id, is_end_of_life_message, within_warning

LOGGER = setup_logging("janitor")


# The lifecycle lookups run after the sweep and only with this much of the invocation left, so a slow Bedrock
# answer can never cost the sweep or the metrics the time it needs (the function's timeout is 5 minutes).
LIFECYCLE_RESERVE_SECONDS = 60
# A promoted model trained from another custom model names that model as its base; follow at most this many.
MAX_CUSTOM_MODEL_HOPS = 5


class JanitorIncomplete(RuntimeError):
    """Some overdue resource could not be cleaned up or some lifecycle could not be read; see the log lines."""


@dataclass(frozen=True)
class Environment:
    pipeline_name: str
    ttl: timedelta
    namespace: str
    state_machine_arn: str
    promotion_parameter: str
    base_model_id: str
    lifecycle_warning_days: int

    @classmethod
    def from_env(cls) -> Environment:
        return cls(
            pipeline_name=os.environ[contracts.ENV_PIPELINE_NAME],
            ttl=timedelta(hours=float(os.environ[contracts.ENV_TTL_HOURS])),
            namespace=os.environ.get(contracts.ENV_METRIC_NAMESPACE) or contracts.METRIC_NAMESPACE,
            state_machine_arn=os.environ[contracts.ENV_STATE_MACHINE_ARN],
            promotion_parameter=os.environ[contracts.ENV_PROMOTION_PARAMETER],
            base_model_id=os.environ[contracts.ENV_BASE_MODEL_ID],
            lifecycle_warning_days=int(os.environ[contracts.ENV_LIFECYCLE_WARNING_DAYS]),
        )

    def execution_arn(self, execution_name: str) -> str:
        """arn:...:stateMachine:<sm> -> arn:...:execution:<sm>:<name> (the documented ARN format)."""
        return self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + execution_name


@dataclass
class Sweep:
    deleted: list[str] = field(default_factory=list)
    deleted_deployments: list[str] = field(default_factory=list)
    stopped_jobs: list[str] = field(default_factory=list)
    overdue: int = 0
    failures: list[str] = field(default_factory=list)
    # Days to end of life by model role (contracts.MODEL_PROMOTED / MODEL_CONFIGURED); a role is absent when
    # nothing is promoted, when its lookup failed, or while Bedrock gives its base model no end-of-life date.
    days_to_end_of_life: dict[str, int] = field(default_factory=dict)

    def result(self) -> dict[str, Any]:
        return {
            "deleted": self.deleted,
            "deleted_deployments": self.deleted_deployments,
            "stopped_jobs": self.stopped_jobs,
            "overdue": self.overdue,
            "days_to_end_of_life": self.days_to_end_of_life,
        }


def _pages(operation: str, items: str, **kwargs: Any) -> Iterator[Mapping[str, Any]]:
    with transient_errors():
        for page in CLIENTS.bedrock.get_paginator(operation).paginate(**kwargs):
            yield from page.get(items, [])


def _tags(arn: str) -> dict[str, str]:
    with transient_errors():
        return tag_map(CLIENTS.bedrock.list_tags_for_resource(resourceARN=arn).get("tags", []))


def _ours(tags: Mapping[str, str], env: Environment) -> bool:
    return tags.get(contracts.TAG_PIPELINE) == env.pipeline_name


def _why_overdue(env: Environment, now: datetime, arn: str, created: object, tags: Mapping[str, str]) -> str | None:
    """Why our unapproved resource should go ("past its time-to-live" / "its execution has ended"), or None.

    An execution that ended (failed, timed out, stopped by hand) without deleting what it created has leaked it;
    waiting for the time-to-live would keep it for up to a day for nothing. A status that cannot be read proves
    nothing, so the resource is kept until its time-to-live.
    """
    if not _ours(tags, env) or tags.get(contracts.TAG_APPROVED) == "true":
        return None
    if isinstance(created, datetime) and now - created > env.ttl:
        return "past its time-to-live"
    execution = tags.get(contracts.TAG_EXECUTION)
    if not execution:
        return None
    try:
        running = _execution_running(env, execution)
    except Exception as err:  # cannot tell: leave it for the time-to-live rather than delete a live run's
        log(LOGGER, "execution status unknown", level=30, arn=arn, execution=execution, error=repr(err))
        return None
    return None if running else "its execution has ended"


def _overdue(
    env: Environment,
    now: datetime,
    sweep: Sweep,
    summaries: Iterable[Mapping[str, Any]],
    noun: str,
    arn_key: str,
    created_key: str,
) -> Iterator[tuple[Mapping[str, Any], str, Any, dict[str, str], str]]:
    """(summary, arn, creation time, tags, why) of each listed resource that is ours, unpromoted and overdue.

    One whose tags cannot be read is never deleted (whose it is cannot be told): it is recorded as a failure, and
    the others are still swept."""
    for summary in summaries:
        arn = str(summary[arn_key])
        created = summary.get(created_key)
        try:
            tags = _tags(arn)
        except Exception as err:
            sweep.failures.append(arn)
            log(LOGGER, f"{noun} tags unreadable", level=40, arn=arn, error=repr(err))
            continue
        why = _why_overdue(env, now, arn, created, tags)
        if why is not None:
            yield summary, arn, created, tags, why


def sweep_throughputs(env: Environment, now: datetime, sweep: Sweep) -> None:
    """Delete our unpromoted throughput that is past its time-to-live or whose execution has ended.

    Both count as overdue for the alarm: a throughput bills by the hour until it is deleted.
    """
    summaries = _pages("list_provisioned_model_throughputs", "provisionedModelSummaries")
    found = _overdue(env, now, sweep, summaries, "throughput", "provisionedModelArn", "creationTime")
    for _, arn, created, tags, why in found:
        sweep.overdue += 1
        try:
            result = delete_throughput(arn)
        except Exception as err:  # keep going: one stuck throughput must not keep the others billing
            sweep.failures.append(arn)
            log(LOGGER, "throughput delete failed", level=40, arn=arn, error=repr(err))
            continue
        if result["deleted"]:
            sweep.deleted.append(arn)
        log(
            LOGGER, "leaked throughput", why=why, created=created, execution=tags.get(contracts.TAG_EXECUTION), **result
        )


def sweep_deployments(env: Environment, now: datetime, sweep: Sweep) -> None:
    """Delete our unpromoted on-demand deployment that is past its time-to-live or whose execution has ended.

    An idle deployment bills nothing (on-demand inference is billed per token,
    https://docs.aws.amazon.com/bedrock/latest/userguide/deploy-custom-model-on-demand.html, read 2026-12-01), so
    it is not counted in the overdue-throughput metric; it is still deleted, because it keeps a model no review
    approved answering anyone allowed to invoke it.
    """
    try:
        summaries = list(_pages("list_custom_model_deployments", "modelDeploymentSummaries"))
    except Exception as err:  # the throughputs' sweep is done; the jobs' sweep and the metrics must still run
        sweep.failures.append("custom model deployments listing")
        log(LOGGER, "deployment listing failed", level=40, error=repr(err))
        return
    found = _overdue(env, now, sweep, summaries, "deployment", "customModelDeploymentArn", "createdAt")
    for summary, arn, created, tags, why in found:
        try:
            result = delete_deployment(arn)
        except Exception as err:  # ConflictException (still changing state) too: the next run tries again
            sweep.failures.append(arn)
            log(LOGGER, "deployment delete failed", level=40, arn=arn, error=repr(err))
            continue
        if result["deleted"]:
            sweep.deleted_deployments.append(arn)
        log(
            LOGGER,
            "leaked deployment",
            why=why,
            created=created,
            status=summary.get("status"),
            execution=tags.get(contracts.TAG_EXECUTION),
            **result,
        )


def _execution_running(env: Environment, execution_name: str) -> bool:
    try:
        with transient_errors():
            status = CLIENTS.sfn.describe_execution(executionArn=env.execution_arn(execution_name))["status"]
    except Exception as err:
        if is_code(err, "ExecutionDoesNotExist"):
            return False
        raise
    # PENDING_REDRIVE: a failed execution someone is redriving; it will run again and needs its throughput.
    # (DescribeExecution's status values, botocore stepfunctions model, read 2026-12-01.)
    return status in ("RUNNING", "PENDING_REDRIVE")


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


def promoted_base_model(env: Environment) -> str | None:
    """The foundation model the promoted custom model was trained from; None when nothing has been promoted."""
    raw = read_parameter(env.promotion_parameter)
    if raw is None:
        return None
    try:
        model_arn = str(json.loads(raw)["custom_model_arn"])
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"{env.promotion_parameter} does not hold the JSON Promote writes: {err!r}") from None
    for _ in range(MAX_CUSTOM_MODEL_HOPS):
        with transient_errors():
            base = str(CLIENTS.bedrock.get_custom_model(modelIdentifier=model_arn)["baseModelArn"])
        if ":custom-model/" not in base:
            return base
        model_arn = base
    raise ValueError(f"{env.promotion_parameter}: no foundation model within {MAX_CUSTOM_MODEL_HOPS} custom models")


def foundation_model_lifecycle(model_id: str) -> ModelLifecycle:
    try:
        with transient_errors():
            details = CLIENTS.bedrock.get_foundation_model(modelIdentifier=model_id)["modelDetails"]
    except Exception as err:
        message = str(getattr(err, "response", {}).get("Error", {}).get("Message", ""))
        if is_code(err, "ResourceNotFoundException") and is_end_of_life_message(message):
            return ModelLifecycle.ended(model_id)
        raise
    return ModelLifecycle.from_details(model_id, details)


def check_end_of_life(env: Environment, now: datetime, sweep: Sweep) -> None:
    """Days to end of life of the promoted model's base model and of the configured one, one lookup per model."""
    roles = {contracts.MODEL_CONFIGURED: foundation_model_id(env.base_model_id)}
    try:
        promoted = promoted_base_model(env)
        if promoted:
            roles[contracts.MODEL_PROMOTED] = foundation_model_id(promoted)
    except Exception as err:  # the configured model is still checked; the error fails the invocation at the end
        sweep.failures.append(f"lifecycle of the promoted model ({env.promotion_parameter})")
        log(LOGGER, "promoted model lookup failed", level=40, parameter=env.promotion_parameter, error=repr(err))
    lifecycles: dict[str, ModelLifecycle] = {}
    for model_id in sorted(set(roles.values())):
        try:
            lifecycles[model_id] = foundation_model_lifecycle(model_id)
        except Exception as err:
            sweep.failures.append(f"lifecycle of {model_id}")
            log(LOGGER, "model lifecycle lookup failed", level=40, model_id=model_id, error=repr(err))
    for role, model_id in sorted(roles.items()):
        lifecycle = lifecycles.get(model_id)
        if lifecycle is None:
            continue
        days = lifecycle.days_left(now)
        warn = within_warning(days, env.lifecycle_warning_days)
        log(
            LOGGER,
            "base model nearing end of life" if warn else "base model lifecycle",
            level=30 if warn else 20,
            model=role,
            model_id=model_id,
            status=lifecycle.status,
            end_of_life=lifecycle.end_of_life,
            days_to_end_of_life=days,
            warning_days=env.lifecycle_warning_days,
        )
        if days is not None:
            sweep.days_to_end_of_life[role] = days


def _remaining_seconds(context: object) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000 if callable(remaining) else float("inf")


def publish(env: Environment, sweep: Sweep) -> None:
    pipeline = {"Name": "Pipeline", "Value": env.pipeline_name}
    data: list[dict[str, Any]] = [
        {
            "MetricName": contracts.METRIC_OVERDUE_THROUGHPUTS,
            "Dimensions": [pipeline],
            "Value": sweep.overdue,
            "Unit": "Count",
        }
    ]
    data += [
        {
            "MetricName": contracts.METRIC_DAYS_TO_END_OF_LIFE,
            "Dimensions": [pipeline, {"Name": contracts.DIMENSION_MODEL, "Value": role}],
            "Value": days,
            "Unit": "None",
        }
        for role, days in sorted(sweep.days_to_end_of_life.items())
    ]
    with transient_errors():
        CLIENTS.cloudwatch.put_metric_data(Namespace=env.namespace, MetricData=data)


@instrumented
def handler(event: Mapping[str, Any] | None = None, context: object = None) -> dict[str, Any]:
    env = Environment.from_env()
    bind(pipeline=env.pipeline_name)
    sweep = Sweep()
    sweep_throughputs(env, datetime.now(UTC), sweep)
    sweep_deployments(env, datetime.now(UTC), sweep)
    sweep_jobs(env, sweep)
    if _remaining_seconds(context) >= LIFECYCLE_RESERVE_SECONDS:
        check_end_of_life(env, datetime.now(UTC), sweep)
    else:
        sweep.failures.append("lifecycle lookups (no time left after the sweep)")
        log(LOGGER, "lifecycle lookups skipped", level=40, remaining_seconds=_remaining_seconds(context))
    publish(env, sweep)
    log(LOGGER, "janitor finished", failures=sweep.failures, **sweep.result())
    if sweep.failures:
        raise JanitorIncomplete(f"{len(sweep.failures)} janitor task(s) failed: {', '.join(sweep.failures)}")
    return sweep.result()
