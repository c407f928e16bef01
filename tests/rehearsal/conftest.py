"""One synthesized app per test session, shared by every rehearsal; and a helper that runs one rehearsal."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from finetune.rehearsal.progress import Progress
from finetune.rehearsal.runner import RehearsalOptions, RehearsalResult, SynthesizedApp, rehearse, synthesize

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def rehearsal_app() -> SynthesizedApp:
    return synthesize()


@pytest.fixture
def run_rehearsal(rehearsal_app: SynthesizedApp, tmp_path: Path) -> Callable[..., RehearsalResult]:
    """Run a rehearsal with the session's app; keyword arguments go to RehearsalOptions."""

    def run(app: SynthesizedApp | None = None, **options: Any) -> RehearsalResult:
        options.setdefault("output_dir", tmp_path / "out")
        options["faults"] = frozenset(options.get("faults", ()))
        return rehearse(RehearsalOptions(**options), app=app or rehearsal_app, progress=Progress(io.StringIO()))

    return run
