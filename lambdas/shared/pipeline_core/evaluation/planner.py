"""Splits the test set into batches of examples located by exact byte range, so each batch reads only its own bytes.

The plan is computed in one streaming pass; a batch child later fetches `[start_byte, end_byte)` with one ranged
GET and recovers the same lines, with the same line numbers (and so the same example ids), from `first_line`.
Blank lines are skipped in both passes by the same rule, so the two always agree on what an example is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pipeline_core.dataset.lines import LineReader


class PlanError(ValueError):
    """The test set or a batch description cannot be planned or read as planned."""


@dataclass(frozen=True)
class Batch:
    """One Distributed Map item: a contiguous byte range of the test set holding `examples` records."""

    index: int
    start_byte: int  # offset of the first byte of the batch's first example line
    end_byte: int  # exclusive: one past the terminator of its last example line
    first_line: int  # 1-based line number of the line starting at start_byte
    examples: int

    @property
    def range_header(self) -> str:
        """The HTTP Range header for these bytes; its end is inclusive (RFC 9110, section 14.1.2)."""
        return f"bytes={self.start_byte}-{self.end_byte - 1}"

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Batch:
        """Parse the batch item the Distributed Map hands a child; PlanError names the bad field."""
        values: dict[str, int] = {}
        for name in ("index", "start_byte", "end_byte", "first_line", "examples"):
            value = raw.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise PlanError(f"batch.{name} must be a non-negative integer, got {value!r}")
            values[name] = value
        batch = cls(**values)
        if batch.end_byte <= batch.start_byte or batch.first_line < 1 or batch.examples < 1:
            raise PlanError(f"batch {batch.index} is empty or inconsistent: {batch.to_dict()}")
        return batch


def is_blank(line: bytes) -> bool:
    """A line holding only whitespace is no record; both passes skip it."""
    return not line.strip()


def plan_batches(
    chunks: Iterable[bytes],
    *,
    batch_size: int,
    max_examples: int | None = None,
    check: Callable[[bytes, int], object] | None = None,
) -> Iterator[Batch]:
    """Yield batches of up to `batch_size` examples, stopping after `max_examples` (None: the whole file).

    `check(line, line_number)` is called on every example line, so a record that cannot be evaluated fails the
    plan (once, with its line number) rather than every batch child that reads it.
    """
    if batch_size < 1:
        raise PlanError(f"batch_size must be at least 1, got {batch_size}")
    if max_examples is not None and max_examples < 1:
        raise PlanError(f"max_examples must be at least 1, got {max_examples}")
    offset = 0
    index = 0
    total = 0
    start = first = count = end = 0
    for line in LineReader(chunks):
        line_start, offset = offset, offset + line.size
        if line.too_long:
            raise PlanError(f"line {line.number} is longer than the reader's limit")
        if is_blank(line.data):
            continue
        if check is not None:
            check(line.data, line.number)
        if count == 0:
            start, first = line_start, line.number
        count += 1
        total += 1
        end = offset
        if count == batch_size:
            yield Batch(index, start, end, first, count)
            index, count = index + 1, 0
        if max_examples is not None and total >= max_examples:
            break
    if count:
        yield Batch(index, start, end, first, count)


def batch_lines(data: bytes, first_line: int) -> Iterator[tuple[int, bytes]]:
    """The (line number, line) pairs of a batch's bytes, less terminators and blank lines."""
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()  # the terminator of the last line, not a line of its own
    for offset, part in enumerate(parts):
        line = part[:-1] if part.endswith(b"\r") else part
        if not is_blank(line):
            yield first_line + offset, line
