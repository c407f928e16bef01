"""`finetune rehearse`'s checks before anything runs: record quota, timeout, dataset size and where reports go.

The rehearsal itself is replaced by a stand-in that records its options and stops, so each check is seen on its
own; tests/rehearsal runs the real thing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from finetune.cli import main
from finetune.commands import rehearse as rehearse_cmd
from pipeline_core.models import get_base_model

ROOT = Path(__file__).resolve().parents[2]
REACHED = "the rehearsal was reached"


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The options each rehearsal was started with; the stand-in stops there, as a usage error."""
    from finetune.rehearsal import runner

    calls: list[Any] = []

    def stand_in(options: Any, **_: Any) -> Any:
        calls.append(options)
        raise runner.RehearsalError(REACHED)

    monkeypatch.setattr(runner, "rehearse", stand_in)
    return calls


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("finetune rehearse: ")
    return lines[0]


def _configured_model() -> Any:
    return get_base_model(json.loads((ROOT / "cdk.json").read_text())["context"]["pipeline"]["baseModelId"])


def test_records_up_to_the_configured_models_quota_are_rehearsed(
    started: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    quota = _configured_model().quotas.max_total_records
    for records in (1, quota):
        assert main(["rehearse", "--records", str(records)]) == 2
        assert _one_line(capsys).endswith(REACHED)
    assert [options.records for options in started] == [1, quota]


@pytest.mark.parametrize("over", [1, 10_000])
def test_records_over_the_quota_are_refused_naming_the_model(
    started: list[Any], capsys: pytest.CaptureFixture[str], over: int
) -> None:
    model = _configured_model()
    quota = model.quotas.max_total_records
    assert main(["rehearse", "--records", str(quota + over)]) == 2
    line = _one_line(capsys)
    assert line == (
        f"finetune rehearse: --records {quota + over:,} is more than the {quota:,}-record quota of "
        f"{model.display_name} ({model.model_id}, pipeline.baseModelId)"
    )
    assert started == []


@pytest.mark.parametrize("records", ["0", "-3"])
def test_records_below_one_are_refused(started: list[Any], capsys: pytest.CaptureFixture[str], records: str) -> None:
    assert main(["rehearse", "--records", records]) == 2
    assert _one_line(capsys) == f"finetune rehearse: --records must be at least 1, got {records}"
    assert started == []


@pytest.mark.parametrize(
    ("timeout", "reached"), [("0.5", False), ("1", True), ("3600", True), ("3600.5", False), ("nan", False)]
)
def test_timeout_is_bounded(
    started: list[Any], capsys: pytest.CaptureFixture[str], timeout: str, reached: bool
) -> None:
    assert main(["rehearse", "--timeout", timeout]) == 2
    line = _one_line(capsys)
    if reached:
        assert line.endswith(REACHED) and started[0].timeout_seconds == float(timeout)
    else:
        assert line == f"finetune rehearse: --timeout must be from 1 to 3600 seconds, got {float(timeout):g}"


def test_dataset_size_is_bounded(
    started: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "data.jsonl"
    dataset.write_text('{"prompt": "a", "completion": "b"}\n')
    size = dataset.stat().st_size
    monkeypatch.setattr(rehearse_cmd, "MAX_DATASET_BYTES", size)
    assert main(["rehearse", "--dataset", str(dataset)]) == 2
    assert _one_line(capsys).endswith(REACHED)
    monkeypatch.setattr(rehearse_cmd, "MAX_DATASET_BYTES", size - 1)
    assert main(["rehearse", "--dataset", str(dataset)]) == 2
    assert f"is {size:,} bytes; the rehearsal holds at most {size - 1:,} in memory" in _one_line(capsys)
    assert len(started) == 1


@pytest.mark.parametrize("name", rehearse_cmd.OUTPUT_FILES)
def test_a_dataset_the_reports_would_overwrite_is_refused(
    started: list[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    dataset = tmp_path / name
    dataset.write_text('{"prompt": "a", "completion": "b"}\n')
    assert main(["rehearse", "--dataset", str(dataset), "--output", str(tmp_path)]) == 2
    line = _one_line(capsys)
    assert "is also an input" in line and f"the rehearsal writes its reports to {tmp_path}" in line
    assert dataset.read_text() == '{"prompt": "a", "completion": "b"}\n' and started == []


def test_the_default_output_folder_is_checked_too(
    started: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "rehearsal-output" / "mine"
    folder.mkdir(parents=True)
    (folder / "report.json").write_text("{}\n")
    assert main(["rehearse", "--dataset", str(folder / "report.json"), "--run-name", "mine"]) == 2
    assert "is also an input" in _one_line(capsys)
    (folder / "data.jsonl").write_text("{}\n")  # a name the rehearsal does not write is fine there
    assert main(["rehearse", "--dataset", str(folder / "data.jsonl"), "--run-name", "mine"]) == 2
    assert _one_line(capsys).endswith(REACHED)
    assert started[0].output_dir == Path("rehearsal-output") / "mine"


def test_an_unreadable_dataset_is_one_line(
    started: list[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rehearse", "--dataset", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read" in _one_line(capsys)
    assert main(["rehearse", "--dataset", str(tmp_path)]) == 2
    assert "cannot read" in _one_line(capsys)
    assert started == []
