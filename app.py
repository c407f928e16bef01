#!/usr/bin/env python3
"""Reads the pipeline settings from cdk.json context and builds the stacks; holds no resources itself."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from stacks.data_plane_stack import DataPlaneStack
from stacks.nag import add_nag_packs
from stacks.pipeline_stack import PipelineStack
from stacks.settings import CONTEXT_KEY, PipelineSettings, SettingsError, load_settings


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
    pipeline.add_stack_dependency(data_plane, "the pipeline names the data plane's buckets by their derived names")
    cdk.Tags.of(app).add("pipeline", settings.name)
    if nag:
        add_nag_packs(app)
    return {"data_plane": data_plane, "pipeline": pipeline}


def context_when_run_directly() -> dict[str, Any] | None:
    """cdk.json's context when `python app.py` runs without the CDK CLI (which otherwise hands it over).

    The settings and CDK's feature flags live there; without them the app would build different resources.
    """
    if "CDK_OUTDIR" in os.environ or "CDK_CONTEXT_JSON" in os.environ:
        return None
    context: dict[str, Any] = json.loads((Path(__file__).resolve().parent / "cdk.json").read_text())["context"]
    return context


def main() -> None:
    app = cdk.App(context=context_when_run_directly())
    try:
        settings = load_settings(app.node.try_get_context(CONTEXT_KEY))
    except SettingsError as err:
        print(f"cdk.json settings error: {err}", file=sys.stderr)
        sys.exit(1)
    build_app(app, settings)
    app.synth()


if __name__ == "__main__":
    main()
