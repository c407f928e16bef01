"""finetune.atomic: an output that is an input is refused, and a failed write leaves the old file as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from finetune.atomic import OutputIsInput, atomic_write, refuse_input_as_output

OLD = b'{"old": true}\n' * 50


def _leftovers(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".tmp"))


def test_a_completed_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_bytes(OLD)
    with atomic_write(target) as stream:
        stream.write("new\n")
    assert target.read_bytes() == b"new\n"
    assert _leftovers(tmp_path) == []


def test_a_write_creates_a_missing_file_in_binary_mode(tmp_path: Path) -> None:
    target = tmp_path / "new.bin"
    with atomic_write(target, "wb") as stream:
        stream.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"


def test_the_new_content_is_not_visible_before_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_bytes(OLD)
    with atomic_write(target) as stream:
        stream.write("new\n")
        stream.flush()
        assert target.read_bytes() == OLD
        assert len(_leftovers(tmp_path)) == 1
        assert _leftovers(tmp_path)[0].startswith(".out.jsonl.")


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_a_failure_mid_write_leaves_the_old_file_byte_identical_and_no_temp_file(
    tmp_path: Path, error: BaseException
) -> None:
    target = tmp_path / "out.jsonl"
    target.write_bytes(OLD)
    with pytest.raises(type(error)), atomic_write(target) as stream:
        stream.write("half of the new con")
        stream.flush()
        raise error
    assert target.read_bytes() == OLD
    assert _leftovers(tmp_path) == []
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["out.jsonl"]


def test_a_failed_first_write_leaves_no_file_at_all(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), atomic_write(target) as stream:
        stream.write("partial")
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_a_failing_rename_leaves_the_old_file_and_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.jsonl"
    target.write_bytes(OLD)

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied", dst)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError), atomic_write(target) as stream:
        stream.write("new\n")
    assert target.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


def test_the_replacement_keeps_the_old_file_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_bytes(OLD)
    target.chmod(0o640)
    with atomic_write(target) as stream:
        stream.write("new\n")
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_new_file_gets_the_umask_mode_not_the_private_temp_file_mode(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "new.jsonl") as stream:
            stream.write("x\n")
    finally:
        os.umask(previous)
    assert (tmp_path / "new.jsonl").stat().st_mode & 0o777 == 0o644


def test_writing_through_a_symlink_keeps_the_link_and_replaces_its_target(tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_bytes(OLD)
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with atomic_write(link) as stream:
        stream.write("new\n")
    assert link.is_symlink()
    assert real.read_bytes() == b"new\n"


@pytest.mark.parametrize("mode", ["r", "a", "w+", "rb"])
def test_modes_that_read_or_append_are_refused(tmp_path: Path, mode: str) -> None:
    with pytest.raises(ValueError, match="not supported"), atomic_write(tmp_path / "x", mode):
        pass


def test_the_same_path_is_refused_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_bytes(OLD)
    with pytest.raises(OutputIsInput) as caught:
        refuse_input_as_output([data], [data])
    message = str(caught.value)
    assert message == f"{data} is also an input ({data}); choose another output path"
    assert "\n" not in message


def test_dot_slash_and_bare_names_are_the_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x").write_bytes(OLD)
    with pytest.raises(OutputIsInput, match=r"^x is also an input \(x\)"):
        refuse_input_as_output([Path("./x")], [Path("x")])


def test_a_not_yet_existing_output_under_a_dotted_path_is_still_matched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    with pytest.raises(OutputIsInput):
        refuse_input_as_output([Path("sub/../out.jsonl")], [tmp_path / "out.jsonl"])


def test_a_symlink_to_the_input_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_bytes(OLD)
    link = tmp_path / "out" / "train.jsonl"
    link.parent.mkdir()
    link.symlink_to(data)
    with pytest.raises(OutputIsInput):
        refuse_input_as_output([tmp_path / "out" / "validation.jsonl", link], [data])


def test_a_symlinked_folder_is_seen_through(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    data = tmp_path / "data" / "train.jsonl"
    data.write_bytes(OLD)
    (tmp_path / "alias").symlink_to(tmp_path / "data")
    with pytest.raises(OutputIsInput):
        refuse_input_as_output([tmp_path / "alias" / "train.jsonl"], [data])


def test_a_hard_link_to_the_input_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_bytes(OLD)
    other = tmp_path / "copy.jsonl"
    os.link(data, other)
    with pytest.raises(OutputIsInput):
        refuse_input_as_output([other], [data])


def test_distinct_files_pass(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_bytes(OLD)
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(OLD)  # same content, different file
    refuse_input_as_output([copy, tmp_path / "missing.jsonl"], [data, tmp_path / "also-missing.jsonl"])


def test_the_first_clash_names_the_output_and_the_input(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(OLD)
    b.write_bytes(OLD)
    with pytest.raises(OutputIsInput) as caught:
        refuse_input_as_output([tmp_path / "c.jsonl", b], [a, b])
    assert caught.value.output == b
    assert caught.value.input == b
