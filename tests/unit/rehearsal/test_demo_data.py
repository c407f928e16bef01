"""The demo dataset: deterministic, answers computable from each example's table or text, valid for the pipeline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from finetune.cli import main
from finetune.rehearsal import demo_data


def test_same_seed_same_data_other_seed_other_data() -> None:
    assert demo_data.to_jsonl(list(demo_data.records(50, 3))) == demo_data.to_jsonl(list(demo_data.records(50, 3)))
    assert demo_data.to_jsonl(list(demo_data.records(50, 3))) != demo_data.to_jsonl(list(demo_data.records(50, 4)))


def test_default_size_and_every_kind_present() -> None:
    examples = demo_data.generate()
    assert len(examples) == demo_data.DEFAULT_COUNT == 300
    assert {e.kind for e in examples} == set(demo_data.KINDS)


def _table(example: demo_data.DemoExample) -> dict[str, tuple[int, int]]:
    """Parse the rendered table back (what the model sees), not the generator's own data."""
    rows = {}
    for line in example.table_text().splitlines()[2:]:
        label, now, before = (cell.strip() for cell in line.strip("|").split("|"))
        rows[label] = (int(now.replace(",", "")), int(before.replace(",", "")))
    return rows


@pytest.mark.parametrize("example", demo_data.generate(120, seed=11), ids=lambda e: e.kind)
def test_answer_is_computable_from_the_prompt(example: demo_data.DemoExample) -> None:
    table, question = _table(example), example.question
    if example.kind == "text-span":
        assert example.answer in example.paragraph
        return
    label = next(name for name in table if name in question)
    now, before = table[label]
    if example.kind == "difference":
        assert example.answer == demo_data.format_number(now - before)
    elif example.kind == "percent-change":
        assert example.answer == f"{(now - before) / before * 100:.1f}%"
    elif example.kind == "sum":
        other = next(name for name in table if name in question and name != label)
        assert example.answer in (demo_data.format_number(now + table[other][0]),)
    elif example.kind == "average":
        assert example.answer == demo_data.format_number((now + before) / 2)
    elif example.kind == "table-span":
        years = [int(y) for y in re.findall(r"\b(20\d\d)\b", question)]
        assert example.answer == str(max(years) if now > before else min(years))
    else:
        pytest.fail(f"unexpected kind {example.kind}")


def test_records_are_claude_messages() -> None:
    for record in demo_data.records(20):
        assert set(record) == {"system", "messages"}
        assert [m["role"] for m in record["messages"]] == ["user", "assistant"]
        assert all(isinstance(m["content"], str) and m["content"] for m in record["messages"])


def test_the_pipeline_validator_accepts_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "demo.jsonl"
    assert demo_data.write(path) == 300
    assert main(["validate", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert not [f for f in report.get("findings", []) if f.get("severity") in ("error", "warning")]
