"""The rehearsal copies its reports out of moto's S3 whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from finetune.rehearsal import runner


class _NoSuchKey(Exception):
    pass


class FakeS3:
    """Serves report.json and report.md; everything else is missing."""

    exceptions = SimpleNamespace(NoSuchKey=_NoSuchKey)
    bodies: ClassVar[dict[str, bytes]] = {
        "report.json": b'{"verdict": "PROMOTED"}',
        "report.md": b"# Evaluation report\n",
    }

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        name = Key.rsplit("/", 1)[1]
        if name in self.bodies and "/validation/" not in Key:
            return {"Body": SimpleNamespace(read=lambda: self.bodies[name])}
        raise _NoSuchKey(Key)


def test_a_copy_interrupted_before_it_is_on_disk_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the second report is being flushed: the first is whole, the second and its temp file absent."""
    cloud: Any = SimpleNamespace(artifacts_bucket="artifacts")
    arn = "arn:aws:states:us-west-2:123456789012:execution:sm:demo-0123"
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:  # report.json: the file, then its folder; then report.md's file
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        runner._copy_reports(FakeS3(), cloud, "demo", arn, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    assert (tmp_path / "report.json").read_bytes() == FakeS3.bodies["report.json"]
