"""Safe output files for the command line: refuse an output that is one of the inputs, and replace files atomically.

A command that reads a file and writes another must never truncate its own input (opening an output with "w"
empties it before a single byte of the input was read), and an interrupted write must not leave a half-written
file where a complete one was: `atomic_write` writes beside the target and renames over it only on success.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


class OutputIsInput(ValueError):
    """An output path names the same file as an input path (directly, through a symlink or a hard link)."""

    def __init__(self, output: Path, input_path: Path) -> None:
        super().__init__(f"{output} is also an input ({input_path}); choose another output path")
        self.output = output
        self.input = input_path


def _same_file(output: Path, input_path: Path) -> bool:
    if os.path.realpath(output) == os.path.realpath(input_path):
        return True
    # Hard links (and bind mounts) have different paths for one file; only an existing pair can be compared.
    try:
        return os.path.samefile(output, input_path)
    except OSError:
        return False


def refuse_input_as_output(outputs: Iterable[Path], inputs: Iterable[Path]) -> None:
    """Raise OutputIsInput when any output is the same file as any input.

    Give the concrete files a command would write: for a directory that receives several files, pass each
    `directory / name`, not the directory.
    """
    input_list = [Path(path) for path in inputs]
    for output in outputs:
        for input_path in input_list:
            if _same_file(Path(output), input_path):
                raise OutputIsInput(Path(output), input_path)


def _new_file_mode(target: str) -> int:
    # NamedTemporaryFile creates the file 0600; the replacement keeps the mode the target had, or the mode
    # `open(path, "w")` would have given a new file.
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def atomic_write(path: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Yield a file whose content replaces `path` only when the block completes.

    The target is either its old content or the complete new content, never a partial file: on any exception
    (KeyboardInterrupt included) the temporary file is removed and the target is untouched. Writing through a
    symlink replaces the file the link points to and keeps the link.
    """
    if "r" in mode or "a" in mode or "+" in mode:
        raise ValueError(f"atomic_write writes a whole new file; mode {mode!r} is not supported")
    target = os.path.realpath(path)
    folder, name = os.path.split(target)
    file_mode = _new_file_mode(target)
    stream = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, before the rename
        mode=mode,
        encoding=None if "b" in mode else encoding,
        dir=folder,
        prefix=f".{name}.",
        suffix=".tmp",
        delete=False,
    )
    temp_name = stream.name
    try:
        with stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, file_mode)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    # The rename is durable only once the folder entry is on disk; not every platform can open a folder.
    with contextlib.suppress(OSError):
        folder_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)
