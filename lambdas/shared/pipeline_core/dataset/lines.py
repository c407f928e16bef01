"""Splits a stream of byte chunks into numbered lines, keeping what a line-iterator hides (CR, missing final newline).

The input is any iterable of bytes: fixed-size chunks from S3 (`StreamingBody.iter_chunks`), or the lines of a binary
file object. Only one line is held at a time, and a line longer than `max_line_bytes` is dropped (reported as too
long), so memory stays bounded whatever the input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple

CHUNK_SIZE = 1 << 20
# Far above any per-record quota: 32,000 tokens x ~4 characters x 4 UTF-8 bytes is about 0.5 MB.
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024


class RawLine(NamedTuple):
    """One physical line. `data` excludes the terminator ("\\n" or "\\r\\n")."""

    number: int  # 1-based
    data: bytes
    crlf: bool  # ended with "\r\n"
    terminated: bool  # False only for a last line without a trailing newline
    size: int  # bytes on disk, terminator included
    too_long: bool  # data was dropped because the line exceeded max_line_bytes


class LineReader:
    """Iterates `RawLine`s over byte chunks and keeps the file's size and SHA-256 as it goes."""

    def __init__(self, chunks: Iterable[bytes], *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._chunks = chunks
        self._max = max_line_bytes
        self._sha = hashlib.sha256()
        self.bytes_read = 0

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def __iter__(self) -> Iterator[RawLine]:
        pending: list[bytes] = []
        pending_len = 0
        overflow = False
        number = 0
        update = self._sha.update
        for chunk in self._chunks:
            if not chunk:
                continue
            update(chunk)
            self.bytes_read += len(chunk)
            parts = chunk.split(b"\n")
            last = parts.pop()  # the text after the final "\n" of this chunk (maybe empty): not yet a whole line
            for part in parts:
                number += 1
                if pending or overflow:
                    size = pending_len + len(part) + 1
                    data = b"".join((*pending, part)) if not overflow else b""
                    too_long = overflow or size - 1 > self._max
                    pending, pending_len, overflow = [], 0, False
                else:
                    size = len(part) + 1
                    data = part
                    too_long = size - 1 > self._max
                if too_long:
                    data = b""
                crlf = data.endswith(b"\r")
                yield RawLine(number, data[:-1] if crlf else data, crlf, True, size, too_long)
            if last:
                pending_len += len(last)
                if overflow or pending_len > self._max:
                    overflow, pending = True, []
                else:
                    pending.append(last)
        if pending_len:
            number += 1
            data = b"" if overflow else b"".join(pending)
            yield RawLine(number, data, False, False, pending_len, overflow)


def file_chunks(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Read a binary file object in fixed-size chunks."""
    while chunk := stream.read(chunk_size):
        yield chunk
