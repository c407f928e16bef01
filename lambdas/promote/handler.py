"""Lambda handler for "Promote": publish the approved model in SSM, tag it approved, and keep or delete what serves it.

The candidate is served by Provisioned Throughput or by an on-demand custom model deployment (`$.throughput.kind`);
"throughput" below means either. The SSM parameter is a String (not a SecureString): it holds ARNs and a report
URI, no secrets. Applications read it to find the current model and pass its `invoke_model_id` as modelId. A kept
throughput or deployment is tagged approved as well, so the janitor leaves it alone.

Replacing a promotion is safe to retry and never loses a throughput. The previous promotion's throughput is
approved, so the janitor never deletes it: once the parameter names another, only this handler stops its bill.
So the new value records what it replaces (`replaces`, written in the same put), the previous throughput is
deleted only after that put succeeded (applications keep using it until then), and the record is cleared once the
deletions are done. A retry finds the parameter already naming this execution and takes the pending replacements
from it, and a promotion that finds another's replacements still pending carries them over into its own record.

What the parameter names is deleted only if Bedrock says it carries this pipeline's tag (ListTagsForResource): a
value someone else wrote or redirected must never take down another team's throughput. A resource without the tag,
or tagged with another pipeline's name, is logged, listed under `refused_replacements` with the reason, and dropped
from the record; the promotion itself still succeeds (the new model is published and serving). When the tags
cannot be read (a refusal such as AccessDenied), the entry stays recorded, like a refused delete, for the next
promotion to check again; throttling and 5xx raise, so the workflow retries.

Two promotions never interleave: read-decide-write runs under the promotion lock (pipeline_aws.lock) in the
admission table. Under it, the record must still name the champion this run was evaluated against
(`run.evaluation.champion`, read by Resolve run): if another run promoted meanwhile, this candidate was never
compared with what now serves, and ChampionChanged stops the run before anything is tagged or written (the
workflow's catch deletes this run's throughput and notifies).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from pipeline_aws.bedrock import delete_serving, serving_kind, tag_list, tag_map
from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import is_code, transient_errors
from pipeline_aws.lock import acquire, owner_of, release
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.observability import instrumented
from pipeline_aws.ssm import read_parameter
from pipeline_core import contracts
from pipeline_core.names import RunNames

LOGGER = setup_logging("promote")
# What the promotion needs after the lock is taken: read the record, tag, list tags, delete what it replaces, put
# the record and release the lock, each call bounded by the clients' timeouts (pipeline_aws.clients). The lock wait
# stops while this much of the invocation is left: a Lambda timeout (Sandbox.Timedout) is not retried and sends the
# run to its cleanup, so the wait gives up early and raises TransientServiceError, which the workflow retries.
PROMOTE_BUDGET_SECONDS = 200

# provisionedModelArn's and customModelDeploymentArn's patterns (botocore bedrock service model, read 2026-12-01).
# The handler deletes only what matches one: a parameter value in any other shape was not written by this pipeline,
# and nothing it names is deleted.
_SERVING_ARNS = {
    contracts.SERVING_PROVISIONED: re.compile(
        r"arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:provisioned-model/[a-z0-9]{12}"
    ),
    contracts.SERVING_ON_DEMAND: re.compile(
        r"arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:custom-model-deployment/[a-z0-9]{12}"
    ),
}


@dataclass(frozen=True)
class PromoteInput:
    run_name: str
    execution_name: str
    keep_throughput: bool
    custom_model_arn: str
    throughput_arn: str | None
    report_uri: str | None
    throughput_name: str
    serving_kind: str = contracts.SERVING_PROVISIONED
    pipeline_name: str = ""  # the tag value that marks what this pipeline may delete
    # Who approved, when (settings pipeline.approval "required"): {decided_by, decided_at, decision}; else None.
    approval: dict[str, Any] | None = None
    # `run.evaluation.champion` as Resolve run found it; `compared` False when the spec does not say (resolved
    # before the champion existed) or the champion comparison was switched off: then nothing is checked.
    champion: dict[str, Any] | None = None
    compared: bool = False

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
            throughput_name=RunNames.from_run(run).resource_name,
            serving_kind=_kind(run, throughput),
            pipeline_name=str(run.get("pipeline_name") or os.environ.get(contracts.ENV_PIPELINE_NAME, "")),
            approval=_approval(event.get("approval")),
            champion=(run.get("evaluation") or {}).get("champion") or None,
            compared=_compared(run),
        )


def _compared(run: Mapping[str, Any]) -> bool:
    """Whether this run was judged against the champion Resolve run recorded (so it must still be the champion)."""
    evaluation = run.get("evaluation") or {}
    gate = evaluation.get("gate") or {}
    return "champion" in evaluation and bool((gate.get("champion") or {}).get("enabled", True))


class ChampionChanged(Exception):
    """Another run promoted while this one was evaluated: it was compared with a model that no longer serves."""


def _identity(record: Mapping[str, Any] | None) -> tuple[str | None, str | None] | None:
    """(run name, invoke id) of a champion entry or a promotion record; None for "no champion"."""
    if not record:
        return None
    model = record.get("model_id") or record.get("invoke_model_id") or record.get("provisioned_model_arn") or None
    run_name = record.get("run_name")
    return (None if run_name is None else str(run_name), None if model is None else str(model))


def check_champion(request: PromoteInput, current: Mapping[str, Any] | None) -> None:
    """Raise ChampionChanged unless the record still names the champion this run was compared with."""
    if not request.compared:
        return
    before, now = _identity(request.champion), _identity(current)
    if before == now:
        return
    winner = f"run {current.get('run_name')} promoted {current.get('custom_model_arn')}" if current else "the record"
    old = f"{before[1] or 'an unserved model'} (run {before[0]})" if before else "no champion (the base model only)"
    raise ChampionChanged(
        f"{winner} while run {request.run_name} was being evaluated; this candidate was compared with {old}: "
        "re-run to compare with the new champion"
    )


def _approval(raw: object) -> dict[str, Any] | None:
    """The decision `Record approval` returned, as the promotion record keeps it; None without approval."""
    if not isinstance(raw, Mapping) or not raw.get("decision"):
        return None
    return {key: raw.get(key) for key in ("decided_by", "decided_at", "decision")}


def _kind(run: Mapping[str, Any], throughput: Mapping[str, Any]) -> str:
    """`$.throughput.kind`; without it, its ARN's kind (an old `$.throughput` is Provisioned Throughput), and
    without an ARN the run's serving mode (the throughput handler's rule)."""
    kind = str(throughput.get("kind") or "")
    if not kind:
        arn = throughput.get("arn")
        kind = (
            serving_kind(arn) if arn else str((run.get("serving") or {}).get("mode") or contracts.SERVING_PROVISIONED)
        )
    if kind not in _SERVING_ARNS:
        raise ValueError(f"unknown serving kind {kind!r}: expected {' or '.join(_SERVING_ARNS)}")
    return kind


@dataclass(frozen=True)
class Promotion:
    """`$.promotion` (DESIGN.md)."""

    parameter_name: str
    custom_model_arn: str
    serving_kind: str
    invoke_model_id: str | None  # what applications pass as modelId: the deployment or provisioned model ARN
    provisioned_model_arn: str | None  # Provisioned Throughput only
    report_uri: str | None
    throughput_kept: bool
    # Earlier promotions' throughputs or deployments this one replaced and deleted (or found already gone).
    replaced_throughputs: list[str] = field(default_factory=list)
    # Replaced throughputs whose delete was refused (not a passing error): still recorded in the parameter, so the
    # next promotion tries again; each bills until deleted.
    pending_replacements: list[str] = field(default_factory=list)
    # What the record named but this pipeline's tag does not mark as its own: never deleted, dropped from the
    # record. Each entry is {"arn", "reason"}.
    refused_replacements: list[dict[str, str]] = field(default_factory=list)
    approval: dict[str, Any] | None = None  # {decided_by, decided_at, decision} where approval is required


def _approve(arn: str) -> None:
    with transient_errors():
        CLIENTS.bedrock.tag_resource(resourceARN=arn, tags=tag_list({contracts.TAG_APPROVED: "true"}))


def _serving_arn(value: object) -> tuple[str, str] | None:
    """(kind, ARN) when ``value`` is a throughput's or a deployment's ARN; None for anything else."""
    if isinstance(value, str):
        for kind, pattern in _SERVING_ARNS.items():
            if pattern.fullmatch(value):
                return kind, value
    return None


def _entry(found: tuple[str, str], execution: object) -> dict[str, str | None]:
    """One `replaces` entry; it names the ARN as the record does (`provisioned_model_arn` too for a throughput)."""
    kind, arn = found
    return {
        "kind": kind,
        "invoke_model_id": arn,
        "provisioned_model_arn": arn if kind == contracts.SERVING_PROVISIONED else None,
        "execution_name": str(execution) if execution else None,
    }


def _named(value: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What a record or entry names, by either key: records written before on-demand serving have only the second."""
    found = [_serving_arn(value.get(key)) for key in ("invoke_model_id", "provisioned_model_arn")]
    return [f for f in found if f]


def _read(parameter_name: str) -> dict[str, Any] | None:
    """The parameter's value if this pipeline wrote it: a JSON object naming a custom model and an execution."""
    raw = read_parameter(parameter_name)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not (
        isinstance(value, dict)
        and isinstance(value.get("custom_model_arn"), str)
        and isinstance(value.get("execution_name"), str)
    ):
        log(LOGGER, "promotion parameter not written by the pipeline; nothing it names is deleted", name=parameter_name)
        return None
    return value


def _replacements(value: Mapping[str, Any]) -> list[dict[str, str | None]]:
    """The throughputs and deployments a value records as replaced but not yet deleted, in its `replaces` list."""
    found: list[dict[str, str | None]] = []
    for item in value.get("replaces") or []:
        if isinstance(item, dict):
            found += [_entry(named, item.get("execution_name")) for named in _named(item)[:1]]
    return found


def _to_replace(previous: Mapping[str, Any] | None, serving: str | None) -> list[dict[str, str | None]]:
    """What the new value replaces: the previous promotion's throughput or deployment and whatever it had still
    pending, whatever their kind."""
    if previous is None:
        return []
    pending = _replacements(previous)
    pending += [_entry(named, previous["execution_name"]) for named in _named(previous)]
    unique: dict[str, dict[str, str | None]] = {}
    for item in pending:
        if item["invoke_model_id"] != serving:  # never what is being promoted
            unique.setdefault(str(item["invoke_model_id"]), item)
    return list(unique.values())


def _put(parameter_name: str, value: Mapping[str, Any]) -> None:
    with transient_errors():
        CLIENTS.ssm.put_parameter(Name=parameter_name, Value=json.dumps(value), Type="String", Overwrite=True)


def _not_ours(arn: str, pipeline_name: str) -> str | None:
    """Why ``arn`` must not be deleted by this pipeline (not tagged as ours), or None when its tag says it is ours.

    Raises ClientError when the tags cannot be read (the caller keeps the entry recorded) and TransientServiceError
    on throttling or 5xx.
    """
    with transient_errors():
        tags = tag_map(CLIENTS.bedrock.list_tags_for_resource(resourceARN=arn).get("tags", []))
    owner = tags.get(contracts.TAG_PIPELINE)
    if not pipeline_name:
        return "this promotion does not know its pipeline's name, so it cannot tell what is its own"
    if owner is None:
        return f"it has no {contracts.TAG_PIPELINE} tag: this pipeline did not create it"
    if owner != pipeline_name:
        return f"it is tagged {contracts.TAG_PIPELINE}={owner}, not {pipeline_name}: another pipeline's"
    return None


_UNVERIFIED = "its tags could not be read"


def _ownership(arn: str, pipeline_name: str) -> str | None:
    """None when ``arn`` is this pipeline's (or already gone); else why not, or _UNVERIFIED when nobody can tell."""
    try:
        return _not_ours(arn, pipeline_name)
    except ClientError as err:  # passing failures arrive as TransientServiceError and propagate
        if is_code(err, "ResourceNotFoundException"):
            return None  # already gone: the delete finds nothing and counts it done
        log(LOGGER, "tags unreadable; the replaced throughput stays recorded", level=30, arn=arn, error=str(err))
        return _UNVERIFIED


def _delete_replaced(kind: str, arn: str) -> bool:
    """Delete a replaced throughput or deployment; True once it is gone. A passing failure raises, so the workflow
    retries."""
    try:
        log(LOGGER, "deleting what this promotion replaces", kind=kind, **delete_serving(kind, arn))
    except ClientError as err:  # passing failures arrive as TransientServiceError and propagate
        # Raising would send the run to its cleanup, which deletes the throughput the parameter now names; a
        # refusal (for example AccessDenied) does not pass by retrying. It stays in the record for the next one.
        log(LOGGER, "replaced throughput not deleted; it stays recorded in the parameter", arn=arn, error=str(err))
        return False
    return True


def promote(request: PromoteInput, parameter_name: str) -> Promotion:
    current = _read(parameter_name)
    retry = (
        current is not None
        and current["execution_name"] == request.execution_name
        and current["custom_model_arn"] == request.custom_model_arn
    )
    if not retry:
        check_champion(request, current)  # before anything is tagged, deleted or written
    _approve(request.custom_model_arn)
    kind = request.serving_kind
    serving: str | None = request.throughput_arn
    if request.keep_throughput and serving:
        _approve(serving)
    else:
        # Deleting first means a retry after a failed SSM write never publishes an ARN that no longer exists.
        delete_serving(kind, serving or request.throughput_name)
        serving = None
    provisioned = serving if kind == contracts.SERVING_PROVISIONED else None
    if retry and current is not None:
        # A retry: the value is already published, and what it replaces is recorded in it.
        value = current
        replaces = _replacements(current)
    else:
        replaces = _to_replace(current, serving)
        value = {
            "custom_model_arn": request.custom_model_arn,
            "serving_kind": kind,
            "invoke_model_id": serving,
            "provisioned_model_arn": provisioned,
            "report_uri": request.report_uri,
            "run_name": request.run_name,
            "execution_name": request.execution_name,
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "replaces": replaces,
            **({"approval": request.approval} if request.approval else {}),
        }
        # Until this put succeeds the parameter names the previous throughput, which keeps serving.
        _put(parameter_name, value)
    deleted: list[str] = []
    pending: list[str] = []
    refused: list[dict[str, str]] = []
    for item in replaces:
        arn = str(item["invoke_model_id"])
        reason = _ownership(arn, request.pipeline_name)
        if reason == _UNVERIFIED:
            pending.append(arn)
        elif reason is not None:
            log(LOGGER, "not deleting what the promotion record names", level=30, arn=arn, reason=reason)
            refused.append({"arn": arn, "reason": reason})
        else:
            (deleted if _delete_replaced(str(item["kind"]), arn) else pending).append(arn)
    if deleted or refused:
        # Only what is still to delete stays recorded; a retry that fails here deletes nothing twice (a gone
        # throughput is "not found"), so the put is retried with the rest.
        _put(parameter_name, {**value, "replaces": [i for i in replaces if i["invoke_model_id"] in pending]})
    return Promotion(
        parameter_name,
        request.custom_model_arn,
        kind,
        serving,
        provisioned,
        request.report_uri,
        serving is not None,
        replaced_throughputs=deleted,
        pending_replacements=pending,
        refused_replacements=refused,
        approval=request.approval,
    )


def lock_wait_seconds(context: object) -> float:
    """How long to wait for the promotion lock: what this invocation has left beyond PROMOTE_BUDGET_SECONDS, or
    nothing (one attempt) when that is not more, or when the time left is unknown."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return 0.0
    return max(0.0, float(remaining()) / 1000 - PROMOTE_BUDGET_SECONDS)


@instrumented
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    request = PromoteInput.from_event(event)
    bind(run=request.run_name, execution=request.execution_name)
    parameter = os.environ[contracts.ENV_PROMOTION_PARAMETER]
    table = os.environ.get(contracts.ENV_ADMISSION_TABLE)
    if not table:  # a stack deployed before the lock: it has no table to lock in
        result = promote(request, parameter)
    else:
        # One owner per invocation: a retry of this execution that overlaps it waits like any other promotion.
        owner = owner_of(request.execution_name, str(getattr(context, "aws_request_id", "") or uuid.uuid4()))
        acquire(table, owner, wait_seconds=lock_wait_seconds(context))
        try:
            result = promote(request, parameter)
        finally:
            if not release(table, owner):
                log(LOGGER, "promotion lock not released; its lease expires", level=30, table=table)
    output = asdict(result)
    if output["approval"] is None:  # `$.promotion.approval` only where approval is required
        del output["approval"]
    log(LOGGER, "model promoted", **output)
    return output
