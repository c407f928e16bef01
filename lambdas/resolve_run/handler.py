"""Lambda handler for "Resolve run": turn the upload (one inbox file or a run.json manifest) into the run spec.

Reads and validates run.json (pipeline_core.manifest), checks that every file it names exists beside it and
that the base model can be fine-tuned in this Region, then returns `$.run` (DESIGN.md, "The workflow's data").
A bad manifest raises InvalidManifest with one line for the user; the workflow routes it to Notify.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pipeline_aws.champion import ChampionLookupFailed, find_champion
from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import is_code, transient_errors
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.observability import instrumented
from pipeline_aws.s3 import ObjectTooLarge, head, read_text
from pipeline_core import contracts
from pipeline_core.end_of_life import ModelLifecycle
from pipeline_core.manifest import (
    MAX_MANIFEST_BYTES,
    InvalidManifest,
    RunChoices,
    RunDefaults,
    build_run_spec,
    default_choices,
    manifest_folder,
    parse_manifest,
)
from pipeline_core.model_guard import Verdict, judge_base_model, judge_reference_model
from pipeline_core.models import get_base_model, is_inference_profile_id, on_demand_anywhere

LOGGER = setup_logging("resolve_run")
FILE_ROLES = ("train", "validation", "test")

__all__ = ["BaseModelUnavailable", "ChampionLookupFailed", "InvalidManifest", "ReferenceModelUnavailable", "handler"]


@dataclass(frozen=True)
class ResolveInput:
    bucket: str
    key: str
    run_name: str
    execution_name: str
    version_id: str | None = None  # of the upload that started the run (versioned data bucket)
    # $$.Execution.StartTime: with the name, unique to this execution forever (pipeline_core.names). None from a
    # state machine defined before the field, whose runs keep the names they started with.
    execution_start_time: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ResolveInput:
        source = event["source"]
        return cls(
            bucket=str(source["bucket"]),
            key=str(source["key"]),
            run_name=str(source["run_name"]),
            execution_name=str(event["execution_name"]),
            version_id=source.get("version_id") or None,
            execution_start_time=str(event.get("execution_start_time") or "") or None,
        )


@dataclass(frozen=True)
class Environment:
    defaults: RunDefaults
    data_bucket: str
    artifacts_bucket: str
    region: str

    @classmethod
    def from_env(cls) -> Environment:
        return cls(
            defaults=RunDefaults.from_json(os.environ[contracts.ENV_DEFAULTS]),
            data_bucket=os.environ[contracts.ENV_DATA_BUCKET],
            artifacts_bucket=os.environ[contracts.ENV_ARTIFACTS_BUCKET],
            region=os.environ["AWS_REGION"],  # set by the Lambda runtime
        )


def _manifest_choices(request: ResolveInput, env: Environment) -> tuple[RunChoices, dict[str, Any]]:
    try:
        # The manifest version whose upload started the run, not whatever run.json holds by now.
        text, _ = read_text(request.bucket, request.key, max_bytes=MAX_MANIFEST_BYTES, version_id=request.version_id)
    except ObjectTooLarge:
        raise InvalidManifest(
            f"{request.key}: larger than {MAX_MANIFEST_BYTES} bytes; a manifest is a small JSON object"
        ) from None
    choices = parse_manifest(text, source=request.key, defaults=env.defaults, region=env.region)
    folder = manifest_folder(request.key)
    files: dict[str, tuple[str, str | None]] = {}
    for role, name in choices.files.items():
        key = folder + name
        found = head(request.bucket, key)
        if found is None:
            raise InvalidManifest(f"{request.key}: {role} file {name!r} was not found at s3://{request.bucket}/{key}")
        # Later steps read this version, so a file replaced while the run is under way does not change the run.
        files[role] = (key, found.get("VersionId"))
    return choices, _source("manifest", files)


def _source(kind: str, files: Mapping[str, tuple[str, str | None]]) -> dict[str, Any]:
    """The run spec's `source`: each role's key and version id, None for a role without a file."""
    source: dict[str, Any] = {"kind": kind}
    for role in FILE_ROLES:
        source[f"{role}_key"], source[f"{role}_version_id"] = files.get(role, (None, None))
    return source


def resolve(request: ResolveInput, env: Environment) -> dict[str, Any]:
    if request.bucket != env.data_bucket:
        # The role may read only the data bucket; an event naming another bucket is a wiring bug.
        raise ValueError(f"source bucket {request.bucket!r} is not the pipeline's data bucket {env.data_bucket!r}")
    if request.key.startswith(contracts.RUNS_PREFIX):
        choices, source = _manifest_choices(request, env)
    else:
        choices = default_choices(env.defaults, env.region)
        source = _source("single", {"train": (request.key, request.version_id)})
    return build_run_spec(
        choices,
        env.defaults,
        run_name=request.run_name,
        execution_name=request.execution_name,
        execution_start_time=request.execution_start_time,
        data_bucket=env.data_bucket,
        artifacts_bucket=env.artifacts_bucket,
        source=source,
    )


class BaseModelUnavailable(Exception):
    """Bedrock says the base model is end-of-life or cannot be fine-tuned: the run stops before it costs anything."""


class ReferenceModelUnavailable(Exception):
    """A reference model cannot be invoked: stop before training rather than lose the comparison after it."""


def _foundation_model(model_id: str) -> tuple[dict[str, Any] | None, str]:
    """GetFoundationModel's `modelDetails`, or (None, Bedrock's message) when Bedrock no longer knows the model."""
    try:
        with transient_errors():
            return dict(CLIENTS.bedrock.get_foundation_model(modelIdentifier=model_id)["modelDetails"]), ""
    except ClientError as err:
        if is_code(err, "ResourceNotFoundException"):
            return None, f"ResourceNotFoundException: {err.response.get('Error', {}).get('Message', '')}".strip()
        raise


def check_models(run: dict[str, Any], region: str) -> list[str]:
    """Ask Bedrock about the base and reference models before anything is paid for; return the warnings.

    Raises BaseModelUnavailable / ReferenceModelUnavailable with one line for the notification.
    """
    model = get_base_model(str(run["base_model_id"]))
    # Asked by the customization id (with its context suffix, e.g. ":128k"), the identifier the job is created
    # with: Bedrock lists that variant apart from the on-demand one, and it is the variant whose
    # customizationsSupported names FINE_TUNING.
    details, detail = _foundation_model(model.model_id)
    if details is None:
        live, customizations = ModelLifecycle.ended(model.model_id), None
    else:
        live = ModelLifecycle.from_details(model.model_id, details)
        customizations = [str(c) for c in details.get("customizationsSupported") or []]
    verdict = judge_base_model(model, region, live, customizations, detail=detail)
    if verdict.stop:
        raise BaseModelUnavailable(verdict.stop)
    warnings = [verdict.warning] if verdict.warning else []
    for reference in (run.get("evaluation") or {}).get("reference_models") or []:
        verdict = _check_reference(str(reference))
        if verdict.stop:
            raise ReferenceModelUnavailable(verdict.stop)
        if verdict.warning:
            warnings.append(verdict.warning)
    return warnings


def _check_reference(model_id: str) -> Verdict:
    if is_inference_profile_id(model_id):
        try:
            with transient_errors():
                profile = CLIENTS.bedrock.get_inference_profile(inferenceProfileIdentifier=model_id)
        except ClientError as err:
            if is_code(err, "ResourceNotFoundException"):
                return judge_reference_model(model_id, "NOT_FOUND", detail="ResourceNotFoundException")
            raise
        return judge_reference_model(model_id, str(profile.get("status") or "UNKNOWN"))
    if model_id.startswith("arn:") and ":foundation-model/" not in model_id:
        return Verdict()  # a provisioned or custom model of this account: its own lifecycle is not Bedrock's to end
    details, detail = _foundation_model(model_id)
    if details is None:
        return judge_reference_model(model_id, "END_OF_LIFE", detail=detail)
    live = ModelLifecycle.from_details(model_id, details)
    end = live.end_of_life.date() if live.end_of_life else None
    return judge_reference_model(model_id, live.status, end_of_life=end)


def champion_of(run: Mapping[str, Any], env: Environment) -> dict[str, Any] | None:
    """The model in production the candidate must beat (pipeline_aws.champion); None when nothing is promoted or the
    comparison is switched off (evaluation.champion.enabled), in which case the record is not even read."""
    gate = (run.get("evaluation") or {}).get("gate") or {}
    if not (gate.get("champion") or {}).get("enabled", True):
        return None
    # Only where the stack may serve on demand may this role ask about (and Evaluate invoke) a deployment.
    on_demand = env.defaults.serving_setting != contracts.SERVING_PROVISIONED and on_demand_anywhere(env.region)
    return find_champion(os.environ[contracts.ENV_PROMOTION_PARAMETER], on_demand_allowed=on_demand)


@instrumented
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    request = ResolveInput.from_event(event)
    bind(run=request.run_name, execution=request.execution_name)
    env = Environment.from_env()
    try:
        run = resolve(request, env)
    except InvalidManifest as err:
        log(LOGGER, "invalid manifest", key=request.key, error=str(err))
        raise
    try:
        run["warnings"] = check_models(run, env.region)
    except (BaseModelUnavailable, ReferenceModelUnavailable) as err:
        log(LOGGER, "model unavailable", level=40, error=str(err))
        raise
    for warning in run["warnings"]:
        log(LOGGER, "model lifecycle warning", level=30, warning=warning)
    try:
        run["evaluation"]["champion"] = champion_of(run, env)
    except ChampionLookupFailed as err:
        log(LOGGER, "champion lookup failed", level=40, error=str(err))
        raise
    log(LOGGER, "champion", champion=run["evaluation"]["champion"])
    log(LOGGER, "run resolved", base_model_id=run["base_model_id"], source=run["source"], epochs=run["epochs"])
    return run
