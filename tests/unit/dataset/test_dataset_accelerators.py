"""The optional accelerators (msgspec's JSON decoder, StringZilla's translate and search) change no answer.

The Lambda asset has neither package, so the validator must report the same with and without them: msgspec may
refuse more than json.loads (the line then goes through json), but never accept what json refuses nor give another
value; StringZilla's translate and contains are bytes.translate and `in`. Last, `finetune --help` loads neither.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from dataset_fixtures import HAIKU, LLAMA_31, NOVA, claude, converse, dataset, jsonl, prompt_completion, source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core.dataset import SplitConfig, ValidationResult, quality, validate, validator

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST_LOADS = validator.fast_loads


def test_the_accelerators_are_installed_and_chosen() -> None:
    # Every comparison below is vacuous unless the accelerated routes are the ones the modules picked.
    assert FAST_LOADS is not None and getattr(FAST_LOADS, "__self__", None).__class__.__module__ == "msgspec.json"
    assert quality._shape is quality._shape_sz and quality._contains is quality._contains_sz
    assert validator._FAST_ERRORS and all(issubclass(e, BaseException) for e in validator._FAST_ERRORS)


# --- 1. msgspec's decoder against json.loads ------------------------------------------------------------------------
def assert_same(fast: object, slow: object, path: str = "$") -> None:
    """Equal values of the same types: float sign of zero, dict key order and int/float/bool all count."""
    assert type(fast) is type(slow), f"{path}: {type(fast).__name__} != {type(slow).__name__}"
    if isinstance(slow, float):
        assert isinstance(fast, float)
        if math.isnan(slow):
            assert math.isnan(fast), path
        else:
            assert fast == slow and math.copysign(1.0, fast) == math.copysign(1.0, slow), f"{path}: {fast!r} {slow!r}"
    elif isinstance(slow, dict):
        assert isinstance(fast, dict)
        assert list(fast) == list(slow), f"{path}: keys {list(fast)!r} != {list(slow)!r}"
        for key, value in slow.items():
            assert_same(fast[key], value, f"{path}.{key!r}")
    elif isinstance(slow, list):
        assert isinstance(fast, list) and len(fast) == len(slow), path
        for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    else:
        assert fast == slow, f"{path}: {fast!r} != {slow!r}"


def fast_or_none(data: bytes) -> tuple[bool, object]:
    """(True, value) when msgspec accepts `data`; (False, None) when it raises what the validator catches."""
    assert FAST_LOADS is not None
    try:
        return True, FAST_LOADS(data)
    except validator._FAST_ERRORS:
        return False, None


def json_route(data: bytes) -> tuple[bool, object]:
    """The validator's json route: decode (an error is FILE-INVALID-UTF8), then json.loads."""
    try:
        return True, json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return False, None


def check_agrees(data: bytes) -> bool:
    """Assert msgspec accepts nothing json refuses and gives json's value; return whether msgspec accepted."""
    accepted, fast = fast_or_none(data)
    if not accepted:
        return False
    ok, slow = json_route(data)
    assert ok, f"msgspec accepts {data[:200]!r}, json refuses it"
    assert_same(fast, slow)
    # The validator's own json route (the scan_once shortcut) gives the same value too.
    assert_same(fast, validator.loads(data.decode("utf-8")))
    return True


SPECIAL_CHARS = ["\ud800", "\udbff", "\udc00", "\udfff", "\x00", "\x1f", "\x7f", "\u2028", "\ufeff", "\ufffe",
                 "\U0001f600", "\U0010ffff", "\u00e9", '"', "\\", "/", "\t", "\n", "\r", "0", "-", "e"]  # fmt: skip
chars = st.characters() | st.sampled_from(SPECIAL_CHARS)
texts = st.text(chars, max_size=12)
floats = (
    st.floats()
    | st.builds(lambda m, e: float(f"{m}e{e}"), st.integers(-(10**17), 10**17), st.integers(-340, 320))
    | st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e16, 1e-7])
)
ints = st.integers() | st.integers(-(10**400), 10**400) | st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63) - 1])
scalars = st.none() | st.booleans() | ints | floats | texts
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=24
)


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """A JSON document as a writer emits it (json.dumps, maybe padded with JSON whitespace), as UTF-8 bytes."""
    text = json.dumps(
        draw(values),
        ensure_ascii=draw(st.booleans()),
        separators=draw(st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : ")])),
        indent=draw(st.sampled_from([None, None, 0, 2, "\t"])),
    )
    pad = st.text(st.sampled_from(" \t\r\n"), max_size=3)
    # surrogatepass: a lone surrogate written raw (ensure_ascii=False) becomes invalid UTF-8 for msgspec to refuse.
    return (draw(pad) + text + draw(pad)).encode("utf-8", "surrogatepass")


@st.composite
def objects_with_repeated_keys(draw: st.DrawFn) -> bytes:
    """An object written pair by pair from a few keys, so keys repeat (json.loads: the last value, first place)."""
    pairs = draw(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "\u00e9", "\\u0061"]), scalars), max_size=8))
    body = ",".join(f'"{key}":{json.dumps(value)}' for key, value in pairs)
    return ("{" + body + "}").encode("utf-8", "surrogatepass")


numbers = st.from_regex(r"\A-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,5})?\Z").map(str.encode)
INTERESTING_BYTES = b'{}[]",:0123456789-+.eE \t\r\n\\u/tfnNaIy\x00\x1f\x7f\x80\xbf\xc0\xc3\xed\xef\xf0\xf4\xff'


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A document or number with a few bytes deleted, inserted, replaced, duplicated, or the tail cut off."""
    data = bytearray(draw(documents() | objects_with_repeated_keys() | numbers))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "truncate"]))
        byte = draw(st.sampled_from(INTERESTING_BYTES))
        if op == "insert" or not data:
            data.insert(at, byte)
        elif op == "delete":
            del data[min(at, len(data) - 1)]
        elif op == "replace":
            data[min(at, len(data) - 1)] = byte
        elif op == "duplicate":
            end = draw(st.integers(at, min(len(data), at + 8)))
            data[at:at] = data[at:end]
        else:
            del data[at:]
    return bytes(data)


@SETTINGS
@given(documents())
def test_msgspec_gives_json_values_for_written_documents(data: bytes) -> None:
    check_agrees(data)


@SETTINGS
@given(objects_with_repeated_keys())
def test_msgspec_keeps_json_order_and_last_value_for_repeated_keys(data: bytes) -> None:
    check_agrees(data)


@SETTINGS
@given(numbers)
def test_msgspec_reads_every_number_as_json_does(data: bytes) -> None:
    check_agrees(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_msgspec_accepts_no_mutated_document_json_refuses(data: bytes) -> None:
    check_agrees(data)


def test_the_generated_documents_reach_both_outcomes() -> None:
    # Guards the properties above: documents msgspec refuses (NaN, lone surrogates, big exponents) and accepts.
    assert check_agrees(json.dumps({"a": [1, 2.5, -0.0, "\U0001f600"]}, ensure_ascii=True).encode())
    assert not check_agrees(json.dumps({"a": math.nan}).encode())
    assert not check_agrees(json.dumps("\ud800").encode())


def nest(depth: int, inner: str = "1") -> bytes:
    return ('{"a":[' * depth + inner + "]}" * depth).encode()


# (line bytes, whether json.loads accepts it): the table checks its own premise, so a case cannot go vacuous.
EDGE_CASES: list[tuple[str, bytes, bool]] = [
    ("nan", b'{"a": NaN}', True),
    ("infinity", b'{"a": Infinity}', True),
    ("minus infinity", b"[-Infinity]", True),
    ("overflowing exponent", b'{"a": 1e400}', True),
    ("overflowing mantissa", b"1.7976931348623159e308", True),
    ("huge exponent", b"1e2147483648", True),
    ("underflow to zero", b"1e-400", True),
    ("negative zero", b"-0.0", True),
    ("negative zero exponent", b"-0e400", True),
    ("negative int zero", b"-0", True),
    ("smallest subnormal", b"4.9e-324", True),
    ("halfway below subnormal", b"2.4703282292062328e-324", True),
    ("long mantissa", b"0.1000000000000000055511151231257827021181583404541015625", True),
    ("big int", b"123456789012345678901234567890123456789", True),
    ("past int64", b"-9223372036854775809", True),
    ("past uint64", b"18446744073709551616", True),
    ("int over the str digits limit", b"1" * 5000, False),
    ("lone high surrogate", b'{"a": "\\ud800"}', True),
    ("lone low surrogate", b'"\\udc00"', True),
    ("reversed surrogates", b'"\\udc00\\ud800"', True),
    ("high surrogate then letter", b'"\\ud800\\u0041"', True),
    ("surrogate key", b'{"\\ud800": 1}', True),
    ("surrogate pair", b'"\\ud83d\\ude00"', True),
    ("upper-case escape", b'"\\uD83D\\uDE00"', True),
    ("raw control character", b'{"a": "x\x01y"}', False),
    ("raw tab", b'"a\tb"', False),
    ("raw nul", b'"\x00"', False),
    ("raw delete", b'"\x7f"', True),
    ("raw line separator", '"\u2028"'.encode(), True),
    ("short escape", b'"\\u00"', False),
    ("bad escape", b'"\\x41"', False),
    ("solidus escape", b'"\\/"', True),
    ("leading zero", b"01", False),
    ("negative leading zero", b"-01", False),
    ("leading zeros in fraction", b"00.5", False),
    ("bare dot", b".5", False),
    ("trailing dot", b"1.", False),
    ("empty exponent", b"1e", False),
    ("plus sign", b"+1", False),
    ("hex", b"0x10", False),
    ("underscore", b"1_000", False),
    ("trailing garbage", b'{"a": 1}x', False),
    ("two values", b"1 2", False),
    ("trailing comma", b'{"a": 1,}', False),
    ("trailing comma in array", b"[1,]", False),
    ("non-string key", b"{1: 2}", False),
    ("repeated keys", b'{"b": 1, "a": 2, "b": 3}', True),
    ("nested 400 deep", nest(200), True),
    ("nested 100,000 deep", nest(100_000), False),
    ("invalid utf-8", b'{"a": "\xff"}', False),
    ("overlong utf-8", b'"\xc0\x80"', False),
    ("utf-8 surrogate", b'"\xed\xa0\x80"', False),
    ("past U+10FFFF", b'"\xf4\x90\x80\x80"', False),
    ("truncated utf-8", b'"\xe2\x82"', False),
    ("bom", b'\xef\xbb\xbf{"a": 1}', False),
    ("whitespace around", b' \t{"a" :\r1 }\r\t ', True),
    ("form feed around", b"\x0c1", False),
    ("vertical tab around", b"1\x0b", False),
    ("no-break space around", b"\xc2\xa01", False),
    ("empty", b"", False),
    ("blank", b" \t", False),
    ("nul after value", b"[1]\x00", False),
]


@pytest.mark.parametrize(("data", "json_accepts"), [c[1:] for c in EDGE_CASES], ids=[c[0] for c in EDGE_CASES])
def test_msgspec_never_accepts_an_edge_case_json_refuses(data: bytes, json_accepts: bool) -> None:
    assert json_route(data)[0] is json_accepts
    check_agrees(data)


def test_msgspec_refuses_what_only_json_reads() -> None:
    # These go through json.loads in the validator; if msgspec read them, NaN and surrogates would need checking.
    for data in (b"NaN", b"1e400", b'"\\ud800"', b'{"\\udfff": 0}'):
        assert fast_or_none(data) == (False, None), data


# --- 2. StringZilla against bytes' own translate and `in` ------------------------------------------------------------
# The needles may_hold_sensitive looks for in the shape (the test below reads them from its source, so they stay in
# step).
NEEDLES = (b"0000000000000", b"0000 0000 0000 0", b"0000 000000 00000", b"00-0000", b"+00000000")
TOKENS = [bytes([b]) for b in b"0123456789 -.+@AKIS()xyzPRVTEYabc\t\"\\/:,\x00\x7f\x80\xff"] + [
    s.encode() for s in ("\u00e9", "\u20ac", "\U0001f600", "\u0663", "\uff10", "AKIA", "ASIA", "PRIVATE KEY")
] + [b"0000", b"000-0000", b"0000 ", b"+1", b"\\u0040"]  # fmt: skip
haystacks = st.lists(st.sampled_from(TOKENS), max_size=160).map(b"".join) | st.binary(max_size=300)


def test_the_needles_are_those_of_may_hold_sensitive() -> None:
    source_text = inspect.getsource(quality.may_hold_sensitive)
    used = {ast.literal_eval(m) for m in re.findall(r"contains\(shape, (b\"[^\"]*\")\)", source_text)}
    assert used == set(NEEDLES)


@SETTINGS
@given(haystacks)
def test_stringzilla_translate_is_bytes_translate(data: bytes) -> None:
    shape = quality._shape_sz(data)
    assert type(shape) is bytes and shape == quality._shape_bytes(data)


@SETTINGS
@given(haystacks, st.data())
def test_stringzilla_contains_is_bytes_in(data: bytes, draw: st.DataObject) -> None:
    shape = quality._shape_bytes(data)
    for haystack in (data, shape):
        for needle in NEEDLES:
            assert quality._contains_sz(haystack, needle) is (needle in haystack)
        if haystack:  # a needle cut from the haystack is always found, one drawn at random maybe
            start = draw.draw(st.integers(0, len(haystack) - 1))
            needle = haystack[start : draw.draw(st.integers(start + 1, min(len(haystack), start + 40)))]
            assert quality._contains_sz(haystack, needle) is True
        other = draw.draw(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=6).map(b"".join))
        assert quality._contains_sz(haystack, other) is (other in haystack)


ENGINES = [
    (quality._shape_sz, quality._contains_sz),
    (quality._shape_bytes, bytes.__contains__),
    (quality._shape_sz, bytes.__contains__),
    (quality._shape_bytes, quality._contains_sz),
]


def prefilter_answers(data: bytes) -> list[bool]:
    answers = []
    for shape, contains in ENGINES:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(quality, "_shape", shape)
            mp.setattr(quality, "_contains", contains)
            answers.append(quality.may_hold_sensitive(data))
    return answers


@SETTINGS
@given(haystacks)
def test_may_hold_sensitive_is_the_same_with_either_engine(data: bytes) -> None:
    answers = prefilter_answers(data)
    assert answers == [answers[0]] * len(ENGINES)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"call 555-1234 today", True),
        (b"call 555.1234 today", True),
        (b"card 4111 1111 1111 1111", True),
        (b"card 3782 822463 10005", True),
        (b"card 4111111111111111", True),
        (b"ssn 123-45-6789", True),
        (b"dial +14155550123", True),
        (b"mail a@b.co", True),
        (b"key AKIAIOSFODNN7EXAMPLE", True),
        (b"-----BEGIN PRIVATE KEY-----", True),
        (b"no digits here at all, A B C", False),
        (b"12-345 and 1234 5678 and +1234567", False),
        ("caf\u00e9 \u0663\u0663\u0663-\u0663\u0663\u0663\u0663 \U0001f600".encode(), False),
        (b"", False),
    ],
)
def test_may_hold_sensitive_answers_both_ways_with_either_engine(data: bytes, expected: bool) -> None:
    # Guards the property above: the generated inputs reach both answers, and each engine gives the right one.
    assert prefilter_answers(data) == [expected] * len(ENGINES)


# --- 3. The whole validator with and without the accelerators ---------------------------------------------------------
@contextmanager
def pure_python() -> Iterator[None]:
    """The Lambda asset's routes: no msgspec, bytes.translate and `in`."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(validator, "fast_loads", None)
        mp.setattr(quality, "_shape", quality._shape_bytes)
        mp.setattr(quality, "_contains", bytes.__contains__)
        yield


@contextmanager
def counted() -> Iterator[dict[str, int]]:
    """The accelerated routes, counting their calls (so a comparison cannot pass with them unused)."""
    calls = {"fast_loads": 0, "shape": 0}
    assert FAST_LOADS is not None
    fast, shape = FAST_LOADS, quality._shape_sz

    def fast_loads(data: bytes) -> object:
        calls["fast_loads"] += 1
        return fast(data)

    def shape_sz(data: bytes) -> bytes:
        calls["shape"] += 1
        return shape(data)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(validator, "fast_loads", fast_loads)
        mp.setattr(quality, "_shape", shape_sz)
        mp.setattr(quality, "_contains", quality._contains_sz)
        yield calls


def both_routes(run: Callable[[], ValidationResult]) -> tuple[ValidationResult, ValidationResult, dict[str, int]]:
    with counted() as calls:
        fast = run()
    with pure_python():
        pure = run()
    return fast, pure, calls


def record_line(record: dict[str, Any], replace: dict[str, str]) -> bytes:
    line = json.dumps(record)
    for old, new in replace.items():
        line = line.replace(old, new)
    return line.encode("utf-8", "surrogatepass") + b"\n"


def secrets_dataset() -> bytes:
    texts = ["my key is AKIAIOSFODNN7EXAMPLE", "write to jane.doe@example.com", "call 555-867-5309", "or 555.867.5309",
             "card 4111 1111 1111 1111", "ssn 123-45-6789", "dial +14155550123", "card 4111111111111112 (not Luhn)",
             "order 2024-1234-5678", "-----BEGIN RSA PRIVATE KEY-----\nMII..."]  # fmt: skip
    lines = [jsonl([claude(i, question=f"Question {i}: {t}")]) for i, t in enumerate(texts)]
    # \u escapes hide an "@" and digits from the raw-line prefilter: each text is then tested on its own.
    lines.append(record_line(claude(50, question="mail bob AT example.com"), {" AT ": "\\u0040"}))
    lines.append(record_line(claude(51, question="call 555 867 5309"), {"555 ": "\\u0035\\u00355-"}))
    lines.append(record_line(claude(52, question="caf\u00e9 and 12-3456"), {}))
    return dataset(40, start=100) + b"".join(lines)


def broken_dataset() -> bytes:
    head = dataset(40)
    good = json.dumps(claude(1000))
    return (
        head
        + b"".join(
            [
                good[:-5].encode() + b"\n",  # cut short
                good[:-1].encode() + b",}\n",  # trailing comma
                good.encode() + b" x\n",  # trailing garbage
                b"  " + good.encode() + b" \t\n",  # padded: valid
                good.replace('"system"', '"system": 1, "system"', 1).encode() + b"\n",  # repeated key, last wins
                good.replace("1000 plus", "caf\u00e9 \U0001f600 plus", 1).encode() + b"\n",  # raw multibyte text
                good.replace("1000 plus", "\x01", 1).encode() + b"\n",  # raw control character
                good.replace("1000", "\xff", 1).encode("latin-1") + b"\n",  # invalid UTF-8
                b"\xef\xbb\xbf" + good.encode() + b"\n",  # a BOM past line 1
                b"[" + good.encode() + b"]\n",  # an array line, not first
                b"\n",
                b"   \n",
                b"01\n",
                b'{"messages": 01}\n',
                good.encode() + b"\r\n",
                good.replace('"You', '"You\\u0000', 1).encode() + b"\n",
                good[:-1].encode(),  # last line, no newline, invalid
            ]
        )
    )


# Values json.loads reads and msgspec may not, in place of a text and as an extra field's value.
FIELD_VALUES = ("NaN", "Infinity", "-Infinity", "1e400", "-0.0", "1.0", "1", "12345678901234567890123", "1e-400",
                "5e-324", "true", "null")  # fmt: skip
TEXT_VALUES = ("NaN", "1e400", "1.5", "-0", "-0.0", "2", "[1, 2.0]", '{"text": 1e999}', "true")


def numbers_dataset() -> bytes:
    good = json.dumps(claude(2000))
    system = '"You answer questions about arithmetic."'
    extra = [good.replace('"You answer', f'{value}, "x": "You answer', 1) for value in FIELD_VALUES]
    texts = [good.replace(system, value, 1) for value in TEXT_VALUES]
    return dataset(40) + "".join(line + "\n" for line in extra + texts).encode()


def surrogates_dataset() -> bytes:
    return dataset(40) + b"".join(
        record_line(claude(3000 + i, question=q), replace)
        for i, (q, replace) in enumerate(
            [
                ("lone XX", {"XX": "\\ud800"}),
                ("low XX", {"XX": "\\udfff"}),
                ("pair XX", {"XX": "\\ud83d\\ude00"}),
                ("reversed XX", {"XX": "\\ude00\\ud83d"}),
                ("high then letter XX", {"XX": "\\ud800\\u0041"}),
                ("lone XX", {"XX": "\\ud800"}),  # an exact duplicate of the first
                ("key", {'"system"': '"\\ud800"'}),
            ]
        )
    )


def schema_dataset() -> bytes:
    records: list[object] = [
        {"messages": [{"role": "user", "content": "hi"}]},
        {"system": 1.0, "messages": []},
        {"system": 1, "messages": "no"},
        {"messages": [{"role": "robot", "content": "a"}, {"role": "assistant", "content": 2}]},
        {"messages": [{"role": "user", "content": -0.0}, {"role": "assistant", "content": "ok then"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}, {"role": "assistant"}]},
        claude(4000, extra_key=True),
        claude(4001, answer=""),
        claude(4002, answer=" ok "),
        claude(4003, question="x " * 200_000),
        [1, 2],
        "text",
        None,
        3.5,
    ]
    return dataset(40) + jsonl(records)


def duplicates_dataset() -> bytes:
    return (
        dataset(40)
        + jsonl([claude(3), claude(5, question="WHAT is 5 plus 5??"), claude(7, answer="something else")])
        + jsonl([claude(i, question=f"Shared start {'y' * 300} {i} shared end {'z' * 300}") for i in range(4)])
        + jsonl([claude(9, question=f"Shared start {'y' * 300} 2 shared end {'z' * 300}")])
    )


TRAIN_SETS = {
    "clean": dataset(40),
    "broken lines": broken_dataset(),
    "numbers, NaN and big exponents": numbers_dataset(),
    "lone surrogates": surrogates_dataset(),
    "wrong schema": schema_dataset(),
    "secrets": secrets_dataset(),
    "duplicates": duplicates_dataset(),
    "first line invalid": b"{oops\n" + dataset(40),
    "bom and crlf": b"\xef\xbb\xbf" + dataset(40).replace(b"\n", b"\r\n"),
    "json array": b"[\n" + dataset(40).replace(b"}\n", b"},\n") + b"]\n",
}


@pytest.mark.parametrize("name", list(TRAIN_SETS))
@pytest.mark.parametrize("chunk", [0, 97])
def test_the_report_is_the_same_without_accelerators(name: str, chunk: int) -> None:
    data = TRAIN_SETS[name]
    validation = jsonl([claude(3), claude(41), claude(5, answer="another answer")])

    def run() -> ValidationResult:
        files = [source("train", "train.jsonl", data, chunk), source("validation", "validation.jsonl", validation)]
        return validate(files, base_model_id=HAIKU)

    fast, pure, calls = both_routes(run)
    assert fast.report == pure.report
    assert fast.source_sha256 == pure.source_sha256
    if name != "json array":
        assert calls["fast_loads"] > 0 and calls["shape"] > 0


@pytest.mark.parametrize(("model", "make"), [(LLAMA_31, prompt_completion), (NOVA, converse)])
def test_other_formats_report_the_same_without_accelerators(model: str, make: Callable[[int], object]) -> None:
    extra = [make(1), make(2), {"prompt": "x", "completion": math.nan}, {"schemaVersion": "\ud800"}]
    data = dataset(60, make) + jsonl(extra) + numbers_dataset()
    fast, pure, calls = both_routes(lambda: validate([source("train", "t.jsonl", data)], base_model_id=model))
    # msgspec serves clean Claude records only: every other format keeps json's route, limits and messages.
    assert fast.report == pure.report and calls["fast_loads"] == 0


def test_a_split_is_the_same_without_accelerators() -> None:
    data = dataset(80) + secrets_dataset() + duplicates_dataset() + numbers_dataset()
    config = SplitConfig(validation_share=0.2, test_share=0.1, seed=7)

    def run() -> ValidationResult:
        return validate([source("pool", "all.jsonl", data)], base_model_id=HAIKU, split=config)

    fast, pure, calls = both_routes(run)
    assert fast.report == pure.report and calls["fast_loads"] > 0
    assert list(fast.pool_keys) == list(pure.pool_keys) and fast.plan == pure.plan


def test_the_secrets_dataset_finds_secrets_on_both_routes() -> None:
    # Guards the comparison above: the two routes agree on a report that has secrets, duplicates and bad lines.
    fast, pure, _ = both_routes(
        lambda: validate([source("train", "train.jsonl", secrets_dataset() + broken_dataset())], base_model_id=HAIKU)
    )
    for rule in ("QUALITY-SECRET", "QUALITY-PII", "JSON-INVALID", "FILE-INVALID-UTF8", "QUALITY-DUPLICATE"):
        assert rule in fast.report.per_rule and rule in pure.report.per_rule, rule


def test_deep_nesting_near_the_recursion_limit_is_reported_the_same() -> None:
    # One line per depth around the recursion limit (where exactly depends on the stack the test runs on).
    limit = sys.getrecursionlimit()
    good = json.dumps(claude(5000))[:-1]
    lines = b"".join(
        (good + ', "meta": ' + "[" * depth + "]" * depth + "}\n").encode() for depth in range(limit - 150, limit + 5)
    )
    fast, pure, _ = both_routes(
        lambda: validate([source("train", "train.jsonl", dataset(40) + lines)], base_model_id=HAIKU)
    )
    assert [(f.rule_id, f.line) for f in fast.report.findings] == [(f.rule_id, f.line) for f in pure.report.findings]
