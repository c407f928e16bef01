"""One synthesized app per test session, shared by every rehearsal; and a helper that runs one rehearsal."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from finetune.rehearsal import demo_data
from finetune.rehearsal.progress import Progress
from finetune.rehearsal.runner import RehearsalOptions, RehearsalResult, SynthesizedApp, rehearse, synthesize

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def rehearsal_app() -> SynthesizedApp:
    return synthesize()


#: The fewest demo records the default base model's quota allows (Llama 3.1: 100 training records, after the
#: 10% validation and 10% test shares): 13 test examples. Each rehearsal costs several seconds; fewer records
#: keep the suite inside its budget.
SMALL_DATASET = demo_data.minimum_count(100, 0.1, 0.1)
#: Accuracies that pass the quality gate's paired test on 13 examples (0.9 vs 0.7 needs about 100): the tests
#: that are about the statistics set their own.
CLEAR_WIN = {"candidate_accuracy": 1.0, "base_accuracy": 0.3}


@pytest.fixture
def run_rehearsal(rehearsal_app: SynthesizedApp, tmp_path: Path) -> Callable[..., RehearsalResult]:
    """Run a rehearsal with the session's app; keyword arguments go to RehearsalOptions.

    Unless a test says otherwise: the smallest demo dataset (SMALL_DATASET) and accuracies that promote (CLEAR_WIN).
    """

    def run(app: SynthesizedApp | None = None, **options: Any) -> RehearsalResult:
        options.setdefault("output_dir", tmp_path / "out")
        options["faults"] = frozenset(options.get("faults", ()))
        if options.get("dataset") is None:
            options.setdefault("records", SMALL_DATASET)
            for name, value in CLEAR_WIN.items():
                options.setdefault(name, value)
        return rehearse(RehearsalOptions(**options), app=app or rehearsal_app, progress=Progress(io.StringIO()))

    return run
