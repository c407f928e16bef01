"""`finetune validate` on bad input: it never harms its input, names the base model it used, reads stdin, and
refuses files that are not JSON Lines text in one line."""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from dataset_fixtures import HAIKU, dataset, prompt_completion

from finetune.cli import main
from finetune.commands import validate as command
from pipeline_core.dataset import snapshot as snapshot_module
from pipeline_core.models import DEFAULT_BASE_MODEL_ID

LLAMA_31 = "meta.llama3-1-8b-instruct-v1:0:128k"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with no cdk.json in it or above it (the tests' temporary folders live under /tmp)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert command.find_cdk_json(work) is None
    return work


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


# --- an output that is an input -----------------------------------------------------------------------------------


def test_splitting_a_file_into_its_own_folder_leaves_it_byte_identical(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # mkdir /tmp/x && cp good.jsonl /tmp/x/train.jsonl && cd /tmp/x && finetune validate train.jsonl --split .
    data = dataset(300)
    (folder / "train.jsonl").write_bytes(data)
    assert main(["validate", "train.jsonl", "--split", ".", "--base-model", HAIKU]) == 2
    assert (folder / "train.jsonl").read_bytes() == data
    assert _one_error_line(capsys) == (
        "finetune validate: --split .: train.jsonl is also an input (train.jsonl); choose another output path"
    )
    assert capsys.readouterr().out == ""
    assert sorted(p.name for p in folder.iterdir()) == ["train.jsonl"]


@pytest.mark.parametrize("name", ["validation.jsonl", "test.jsonl"])
def test_every_split_file_is_checked_against_the_input(folder: Path, name: str) -> None:
    data = dataset(300)
    (folder / "out").mkdir()
    (folder / "out" / name).write_bytes(data)
    assert main(["validate", f"out/{name}", "--split", "./out", "--base-model", HAIKU]) == 2
    assert (folder / "out" / name).read_bytes() == data


def test_a_symlinked_output_folder_is_seen_through(folder: Path) -> None:
    data = dataset(300)
    (folder / "data").mkdir()
    (folder / "data" / "train.jsonl").write_bytes(data)
    (folder / "alias").symlink_to(folder / "data")
    assert main(["validate", "data/train.jsonl", "--split", "alias", "--base-model", HAIKU]) == 2
    assert (folder / "data" / "train.jsonl").read_bytes() == data


def test_a_failed_split_write_leaves_the_earlier_split_files_as_they_were(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "all.jsonl").write_bytes(dataset(300))
    out = folder / "out"
    assert main(["validate", "all.jsonl", "--split", "out", "--base-model", HAIKU]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {"train.jsonl", "validation.jsonl", "test.jsonl"}
    capsys.readouterr()

    real = snapshot_module.LineReader
    opened = []

    def reader_that_fails_on_the_third_file(chunks: Any, **kwargs: Any) -> Any:
        opened.append(1)
        if len(opened) == 3:  # train and validation are written, test is being written
            raise OSError(5, "Input/output error")
        return real(chunks, **kwargs)

    monkeypatch.setattr(snapshot_module, "LineReader", reader_that_fails_on_the_third_file)
    (folder / "all.jsonl").write_bytes(dataset(300, start=1000))
    assert main(["validate", "all.jsonl", "--split", "out", "--base-model", HAIKU]) == 2
    assert "cannot write the split files to out" in _one_error_line(capsys)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no new file, no temporary file left


def test_a_split_file_interrupted_mid_write_keeps_its_old_content(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "all.jsonl").write_bytes(dataset(300))
    assert main(["validate", "all.jsonl", "--split", "out", "--base-model", HAIKU]) == 0
    before = {p.name: p.read_bytes() for p in (folder / "out").iterdir()}

    def interrupted(result: Any, open_sink: Any) -> Any:
        with open_sink("train") as sink:
            sink.write(b"half a record")
            raise KeyboardInterrupt

    monkeypatch.setattr("pipeline_core.dataset.write_snapshot", interrupted)  # imported when the command runs
    with pytest.raises(KeyboardInterrupt):  # the entry point prints the one line and exits with 130
        command.run(command_args(["all.jsonl", "--split", "out", "--base-model", HAIKU]))
    assert {p.name: p.read_bytes() for p in (folder / "out").iterdir()} == before


def command_args(argv: list[str]) -> Any:
    from finetune.cli import build_parser

    return build_parser().parse_args(["validate", *argv])


def test_a_split_without_test_records_notes_an_earlier_test_file(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "all.jsonl").write_bytes(dataset(300))
    (folder / "out").mkdir()
    (folder / "out" / "test.jsonl").write_bytes(b"earlier\n")
    assert main(["validate", "all.jsonl", "--split", "out", "--test-share", "0", "--base-model", HAIKU]) == 0
    assert (folder / "out" / "test.jsonl").read_bytes() == b"earlier\n"
    assert "out/test.jsonl is not from this split (it has no test records)" in capsys.readouterr().err


def test_split_files_keep_the_usual_file_mode(folder: Path) -> None:
    previous = os.umask(0o022)
    try:
        (folder / "all.jsonl").write_bytes(dataset(300))
        assert main(["validate", "all.jsonl", "--split", "out", "--base-model", HAIKU]) == 0
    finally:
        os.umask(previous)
    assert {p.stat().st_mode & 0o777 for p in (folder / "out").iterdir()} == {0o644}


def test_a_file_given_as_the_split_folder_is_refused_before_validating(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "all.jsonl").write_bytes(dataset(300))
    (folder / "out").write_bytes(b"mine")
    assert main(["validate", "all.jsonl", "--split", "out", "--base-model", HAIKU]) == 2
    assert _one_error_line(capsys) == "finetune validate: --split out: it is a file; give a folder for the split files"
    assert (folder / "out").read_bytes() == b"mine"


# --- the base model -----------------------------------------------------------------------------------------------


def _cdk_json(path: Path, settings: object) -> Path:
    path.write_text(json.dumps(settings) if not isinstance(settings, str) else settings)
    return path


def test_the_model_comes_from_the_nearest_cdk_json(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cdk = _cdk_json(folder / "cdk.json", {"app": "x", "context": {"pipeline": {"baseModelId": LLAMA_31}}})
    (folder / "data").mkdir()
    (folder / "data" / "train.jsonl").write_bytes(dataset(300, prompt_completion))
    os.chdir(folder / "data")  # a parent's cdk.json counts
    assert main(["validate", "train.jsonl"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Base model: {LLAMA_31} (from context.pipeline.baseModelId in {cdk})"
    assert out[1].startswith(f"Dataset VALID for {LLAMA_31}")


def test_the_search_stops_at_the_first_cdk_json(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _cdk_json(folder / "cdk.json", {"context": {"pipeline": {"baseModelId": LLAMA_31}}})
    inner = folder / "other-app"
    inner.mkdir()
    _cdk_json(inner / "cdk.json", {"app": "another CDK app"})
    (inner / "train.jsonl").write_bytes(dataset(40, prompt_completion))
    os.chdir(inner)
    main(["validate", "train.jsonl"])
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"Base model: {DEFAULT_BASE_MODEL_ID} (the built-in default; {inner / 'cdk.json'} sets no "
        "context.pipeline.baseModelId)"
    )


def test_the_flag_wins_over_cdk_json(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _cdk_json(folder / "cdk.json", {"context": {"pipeline": {"baseModelId": LLAMA_31}}})
    (folder / "train.jsonl").write_bytes(dataset(40))
    assert main(["validate", "train.jsonl", "--base-model", HAIKU]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"Base model: {HAIKU} (from --base-model)"


def test_without_cdk_json_the_default_is_used_and_named(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "train.jsonl").write_bytes(dataset(40, prompt_completion))
    main(["validate", "train.jsonl"])
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"Base model: {DEFAULT_BASE_MODEL_ID} (the built-in default; no cdk.json in {folder} or its parents)"
    )


def test_with_json_output_the_model_line_goes_to_stderr(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "train.jsonl").write_bytes(dataset(40))
    assert main(["validate", "train.jsonl", "--json", "--base-model", HAIKU]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["base_model_id"] == HAIKU
    assert captured.err.splitlines()[0] == f"Base model: {HAIKU} (from --base-model)"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"context": {"pipeline": {"baseModelId": "x",}}}', "cdk.json:1:46: invalid JSON (Expecting property name"),
        ("[1, 2]", "cdk.json: the file must hold a JSON object, not list"),
        ('{"context": {"pipeline": "haiku"}}', "context.pipeline.baseModelId sits under a value that is not an object"),
        ('{"context": {"pipeline": {"baseModelId": 42}}}', "pipeline.baseModelId must be a base model id, got 42"),
        ('{"context": {"pipeline": {"baseModelId": " "}}}', 'must be a base model id, got " "'),
        (b"\xff\xfe{", "it is not UTF-8 text"),
    ],
)  # fmt: skip
def test_a_broken_cdk_json_is_one_line_and_exit_2(
    folder: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, expected: str
) -> None:
    cdk = folder / "cdk.json"
    if isinstance(content, bytes):
        cdk.write_bytes(content)
    else:
        cdk.write_text(content)
    (folder / "train.jsonl").write_bytes(dataset(40))
    assert main(["validate", "train.jsonl"]) == 2
    line = _one_error_line(capsys)
    assert expected in line and str(cdk) in line and line.endswith("fix it or pass --base-model ID")
    assert capsys.readouterr().out == ""


def test_an_unreadable_cdk_json_is_one_line(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "cdk.json").mkdir()  # exists, cannot be read as a file
    (folder / "train.jsonl").write_bytes(dataset(40))
    assert main(["validate", "train.jsonl"]) == 2
    assert _one_error_line(capsys).startswith(f"finetune validate: cannot read {folder / 'cdk.json'}: ")


def test_an_unknown_model_in_cdk_json_names_the_file(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cdk = _cdk_json(folder / "cdk.json", {"context": {"pipeline": {"baseModelId": "nope"}}})
    (folder / "train.jsonl").write_bytes(dataset(40))
    assert main(["validate", "train.jsonl"]) == 2
    line = _one_error_line(capsys)
    assert "unknown base model 'nope'" in line
    assert line.endswith(f"(base model from context.pipeline.baseModelId in {cdk})")


def test_the_shipped_cdk_json_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[3]
    shipped = json.loads((root / "cdk.json").read_text())["context"]["pipeline"]["baseModelId"]
    monkeypatch.chdir(root / "docs")
    assert command.choose_base_model(None, Path.cwd()) == (
        shipped,
        f"from context.pipeline.baseModelId in {root / 'cdk.json'}",
    )


def test_choosing_the_model_imports_nothing_heavy() -> None:
    import subprocess

    code = (
        "import sys; import finetune.commands.validate as v; from pathlib import Path; "
        "v.choose_base_model(None, Path('.')); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'moto', 'aws_cdk')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- stdin, directories, files that are not text ------------------------------------------------------------------


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def isatty(self) -> bool:
        return False


def test_dash_reads_standard_input(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(dataset(40) + b"{oops\n"))
    assert main(["validate", "-", "--base-model", HAIKU]) == 1
    assert "<stdin>:41: invalid JSON" in capsys.readouterr().out
    assert list(folder.iterdir()) == []  # the copy lived in a temporary folder, now gone


def test_standard_input_can_be_split(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(dataset(300)))
    assert main(["validate", "-", "--split", "out", "--base-model", HAIKU]) == 0
    assert sum(p.read_bytes().count(b"\n") for p in (folder / "out").iterdir()) == 300


def test_standard_input_is_read_once(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-", "--validation", "-", "--base-model", HAIKU]) == 2
    assert "standard input can be read only once" in _one_error_line(capsys)


def test_compressed_standard_input_is_refused_in_one_line(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(gzip.compress(dataset(40))))
    assert main(["validate", "-", "--base-model", HAIKU]) == 2
    assert _one_error_line(capsys).startswith("finetune validate: cannot validate <stdin>: the file is a gzip archive")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (gzip.compress(dataset(40)), "the file is a gzip archive (it starts with 1F 8B), not JSON Lines text; "
         "decompress it first (gunzip -k train.jsonl)"),
        (dataset(40).decode().encode("utf-16"), "the file is UTF-16LE text (byte order mark FF FE), not UTF-8"),
        (dataset(40).decode().encode("utf-16-be"), "the file is UTF-16BE text (no byte order mark"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(200), "the file is binary, not JSON Lines text: byte 8 is a NUL byte"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_text_is_one_line_and_exit_2(
    folder: Path, capsys: pytest.CaptureFixture[str], data: bytes, expected: str
) -> None:
    (folder / "train.jsonl").write_bytes(data)
    assert main(["validate", "train.jsonl", "--base-model", HAIKU]) == 2
    assert _one_error_line(capsys).startswith(f"finetune validate: cannot validate train.jsonl: {expected}")
    assert capsys.readouterr().out == ""


def test_a_not_text_validation_file_is_named(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "train.jsonl").write_bytes(dataset(40))
    (folder / "val.jsonl.gz").write_bytes(gzip.compress(dataset(5)))
    assert main(["validate", "train.jsonl", "--validation", "val.jsonl.gz", "--base-model", HAIKU]) == 2
    assert "cannot validate val.jsonl.gz: the file is a gzip archive" in _one_error_line(capsys)


def test_a_directory_says_so(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "data").mkdir()
    assert main(["validate", "data", "--base-model", HAIKU]) == 2
    line = _one_error_line(capsys)
    assert "data: it is a directory" in line and "no such file" not in line
    (folder / "train.jsonl").write_bytes(dataset(40))
    assert main(["validate", "train.jsonl", "--test", "data", "--base-model", HAIKU]) == 2
    assert "cannot read data: it is a directory" in _one_error_line(capsys)


def test_an_unreadable_file_is_one_line(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "train.jsonl").write_bytes(dataset(40))
    real_open = Path.open

    def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "train.jsonl":  # as for a file without read permission (root would read it anyway)
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    assert main(["validate", "train.jsonl", "--base-model", HAIKU]) == 2
    assert "cannot read train.jsonl: Permission denied" in _one_error_line(capsys)
