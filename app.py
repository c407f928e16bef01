#!/usr/bin/env python3
"""Reads the pipeline settings from cdk.json context and builds the stacks; holds no resources itself."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# jsii's Node check (@jsii/check-node) prints an end-of-life banner on every run under Node 20, which the toolchain
# pins; this variable is the check's own switch for that one Node version. It must be set before aws_cdk starts
# the jsii runtime, and a value the caller set wins.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk

from stacks.data_plane_stack import DataPlaneStack
from stacks.nag import add_nag_packs
from stacks.pipeline_stack import PipelineStack
from stacks.settings import PipelineSettings, SettingsError, load_settings_from_context


def build_app(app: cdk.App, settings: PipelineSettings, *, nag: bool = True) -> dict[str, cdk.Stack]:
    """Wire the stacks for ``settings`` into ``app``; the tests call this with nag off for plain assertions."""
    # The account comes from the caller's credentials at deploy time; synthesis needs none.
    env = cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=settings.region)
    prefix = "".join(part.capitalize() for part in settings.name.split("-"))
    data_plane = DataPlaneStack(
        app,
        f"{prefix}DataPlane",
        settings=settings,
        env=env,
        description="Bedrock fine-tuning pipeline: KMS key, buckets, Bedrock service role, VPC",
    )
    pipeline = PipelineStack(
        app,
        f"{prefix}Pipeline",
        settings=settings,
        data_plane=data_plane.data_plane,
        env=env,
        description="Bedrock fine-tuning pipeline: workflow, handlers, trigger, janitor, alarms",
    )
    data_plane.data_plane.condition_service_statements_on_account()
    # The pipeline imports the data plane's key through strong references (cdk.json sets
    # "@aws-cdk/core:defaultCrossStackReferences": "strong"): CloudFormation then refuses to delete or replace the
    # key that encrypts the training data while the pipeline still uses it. Weak references would let it go.
    pipeline.add_stack_dependency(data_plane, "the pipeline names the data plane's buckets by their derived names")
    cdk.Tags.of(app).add("pipeline", settings.name)
    if nag:
        add_nag_packs(app)
    return {"data_plane": data_plane, "pipeline": pipeline}


def run_by_the_cli() -> bool:
    return "CDK_OUTDIR" in os.environ or "CDK_CONTEXT_JSON" in os.environ


def context_given() -> dict[str, Any]:
    """The context exactly as written, nulls included: what the CDK CLI hands over, else cdk.json's.

    Not `app.node.try_get_context`: on its way through jsii an object loses its null members
    (`{"region": null}` comes back as `{}`), and a refused null would silently become the default. The CLI passes
    the context in CDK_CONTEXT_JSON and, when that would be too large, the rest in the file named by
    CONTEXT_OVERFLOW_LOCATION_ENV (aws-cdk toolkit-lib, prepare-source.ts).
    """
    if not run_by_the_cli():
        context: dict[str, Any] = json.loads((Path(__file__).resolve().parent / "cdk.json").read_text())["context"]
        return context
    given: dict[str, Any] = json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")
    overflow = os.environ.get("CONTEXT_OVERFLOW_LOCATION_ENV")
    if overflow:
        given.update(json.loads(Path(overflow).read_text()))
    return given


def main() -> None:
    context = context_given()
    try:
        settings = load_settings_from_context(context)
    except SettingsError as err:
        print(f"cdk.json settings error: {err}", file=sys.stderr)
        sys.exit(1)
    # Run by the CLI, the app reads the same context itself; on its own it needs cdk.json's (settings and flags).
    app = cdk.App(context=None if run_by_the_cli() else context)
    build_app(app, settings)
    app.synth()


if __name__ == "__main__":
    main()
