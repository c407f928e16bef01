"""The file digest computed on a second thread (LineReader(hash_behind=True)) is the file's SHA-256, whatever the
chunking, and the thread never outlives the iteration: not when it ends, not when the caller stops early or fails."""

from __future__ import annotations

import hashlib
import random
import threading

import pytest

from pipeline_core.dataset.lines import HashBehind, LineReader


def data_of(size: int, seed: int = 3) -> bytes:
    rng = random.Random(seed)
    line = bytes(rng.randrange(32, 127) for _ in range(997)) + b"\n"
    return (line * (size // len(line) + 1))[:size]


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def hashing_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sha256"]


@pytest.mark.parametrize(
    ("size", "chunk"),
    [
        (0, 1 << 20),
        (1000, 7),  # far below one batch: hashed without a thread
        (HashBehind.BATCH - 1, 1 << 20),  # just below one batch
        (HashBehind.BATCH, 1 << 20),  # exactly one batch
        (HashBehind.BATCH + 1, 1 << 20),  # just above
        (3 * HashBehind.BATCH + 12345, 1 << 20),  # several batches and a remainder: the queue fills and drains
        (HashBehind.BATCH * 2, 3 << 20),  # chunks that do not divide a batch
    ],
)
def test_the_digest_is_the_files_sha256(size: int, chunk: int) -> None:
    data = data_of(size)
    behind = LineReader(chunks(data, chunk), hash_behind=True)
    inline = LineReader(chunks(data, chunk))
    assert list(behind) == list(inline)
    assert behind.sha256 == inline.sha256 == hashlib.sha256(data).hexdigest()
    assert behind.bytes_read == len(data)
    assert hashing_threads() == []


def test_a_caller_that_stops_early_leaves_no_thread() -> None:
    reader = LineReader(chunks(data_of(3 * HashBehind.BATCH), 1 << 20), hash_behind=True)
    lines = iter(reader)
    for _ in range(HashBehind.BATCH // 998 + 10):  # past the first batch: the thread is running
        next(lines)
    assert len(hashing_threads()) == 1
    lines.close()  # what a `break` out of a for loop does
    assert hashing_threads() == []


def test_a_caller_that_fails_leaves_no_thread() -> None:
    reader = LineReader(chunks(data_of(2 * HashBehind.BATCH + 5), 1 << 20), hash_behind=True)
    with pytest.raises(KeyboardInterrupt):
        for raw in reader:
            if raw.number == 5000:
                raise KeyboardInterrupt
    assert hashing_threads() == []


def test_close_twice_is_harmless() -> None:
    hasher = HashBehind()
    hasher.update(b"x" * (HashBehind.BATCH + 1))
    hasher.close()
    hasher.close()
    assert hasher.hexdigest() == hashlib.sha256(b"x" * (HashBehind.BATCH + 1)).hexdigest()
