"""Every rule id is documented (id, severity and source) in docs/dataset-rules.md: rule ids are a public contract."""

from __future__ import annotations

from pathlib import Path

from pipeline_core.dataset import RULES

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "dataset-rules.md"
README = ROOT / "README.md"


def test_every_rule_is_documented_with_its_severity() -> None:
    text = DOC.read_text(encoding="utf-8")
    for rule in RULES.values():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{rule.rule_id}`")), None)
        assert row is not None, f"{rule.rule_id} is not documented in {DOC}"
        assert f"| {rule.severity.value} |" in row, rule.rule_id


def test_rule_ids_are_well_formed() -> None:
    prefixes = ("FILE-", "JSON-", "SCHEMA-", "QUOTA-", "QUALITY-", "SPLIT-")
    assert all(rule_id.startswith(prefixes) and rule_id.upper() == rule_id for rule_id in RULES)


def _row(path: Path, rule_id: str) -> str:
    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(f"| `{rule_id}` |")]
    assert len(rows) == 1, f"{rule_id}: {len(rows)} rows in {path.name}"
    return rows[0]


def test_the_rule_tables_state_what_each_rule_requires() -> None:
    # The report's headline says what was found; the tables in the docs and the README say what the rule checks.
    for rule in RULES.values():
        for path in (DOC, README):
            row = _row(path, rule.rule_id)
            assert f"| {rule.checks} |" in row, (path.name, rule.rule_id)
            assert rule.found not in row, (path.name, rule.rule_id)
