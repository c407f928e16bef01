"""`finetune validate`: exit codes 0/1/2, JSON output, split files written to a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dataset_fixtures import HAIKU, dataset

from finetune.cli import main


@pytest.fixture(autouse=True)
def _outside_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where no cdk.json chooses the base model, so each test's --base-model (or the default) is the one used."""
    monkeypatch.chdir(tmp_path)


def test_valid_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(dataset(40))
    assert main(["validate", str(path), "--base-model", HAIKU]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Base model: {HAIKU} (from --base-model)"
    assert out[1].startswith("Dataset VALID")


def test_invalid_file_exits_1_with_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(dataset(40) + b"{oops\n")
    assert main(["validate", str(path), "--json", "--base-model", HAIKU]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False and report["findings"][0]["line"] == 41


def test_missing_file_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.jsonl"
    assert main(["validate", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(missing) in err and len(err.splitlines()) == 1


def test_unknown_model_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(dataset(40))
    assert main(["validate", str(path), "--base-model", "nope"]) == 2
    assert "unknown base model" in capsys.readouterr().err


def test_split_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "all.jsonl"
    path.write_bytes(dataset(300))
    out = tmp_path / "out"
    argv = ["--split", str(out), "--validation-share", "0.1", "--test-share", "0.1", "--base-model", HAIKU]
    assert main(["validate", str(path), *argv]) == 0
    counts = {p.name: p.read_bytes().count(b"\n") for p in out.iterdir()}
    assert counts == {"train.jsonl": 240, "validation.jsonl": 30, "test.jsonl": 30}


def test_split_with_validation_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "all.jsonl"
    path.write_bytes(dataset(40))
    assert main(["validate", str(path), "--validation", str(path), "--split", str(tmp_path / "o")]) == 2


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--epochs", "0"], "--epochs must be 1 or more, got 0"),
        (["--price-per-1k-tokens", "-1"], "--price-per-1k-tokens must be 0 or more, got -1"),
        (["--validation-share", "0.2"], "--validation-share only apply with --split OUT_DIR"),
        (["--split", "OUT", "--validation-share", "1.5"], "--validation-share must be in [0, 1), got 1.5"),
        (["--base-model", "anthropic.claude-3-haiku-20240307-v1:0"], "did you mean "
         "'anthropic.claude-3-haiku-20240307-v1:0:200k'?"),
    ],
)  # fmt: skip
def test_nonsense_options_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(dataset(40))
    argv = [str(tmp_path / "out") if arg == "OUT" else arg for arg in extra]
    assert main(["validate", str(path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1


def test_a_directory_or_device_is_named_for_what_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    assert "it is a directory" in capsys.readouterr().err
    assert main(["validate", "/dev/null"]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_an_unknown_option_shows_the_subcommands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "train.jsonl", "--frobnicate"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: finetune validate") and "unrecognized arguments: --frobnicate" in err
