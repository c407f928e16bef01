"""Files that are not UTF-8 text are diagnosed once, by their first bytes, instead of line by line."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile

import pytest
from dataset_fixtures import Run, dataset, rules

from pipeline_core.dataset.sniff import SNIFF_BYTES, WIDE_TEXT_MIN_SHARE, Head, diagnose

TEXT = dataset(40)


def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.jsonl", data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (gzip.compress(TEXT), "a gzip archive (it starts with 1F 8B)"),
        (_zip(TEXT), "a zip archive (it starts with 50 4B 03 04)"),
        (bz2.compress(TEXT), "a bzip2 archive"),
        (lzma.compress(TEXT), "an xz archive"),
        (b"\x28\xb5\x2f\xfd" + TEXT, "a zstd archive"),
        (b"\xff\xfe" + TEXT.decode().encode("utf-16-le"), "UTF-16LE text (byte order mark FF FE)"),
        (b"\xfe\xff" + TEXT.decode().encode("utf-16-be"), "UTF-16BE text (byte order mark FE FF)"),
        (TEXT.decode().encode("utf-16"), "UTF-16LE text (byte order mark FF FE)"),  # Python writes LE with a mark
        (b"\xff\xfe\x00\x00" + TEXT.decode().encode("utf-32-le"), "UTF-32LE text (byte order mark FF FE 00 00)"),
        (b"\x00\x00\xfe\xff" + TEXT.decode().encode("utf-32-be"), "UTF-32BE text (byte order mark 00 00 FE FF)"),
        (TEXT.decode().encode("utf-16-le"), "UTF-16LE text (no byte order mark"),
        (TEXT.decode().encode("utf-16-be"), "UTF-16BE text (no byte order mark"),
        (TEXT.decode().encode("utf-32-le"), "UTF-32LE text (no byte order mark"),
        (TEXT.decode().encode("utf-32-be"), "UTF-32BE text (no byte order mark"),
        (b'{"a": 1}\n\x00\x01\x02\xff' * 20, "binary, not JSON Lines text: byte 10 is a NUL byte"),
    ],
)
def test_each_kind_is_named(data: bytes, expected: str) -> None:
    found = diagnose(data)
    assert found is not None and expected in found
    assert "\n" not in found


def test_the_fix_names_the_file_and_the_right_iconv_source() -> None:
    with_mark = diagnose(TEXT.decode().encode("utf-16"), "train.jsonl")
    assert with_mark is not None and "iconv -f UTF-16 -t UTF-8 train.jsonl > OUT.jsonl" in with_mark
    # Without a mark iconv must be told the byte order, or it guesses big-endian.
    without = diagnose(TEXT.decode().encode("utf-16-le"), "train.jsonl")
    assert without is not None and "iconv -f UTF-16LE -t UTF-8 train.jsonl" in without
    gz = diagnose(gzip.compress(TEXT), "'my data.jsonl.gz'")
    assert gz is not None and gz.endswith("(gunzip -k 'my data.jsonl.gz')")


def test_non_latin_utf16_text_is_still_recognised() -> None:
    # JSON's own syntax is ASCII, so text in another script keeps NUL bytes in a good share of its units.
    line = '{"messages": [{"role": "user", "content": "' + "你好世界" * 20 + '"}]}\n'
    assert sum(ch.isascii() for ch in line) < 0.4 * len(line)
    data = line.encode("utf-16-le") * 30
    found = diagnose(data)
    assert found is not None and "UTF-16LE" in found


@pytest.mark.parametrize(
    "data",
    [
        TEXT,
        b"",
        b"\xef\xbb\xbf" + TEXT,  # a UTF-8 byte order mark is FILE-BOM's business
        '{"prompt": "café ☕", "completion": "ok"}\n'.encode() * 50,
        b'{"prompt": "caf\xe9"}\n' * 50,  # Latin-1: invalid UTF-8, reported per line by FILE-INVALID-UTF8
        b"[\n" + TEXT,
    ],
)
def test_utf8_and_other_nul_free_text_is_left_to_the_line_rules(data: bytes) -> None:
    assert diagnose(data) is None


def _units(wide: int, other: int) -> bytes:
    """`wide` UTF-16LE-looking units (an ASCII byte and a NUL) among `other` units without NUL bytes."""
    return b"a\x00" * wide + b"xy" * other


def test_the_wide_text_share_is_a_quarter_of_the_units() -> None:
    assert WIDE_TEXT_MIN_SHARE == 0.25
    at = diagnose(_units(100, 300))  # exactly a quarter
    above = diagnose(_units(101, 299))
    below = diagnose(_units(99, 301))
    assert at is not None and "UTF-16LE" in at
    assert above is not None and "UTF-16LE" in above
    assert below is not None and "binary" in below  # NUL bytes, but not in the pattern of a wide encoding


def test_only_the_first_block_is_looked_at() -> None:
    at_the_edge = b"x" * (SNIFF_BYTES - 1) + b"\x00"
    found = diagnose(at_the_edge)
    assert found is not None and f"byte {SNIFF_BYTES:,} is a NUL byte" in found
    assert diagnose(b"x" * SNIFF_BYTES + b"\x00") is None


@pytest.mark.parametrize("size", [1, 7, 1000, SNIFF_BYTES, SNIFF_BYTES + 1, 1 << 20])
def test_head_passes_every_chunk_on_unchanged(size: int) -> None:
    data = dataset(300)
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    head = Head(iter(chunks))
    assert head.head == data[:SNIFF_BYTES]
    assert b"".join(head) == data


def test_a_gzip_upload_gets_one_finding_and_no_record_count(run: Run) -> None:
    data = gzip.compress(dataset(2000))
    result = run(data, chunk=100)
    report = result.report
    assert report.per_rule == {"FILE-NOT-UTF8-TEXT": 1}  # not JSON-INVALID per line, not QUOTA-MIN-RECORDS
    (finding,) = report.findings
    assert finding.line is None and finding.file == "train.jsonl" and "gzip" in finding.message
    assert not result.valid
    (summary,) = report.files
    assert (summary.bytes, summary.lines, summary.records) == (len(data), 0, 0)
    assert "ERROR FILE-NOT-UTF8-TEXT (1): The file is not UTF-8 text" in report.to_text()


def test_a_split_upload_in_utf16_gets_one_finding(run: Run) -> None:
    from pipeline_core.dataset import SplitConfig

    result = run(dataset(300).decode().encode("utf-16"), split=SplitConfig())
    assert result.report.per_rule == {"FILE-NOT-UTF8-TEXT": 1}


def test_a_binary_validation_file_leaves_the_training_checks_in_place(run: Run) -> None:
    result = run(dataset(3), validation=b"\x00" * 100)
    assert rules(result) == {"FILE-NOT-UTF8-TEXT", "QUOTA-MIN-RECORDS"}
    (not_text,) = [f for f in result.report.findings if f.rule_id == "FILE-NOT-UTF8-TEXT"]
    assert not_text.file == "validation.jsonl"


def test_a_nul_past_the_first_block_is_a_line_finding(run: Run) -> None:
    data = dataset(100)
    assert len(data) > SNIFF_BYTES
    result = run(data + b'{"a": "\x00"}\n')
    assert "FILE-NOT-UTF8-TEXT" not in rules(result) and "JSON-INVALID" in rules(result)
