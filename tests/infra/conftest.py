"""Synthesizes the app once per test session and hands out its templates."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build_app
from stacks.settings import CONTEXT_KEY, load_settings

ROOT = Path(__file__).resolve().parents[2]


def project_context() -> dict[str, Any]:
    """The whole context (feature flags and the `pipeline` settings) exactly as cdk.json ships it."""
    return copy.deepcopy(json.loads((ROOT / "cdk.json").read_text())["context"])


def synthesize(
    overrides: dict[str, Any] | None = None, *, nag: bool = False, outdir: str | None = None
) -> dict[str, Any]:
    """Build the app with the shipped settings plus ``overrides``; returns {stack name: Template}."""
    context = project_context()
    context[CONTEXT_KEY].update(overrides or {})
    # Analytics off: the CDK metadata resource would otherwise make snapshots depend on the toolchain.
    app = cdk.App(analytics_reporting=False, outdir=outdir, context=context)
    stacks = build_app(app, load_settings(context[CONTEXT_KEY]), nag=nag)
    if nag:
        app.synth()
        return {}
    return {stack.stack_name: Template.from_stack(stack) for stack in stacks.values()}


@pytest.fixture(scope="session")
def templates() -> dict[str, Template]:
    return synthesize()


@pytest.fixture(scope="session")
def template_json(templates: dict[str, Template]) -> dict[str, dict[str, Any]]:
    return {name: t.to_json() for name, t in templates.items()}


@pytest.fixture(scope="session")
def synth() -> Callable[..., dict[str, Any]]:
    return synthesize
