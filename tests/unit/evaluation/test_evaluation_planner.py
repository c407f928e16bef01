"""The batch plan: exact byte ranges whose ranged reads give back exactly each batch's lines and line numbers."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core.evaluation import Batch, PlanError, batch_lines, plan_batches


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def lines_of(data: bytes) -> list[tuple[int, bytes]]:
    """The reference answer: every non-blank line with its 1-based number, terminators removed."""
    result = []
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        text = line.rstrip(b"\n").rstrip(b"\r")
        if text.strip():
            result.append((number, text))
    return result


def replay(data: bytes, batches: list[Batch]) -> list[tuple[int, bytes]]:
    """What the batch children read: each batch's byte range, split as the handler splits it."""
    out: list[tuple[int, bytes]] = []
    for batch in batches:
        got = list(batch_lines(data[batch.start_byte : batch.end_byte], batch.first_line))
        assert len(got) == batch.examples
        out.extend(got)
    return out


def record(text: str) -> bytes:
    return json.dumps({"prompt": text, "completion": text[::-1]}, ensure_ascii=False).encode()


def test_crlf_multibyte_blank_lines_and_no_final_newline() -> None:
    lines = [record("héllo wörld"), b"", record("日本語のテキスト"), b"   ", record("emoji 🎉"), record("last")]
    data = b"\r\n".join(lines)  # CRLF everywhere, no terminator after the last record
    for chunk_size in (1, 2, 3, 7, 1 << 20):
        batches = list(plan_batches(chunked(data, chunk_size), batch_size=2))
        assert [b.examples for b in batches] == [2, 2]
        assert [b.first_line for b in batches] == [1, 5]
        assert batches[0].start_byte == 0
        assert batches[-1].end_byte == len(data)
        assert replay(data, batches) == lines_of(data)
        # A range ends just after its last line's terminator: the next byte begins a line.
        assert data[batches[0].end_byte - 2 : batches[0].end_byte] == b"\r\n"


def test_leading_blank_lines_move_the_first_batch_start() -> None:
    data = b"\n\r\n" + record("a") + b"\n"
    (batch,) = plan_batches([data], batch_size=10)
    assert batch == Batch(index=0, start_byte=3, end_byte=len(data), first_line=3, examples=1)
    assert batch.range_header == f"bytes=3-{len(data) - 1}"


def test_max_examples_caps_the_plan() -> None:
    data = b"".join(record(str(i)) + b"\n" for i in range(25))
    batches = list(plan_batches([data], batch_size=10, max_examples=23))
    assert [(b.index, b.examples) for b in batches] == [(0, 10), (1, 10), (2, 3)]
    assert replay(data, batches) == lines_of(data)[:23]


def test_check_sees_every_example_line_with_its_number() -> None:
    data = record("a") + b"\n\n" + record("b") + b"\n"
    seen: list[int] = []
    list(plan_batches([data], batch_size=5, check=lambda line, number: seen.append(number)))
    assert seen == [1, 3]


def test_empty_input_gives_no_batches_and_bad_sizes_are_refused() -> None:
    assert list(plan_batches([b"\n \n"], batch_size=3)) == []
    with pytest.raises(PlanError):
        list(plan_batches([b""], batch_size=0))
    with pytest.raises(PlanError):
        list(plan_batches([b""], batch_size=1, max_examples=0))


def test_batch_from_mapping_validates() -> None:
    batch = Batch(index=3, start_byte=10, end_byte=20, first_line=4, examples=2)
    assert Batch.from_mapping(batch.to_dict()) == batch
    with pytest.raises(PlanError, match=r"batch\.start_byte"):
        Batch.from_mapping({**batch.to_dict(), "start_byte": "10"})
    with pytest.raises(PlanError, match="inconsistent"):
        Batch.from_mapping({**batch.to_dict(), "end_byte": 10})


_LINE = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=12).map(
        lambda s: s.encode()
    ),
    st.sampled_from([b"", b" ", b"\t"]),
)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(_LINE, max_size=30),
    crlf=st.lists(st.booleans(), min_size=30, max_size=30),
    final_newline=st.booleans(),
    batch_size=st.integers(1, 6),
    chunk_size=st.integers(1, 9),
)
def test_ranged_reads_reproduce_the_lines_property(
    lines: list[bytes], crlf: list[bool], final_newline: bool, batch_size: int, chunk_size: int
) -> None:
    data = b"".join(line + (b"\r\n" if crlf[i] else b"\n") for i, line in enumerate(lines))
    if lines and not final_newline:
        data = data[: -2 if crlf[len(lines) - 1] else -1]
    batches = list(plan_batches(chunked(data, chunk_size), batch_size=batch_size))
    assert replay(data, batches) == lines_of(data)
    assert all(b.examples <= batch_size for b in batches)
    assert [b.index for b in batches] == list(range(len(batches)))
    assert all(a.end_byte <= b.start_byte for a, b in itertools.pairwise(batches))
