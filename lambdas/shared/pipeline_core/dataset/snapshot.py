"""Writes the validated snapshot (train, validation, test JSON Lines) that training and evaluation read.

Each split is written in its own pass over the source, in train, validation, test order, so the SHA-256 of the
concatenated snapshot is computed while streaming and memory stays bounded. Records are copied byte for byte, with
blank lines dropped and every line ended by a single "\\n". If the source changed since validation (different
bytes or record count), writing stops with SourceChangedError: what is written is exactly what was validated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from pipeline_core.dataset.lines import LineReader, SourceChangedError
from pipeline_core.dataset.report import SPLITS
from pipeline_core.dataset.validator import POOL, ValidationResult, is_blank


class Writer(Protocol):
    def write(self, data: bytes, /) -> object: ...


OpenSink = Callable[[str], AbstractContextManager[Writer]]


class InvalidDatasetError(ValueError):
    """Only a valid dataset gets a snapshot."""


@dataclass(frozen=True)
class Snapshot:
    sha256: str  # of the train + validation + test bytes, in that order
    records: dict[str, int]
    bytes: dict[str, int]


def write_snapshot(result: ValidationResult, open_sink: OpenSink) -> Snapshot:
    """Write every non-empty split through `open_sink(split)`; return the snapshot's digest and counts."""
    if not result.valid:
        raise InvalidDatasetError("the dataset has errors; no snapshot is written")
    sha = hashlib.sha256()
    records: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for split in SPLITS:
        expected = result.report.records(split)
        sources = [f for f in result.files if f.split in (split, POOL)]
        if expected == 0 or not sources:
            continue
        written = size = 0
        with open_sink(split) as sink:
            for f in sources:
                reader = LineReader(f.open())
                ordinal = 0
                for raw in reader:
                    if is_blank(raw.data):
                        continue
                    if f.split == POOL:
                        key = result.pool_keys[ordinal] if ordinal < len(result.pool_keys) else -1
                        ordinal += 1
                        if result.plan is None or key < 0 or result.plan.assign(key) != split:
                            continue
                    out = raw.data + b"\n"
                    sink.write(out)
                    sha.update(out)
                    written += 1
                    size += len(out)
                if reader.sha256 != result.source_sha256[f.name]:
                    raise SourceChangedError(f"{f.name} changed after validation; validate it again")
            if written != expected:
                raise SourceChangedError(f"{split}: wrote {written} records, validated {expected}")
        records[split], sizes[split] = written, size
    return Snapshot(sha.hexdigest(), records, sizes)
