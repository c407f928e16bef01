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

from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.s3 import ObjectTooLarge, head, read_text
from pipeline_core import contracts
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

LOGGER = setup_logging("resolve_run")
FILE_ROLES = ("train", "validation", "test")

__all__ = ["InvalidManifest", "handler"]


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


def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    request = ResolveInput.from_event(event)
    bind(run=request.run_name, execution=request.execution_name)
    try:
        run = resolve(request, Environment.from_env())
    except InvalidManifest as err:
        log(LOGGER, "invalid manifest", key=request.key, error=str(err))
        raise
    log(LOGGER, "run resolved", base_model_id=run["base_model_id"], source=run["source"], epochs=run["epochs"])
    return run
