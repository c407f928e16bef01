"""Duplicates in two passes: the report equals a single pass's, `ends` is a function of the normalised text, the
second pass re-reads only the files that hold candidates, and a file that changed between the passes is refused."""

from __future__ import annotations

import json
import math
import os
import re
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from dataset_fixtures import HAIKU, LLAMA_32, claude, dataset, jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finetune.cli import main
from finetune.commands import validate as command
from pipeline_core.dataset import DatasetFile, Report, SourceChangedError, SplitConfig, validate
from pipeline_core.dataset import validator as validator_module
from pipeline_core.dataset.quality import SKETCH_BYTES, ends, normalise, prompt_sketch
from pipeline_core.models import DEFAULT_BASE_MODEL_ID, DataFormat, get_base_model

LLAMA = DEFAULT_BASE_MODEL_ID  # prompt/completion records, no system prompt
MODELS = [HAIKU, LLAMA, LLAMA_32]  # Claude messages, prompt/completion, Bedrock conversation
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EMAIL = "jane.doe@example.com"
SPLIT_NAMES = {"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"}


# --- in-memory files that count their opens and may change between them -------------------------------------------


class Source:
    """A re-openable in-memory file; open number i (from 0) reads versions[min(i, last)], cut into `chunk`s."""

    def __init__(self, split: str, data: bytes, *changed: bytes, chunk: int = 0, name: str = "") -> None:
        self.split, self.name = split, name or SPLIT_NAMES[split]
        self.versions = (data, *changed)
        self.chunk = chunk
        self.opens = 0

    def open(self) -> list[bytes]:
        data = self.versions[min(self.opens, len(self.versions) - 1)]
        self.opens += 1
        if self.chunk <= 0:
            return [data]
        return [data[i : i + self.chunk] for i in range(0, len(data), self.chunk)]

    @property
    def file(self) -> DatasetFile:
        return DatasetFile(self.split, self.name, self.open)


def sources(files: dict[str, bytes], chunk: int = 0) -> list[Source]:
    return [Source(split, data, chunk=chunk) for split, data in files.items()]


def run_both(
    model: str, files: dict[str, bytes], chunk: int = 0, **options: Any
) -> tuple[Report, Report, dict[str, int]]:
    """(two-pass report, single-pass report, opens per split in the two-pass run)."""
    two, one = sources(files, chunk), sources(files, chunk)
    two_report = validate([s.file for s in two], base_model_id=model, two_pass=True, **options).report
    one_report = validate([s.file for s in one], base_model_id=model, two_pass=False, **options).report
    assert all(s.opens == 1 for s in one)
    return two_report, one_report, {s.split: s.opens for s in two}


def listed(report: Report) -> list[tuple[str, str, int | None]]:
    return [(f.rule_id, f.file, f.line) for f in report.findings]


# --- records of each format ---------------------------------------------------------------------------------------

SYSTEM = "You answer questions about arithmetic."


def record(model: str, question: str, answer: str, system: str = SYSTEM) -> dict[str, Any]:
    data_format = get_base_model(model).data_format
    if data_format is DataFormat.CLAUDE_MESSAGES:
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        return {"system": system, "messages": messages}
    if data_format is DataFormat.PROMPT_COMPLETION:
        return {"prompt": question, "completion": answer}
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": system}],
        "messages": [
            {"role": "user", "content": [{"text": question}]},
            {"role": "assistant", "content": [{"text": answer}]},
        ],
    }


def base(model: str, i: int) -> dict[str, Any]:
    return record(model, f"What is {i} plus {i}?", f"{i} plus {i} is {2 * i}.")


def lines(records: Sequence[object]) -> bytes:
    return b"".join(r if isinstance(r, bytes) else json.dumps(r).encode() + b"\n" for r in records)


HEAD = " ".join(f"Opening word{i}," for i in range(40))  # ~500 normalised bytes: more than SKETCH_BYTES
TAIL = " ".join(f"closing-word{i}." for i in range(40))


def long_text(middle: str, size: int) -> str:
    """HEAD + `middle` repeated to about `size` characters + TAIL: far more than 2 KB."""
    body = (middle * (size // len(middle) + 1))[: max(0, size - len(HEAD) - len(TAIL))]
    return f"{HEAD} {body} {TAIL}"


def near_max_chars(model: str) -> int:
    """Characters that put a record just within the near-the-token-limit band (a token warning)."""
    m = get_base_model(model)
    return math.ceil(0.96 * m.quotas.max_tokens_per_record * m.quotas.chars_per_token)


def crafted(model: str) -> dict[str, bytes]:
    """Train, validation and test files holding every kind of finding the second pass makes, mixed with others."""
    n = get_base_model(model).quotas.min_records + 10
    size = near_max_chars(model) - 200
    long_a = long_text("alpha beta gamma ", size)  # same ends as long_b, a different middle: a sketch collision
    long_b = long_text("delta epsilon zeta ", size)
    # A longer raw text with the same normalised text, still within the token warning band.
    long_a_near = long_a.upper().replace(" ", "  ", 400).replace("BETA", "BETA!", 400)
    german = "ß" * 300 + " the middle of the street " + "ß" * 300
    german_near = "SS" * 300 + "The Middle Of The Street!" + "ss" * 300
    german_other = "ß" * 300 + " another middle " + "ß" * 300  # same ends, different prompt
    train = [
        b"\xef\xbb\xbf" + json.dumps(base(model, 0)).encode() + b"\n",  # BOM on a record that has a duplicate
        *(base(model, i) for i in range(1, n)),
        base(model, 0),  # exact duplicate of line 1
        record(model, "  WHAT is 0 plus 0 ??", "0 PLUS 0 IS 0"),  # near-exact duplicate of line 1
        record(model, "What is 3 plus 3?", f"3 plus 3 is 7, ask {EMAIL}"),  # PII, then a contradiction
        b"{oops\n",
        record(model, "What is 5 plus 5?", "k"),  # short answer, contradiction
        b"\n",
        record(model, "What is 5 plus 5?", "k"),  # short answer, duplicate, contradiction
        record(model, long_a, "The first long answer."),  # token warning
        record(model, long_b, "The second long answer."),  # token warning; sketch collision, not a duplicate
        record(model, long_a_near, "the first long answer"),  # token warning, near-exact duplicate
        record(model, "Where is the Straße?", "Down the road."),
        record(model, "WHERE IS THE STRASSE", "down the road"),  # near-exact duplicate (casefold expansion)
        record(model, german, "Yes."),
        record(model, german_near, "yes"),  # near-exact duplicate, whitespace and case and expansion
        record(model, german_other, "Yes."),  # sketch collision, not a duplicate
        json.dumps(base(model, 9)).encode() + b"\r\n",  # exact duplicate of line 10 (CRLF dropped), FILE-CRLF
        record(model, f"Write to {EMAIL} about 11 plus 11", "Done, sent."),  # PII only
        base(model, 4),  # exact duplicate of line 5
        record(model, "What is 4 plus 4?", "4 plus 4 is 8.", system="Another system prompt"),  # like line 5 ...
        record(model, "what is 4 plus 4", "4 plus 4 is 8", system="ANOTHER system prompt!"),  # ... and this one
        record(model, "A lone \ud800 surrogate", "Kept as it is."),
        record(model, "a lone \ud800 SURROGATE", "kept as it is"),  # near-exact duplicate
        b"[]\n",  # not a record
    ]
    validation = [
        base(model, 7),  # leakage (train line 8)
        base(model, 7),  # duplicate, leakage
        record(model, "What is 8 plus 8?", "Wrong: 17."),  # leakage, contradiction
        base(model, 200),
        record(model, "Shared by validation and test", "Answer A."),
        record(model, long_b + " !!", "The second long answer!"),  # leakage of a long prompt
        record(model, "What is 201 plus 201?", "no"),  # short answer
    ]
    test = [
        base(model, 9),  # leakage (train line 10)
        record(model, "Shared by validation and test", "Answer B."),  # contradiction, no leakage
        base(model, 300),
        record(model, german_other, "No."),  # leakage and contradiction of a long non-ASCII prompt
        record(model, "What is 4 plus 4?", "4 plus 4 is 8.", system="Another system prompt"),  # leakage
    ]
    # The last line has no newline: the second pass must read it too.
    return {"train": lines(train), "validation": lines(validation), "test": lines(test)[:-1]}


# --- 1. the same report as a single pass --------------------------------------------------------------------------

QUALITY = {"QUALITY-DUPLICATE", "QUALITY-CONTRADICTION", "QUALITY-LEAKAGE"}


@pytest.mark.parametrize("fast", [True, False], ids=["msgspec", "json"])
@pytest.mark.parametrize("chunk", [0, 4096])
@pytest.mark.parametrize("model", MODELS)
def test_a_crafted_dataset_gets_the_single_pass_report(
    model: str, chunk: int, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not fast:
        monkeypatch.setattr(validator_module, "fast_loads", None)
    files = crafted(model)
    two, one, opens = run_both(model, files, chunk)
    assert two == one
    assert two.to_json() == one.to_json()
    assert opens == {"train": 2, "validation": 2, "test": 2}  # the second pass did run
    found = set(two.per_rule)
    assert QUALITY | {"QUALITY-SHORT-ANSWER", "QUALITY-PII", "QUOTA-NEAR-MAX-TOKENS", "FILE-BOM", "FILE-CRLF"} <= found
    duplicates = [(f.line, f.message.split(" (")[0]) for f in two.findings if f.rule_id == "QUALITY-DUPLICATE"]
    n = get_base_model(model).quotas.min_records + 10
    assert duplicates[:2] == [(n + 1, "exact duplicate of line 1"), (n + 2, "near-exact")]
    long_lines = {f.line or 0 for f in two.findings if f.rule_id == "QUOTA-NEAR-MAX-TOKENS" and f.file == "train.jsonl"}
    assert len(long_lines) == 3
    # The two long prompts with equal ends but different middles are not duplicates of one another.
    assert {f.line for f in two.findings if f.rule_id == "QUALITY-DUPLICATE"} & long_lines == {max(long_lines)}


def test_the_crafted_long_prompts_share_their_sketch_but_not_their_text() -> None:
    size = near_max_chars(HAIKU) - 200
    a, b = long_text("alpha beta gamma ", size), long_text("delta epsilon zeta ", size)
    assert len(a.encode()) > 2048 and ends(a) == ends(b) and normalise(a) != normalise(b)
    system_ends = ends(SYSTEM)
    assert prompt_sketch(system_ends, [("user", a), ("assistant", "x")]) == prompt_sketch(
        system_ends, [("user", b), ("assistant", "y")]
    )
    near = a.upper().replace(" ", "  ", 400).replace("BETA", "BETA!", 400)
    assert len(near) != len(a) and normalise(near) == normalise(a)


@pytest.mark.parametrize("model", [HAIKU, LLAMA])
def test_more_findings_than_the_listing_cap_give_the_single_pass_report(model: str) -> None:
    n = 130
    train = [base(model, i) for i in range(n)]
    for i in range(n):  # every record twice, with a short answer and an email between them
        train += [base(model, i), record(model, f"Mail {EMAIL} about {i}", "ok")]
    validation = [base(model, i) for i in range(n)]  # every one a leak
    test = [record(model, f"What is {i} plus {i}?", "a different answer") for i in range(n)]  # leaks, contradictions
    two, one, opens = run_both(model, {"train": lines(train), "validation": lines(validation), "test": lines(test)})
    assert two == one
    assert opens == {"train": 2, "validation": 2, "test": 2}
    assert two.omitted == {
        "QUALITY-CONTRADICTION": 30,
        "QUALITY-DUPLICATE": 30,
        "QUALITY-LEAKAGE": 2 * n - 100,
        "QUALITY-PII": 30,
        "QUALITY-SHORT-ANSWER": 30,
    }
    assert two.lines_per_rule["QUALITY-LEAKAGE"] == 2 * n


@pytest.mark.parametrize(
    "options",
    [
        {"index_limit": 45},
        {"index_limit": 74},
        {"max_line_bytes": 40_000},
        {"file_digests": False},
    ],
    ids=["check-limit-45", "check-limit-74", "line-limit", "no-digests"],
)
@pytest.mark.parametrize("model", [HAIKU, LLAMA])
def test_the_crafted_dataset_with_limits_gets_the_single_pass_report(model: str, options: dict[str, Any]) -> None:
    two, one, _ = run_both(model, crafted(model), **options)
    assert two == one
    limited = {"index_limit": "QUALITY-INDEX-FULL", "max_line_bytes": "FILE-LINE-TOO-LONG"}
    assert all(limited[option] in two.per_rule for option in options if option in limited)


def test_no_collision_gives_the_single_pass_report_from_one_read() -> None:
    files = {"train": dataset(40), "validation": dataset(5, start=100), "test": dataset(5, start=200)}
    two, one, opens = run_both(HAIKU, files)
    assert two == one
    assert opens == {"train": 1, "validation": 1, "test": 1}


# Small alphabets, so that equal prompts, equal ends and equal sketches are common.
_piece = st.text(alphabet="aAsSß ,.!\t", max_size=5)
_long = st.builds(lambda middle: "p," * 140 + middle + " q" * 140, _piece)  # normalised > 256 bytes: ends only
_text = _piece | _long
_system = st.sampled_from(["", "Sys", "SYS!", "other"])
_line = st.tuples(_text, _text, _system) | st.sampled_from([b"{oops\n", b"\n", b"[]\n"])
Line = tuple[str, str, str] | bytes


def _build(model: str, items: list[Line]) -> bytes:
    return lines([item if isinstance(item, bytes) else record(model, *item) for item in items])


@SETTINGS
@given(
    model=st.sampled_from(MODELS),
    train=st.lists(_line, min_size=1, max_size=14),
    validation=st.lists(_line, max_size=6),
    test=st.lists(_line, max_size=6),
    chunk=st.sampled_from([0, 7]),
)
def test_random_small_datasets_get_the_single_pass_report(
    model: str,
    train: list[Line],
    validation: list[Line],
    test: list[Line],
    chunk: int,
) -> None:
    files = {"train": _build(model, train)}
    if validation:
        files["validation"] = _build(model, validation)
    if test:
        files["test"] = _build(model, test)
    two, one, _ = run_both(model, files, chunk)
    assert two == one


# --- 2. ends ------------------------------------------------------------------------------------------------------


def ends_by_definition(text: str) -> bytes:
    n = normalise(text)
    return n if len(n) <= 2 * SKETCH_BYTES else n[:SKETCH_BYTES] + n[-SKETCH_BYTES:]


def spread(letters: int, size: int, filler: str = " ,") -> str:
    """`size` characters of which `letters` are distinct-looking letters and digits, spread evenly among fillers."""
    alphabet = string.ascii_lowercase + string.digits
    out = [filler[i % len(filler)] for i in range(size)]
    for j in range(letters):
        out[j * size // letters] = alphabet[j % len(alphabet)].upper() if j % 3 else alphabet[j % len(alphabet)]
    return "".join(out)


B = SKETCH_BYTES  # normalised bytes kept from each end
WINDOW = 4 * B  # characters normalised at a time from each end (quality._SKETCH_WINDOW)


@pytest.mark.parametrize("letters", [0, 1, B - 1, B, B + 1, 2 * B - 1, 2 * B, 2 * B + 1, 2 * B + 2, 4 * B, 4 * B + 1])
def test_ends_of_plain_text_around_the_thresholds(letters: int) -> None:
    text = spread(letters, letters) if letters else ""
    n = normalise(text)
    assert len(n) == letters
    expected = n if letters <= 2 * B else n[:B] + n[-B:]
    assert ends(text) == expected
    assert len(ends(text)) == min(letters, 2 * B)


@pytest.mark.parametrize("letters", [2 * B - 1, 2 * B, 2 * B + 1, 3 * B])
@pytest.mark.parametrize("size", [2 * WINDOW + d for d in (-1, 0, 1)] + [4 * WINDOW + d for d in (-1, 0, 1)] + [
    8 * WINDOW + d for d in (-1, 0, 1)] + [40 * WINDOW])  # fmt: skip
def test_ends_where_the_windows_meet_or_double(letters: int, size: int) -> None:
    text = spread(letters, size)
    assert len(text) == size and len(normalise(text)) == letters
    assert ends(text) == ends_by_definition(text)


def test_ends_of_a_long_text_that_is_mostly_punctuation_and_spaces() -> None:
    # One letter in 20 characters: the first windows hold about WINDOW / 20 letters, fewer than B, and double.
    text = spread(8 * B, 160 * B, filler=" ,;-\t")
    assert len(normalise(text[:WINDOW])) < B  # the first window is too short
    assert ends(text) == ends_by_definition(text)
    assert len(ends(text)) == 2 * B
    # Dense at the start, sparse at the end: only the tail window needs to grow.
    lopsided = spread(5 * B, 5 * B) + spread(3 * B, 100 * B, filler=". ")
    assert ends(lopsided) == ends_by_definition(lopsided)
    # Sparse at the start, dense at the end.
    assert ends(lopsided[::-1]) == ends_by_definition(lopsided[::-1])


def test_ends_of_casefold_expansions() -> None:
    # Each "ß" normalises to two bytes: a window of WINDOW characters gives 2 x WINDOW bytes.
    text = "ß" * (16 * B) + "middle" + "ẞ" * (16 * B)
    assert ends(text) == b"ss" * B
    assert ends(text) == ends("SS" * (16 * B) + "MIDDLE" + "ss" * (16 * B))
    assert ends("ß" * B) == b"ss" * B  # 2 x B bytes: kept whole
    assert ends("ß" * (B + 1) + "x") == b"ss" * (B // 2) + b"ss" * (B // 2 - 1) + b"sx"  # 2 x B + 3 bytes: both ends


_chunks = st.sampled_from(["a", "Z", "ß", "SS", "İ", "ﬃ", "é", "日本", " ", "\t\n", ",.!", "-", "\ud800", "x y"])
_long_texts = st.lists(st.tuples(_chunks, st.integers(1, 400)), max_size=8).map(
    lambda runs: "".join(chunk * count for chunk, count in runs)
)


@SETTINGS
@given(text=_long_texts | st.text(max_size=600))
def test_ends_is_the_definition_over_the_normalised_text(text: str) -> None:
    assert ends(text) == ends_by_definition(text)


@SETTINGS
@given(
    text=_long_texts,
    inserts=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from([" ", "\n", "  \t", ",", "?!", "..."]))),
    swap=st.booleans(),
)
def test_equal_normalised_texts_have_equal_ends(text: str, inserts: list[tuple[int, str]], swap: bool) -> None:
    other = text.swapcase() if swap and text.isascii() else text.replace("ß", "SS") if swap else text
    for position, junk in inserts:
        at = position % (len(other) + 1)
        other = other[:at] + junk + other[at:]
    assert normalise(other) == normalise(text)
    assert ends(other) == ends(text)
    turns = [("user", text), ("assistant", "a")]
    assert prompt_sketch(ends("S"), turns) == prompt_sketch(ends("s!"), [("user", other), ("assistant", "b")])


# --- 3. the second pass reads only what it needs -----------------------------------------------------------------


def _opens(files: list[Source], model: str = HAIKU, **options: Any) -> dict[str, int]:
    validate([s.file for s in files], base_model_id=model, **options)
    return {s.split: s.opens for s in files}


def test_one_read_per_file_when_no_sketches_collide() -> None:
    files = [
        Source("train", dataset(40)),
        Source("validation", dataset(5, start=100)),
        Source("test", dataset(3, start=200)),
    ]
    assert _opens(files) == {"train": 1, "validation": 1, "test": 1}


def test_a_duplicate_in_train_re_reads_only_train() -> None:
    files = [
        Source("train", dataset(40) + jsonl([claude(0)])),
        Source("validation", dataset(5, start=100)),
        Source("test", dataset(3, start=200)),
    ]
    assert _opens(files) == {"train": 2, "validation": 1, "test": 1}


def test_a_leak_into_test_re_reads_train_and_test_but_not_validation() -> None:
    files = [
        Source("train", dataset(40)),
        Source("validation", dataset(5, start=100)),
        Source("test", jsonl([claude(7)]) + dataset(3, start=200)),
    ]
    assert _opens(files) == {"train": 2, "validation": 1, "test": 2}


def test_a_contradiction_between_validation_and_test_re_reads_only_those() -> None:
    files = [
        Source("train", dataset(40)),
        Source("validation", dataset(5, start=100)),
        Source("test", jsonl([claude(100, answer="another answer")])),
    ]
    assert _opens(files) == {"train": 1, "validation": 2, "test": 2}


def test_a_sketch_collision_that_is_no_duplicate_re_reads_and_finds_nothing() -> None:
    size = 5000
    a, b = long_text("alpha beta gamma ", size), long_text("delta epsilon zeta ", size)
    train = Source("train", dataset(40) + jsonl([claude(0, question=a), claude(0, question=b)]))
    result = validate([train.file], base_model_id=HAIKU)
    assert train.opens == 2
    assert not QUALITY & set(result.report.per_rule)


@pytest.mark.parametrize("model", [HAIKU, LLAMA_32])
def test_the_system_prompt_is_part_of_the_sketch(model: str) -> None:
    # The same question under two system prompts: different prompts, different sketches, no second read.
    train = Source(
        "train", lines([base(model, i) for i in range(40)] + [record(model, "What is 3 plus 3?", "6", "Be brief.")])
    )
    assert _opens([train], model) == {"train": 1}


def test_a_single_pass_or_a_split_reads_each_file_once() -> None:
    data = dataset(300) + jsonl([claude(0), claude(1, answer="other")])
    assert _opens([Source("train", data)], two_pass=False) == {"train": 1}
    pool = Source("pool", data, name="all.jsonl")
    result = validate([pool.file], base_model_id=HAIKU, split=SplitConfig())
    assert pool.opens == 1
    assert {"QUALITY-DUPLICATE", "QUALITY-CONTRADICTION"} <= set(result.report.per_rule)


# --- 4. a file that changed between the passes --------------------------------------------------------------------

_TRAIN = dataset(40) + jsonl([claude(0)])  # line 41 duplicates line 1: both are re-read
_LINE_41 = json.dumps(claude(0)).encode()


def _same_size(line: bytes) -> bytes:
    assert len(line) <= len(_LINE_41)
    changed: bytes = dataset(40) + line.ljust(len(_LINE_41)) + b"\n"
    assert len(changed) == len(_TRAIN)
    return changed


CHANGES = {
    "grown": (_TRAIN + jsonl([claude(99)]), r"train\.jsonl changed while it was being validated \([\d,]+ bytes, "),
    "shrunk": (dataset(40), r"train\.jsonl changed while it was being validated \(1 record\(s\) missing\)"),
    "unparsable": (_same_size(_LINE_41[:-1] + b","), r"train\.jsonl changed while it was being validated \(line 41\)"),
    "not a record": (_same_size(b"[]"), r"train\.jsonl changed while it was being validated \(line 41\)"),
    # The same size, but line 41 joined to line 40: the candidate line is gone.
    "merged": (_TRAIN[: len(dataset(40)) - 1] + b" " + _TRAIN[len(dataset(40)) :], r"train\.jsonl changed while it"),
    "first line": (b"[" + _TRAIN[1:], r"train\.jsonl changed while it was being validated \(line 1\)"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_train_file_that_changed_between_the_passes_is_refused(change: str) -> None:
    changed, message = CHANGES[change]
    train = Source("train", _TRAIN, changed)
    with pytest.raises(SourceChangedError, match=message):
        validate([train.file], base_model_id=HAIKU)
    assert train.opens == 2
    # A single pass reads each file once and never sees the change.
    assert validate([Source("train", _TRAIN, changed).file], base_model_id=HAIKU, two_pass=False).report


def test_a_same_size_edit_is_caught_by_the_sha256_when_the_first_pass_took_it() -> None:
    # Line 41 stops being a duplicate of line 1 and becomes a contradiction, at the same size: the records and the
    # size are unchanged, only the digest tells.
    edited = _same_size(json.dumps(claude(0, answer="0 plus 0 is 1.")).encode())
    train = Source("train", _TRAIN, edited)
    with pytest.raises(SourceChangedError, match=r"train\.jsonl changed while it was being validated"):
        validate([train.file], base_model_id=HAIKU, file_digests=True)
    # Without digests the core cannot see it: the opener must (the command's compares size, mtime and inode).
    unseen = Source("train", _TRAIN, edited)
    report = validate([unseen.file], base_model_id=HAIKU, file_digests=False).report
    assert unseen.opens == 2 and "QUALITY-CONTRADICTION" in report.per_rule


def test_the_command_refuses_a_file_edited_in_place_between_its_reads(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(_TRAIN)
    open_chunks = command._opener(path)
    assert b"".join(open_chunks()) == _TRAIN
    assert b"".join(open_chunks()) == _TRAIN  # unchanged: read again freely
    edited = _same_size(json.dumps(claude(0, answer="0 plus 0 is 1.")).encode())
    path.write_bytes(edited)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))  # a coarse clock's tick
    with pytest.raises(SourceChangedError, match=rf"^{re.escape(str(path))} changed while it was being validated"):
        b"".join(open_chunks())


def test_a_changed_validation_file_is_named() -> None:
    leak = jsonl([claude(5)])  # leaks train line 6
    changed = b"[]".ljust(len(leak) - 1) + b"\n"
    files = [Source("train", dataset(40)), Source("validation", leak, changed)]
    with pytest.raises(SourceChangedError, match=r"^validation\.jsonl changed .*\(line 1\)"):
        validate([s.file for s in files], base_model_id=HAIKU)


def test_the_command_turns_a_changed_file_into_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "train.jsonl"
    path.write_bytes(_TRAIN)
    original = command._opener

    def opener(file: Path) -> Any:
        read = original(file)
        opens = 0

        def open_() -> Any:
            nonlocal opens
            opens += 1
            if opens == 2:  # someone appends to the file between the passes
                file.write_bytes(_TRAIN + jsonl([claude(99)]))
            return read()

        return open_

    monkeypatch.setattr(command, "_opener", opener)
    assert main(["validate", "train.jsonl", "--base-model", HAIKU]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "finetune validate: cannot read input: train.jsonl changed while it was being validated; try again"
    ]
    assert captured.out == f"Base model: {HAIKU} (from --base-model)\n"  # no report


# --- 5. the order of the findings ---------------------------------------------------------------------------------


def test_second_pass_findings_land_where_a_single_pass_puts_them() -> None:
    mail = f"0 plus 0 is 0; write to {EMAIL}"
    train = lines([
        claude(0, answer=mail),  # PII
        claude(1, answer="k"),  # short answer
        claude(0, answer=mail),  # (second pass) the duplicate, then PII
        claude(2, answer="no"),  # short answer
        claude(2, answer="ok"),  # (second pass) the contradiction, then short answer
        json.dumps(claude(3)).encode() + b"\r\n",  # FILE-CRLF, reported at the end of the file
    ])  # fmt: skip
    validation = jsonl([claude(1, answer="k"), claude(50, question=f"Mail {EMAIL}")])  # short answer + leak; PII
    test = b"{oops\n" + jsonl([claude(3)])  # invalid JSON; leak
    expected = [
        ("QUALITY-PII", "train.jsonl", 1),
        ("QUALITY-SHORT-ANSWER", "train.jsonl", 2),
        ("QUALITY-DUPLICATE", "train.jsonl", 3),
        ("QUALITY-PII", "train.jsonl", 3),
        ("QUALITY-SHORT-ANSWER", "train.jsonl", 4),
        ("QUALITY-CONTRADICTION", "train.jsonl", 5),
        ("QUALITY-SHORT-ANSWER", "train.jsonl", 5),
        ("FILE-CRLF", "train.jsonl", 6),
        ("QUALITY-LEAKAGE", "validation.jsonl", 1),
        ("QUALITY-SHORT-ANSWER", "validation.jsonl", 1),
        ("QUALITY-PII", "validation.jsonl", 2),
        ("JSON-INVALID", "test.jsonl", 1),
        ("QUALITY-LEAKAGE", "test.jsonl", 2),
        ("QUOTA-MIN-RECORDS", "train.jsonl", None),
    ]
    two, one, opens = run_both(HAIKU, {"train": train, "validation": validation, "test": test})
    assert opens == {"train": 2, "validation": 2, "test": 2}
    assert listed(one) == expected
    assert listed(two) == expected
    assert two == one
