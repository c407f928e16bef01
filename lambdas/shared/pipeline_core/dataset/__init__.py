"""Pre-flight dataset validation for Bedrock fine-tuning: streaming checks, a line-numbered report, a seeded split.

Pure Python, standard library only: the Lambda handler, the `finetune validate` command and the tests all call it
with readers (re-openable iterables of bytes) and writers.
"""

from pipeline_core.dataset.report import Finding, Report
from pipeline_core.dataset.rules import RULES, Rule, Severity
from pipeline_core.dataset.snapshot import InvalidDatasetError, Snapshot, SourceChangedError, write_snapshot
from pipeline_core.dataset.split import SplitConfig, SplitPlan
from pipeline_core.dataset.validator import POOL, DatasetFile, ValidationResult, validate

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
