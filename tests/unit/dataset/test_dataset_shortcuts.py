"""The validator's per-record shortcuts give the answers of the plain code they replace.

The JSON scanner shortcut, the blank-line and short-answer tests without copies, the once-per-system-prompt
normalisation, and skipping the file digests that a caller does not show: each is pinned here to its definition.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from dataset_fixtures import HAIKU, claude, dataset, jsonl, source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finetune.cli import main
from pipeline_core.dataset import SplitConfig, validate
from pipeline_core.dataset.formats import check_claude, check_record
from pipeline_core.dataset.lines import LineReader
from pipeline_core.dataset.quality import conversation_digests
from pipeline_core.dataset.validator import MIN_ANSWER_CHARS, is_blank, loads
from pipeline_core.models import DataFormat

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Unicode whitespace that str.strip() removes besides ASCII: NEL, NBSP, ideographic space, line separator.
SPACES = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\xa0", "\u3000", "\u2028"]


# --- json.loads, through the scanner -------------------------------------------------------------------------------


def _outcome(fn: Any, text: str) -> tuple[str, object]:
    try:
        return "value", fn(text)
    except RecursionError:
        # Its message names the container being parsed when the interpreter's stack ran out, which depends on the
        # caller's depth; the validator reports every RecursionError as "nested too deeply".
        return "RecursionError", None
    except ValueError as exc:
        return type(exc).__name__, str(exc)


JSON_TEXTS = [
    '{"a": 1}',
    '{"a": 1} ',
    ' {"a": 1}',
    '{"a": 1}\r',
    '{"a": 1}x',
    '{"a": 1}{"b": 2}',
    "{",
    "{}",
    '{"a": NaN, "b": -Infinity}',
    '{"a": "\\ud800"}',
    '{"a": "\\x"}',
    '{"a": 1,}',
    '{"n": ' + "9" * 5000 + "}",
    "[1, 2]",
    "",
    "   ",
    "{" * 100_000,
    '{"a": [' * 50_000,
    '"text"',
]


@pytest.mark.parametrize("text", JSON_TEXTS, ids=range(len(JSON_TEXTS)))
def test_loads_gives_what_json_loads_gives(text: str) -> None:
    assert _outcome(loads, text) == _outcome(json.loads, text)


@given(st.text(alphabet='{}[]":, 0123456789abnul\\tr\n', max_size=30).map(lambda t: "{" + t))
@SETTINGS
def test_loads_agrees_with_json_loads_on_near_json(text: str) -> None:
    assert _outcome(loads, text) == _outcome(json.loads, text)


# --- blank lines and short answers ----------------------------------------------------------------------------------


@given(
    st.binary(max_size=6)
    | st.lists(st.sampled_from([b" ", b"\t", b"\r", b"\x0b", b"\x0c", b"\x85", b"a"])).map(b"".join)
)
@SETTINGS
def test_is_blank_is_strip_then_empty(data: bytes) -> None:
    assert is_blank(data) == (not data.strip())


def test_every_single_byte_is_blank_as_strip_says() -> None:
    for b in range(256):
        data = bytes([b])
        assert is_blank(data) == (not data.strip()), b


def _short_answer_lines(answers: list[str]) -> set[int]:
    records = [claude(i, question=f"Question {i}?", answer=a) for i, a in enumerate(answers)]
    result = validate([source("train", "t.jsonl", jsonl(records))], base_model_id=HAIKU)
    return {f.line or 0 for f in result.report.findings if f.rule_id == "QUALITY-SHORT-ANSWER"}


@pytest.mark.parametrize(
    ("answer", "short"),
    [("ab", True), ("abc", False), ("abcd", False), (" ab", True), ("ab ", True), (" abc", False), ("abc\n", False),
     ("\u3000ab\u3000", True), ("\u3000abc", False), ("a" + " " * 50 + "b", False), ("  a  ", True), ("\x85ab", True)],
)  # fmt: skip
def test_short_answers_count_the_stripped_characters(answer: str, short: bool) -> None:
    assert MIN_ANSWER_CHARS == 3
    assert _short_answer_lines([answer]) == ({1} if short else set())


@given(st.lists(st.lists(st.sampled_from([*SPACES, "a", "b"]), min_size=1, max_size=8).map("".join), max_size=6))
@SETTINGS
def test_short_answer_findings_match_len_of_strip(answers: list[str]) -> None:
    answers = [a for a in answers if a.strip()]  # a blank answer is SCHEMA-EMPTY-CONTENT, not a short answer
    expected = {i + 1 for i, a in enumerate(answers) if len(a.strip()) < MIN_ANSWER_CHARS}
    assert _short_answer_lines(answers) == expected


@pytest.mark.parametrize("content", ["\u3000", "\x85", "a\u3000", "\u2028", " \u3000 ", "\u200b"])
def test_clean_path_treats_unicode_whitespace_as_the_full_check_does(content: str) -> None:
    record = {"messages": [{"role": "user", "content": content}, {"role": "assistant", "content": content}]}
    assert check_record(record, DataFormat.CLAUDE_MESSAGES) == check_claude(record)


# --- the system prompt, normalised once -----------------------------------------------------------------------------


def _reference_duplicates(records: list[tuple[str, str, str]]) -> set[tuple[str, int]]:
    """QUALITY-DUPLICATE and QUALITY-CONTRADICTION lines computed from the digests' definition, record by record."""
    seen: set[bytes] = set()
    prompts: dict[bytes, bytes] = {}
    found: set[tuple[str, int]] = set()
    for line, (system, question, answer) in enumerate(records, start=1):
        prompt, answer_digest = conversation_digests(system, [("user", question), ("assistant", answer)])
        if prompt + answer_digest in seen:
            found.add(("QUALITY-DUPLICATE", line))
        seen.add(prompt + answer_digest)
        if prompt in prompts and prompts[prompt] != answer_digest:
            found.add(("QUALITY-CONTRADICTION", line))
        prompts.setdefault(prompt, answer_digest)
    return found


@given(
    st.lists(
        st.tuples(st.sampled_from(["", "Sys.", "sys", "S y s!", "Other"]), st.sampled_from(["Q1?", "q1", "Q2"]),
                  st.sampled_from(["A one.", "a one", "A two."])),
        min_size=1,
        max_size=12,
    )
)  # fmt: skip
@SETTINGS
def test_duplicates_and_contradictions_follow_the_digests_as_system_prompts_change(
    records: list[tuple[str, str, str]],
) -> None:
    lines = [
        {"system": s, "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        if s
        else {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for s, q, a in records
    ]
    result = validate([source("train", "t.jsonl", jsonl(lines))], base_model_id=HAIKU)
    found = {
        (f.rule_id, f.line or 0)
        for f in result.report.findings
        if f.rule_id in ("QUALITY-DUPLICATE", "QUALITY-CONTRADICTION")
    }
    assert found == _reference_duplicates(records)


# --- file digests: computed when shown or needed ---------------------------------------------------------------------


def test_without_file_digests_the_report_differs_only_in_the_digest() -> None:
    data = dataset(40) + b'{"oops\n' + dataset(3)
    with_digests = validate([source("train", "t.jsonl", data, chunk=1000)], base_model_id=HAIKU)
    without = validate([source("train", "t.jsonl", data, chunk=1000)], base_model_id=HAIKU, file_digests=False)
    assert with_digests.report.files[0].sha256 == hashlib.sha256(data).hexdigest()
    assert without.report.files[0].sha256 == ""
    assert without.report.to_text() == with_digests.report.to_text()
    assert without.report.findings == with_digests.report.findings
    assert without.report.stats == with_digests.report.stats


def test_a_split_needs_the_file_digests() -> None:
    with pytest.raises(ValueError, match="digests"):
        validate([source("pool", "p.jsonl", dataset(40))], base_model_id=HAIKU, split=SplitConfig(), file_digests=False)


def test_a_reader_without_digest_reads_the_same_lines_and_starts_no_thread() -> None:
    data = b'{"a": 1}\r\n\n{"b": 2}'
    before = {t.name for t in threading.enumerate()}
    plain = LineReader([data[:5], data[5:]], digest=False, hash_behind=True)
    lines = list(plain)
    assert lines == list(LineReader([data]))
    assert plain.sha256 == ""
    assert plain.bytes_read == len(data)
    assert {t.name for t in threading.enumerate()} == before


def test_the_json_report_carries_each_files_sha256(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = dataset(40)
    path = tmp_path / "train.jsonl"
    path.write_bytes(data)
    assert main(["validate", str(path), "--base-model", HAIKU, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [f["sha256"] for f in report["files"]] == [hashlib.sha256(data).hexdigest()]


def test_the_text_summary_is_the_same_as_from_a_digesting_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = dataset(40) + b"[1]\n"
    path = tmp_path / "train.jsonl"
    path.write_bytes(data)
    assert main(["validate", str(path), "--base-model", HAIKU]) == 1
    text = capsys.readouterr().out
    digested = validate([source("train", str(path), data)], base_model_id=HAIKU)
    assert text.endswith(digested.report.to_text())


@pytest.mark.parametrize(
    ("flags", "digests"),
    [([], False), (["--json"], True), (["--split", "out"], True), (["--json", "--split", "out"], True)],
)
def test_the_command_asks_for_digests_only_when_it_shows_or_checks_them(
    flags: list[str], digests: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from finetune.commands import validate as command

    asked: list[bool] = []
    real = command.validate

    def spy(files: Any, **options: Any) -> Any:
        asked.append(options["file_digests"])
        return real(files, **options)

    monkeypatch.setattr(command, "validate", spy)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.jsonl").write_bytes(dataset(300))
    assert main(["validate", "train.jsonl", "--base-model", HAIKU, *flags]) == 0
    assert asked == [digests]
