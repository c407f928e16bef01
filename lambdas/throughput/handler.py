"""Lambda handler for Provisioned Throughput: create it (no commitment), check it, delete it.

The throughput's name is the run spec's `resource_name` and its client request token comes from the `token_seed`,
so a retried `create` never buys a second one and `delete` finds it by name even when `create` timed out before
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

from pipeline_aws.bedrock import client_token, delete_throughput, tag_list
from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import ThroughputNotReady, is_code, transient_errors
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_core import contracts
from pipeline_core.names import RunNames

LOGGER = setup_logging("throughput")

__all__ = ["ThroughputNotReady", "handler"]


@dataclass(frozen=True)
class Run:
    """The fields of `$.run` this handler reads."""

    pipeline_name: str
    run_name: str
    execution_name: str
    model_units: int
    max_wait_minutes: float
    names: RunNames

    @classmethod
    def from_event(cls, run: Mapping[str, Any]) -> Run:
        throughput = run.get("throughput") or {}
        return cls(
            pipeline_name=str(run["pipeline_name"]),
            run_name=str(run["run_name"]),
            execution_name=str(run["execution_name"]),
            model_units=int(throughput.get("model_units", 1)),
            max_wait_minutes=float(throughput.get("max_wait_minutes", 60)),
            names=RunNames.from_run(run),
        )

    @property
    def throughput_name(self) -> str:
        return self.names.resource_name


@dataclass
class Throughput:
    """`$.throughput` (DESIGN.md)."""

    arn: str | None
    name: str
    status: str
    failure_message: str | None
    created_at: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def create(run: Run, job: Mapping[str, Any]) -> Throughput:
    created_at = _now().isoformat(timespec="seconds")
    tags = tag_list(
        {
            contracts.TAG_PIPELINE: run.pipeline_name,
            contracts.TAG_RUN: run.run_name,
            contracts.TAG_EXECUTION: run.execution_name,
            # The janitor deletes by creationTime; this tag lets a person see the age in the console too.
            contracts.TAG_CREATED_AT: created_at,
        }
    )
    with transient_errors():
        response = CLIENTS.bedrock.create_provisioned_model_throughput(
            modelUnits=run.model_units,
            provisionedModelName=run.throughput_name,
            modelId=str(job["custom_model_arn"]),
            clientRequestToken=client_token("throughput", run.names.token_seed),
            tags=tags,
        )
    result = Throughput(str(response["provisionedModelArn"]), run.throughput_name, "Creating", None, created_at)
    log(LOGGER, "throughput creating", **asdict(result))
    return result


def describe(run: Run, throughput: Mapping[str, Any]) -> Throughput:
    identifier = throughput.get("arn") or run.throughput_name
    with transient_errors():
        response = CLIENTS.bedrock.get_provisioned_model_throughput(provisionedModelId=identifier)
    created_at = throughput.get("created_at")
    if not created_at and isinstance(response.get("creationTime"), datetime):
        created_at = response["creationTime"].isoformat(timespec="seconds")
    result = Throughput(
        arn=str(response.get("provisionedModelArn", identifier)),
        name=str(response.get("provisionedModelName", run.throughput_name)),
        status=str(response["status"]),
        failure_message=response.get("failureMessage"),
        created_at=created_at,
    )
    log(LOGGER, "throughput status", **asdict(result))
    if result.status == "Creating" and created_at:
        waited = (_now() - datetime.fromisoformat(created_at)).total_seconds() / 60
        if waited > run.max_wait_minutes:
            raise ThroughputNotReady(
                f"Provisioned Throughput {result.name} is still Creating after {waited:.1f} minutes "
                f"(limit {run.max_wait_minutes:g})"
            )
    return result


def _serving(identifier: str, parameter_name: str) -> bool:
    """Whether the promotion record names this throughput: applications call it, so no cleanup may delete it.

    Promote writes the record and only then can fail (for example deleting the throughput it replaced); the
    workflow's cleanup after such a failure must not take down the model the record now points to.
    """
    try:
        with transient_errors():
            raw = CLIENTS.ssm.get_parameter(Name=parameter_name)["Parameter"]["Value"]
    except Exception as err:
        if is_code(err, "ParameterNotFound"):
            return False
        raise  # cannot tell: deleting could stop the production model, so let the workflow retry or report
    try:
        named = str(json.loads(raw).get("provisioned_model_arn") or "")
    except (ValueError, AttributeError):
        return False  # not written by this pipeline
    return bool(named) and (named == identifier or named.rsplit("/", 1)[-1] == identifier)


def delete(run: Run, throughput: Mapping[str, Any] | None) -> dict[str, Any]:
    identifier = str((throughput or {}).get("arn") or run.throughput_name)
    parameter_name = os.environ.get(contracts.ENV_PROMOTION_PARAMETER)
    if parameter_name and _serving(identifier, parameter_name):
        result = {"deleted": False, "reason": f"serving: {parameter_name} names it", "arn": identifier}
        log(LOGGER, "throughput kept", level=30, **result)
        return result
    result = delete_throughput(identifier)
    log(LOGGER, "throughput delete", **result)
    return result


def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    action = event["action"]
    run = Run.from_event(event["run"])
    bind(run=run.run_name, execution=run.execution_name, action=action)
    if action == "create":
        return asdict(create(run, event["job"]))
    if action == "describe":
        return asdict(describe(run, event.get("throughput") or {}))
    if action == "delete":
        return delete(run, event.get("throughput"))
    raise ValueError(f"unknown action {action!r}: expected create, describe or delete")
