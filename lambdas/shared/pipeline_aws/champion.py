"""The champion: the model in production when a run starts, as the promotion record names it, and whether it is served.

`Resolve run` records what it finds in the run spec (`run.evaluation.champion`), so every later state of the run
compares with the same model: Evaluate asks it when it is served, Aggregate puts it in the report and the gate
requires the candidate to beat it (pipeline_core.metrics.gate). The record is read once, here; a record that no
longer names anything served is a champion the gate cannot compare with, and the report says so.

What counts as "no champion": no parameter, the placeholder the stack creates it with (pipeline_aws.ssm), or a value
this pipeline did not write. A lookup Bedrock refuses for any other reason than "not found" (AccessDenied, a
validation error) raises ChampionLookupFailed: comparing with base only because a permission is missing would
quietly weaken the gate. Throttling and 5xx raise TransientServiceError, which the workflow retries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from pipeline_aws.bedrock import serving_kind
from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import error_code, is_code, transient_errors
from pipeline_aws.ssm import read_parameter
from pipeline_core import contracts

# The status in which each kind answers InvokeModel: GetProvisionedModelThroughput's `status` (Creating | InService |
# Updating | Failed) and GetCustomModelDeployment's (Creating | Active | Failed), botocore bedrock service model,
# read 2026-12-01. Updating still serves: "While a Provisioned Throughput is updating, you can run inference using
# the Provisioned Throughput" (docs.aws.amazon.com/bedrock/latest/userguide/prov-thru-edit.html, read 2026-12-01).
SERVED_STATUSES = {
    contracts.SERVING_PROVISIONED: frozenset({"InService", "Updating"}),
    contracts.SERVING_ON_DEMAND: frozenset({"Active"}),
}


class ChampionLookupFailed(Exception):
    """Bedrock refused to say whether the promoted model is still served (not a passing error): the run stops with
    this one line rather than judge its candidate against base only."""


def _record(raw: str | None) -> dict[str, Any] | None:
    """The promotion record when this pipeline wrote it (a JSON object naming a custom model), else None."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("custom_model_arn"), str):
        return None
    return value


def champion_entry(record: Mapping[str, Any], status: str | None, *, on_demand_allowed: bool = True) -> dict[str, Any]:
    """`run.evaluation.champion` from a promotion record and what Bedrock says of what serves it.

    `status` is None when there is nothing to ask about (no invoke id) or Bedrock no longer knows it.
    """
    model_id = record.get("invoke_model_id") or record.get("provisioned_model_arn") or None
    kind = str(record.get("serving_kind") or serving_kind(model_id))
    run_name = record.get("run_name")
    promoted = f"the champion (run {run_name}, promoted {record.get('promoted_at') or 'earlier'})"
    entry: dict[str, Any] = {
        "model_id": model_id,
        "kind": kind,
        "run_name": None if run_name is None else str(run_name),
        "served": False,
    }
    if not model_id:
        entry["note"] = f"{promoted} was promoted without keeping what served it, so nothing serves it to compare with"
    elif kind == contracts.SERVING_ON_DEMAND and not on_demand_allowed:
        entry["note"] = f"{promoted} is served on demand, which this stack may no longer invoke"
    elif status is None:
        entry["note"] = f"{promoted} is no longer served: {model_id} does not exist any more"
    elif status not in SERVED_STATUSES.get(kind, frozenset()):
        entry["note"] = f"{promoted} is not served: {model_id} is {status}"
    else:
        entry["served"] = True
        entry["note"] = f"{promoted} is served by {model_id} ({status})"
    return entry


def _status(kind: str, model_id: str) -> str | None:
    """What serves the champion is in this state; None when Bedrock does not know it."""
    try:
        with transient_errors():
            if kind == contracts.SERVING_ON_DEMAND:
                response = CLIENTS.bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=model_id)
            else:
                response = CLIENTS.bedrock.get_provisioned_model_throughput(provisionedModelId=model_id)
    except ClientError as err:
        if is_code(err, "ResourceNotFoundException"):
            return None
        message = err.response.get("Error", {}).get("Message", "")
        raise ChampionLookupFailed(
            f"cannot tell whether the promoted model {model_id} is still served ({error_code(err)}: {message}); "
            "the candidate is not judged without it"
        ) from err
    return str(response.get("status") or "UNKNOWN")


def find_champion(parameter_name: str, *, on_demand_allowed: bool = True) -> dict[str, Any] | None:
    """`run.evaluation.champion`: {model_id, kind, run_name, served, note}, or None when nothing was promoted."""
    record = _record(read_parameter(parameter_name))
    if record is None:
        return None
    model_id = record.get("invoke_model_id") or record.get("provisioned_model_arn") or None
    kind = str(record.get("serving_kind") or serving_kind(model_id))
    status = None
    if isinstance(model_id, str) and model_id and (kind != contracts.SERVING_ON_DEMAND or on_demand_allowed):
        status = _status(kind, model_id)
    return champion_entry(record, status, on_demand_allowed=on_demand_allowed)
