"""Pre-flight dataset validation for Bedrock fine-tuning: streaming checks, a line-numbered report, a seeded split.

Pure Python, standard library only: the Lambda handler, the `finetune validate` command and the tests all call it
with readers (re-openable iterables of bytes) and writers.

The names below are loaded on first use (PEP 562): importing one small submodule, as `finetune score` does with
`pipeline_core.dataset.lines`, must not load the whole validator, so the command line starts at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline_core.dataset.lines import SourceChangedError
    from pipeline_core.dataset.report import Finding, Report
    from pipeline_core.dataset.rules import RULES, Rule, Severity
    from pipeline_core.dataset.snapshot import InvalidDatasetError, Snapshot, write_snapshot
    from pipeline_core.dataset.split import SplitConfig, SplitPlan
    from pipeline_core.dataset.validator import POOL, DatasetFile, ValidationResult, validate

# Public name -> the submodule that defines it.
_WHERE = {
    "Finding": "report",
    "Report": "report",
    "RULES": "rules",
    "Rule": "rules",
    "Severity": "rules",
    "InvalidDatasetError": "snapshot",
    "Snapshot": "snapshot",
    "SourceChangedError": "lines",
    "write_snapshot": "snapshot",
    "SplitConfig": "split",
    "SplitPlan": "split",
    "POOL": "validator",
    "DatasetFile": "validator",
    "ValidationResult": "validator",
    "validate": "validator",
}

__all__ = [
    "POOL",
    "RULES",
    "DatasetFile",
    "Finding",
    "InvalidDatasetError",
    "Report",
    "Rule",
    "Severity",
    "Snapshot",
    "SourceChangedError",
    "SplitConfig",
    "SplitPlan",
    "ValidationResult",
    "validate",
    "write_snapshot",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
