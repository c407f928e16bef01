"""Bedrock helpers shared by handlers: resource names, idempotency tokens, tags, and deleting a throughput.

Names and tokens derive from the Step Functions execution name, so a retried state finds or re-uses what the
first attempt created instead of paying twice (DESIGN.md, "Idempotency").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import TransientServiceError, is_code, transient_errors

# jobName, customModelName and provisionedModelName allow 1-63 characters; customModelName and
# provisionedModelName must match ([0-9a-zA-Z][_-]?)+ (botocore bedrock service model), so no "--".
MAX_NAME = 63
_DIGEST_CHARS = 16  # contracts.execution_name ends with "-<16 hex>"


def resource_name(execution_name: str, suffix: str = "") -> str:
    """A Bedrock resource name from the execution name: valid for jobs, custom models and throughputs.

    Keeps the execution's trailing digest when it must shorten, so distinct executions keep distinct names.
    """
    name = re.sub(r"[^0-9A-Za-z_-]+", "-", execution_name + suffix)
    name = re.sub(r"[-_]{2,}", "-", name).strip("-_") or "run"
    if len(name) > MAX_NAME:
        tail = name[-(_DIGEST_CHARS + len(suffix)) :]
        head = name[: MAX_NAME - len(tail) - 1].rstrip("-_")
        name = f"{head}-{tail.lstrip('-_')}"
    return name


def client_token(purpose: str, execution_name: str) -> str:
    """A deterministic clientRequestToken ([a-zA-Z0-9-], 1-256): same execution, same token, same resource."""
    return f"{purpose}-" + hashlib.sha256(f"{purpose}\n{execution_name}".encode()).hexdigest()[:48]


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
