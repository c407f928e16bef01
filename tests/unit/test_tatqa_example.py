"""examples/tatqa/convert.py on a small TAT-QA-shaped fixture written here (the real files are not read in tests)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from finetune.cli import main

CONVERT = Path(__file__).resolve().parents[2] / "examples" / "tatqa" / "convert.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tatqa_convert", CONVERT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _document(index: int) -> dict[str, object]:
    return {
        "table": {
            "uid": f"t{index}",
            "table": [["", "2019", "2018"], ["Revenue", f"{100 + index}", "90"], ["Cost", "40", "35"]],
        },
        "paragraphs": [
            {"uid": f"p{index}b", "order": 2, "text": "Revenue is reported in thousands."},
            {"uid": f"p{index}a", "order": 1, "text": f"Company {index} sells widgets in Oslo."},
        ],
        "questions": [
            {"uid": f"q{index}1", "order": 1, "question": "Where does the company sell widgets?", "answer": ["Oslo"],
             "derivation": "", "answer_type": "span", "answer_from": "text", "rel_paragraphs": ["1"],
             "req_comparison": False, "scale": ""},
            {"uid": f"q{index}2", "order": 2, "question": "What was the change in revenue?", "answer": 10 + index,
             "derivation": f"{100 + index}-90", "answer_type": "arithmetic", "answer_from": "table",
             "rel_paragraphs": [], "req_comparison": False, "scale": "thousand"},
            {"uid": f"q{index}3", "order": 3, "question": "What was the percentage change in cost?", "answer": 14.29,
             "derivation": "(40-35)/35", "answer_type": "arithmetic", "answer_from": "table", "rel_paragraphs": [],
             "req_comparison": False, "scale": "percent"},
            {"uid": f"q{index}4", "order": 4, "question": "Which items are listed?", "answer": ["Revenue", "Cost"],
             "derivation": "", "answer_type": "multi-span", "answer_from": "table", "rel_paragraphs": [],
             "req_comparison": False, "scale": ""},
            {"uid": f"q{index}5", "order": 5, "question": "Unanswerable?", "answer": [], "derivation": "",
             "answer_type": "span", "answer_from": "text", "rel_paragraphs": [], "req_comparison": False, "scale": ""},
        ],
    }  # fmt: skip


def test_answers_keep_spans_and_scales() -> None:
    convert = _module()
    records = list(convert.convert([_document(1)]))
    answers = [r["messages"][1]["content"] for r in records]
    assert answers == ["Oslo", "11 thousand", "14.29%", "Revenue, Cost"]  # the empty answer is skipped
    prompt = records[0]["messages"][0]["content"]
    assert prompt.index("Company 1 sells") < prompt.index("reported in thousands")  # paragraphs in order
    assert "| Revenue | 101 | 90 |" in prompt and prompt.endswith("Question: Where does the company sell widgets?")


def test_script_writes_jsonl_the_validator_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, out = tmp_path / "tatqa.json", tmp_path / "tatqa.jsonl"
    source.write_text(json.dumps([_document(i) for i in range(10)]))
    assert _module().main([str(source), "-o", str(out)]) == 0
    assert "10 documents -> 40 records" in capsys.readouterr().err
    lines = out.read_text().splitlines()
    assert len(lines) == 40
    assert main(["validate", str(out)]) == 0


@pytest.mark.parametrize("text", ["{}", "[1, 2]", '[{"questions": [7]}]', '[{"questions": [{"question": "q"}]}, 3]'])
def test_script_rejects_a_file_that_is_not_tatqa(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    source, out = tmp_path / "x.json", tmp_path / "o.jsonl"
    source.write_text(text)
    assert _module().main([str(source), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{source} is not a TAT-QA file" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
