"""Splits a stream of byte chunks into numbered lines, keeping what a line-iterator hides (CR, missing final newline).

The input is any iterable of bytes: fixed-size chunks from S3 (`StreamingBody.iter_chunks`), or the lines of a binary
file object. Only one line is held at a time, and a line longer than `max_line_bytes` is dropped (reported as too
long), so memory stays bounded whatever the input.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Generator, Iterable, Iterator
from typing import BinaryIO, NamedTuple

CHUNK_SIZE = 1 << 20
# Far above any per-record quota: 32,000 tokens x ~4 characters x 4 UTF-8 bytes is about 0.5 MB.
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024


class SourceChangedError(RuntimeError):
    """A source read a second time (to write a snapshot, or to confirm duplicates) differs from the first read."""


class RawLine(NamedTuple):
    """One physical line. `data` excludes the terminator ("\\n" or "\\r\\n")."""

    number: int  # 1-based
    data: bytes
    crlf: bool  # ended with "\r\n"
    terminated: bool  # False only for a last line without a trailing newline
    size: int  # bytes on disk, terminator included
    too_long: bool  # data was dropped because the line exceeded max_line_bytes


class HashBehind:
    """SHA-256 of a stream computed on a second thread, so hashing overlaps the caller's parsing.

    hashlib releases the GIL while it hashes a large buffer, so on a machine with a second core the digest costs
    the caller a queue hand-off per few megabytes instead of a pass over every byte. Chunks are handed over in
    batches of BATCH bytes (the hashing thread waits for the GIL once a batch, not once a chunk), and at most
    QUEUED batches wait, so memory stays bounded however fast the caller reads.
    """

    BATCH = 4 << 20
    QUEUED = 2

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._batch: list[bytes] = []
        self._batch_size = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=self.QUEUED)
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            self._sha.update(data)

    def update(self, chunk: bytes) -> None:
        self._batch.append(chunk)
        self._batch_size += len(chunk)
        if self._batch_size >= self.BATCH:
            self._hand_over()

    def _hand_over(self) -> None:
        data = b"".join(self._batch)
        self._batch, self._batch_size = [], 0
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
            self._thread.start()
        self._queue.put(data)

    def close(self) -> None:
        """Hash what is left and wait for the thread; afterwards `hexdigest` is final. Safe to call twice."""
        if self._thread is None:  # a small input: never worth a thread
            self._sha.update(b"".join(self._batch))
            self._batch, self._batch_size = [], 0
            return
        if self._batch:
            self._hand_over()
        self._queue.put(None)
        self._thread.join()
        self._thread = None

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


class LineReader:
    """Iterates `RawLine`s over byte chunks and keeps the file's size and SHA-256 as it goes.

    With `hash_behind=True` the SHA-256 is computed on a second thread (`HashBehind`); `sha256` is final once
    the iteration has ended. With `digest=False` no digest is computed (a pass over every byte saved) and `sha256`
    is "".
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        *,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        hash_behind: bool = False,
        digest: bool = True,
    ) -> None:
        self._chunks = chunks
        self._max = max_line_bytes
        self._sha: HashBehind | hashlib._Hash | None = None
        if digest:
            self._sha = HashBehind() if hash_behind else hashlib.sha256()
        self.bytes_read = 0

    @property
    def sha256(self) -> str:
        return "" if self._sha is None else self._sha.hexdigest()

    def __iter__(self) -> Generator[RawLine, None, None]:
        try:
            yield from self._lines()
        finally:
            if isinstance(self._sha, HashBehind):
                self._sha.close()

    def _lines(self) -> Iterator[RawLine]:
        pending: list[bytes] = []
        pending_len = 0
        overflow = False
        number = 0
        update = None if self._sha is None else self._sha.update
        for chunk in self._chunks:
            if not chunk:
                continue
            if update is not None:
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
