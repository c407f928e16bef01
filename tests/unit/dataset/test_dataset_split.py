"""The seeded split of a single file: deterministic, quota-aware, duplicates on one side, snapshot exactly validated."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from dataset_fixtures import Run, claude, dataset, jsonl, rules

from pipeline_core.dataset import SourceChangedError, SplitConfig, ValidationResult, write_snapshot
from pipeline_core.dataset.snapshot import InvalidDatasetError, Writer
from pipeline_core.dataset.split import plan_split


def snapshot_of(result: ValidationResult) -> tuple[dict[str, bytes], str]:
    written: dict[str, bytes] = {}

    @contextmanager
    def sink(split: str) -> Iterator[Writer]:
        buffer = io.BytesIO()
        yield buffer
        written[split] = buffer.getvalue()

    snap = write_snapshot(result, sink)
    return written, snap.sha256


def test_split_is_deterministic_and_respects_shares(run: Run) -> None:
    data = dataset(1000)
    first = run(data, split=SplitConfig(0.1, 0.2, seed=7))
    again = run(data, split=SplitConfig(0.1, 0.2, seed=7))
    other = run(data, split=SplitConfig(0.1, 0.2, seed=8))
    counts = first.report.split["planned"]  # type: ignore[index]
    assert counts == {"train": 700, "validation": 100, "test": 200}
    assert snapshot_of(first) == snapshot_of(again)
    assert snapshot_of(first)[0]["test"] != snapshot_of(other)[0]["test"]


def test_snapshot_holds_every_record_once_with_lf(run: Run) -> None:
    data = dataset(200).replace(b"\n", b"\r\n")
    result = run(data, split=SplitConfig())
    files, sha = snapshot_of(result)
    lines = [line for blob in files.values() for line in blob.splitlines(keepends=True)]
    assert sorted(lines) == sorted(line.rstrip(b"\r\n") + b"\n" for line in data.splitlines())
    assert {s: blob.count(b"\n") for s, blob in files.items()} == {
        s: result.report.records(s) for s in ("train", "validation", "test")
    }
    import hashlib

    assert sha == hashlib.sha256(files["train"] + files["validation"] + files["test"]).hexdigest()


def test_same_prompt_stays_on_one_side(run: Run) -> None:
    records = [claude(i % 50, answer=f"variant {i // 50} of the answer") for i in range(400)]
    files, _ = snapshot_of(run(jsonl(records), split=SplitConfig(0.2, 0.2)))
    side_of: dict[str, set[str]] = {}
    for split, blob in files.items():
        for line in blob.splitlines():
            side_of.setdefault(json.loads(line)["messages"][0]["content"], set()).add(split)
    assert all(len(sides) == 1 for sides in side_of.values())
    assert "QUALITY-LEAKAGE" not in rules(run(jsonl(records), split=SplitConfig(0.2, 0.2)))


def test_validation_is_capped_by_the_quota() -> None:
    plan = plan_split(list(range(0, 20_000 * 7, 7)), SplitConfig(0.3, 0.1), max_validation=1_000, min_train=32)
    assert plan.counts["validation"] == 1_000 and plan.adjusted
    assert sum(plan.counts.values()) == 20_000


def test_training_keeps_its_minimum(run: Run) -> None:
    result = run(dataset(40), split=SplitConfig(0.2, 0.2))
    planned = result.report.split["planned"]  # type: ignore[index]
    assert planned["train"] >= 32 and sum(planned.values()) == 40
    assert "SPLIT-ADJUSTED" in rules(result) and result.valid


def test_split_config_rejects_bad_shares() -> None:
    with pytest.raises(ValueError):
        SplitConfig(0.6, 0.5)
    with pytest.raises(ValueError):
        SplitConfig(-0.1, 0.1)


def test_invalid_dataset_gets_no_snapshot(run: Run) -> None:
    result = run(dataset(10), split=SplitConfig())
    with pytest.raises(InvalidDatasetError):
        snapshot_of(result)


def test_source_changed_between_passes_is_detected(run: Run) -> None:
    from pipeline_core.dataset import DatasetFile, validate

    versions = [dataset(100), dataset(100, start=1)]
    calls = iter(versions + versions[1:] * 3)
    source = DatasetFile("pool", "changing.jsonl", lambda: [next(calls)])
    result = validate([source], base_model_id="anthropic.claude-3-haiku-20240307-v1:0:200k", split=SplitConfig())
    with pytest.raises(SourceChangedError):
        snapshot_of(result)
