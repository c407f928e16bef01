"""The demo dataset: deterministic, answers computable from each example's table or text, valid for the pipeline."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from finetune.cli import main
from finetune.rehearsal import demo_data
from pipeline_core.models import CATALOGUE, DataFormat


def test_same_seed_same_data_other_seed_other_data() -> None:
    assert demo_data.to_jsonl(list(demo_data.records(50, 3))) == demo_data.to_jsonl(list(demo_data.records(50, 3)))
    assert demo_data.to_jsonl(list(demo_data.records(50, 3))) != demo_data.to_jsonl(list(demo_data.records(50, 4)))


def test_default_size_and_every_kind_present() -> None:
    examples = demo_data.generate()
    assert len(examples) == demo_data.DEFAULT_COUNT == 1000
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


def test_records_are_claude_messages_by_default() -> None:
    for record in demo_data.records(20):
        assert set(record) == {"system", "messages"}
        assert [m["role"] for m in record["messages"]] == ["user", "assistant"]
        assert all(isinstance(m["content"], str) and m["content"] for m in record["messages"])


def test_each_format_carries_the_same_question_and_answer() -> None:
    example = demo_data.generate(1)[0]
    claude = example.to_record(DataFormat.CLAUDE_MESSAGES)
    prompt_completion = example.to_record(DataFormat.PROMPT_COMPLETION)
    converse = example.to_record(DataFormat.CONVERSE)
    assert prompt_completion == {
        "prompt": f"{demo_data.SYSTEM_PROMPT}\n\n{example.prompt()}",
        "completion": example.answer,
    }
    assert converse["schemaVersion"] == "bedrock-conversation-2024"
    assert converse["system"] == [{"text": demo_data.SYSTEM_PROMPT}] and claude["system"] == demo_data.SYSTEM_PROMPT
    assert [m["content"] for m in converse["messages"]] == [[{"text": example.prompt()}], [{"text": example.answer}]]
    assert [m["content"] for m in claude["messages"]] == [example.prompt(), example.answer]


# One model per data format, in one of its Regions: the validator checks the format and the model's quotas.
FORMATS = {
    DataFormat.PROMPT_COMPLETION: "meta.llama3-1-70b-instruct-v1:0:128k",
    DataFormat.CONVERSE: "amazon.nova-2-lite-v1:0:256k",
    DataFormat.CLAUDE_MESSAGES: "anthropic.claude-3-haiku-20240307-v1:0:200k",
}


def test_every_catalogue_format_is_covered() -> None:
    assert set(FORMATS) == {model.data_format for model in CATALOGUE.values()} == set(DataFormat)
    assert all(CATALOGUE[model].data_format is data_format for data_format, model in FORMATS.items())


@pytest.mark.parametrize("data_format", list(FORMATS), ids=str)
def test_the_pipeline_validator_accepts_it_for_a_model_of_its_format(
    data_format: DataFormat, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.jsonl"
    model = CATALOGUE[FORMATS[data_format]]
    count = demo_data.minimum_count(model.quotas.min_records, 0.1, 0.1)
    assert demo_data.write(path, count, data_format=data_format) == count
    assert main(["validate", str(path), "--json", "--base-model", model.model_id]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert not [f for f in report.get("findings", []) if f.get("severity") in ("error", "warning")]


@pytest.mark.parametrize(
    ("minimum", "shares", "expected"),
    [(100, (0.1, 0.1), 126), (8, (0.1, 0.1), 10), (1, (0.0, 0.0), 1), (100, (0.0, 0.5), 200)],
)
def test_minimum_count_leaves_the_training_minimum_after_the_split(
    minimum: int, shares: tuple[float, float], expected: int
) -> None:
    count = demo_data.minimum_count(minimum, *shares)
    assert count == expected
    # The count is the smallest that works: one record fewer leaves training short.
    fewer = count - 1
    assert fewer - math.ceil(fewer * shares[0]) - math.ceil(fewer * shares[1]) < minimum


def test_the_validator_refuses_one_format_for_a_model_of_another(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The test above could pass with a validator that accepts anything: here the format does not match."""
    path = tmp_path / "demo.jsonl"
    demo_data.write(path, 126, data_format=DataFormat.CLAUDE_MESSAGES)
    assert main(["validate", str(path), "--json", "--base-model", FORMATS[DataFormat.PROMPT_COMPLETION]]) == 1
    assert json.loads(capsys.readouterr().out)["valid"] is False
