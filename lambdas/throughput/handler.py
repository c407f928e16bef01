"""Lambda handler for what serves the candidate: Provisioned Throughput or an on-demand custom model deployment.

`create` buys no-commitment Provisioned Throughput, `deploy` creates a custom model deployment; `describe` and
`delete` act on whichever kind `$.throughput.kind` names (an old `$.throughput` without it is Provisioned
Throughput; an empty one, when `create` or `deploy` never returned, is the kind the run spec's serving mode names).

Either is named by the run spec's `resource_name` and created with a client request token from its `token_seed`,
so a retried state never creates a second one and `delete` finds it by name even when the create timed out before
returning its ARN (DESIGN.md, "Idempotency"). Leaving out commitmentDuration buys no-commitment, hourly-billed
throughput (botocore bedrock model: CreateProvisionedModelThroughput.commitmentDuration is optional).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline_aws.bedrock import client_token, delete_serving, serving_kind, tag_list
from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import DeploymentNotReady, ThroughputNotReady, quota_errors, transient_errors
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.observability import instrumented
from pipeline_aws.ssm import read_parameter
from pipeline_core import contracts
from pipeline_core.names import RunNames

LOGGER = setup_logging("throughput")

__all__ = ["DeploymentNotReady", "ThroughputNotReady", "handler"]

KINDS = (contracts.SERVING_PROVISIONED, contracts.SERVING_ON_DEMAND)


@dataclass(frozen=True)
class Run:
    """The fields of `$.run` this handler reads."""

    pipeline_name: str
    run_name: str
    execution_name: str
    model_units: int
    max_wait_minutes: float
    names: RunNames
    # A run spec resolved before on-demand serving existed has no `serving`: Provisioned Throughput.
    serving_mode: str = contracts.SERVING_PROVISIONED
    deployment_wait_minutes: float = 60

    @classmethod
    def from_event(cls, run: Mapping[str, Any]) -> Run:
        throughput = run.get("throughput") or {}
        serving = run.get("serving") or {}
        max_wait = float(throughput.get("max_wait_minutes", 60))
        return cls(
            pipeline_name=str(run["pipeline_name"]),
            run_name=str(run["run_name"]),
            execution_name=str(run["execution_name"]),
            model_units=int(throughput.get("model_units", 1)),
            max_wait_minutes=max_wait,
            names=RunNames.from_run(run),
            serving_mode=str(serving.get("mode") or contracts.SERVING_PROVISIONED),
            deployment_wait_minutes=float(serving.get("max_wait_minutes") or max_wait),
        )

    @property
    def throughput_name(self) -> str:
        return self.names.resource_name


@dataclass
class Throughput:
    """`$.throughput` (DESIGN.md): whichever kind serves the candidate."""

    kind: str
    arn: str | None
    name: str
    status: str
    failure_message: str | None
    created_at: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def kind_of(run: Run, throughput: Mapping[str, Any] | None) -> str:
    """The kind `$.throughput` names; without one, its ARN's kind, and without an ARN the run's serving mode."""
    throughput = throughput or {}
    kind = str(throughput.get("kind") or "")
    if not kind:
        arn = throughput.get("arn")
        kind = serving_kind(arn) if arn else run.serving_mode
    if kind not in KINDS:
        raise ValueError(f"unknown serving kind {kind!r}: expected {' or '.join(KINDS)}")
    return kind


def _tags(run: Run, created_at: str) -> list[dict[str, str]]:
    return tag_list(
        {
            contracts.TAG_PIPELINE: run.pipeline_name,
            contracts.TAG_RUN: run.run_name,
            contracts.TAG_EXECUTION: run.execution_name,
            # The janitor deletes by creationTime; this tag lets a person see the age in the console too.
            contracts.TAG_CREATED_AT: created_at,
        }
    )


def _waited_minutes(created_at: str) -> float:
    return (_now() - datetime.fromisoformat(created_at)).total_seconds() / 60


def create(run: Run, job: Mapping[str, Any]) -> Throughput:
    created_at = _now().isoformat(timespec="seconds")
    tags = _tags(run, created_at)
    with quota_errors("CreateProvisionedModelThroughput"):  # model units in use elsewhere: waited out
        response = CLIENTS.bedrock.create_provisioned_model_throughput(
            modelUnits=run.model_units,
            provisionedModelName=run.throughput_name,
            modelId=str(job["custom_model_arn"]),
            clientRequestToken=client_token("throughput", run.names.token_seed),
            tags=tags,
        )
    result = Throughput(
        contracts.SERVING_PROVISIONED,
        str(response["provisionedModelArn"]),
        run.throughput_name,
        "Creating",
        None,
        created_at,
    )
    log(LOGGER, "throughput creating", **asdict(result))
    return result


def deploy(run: Run, job: Mapping[str, Any]) -> Throughput:
    """Create the custom model deployment that serves the candidate on demand (billed per token, not by the hour)."""
    created_at = _now().isoformat(timespec="seconds")
    with quota_errors("CreateCustomModelDeployment"):
        response = CLIENTS.bedrock.create_custom_model_deployment(
            modelDeploymentName=run.throughput_name,
            modelArn=str(job["custom_model_arn"]),
            description=f"Candidate of fine-tuning run {run.run_name}, execution {run.execution_name}",
            clientRequestToken=client_token("deployment", run.names.token_seed),
            tags=_tags(run, created_at),
        )
    result = Throughput(
        contracts.SERVING_ON_DEMAND,
        str(response["customModelDeploymentArn"]),
        run.throughput_name,
        "Creating",
        None,
        created_at,
    )
    log(LOGGER, "deployment creating", **asdict(result))
    return result


def describe(run: Run, throughput: Mapping[str, Any]) -> Throughput:
    """The throughput's status (Creating, InService, Failed, ...); still Creating past the run's bound is an error,
    so the workflow deletes it and says which one in the notification."""
    if kind_of(run, throughput) == contracts.SERVING_ON_DEMAND:
        return describe_deployment(run, throughput)
    identifier = throughput.get("arn") or run.throughput_name
    with transient_errors():
        response = CLIENTS.bedrock.get_provisioned_model_throughput(provisionedModelId=identifier)
    result = _described(
        run,
        throughput,
        response,
        kind=contracts.SERVING_PROVISIONED,
        identifier=identifier,
        fields=("provisionedModelArn", "provisionedModelName", "creationTime"),
    )
    log(LOGGER, "throughput status", **asdict(result))
    waited = _still_creating_for(result, run.max_wait_minutes)
    if waited is not None:
        raise ThroughputNotReady(
            f"Provisioned Throughput {result.name} is still Creating after {waited:.1f} minutes "
            f"(limit {run.max_wait_minutes:g})"
        )
    return result


def describe_deployment(run: Run, throughput: Mapping[str, Any]) -> Throughput:
    """The deployment's status (Creating, Active or Failed); still Creating past the run's bound is an error, so
    the workflow deletes it and says which one in the notification."""
    identifier = throughput.get("arn") or run.throughput_name
    with transient_errors():
        response = CLIENTS.bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=identifier)
    result = _described(
        run,
        throughput,
        response,
        kind=contracts.SERVING_ON_DEMAND,
        identifier=identifier,
        fields=("customModelDeploymentArn", "modelDeploymentName", "createdAt"),
    )
    log(LOGGER, "deployment status", **asdict(result))
    waited = _still_creating_for(result, run.deployment_wait_minutes)
    if waited is not None:
        raise DeploymentNotReady(
            f"Custom model deployment {result.name} ({result.arn}) is still Creating after {waited:.1f} minutes "
            f"(limit {run.deployment_wait_minutes:g})"
        )
    return result


def _described(
    run: Run,
    throughput: Mapping[str, Any],
    response: Mapping[str, Any],
    *,
    kind: str,
    identifier: str,
    fields: tuple[str, str, str],
) -> Throughput:
    """A Get response as the workflow's $.throughput; `fields` are the response's ARN, name and creation-time keys
    (the two Get calls name them differently). The creation time the state already holds is kept."""
    arn_key, name_key, created_key = fields
    created_at = throughput.get("created_at")
    if not created_at and isinstance(response.get(created_key), datetime):
        created_at = response[created_key].isoformat(timespec="seconds")
    return Throughput(
        kind=kind,
        arn=str(response.get(arn_key, identifier)),
        name=str(response.get(name_key, run.throughput_name)),
        status=str(response["status"]),
        failure_message=response.get("failureMessage"),
        created_at=created_at,
    )


def _still_creating_for(result: Throughput, limit_minutes: float) -> float | None:
    """Minutes it has been Creating if that is past `limit_minutes`, else None."""
    if result.status != "Creating" or not result.created_at:
        return None
    waited = _waited_minutes(result.created_at)
    return waited if waited > limit_minutes else None


def _named(identifier: str, arn: str) -> bool:
    return bool(arn) and (arn == identifier or arn.rsplit("/", 1)[-1] == identifier)


def _serving(identifier: str, parameter_name: str) -> bool:
    """Whether the promotion record names this throughput or deployment: applications call it, so no cleanup may
    delete it.

    Promote writes the record and only then can fail (for example deleting the throughput it replaced); the
    workflow's cleanup after such a failure must not take down the model the record now points to. The record names
    it as `invoke_model_id` (either kind) or, for Provisioned Throughput, `provisioned_model_arn`.
    """
    # An unreadable record raises (cannot tell: deleting could stop the production model, so let the workflow
    # retry or report).
    raw = read_parameter(parameter_name)
    if raw is None:
        return False
    try:
        record = json.loads(raw)
        named = [str(record.get(key) or "") for key in ("invoke_model_id", "provisioned_model_arn")]
    except (ValueError, AttributeError):
        return False  # not written by this pipeline
    return any(_named(identifier, arn) for arn in named)


def delete(run: Run, throughput: Mapping[str, Any] | None) -> dict[str, Any]:
    kind = kind_of(run, throughput)
    identifier = str((throughput or {}).get("arn") or run.throughput_name)
    parameter_name = os.environ.get(contracts.ENV_PROMOTION_PARAMETER)
    if parameter_name and _serving(identifier, parameter_name):
        kept: dict[str, Any] = {"deleted": False, "reason": f"serving: {parameter_name} names it", "arn": identifier}
        log(LOGGER, "throughput kept", level=30, kind=kind, **kept)
        return kept
    result = delete_serving(kind, identifier)
    log(LOGGER, "throughput delete", kind=kind, **result)
    return result


@instrumented
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    action = event["action"]
    run = Run.from_event(event["run"])
    bind(run=run.run_name, execution=run.execution_name, action=action)
    if action == "create":
        return asdict(create(run, event["job"]))
    if action == "deploy":
        return asdict(deploy(run, event["job"]))
    if action == "describe":
        return asdict(describe(run, event.get("throughput") or {}))
    if action == "delete":
        return delete(run, event.get("throughput"))
    raise ValueError(f"unknown action {action!r}: expected create, deploy, describe or delete")
