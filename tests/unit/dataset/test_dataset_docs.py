"""Every rule id is documented (id, severity and source) in docs/dataset-rules.md: rule ids are a public contract."""

from __future__ import annotations

from pathlib import Path

from pipeline_core.dataset import RULES

DOC = Path(__file__).resolve().parents[3] / "docs" / "dataset-rules.md"


def test_every_rule_is_documented_with_its_severity() -> None:
    text = DOC.read_text(encoding="utf-8")
    for rule in RULES.values():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{rule.rule_id}`")), None)
        assert row is not None, f"{rule.rule_id} is not documented in {DOC}"
        assert f"| {rule.severity.value} |" in row, rule.rule_id


def test_rule_ids_are_well_formed() -> None:
    prefixes = ("FILE-", "JSON-", "SCHEMA-", "QUOTA-", "QUALITY-", "SPLIT-")
    assert all(rule_id.startswith(prefixes) and rule_id.upper() == rule_id for rule_id in RULES)
