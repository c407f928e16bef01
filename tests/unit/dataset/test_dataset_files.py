"""File-level faults: encoding, BOM, JSON array, blank lines, CRLF, truncation, emptiness, chunk boundaries."""

from __future__ import annotations

import json

from dataset_fixtures import Run, claude, dataset, lines_of, rules

from pipeline_core.dataset.lines import LineReader


def test_clean_dataset_is_valid(run: Run) -> None:
    result = run(dataset(40))
    assert result.valid, result.report.to_text()
    assert result.report.errors == 0 and result.report.records("train") == 40


def test_empty_file_is_an_error(run: Run) -> None:
    result = run(b"")
    assert "FILE-EMPTY" in rules(result) and not result.valid
    assert "0 bytes" in result.report.findings[0].message


def test_blank_only_file_is_empty(run: Run) -> None:
    assert {"FILE-EMPTY", "FILE-BLANK-LINE"} <= rules(run(b"\n  \n"))


def test_bom_is_reported_once_on_line_one(run: Run) -> None:
    result = run(b"\xef\xbb\xbf" + dataset(40))
    assert lines_of(result, "FILE-BOM") == [1]
    assert "JSON-INVALID" not in rules(result)  # the record after the BOM is still checked, not double-reported
    assert not result.valid


def test_invalid_utf8_names_line_and_byte(run: Run) -> None:
    data = dataset(3) + b'{"messages": "caf\xe9"}\n' + dataset(37, start=3)
    result = run(data)
    finding = next(f for f in result.report.findings if f.rule_id == "FILE-INVALID-UTF8")
    assert finding.line == 4 and "0xE9" in finding.message and finding.file == "train.jsonl"


def test_json_array_instead_of_lines(run: Run) -> None:
    data = json.dumps([claude(i) for i in range(40)], indent=2).encode()
    result = run(data)
    assert rules(result) >= {"FILE-JSON-ARRAY"}
    assert "JSON-INVALID" not in rules(result)  # one clear finding, not one per pretty-printed line


def test_blank_lines_warn_and_keep_line_numbers(run: Run) -> None:
    data = dataset(2) + b"\n" + b'{"broken"\n' + dataset(38, start=2)
    result = run(data)
    assert lines_of(result, "FILE-BLANK-LINE") == [3]
    assert lines_of(result, "JSON-INVALID") == [4]


def test_crlf_reported_once_per_file(run: Run) -> None:
    result = run(dataset(40).replace(b"\n", b"\r\n"))
    assert lines_of(result, "FILE-CRLF") == [1]
    assert "40 line(s)" in result.report.findings[0].message
    assert result.valid  # a warning: the snapshot is rewritten with LF


def test_truncated_last_line(run: Run) -> None:
    data = dataset(40) + b'{"messages": [{"role": "user", "cont'
    result = run(data)
    assert lines_of(result, "FILE-TRUNCATED-LAST-LINE") == [41]
    assert "JSON-INVALID" not in rules(result)


def test_missing_final_newline_with_valid_json_is_fine(run: Run) -> None:
    result = run(dataset(40).rstrip(b"\n"))
    assert result.valid and not result.report.findings


def test_invalid_json_reports_column(run: Run) -> None:
    result = run(dataset(5) + b'{"system": "x",}\n' + dataset(35, start=5))
    finding = next(f for f in result.report.findings if f.rule_id == "JSON-INVALID")
    assert finding.line == 6 and "column" in finding.message


def test_line_too_long_is_skipped_with_bounded_memory(run: Run) -> None:
    big = json.dumps(claude(0, question="x" * 5000)).encode() + b"\n"
    result = run(big + dataset(40, start=1), max_line_bytes=1000, chunk=64)
    assert lines_of(result, "FILE-LINE-TOO-LONG") == [1]


def test_lines_identical_whatever_the_chunking() -> None:
    data = dataset(20).replace(b"\n", b"\r\n", 3) + b"\n\n" + b'{"tail": 1}'
    whole = list(LineReader([data]))
    for size in (1, 2, 7, 64, 1000):
        assert list(LineReader([data[i : i + size] for i in range(0, len(data), size)])) == whole
    assert whole[-1].terminated is False and whole[0].crlf is True
    assert sum(line.size for line in whole) == len(data)
