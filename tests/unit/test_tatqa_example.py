"""examples/tatqa/convert.py on a small TAT-QA-shaped fixture written here (the real files are not read in tests)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from finetune.cli import main
from pipeline_core.metrics import tatqa_em
from pipeline_core.models import DEFAULT_BASE_MODEL_ID
from tests.load_script import load_script

CONVERT = Path(__file__).resolve().parents[2] / "examples" / "tatqa" / "convert.py"


def _module() -> ModuleType:
    return load_script("tatqa_convert", CONVERT)


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


def _question(answer: object, scale: str, answer_type: str = "multi-span") -> dict[str, object]:
    return {"uid": "q", "order": 1, "question": "What were the amounts?", "answer": answer, "scale": scale,
            "answer_type": answer_type, "answer_from": "table", "derivation": "", "rel_paragraphs": [],
            "req_comparison": False}  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "scale", "text", "value"),
    [
        # Every number of a multi-span answer carries the scale, with or without a currency symbol.
        (["$4,905", "$3,049"], "thousand", "$4,905 thousand, $3,049 thousand", "4,905,000, 3,049,000"),
        (["71,005", "68,490", "66,252"], "thousand", "71,005 thousand, 68,490 thousand, 66,252 thousand",
         "71,005,000, 68,490,000, 66,252,000"),
        (["$ (3.5)", "$ (3.1)"], "million", "$ (3.5) million, $ (3.1) million", "-3,500,000, -3,100,000"),
        (["65", "(114)"], "million", "65 million, (114) million", "65,000,000, -114,000,000"),
        (["(265 )", "(277 )"], "thousand", "(265 ) thousand, (277 ) thousand", "-265,000, -277,000"),
        (["25", "28"], "percent", "25%, 28%", "0.25, 0.28"),
        # A single span copied from a cell: accounting negatives, the Unicode minus, currency.
        (["$(20,597)"], "thousand", "$(20,597) thousand", "-20,597,000"),
        (["(35.8)"], "million", "(35.8) million", "-35,800,000"),
        (["\u2212298"], "million", "\u2212298 million", "-298,000,000"),
        (["(59.9)"], "percent", "(59.9)%", "-0.599"),
        (["1,234"], "thousand", "1,234 thousand", "1,234,000"),
        # Kept as written: a span that already shows its scale, words, and an answer without a scale.
        (["14.29%"], "percent", "14.29%", "0.1429"),
        (["$19.1 million"], "thousand", "$19.1 million", "19,100,000"),
        (["Altium Designer subscriptions"], "percent",
         "Altium Designer subscriptions", "Altium Designer Subscriptions"),
        (["2019", "2018"], "", "2019, 2018", "2018, 2019"),
        # Numeric answers (arithmetic, count) were already formatted with their scale.
        (10.5, "million", "10.5 million", "10,500,000"),
        (3, "", "3", "3"),
    ],
)  # fmt: skip
def test_every_number_keeps_its_scale(answer: object, scale: str, text: str, value: str) -> None:
    assert _module().answer_text(_question(answer, scale)) == text
    # The reference means what the gold answer means: tatqa_em reads it as the same values.
    assert tatqa_em(value, [text]) == 100.0


@pytest.mark.parametrize(
    ("base_model", "shape"),
    [
        (None, {"prompt", "completion"}),  # the pipeline's default, Llama 3.1 70B: prompt/completion
        ("amazon.nova-lite-v1:0:300k", {"schemaVersion", "system", "messages"}),
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", {"system", "messages"}),
    ],
)
def test_script_writes_jsonl_the_validator_accepts_for_the_chosen_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], base_model: str | None, shape: set[str]
) -> None:
    source, out = tmp_path / "tatqa.json", tmp_path / "tatqa.jsonl"
    source.write_text(json.dumps([_document(i) for i in range(30)]))  # 120 records: above every model's minimum
    choice = ["--base-model", base_model] if base_model else []
    assert _module().main([str(source), "-o", str(out), *choice]) == 0
    assert "30 documents -> 120 records" in capsys.readouterr().err
    lines = out.read_text().splitlines()
    assert len(lines) == 120 and set(json.loads(lines[0])) == shape
    model = base_model or DEFAULT_BASE_MODEL_ID
    assert main(["validate", str(out), "--base-model", model]) == 0


def test_an_unknown_base_model_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "tatqa.json"
    source.write_text(json.dumps([_document(1)]))
    assert _module().main([str(source), "-o", str(tmp_path / "o.jsonl"), "--base-model", "nope"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        "[1, 2]",
        '[{"questions": [7]}]',
        '[{"questions": [{"question": "q"}]}, 3]',
        "[]",
        '[{"id": 1, "text": "a JSON array of something else"}]',
        '[{"table": {"table": []}, "paragraphs": [], "questions": {}}]',
        '[{"table": {"table": []}, "paragraphs": [], "questions": [7]}]',
    ],
)
def test_script_rejects_a_file_that_is_not_tatqa(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    source, out = tmp_path / "x.json", tmp_path / "o.jsonl"
    source.write_text(text)
    assert _module().main([str(source), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{source} is not a TAT-QA file" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not out.exists()


def _source(tmp_path: Path, documents: int = 2) -> Path:
    source = tmp_path / "tatqa.json"
    source.write_text(json.dumps([_document(i) for i in range(documents)]))
    return source


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("same", ["itself", "symlink", "hard link"])
def test_output_that_is_an_input_is_refused_before_anything_is_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], same: str
) -> None:
    source = _source(tmp_path)
    before = source.read_bytes()
    output = source
    if same == "symlink":
        output = tmp_path / "link.jsonl"
        output.symlink_to(source)
    elif same == "hard link":
        output = tmp_path / "hard.jsonl"
        output.hardlink_to(source)
    assert _module().main([str(source), "-o", str(output)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("convert: -o ") and "is also an input" in line
    assert source.read_bytes() == before


def test_an_interrupted_write_leaves_the_previous_output_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    convert = _module()
    source, out = _source(tmp_path), tmp_path / "out.jsonl"
    out.write_text("the previous output\n")
    written: list[object] = []

    def dumps(record: object, **kwargs: object) -> str:
        if written:  # the first record is written, then Ctrl-C
            raise KeyboardInterrupt
        written.append(record)
        return json.dumps(record, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(convert.json, "dumps", dumps)
    assert convert.main([str(source), "-o", str(out)]) == 130
    assert _one_line(capsys.readouterr().err) == f"convert: interrupted; {out} was not written"
    assert out.read_text() == "the previous output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "tatqa.json"]  # no temporary file left


@pytest.mark.parametrize(("value", "code"), [("-3", 2), ("0", 2), ("1", 0), ("100000", 0), ("100001", 2)])
def test_max_records_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, code: int) -> None:
    convert = _module()
    assert convert.MAX_RECORDS == 100_000
    source, out = _source(tmp_path), tmp_path / "out.jsonl"
    assert convert.main([str(source), "-o", str(out), "--max-records", value]) == code
    err = capsys.readouterr().err
    if code == 2:
        assert _one_line(err) == f"convert: --max-records must be from 1 to 100,000, got {value}"
        assert not out.exists()
    else:
        assert len(out.read_text().splitlines()) == min(int(value), 8)


def test_a_file_whose_questions_have_no_answers_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _document(1)
    for question in document["questions"]:  # type: ignore[attr-defined]
        question.pop("answer")
    source, out = tmp_path / "tatqa_dataset_test.json", tmp_path / "out.jsonl"
    source.write_text(json.dumps([document]))
    assert _module().main([str(source), "-o", str(out)]) == 1
    assert "no question with an answer in 1 documents (skipped: 5 no answer)" in _one_line(capsys.readouterr().err)
    assert not out.exists()


def test_inputs_are_bounded_in_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    convert = _module()
    source, out = _source(tmp_path), tmp_path / "out.jsonl"
    size = source.stat().st_size
    monkeypatch.setattr(convert, "MAX_INPUT_BYTES", size)
    assert convert.main([str(source), "-o", str(out)]) == 0  # at the limit
    monkeypatch.setattr(convert, "MAX_INPUT_BYTES", size - 1)
    assert convert.main([str(source), "-o", str(out)]) == 2  # one byte over
    assert "the inputs are larger than" in _one_line(capsys.readouterr().err.split("\n", 1)[1])
    monkeypatch.setattr(convert, "MAX_INPUT_BYTES", 2 * size - 1)
    other = tmp_path / "other.json"
    other.write_bytes(source.read_bytes())
    assert convert.main([str(source), str(other), "-o", str(out)]) == 2  # each fits, both do not
    assert f"{other}: the inputs are larger than" in _one_line(capsys.readouterr().err)


def test_deeply_nested_json_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, out = tmp_path / "deep.json", tmp_path / "out.jsonl"
    source.write_text("[" * 100_000 + "]" * 100_000)
    assert _module().main([str(source), "-o", str(out)]) == 2
    assert _one_line(capsys.readouterr().err).startswith(f"convert: cannot read {source}: not JSON")
