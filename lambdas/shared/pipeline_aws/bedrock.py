"""Bedrock helpers shared by handlers: resource names, idempotency tokens, tags, deleting what serves a candidate.

Names and tokens come from the run spec's `resource_name` and `token_seed` (pipeline_core.names), so a retried
state finds or re-uses what the first attempt created instead of paying twice, and a later execution that reuses
an execution name never meets the first one's resources (DESIGN.md, "Idempotency").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import TransientServiceError, is_code, transient_errors
from pipeline_core import contracts
from pipeline_core.names import bedrock_name


def resource_name(text: str) -> str:
    """A Bedrock resource name from `text`: valid as a job, custom model and throughput name alike.

    Keeps the trailing digest when it must shorten, so distinct executions keep distinct names.
    """
    return bedrock_name(text)


def client_token(purpose: str, seed: str) -> str:
    """A deterministic clientRequestToken ([a-zA-Z0-9-], 1-256): same seed, same token, same resource.

    `seed` is the run spec's `token_seed` (RunNames); the purpose keeps a job's and a throughput's tokens apart.
    """
    return f"{purpose}-" + hashlib.sha256(f"{purpose}\n{seed}".encode()).hexdigest()[:48]


def tag_list(tags: Mapping[str, str | None]) -> list[dict[str, str]]:
    """Bedrock's tag shape is a list of {key, value} (lower-case); empty values are dropped."""
    return [{"key": k, "value": str(v)} for k, v in tags.items() if v not in (None, "")]


def tag_map(tags: list[Mapping[str, Any]]) -> dict[str, str]:
    return {str(t["key"]): str(t.get("value", "")) for t in tags}


def delete_throughput(identifier: str, *, bedrock: Any = None) -> dict[str, Any]:
    """Delete a Provisioned Throughput by ARN or name; a missing one is not an error (delete is idempotent).

    Returns {"deleted": true, "arn": identifier} or {"deleted": false, "reason": "not found", "arn": identifier}.
    """
    bedrock = bedrock or CLIENTS.bedrock
    try:
        with transient_errors():
            bedrock.delete_provisioned_model_throughput(provisionedModelId=identifier)
    except Exception as err:
        if is_code(err, "ResourceNotFoundException"):
            return {"deleted": False, "reason": "not found", "arn": identifier}
        if is_code(err, "ConflictException"):
            # The throughput is still changing state (for example still Creating); DeleteProvisionedModelThroughput
            # documents ConflictException for that. Retrying later is the only way to stop the bill, so it is
            # transient: the workflow's retry policy tries again with backoff, and the janitor after that.
            raise TransientServiceError(f"throughput {identifier} cannot be deleted yet: {err}") from err
        raise
    return {"deleted": True, "arn": identifier}


def delete_deployment(identifier: str, *, bedrock: Any = None) -> dict[str, Any]:
    """Delete a custom model deployment (on-demand serving) by ARN or name; a missing one is not an error.

    Returns {"deleted": true, "arn": identifier} or {"deleted": false, "reason": "not found", "arn": identifier}.
    """
    bedrock = bedrock or CLIENTS.bedrock
    try:
        with transient_errors():
            bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=identifier)
    except Exception as err:
        if is_code(err, "ResourceNotFoundException"):
            return {"deleted": False, "reason": "not found", "arn": identifier}
        if is_code(err, "ConflictException"):
            # DeleteCustomModelDeployment documents ConflictException (botocore bedrock service model): the
            # deployment is still changing state. As with a throughput, only a later try removes it.
            raise TransientServiceError(f"deployment {identifier} cannot be deleted yet: {err}") from err
        raise
    return {"deleted": True, "arn": identifier}


def delete_serving(kind: str, identifier: str, *, bedrock: Any = None) -> dict[str, Any]:
    """Delete what serves a candidate, whichever kind (contracts.SERVING_*) it is."""
    if kind == contracts.SERVING_ON_DEMAND:
        return delete_deployment(identifier, bedrock=bedrock)
    return delete_throughput(identifier, bedrock=bedrock)


def serving_kind(arn: object, default: str = contracts.SERVING_PROVISIONED) -> str:
    """The kind an ARN names: a custom model deployment is on demand, a provisioned model is Provisioned
    Throughput; anything else (a name, nothing) is ``default``."""
    text = str(arn or "")
    if ":custom-model-deployment/" in text:
        return contracts.SERVING_ON_DEMAND
    if ":provisioned-model/" in text:
        return contracts.SERVING_PROVISIONED
    return default
