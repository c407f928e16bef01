"""The README stays true: every dataset rule and every setting default it documents matches the code."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline_core.dataset.rules import RULES
from stacks.settings import load_settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_dataset_rule_is_listed_with_its_severity() -> None:
    rows = dict(re.findall(r"^\| `([A-Z0-9-]+)` \| (error|warning|info) \|", README, re.MULTILINE))
    assert rows == {rule_id: rule.severity.value for rule_id, rule in RULES.items()}


def test_documented_defaults_match_the_settings() -> None:
    s = load_settings({})
    assert f"| `baseModelId` | `{s.base_model_id}` |" in README
    assert f"| `evaluation.concurrency` | {s.evaluation.concurrency} |" in README
    assert f"| `provisionedThroughput.timeToLiveHours` | {s.throughput.time_to_live_hours} |" in README
    assert f"| `executionTimeoutHours` | {s.execution_timeout_hours} |" in README
    assert f"| `retention.logDays` | {s.retention.log_days} |" in README
