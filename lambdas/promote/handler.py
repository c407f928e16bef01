"""Lambda handler for "Promote": publish the approved model in SSM, tag it approved, and keep or delete its throughput.

The SSM parameter is a String (not a SecureString): it holds ARNs and a report URI, no secrets. Applications
read it to find the current model. A kept throughput is tagged approved as well, so the janitor leaves it alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline_aws.bedrock import delete_throughput, resource_name, tag_list
from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import is_code, transient_errors
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_core import contracts

LOGGER = setup_logging("promote")


@dataclass(frozen=True)
class PromoteInput:
    run_name: str
    execution_name: str
    keep_throughput: bool
    custom_model_arn: str
    throughput_arn: str | None
    report_uri: str | None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> PromoteInput:
        run, job = event["run"], event["job"]
        throughput = event.get("throughput") or {}
        evaluation = event.get("evaluation") or {}
        return cls(
            run_name=str(run["run_name"]),
            execution_name=str(run["execution_name"]),
            keep_throughput=bool((run.get("throughput") or {}).get("keep_after_promotion", True)),
            custom_model_arn=str(job["custom_model_arn"]),
            throughput_arn=throughput.get("arn") or None,
            report_uri=evaluation.get("report_uri"),
        )


@dataclass(frozen=True)
class Promotion:
    """`$.promotion` (DESIGN.md)."""

    parameter_name: str
    custom_model_arn: str
    provisioned_model_arn: str | None
    report_uri: str | None
    throughput_kept: bool
    replaced_throughput: str | None = None  # the previous promotion's throughput, deleted


def _approve(arn: str) -> None:
    with transient_errors():
        CLIENTS.bedrock.tag_resource(resourceARN=arn, tags=tag_list({contracts.TAG_APPROVED: "true"}))


def promote(request: PromoteInput, parameter_name: str) -> Promotion:
    _approve(request.custom_model_arn)
    provisioned: str | None = request.throughput_arn
    if request.keep_throughput and provisioned:
        _approve(provisioned)
    else:
        # Deleting first means a retry after a failed SSM write never publishes an ARN that no longer exists.
        delete_throughput(provisioned or resource_name(request.execution_name))
        provisioned = None
    value = {
        "custom_model_arn": request.custom_model_arn,
        "provisioned_model_arn": provisioned,
        "report_uri": request.report_uri,
        "run_name": request.run_name,
        "execution_name": request.execution_name,
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    previous = _previous_throughput(parameter_name)
    with transient_errors():
        CLIENTS.ssm.put_parameter(Name=parameter_name, Value=json.dumps(value), Type="String", Overwrite=True)
    if previous and previous != provisioned:
        # The previous promotion's throughput is approved, so the janitor never deletes it; once applications
        # read the new ARN from the parameter nothing uses it, and it would bill by the hour forever.
        log(LOGGER, "replacing the previous promotion's throughput", **delete_throughput(previous))
    return Promotion(
        parameter_name,
        request.custom_model_arn,
        provisioned,
        request.report_uri,
        provisioned is not None,
        replaced_throughput=previous if previous != provisioned else None,
    )


def _previous_throughput(parameter_name: str) -> str | None:
    """The throughput ARN the parameter names now (the previous promotion), if any."""
    try:
        with transient_errors():
            raw = CLIENTS.ssm.get_parameter(Name=parameter_name)["Parameter"]["Value"]
    except Exception as err:
        if is_code(err, "ParameterNotFound"):
            return None
        raise
    try:
        arn = json.loads(raw).get("provisioned_model_arn")
    except (ValueError, AttributeError):
        return None  # not written by this pipeline: leave whatever it names alone
    return str(arn) if arn else None


def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    request = PromoteInput.from_event(event)
    bind(run=request.run_name, execution=request.execution_name)
    result = promote(request, os.environ[contracts.ENV_PROMOTION_PARAMETER])
    log(LOGGER, "model promoted", **asdict(result))
    return asdict(result)
