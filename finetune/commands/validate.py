"""`finetune validate`: check JSON Lines datasets against a base model's rules before paying for a training job.

Exit codes: 0 valid, 1 invalid, 2 usage error or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, cast

from finetune.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from pipeline_core.models import CATALOGUE, DEFAULT_BASE_MODEL_ID, UnsupportedModelError, get_base_model

if TYPE_CHECKING:
    from pipeline_core.dataset import DatasetFile, Snapshot, SplitConfig, ValidationResult
    from pipeline_core.dataset.snapshot import Writer

# The validator itself (pipeline_core.dataset) is imported when the command runs, not when `finetune --help`
# builds the parser: the command line starts at once.

_DATA_FILES = {"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"}
STDIN = "-"
STDIN_NAME = "<stdin>"  # how findings name data read from standard input
CDK_JSON = "cdk.json"
BASE_MODEL_SETTING = "context.pipeline.baseModelId"
# What Ctrl-C leaves behind (printed by the command line's entry point): outputs are replaced only when complete.
INTERRUPTED = "interrupted; no split file was written or changed"


class UsageError(Exception):
    """A one-line message for the user; the command exits with 2."""


class ModelChoice(NamedTuple):
    model_id: str
    source: str  # where the choice came from, for the first line of the output


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "validate",
        help="check a dataset against the base model's format, quotas and quality rules",
        description="Validate JSON Lines fine-tuning data without uploading it. Rules: docs/dataset-rules.md.",
        epilog="Exit codes: 0 valid, 1 invalid, 2 usage error or unreadable input.",
    )
    parser.add_argument("file", type=Path, help="the training file (JSON Lines); - reads it from standard input")
    parser.add_argument("--validation", type=Path, help="a validation file")
    parser.add_argument("--test", type=Path, help="a test file (used for evaluation, not sent to training)")
    parser.add_argument(
        "--base-model",
        metavar="ID",
        help=f"base model id (default: {BASE_MODEL_SETTING} in the nearest {CDK_JSON} of this folder or its "
        f"parents, else {DEFAULT_BASE_MODEL_ID}); one of: {', '.join(sorted(CATALOGUE))}",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON report instead of the text summary")
    parser.add_argument(
        "--split",
        type=Path,
        metavar="OUT_DIR",
        help="split FILE into train/validation/test and, when valid, write the three files to OUT_DIR",
    )
    parser.add_argument("--validation-share", type=float, help="with --split: share of records for validation (0.1)")
    parser.add_argument("--test-share", type=float, help="with --split: share of records for test (0.1)")
    parser.add_argument("--seed", type=int, help="with --split: split seed (13)")
    parser.add_argument("--epochs", type=int, help="epochs for the cost estimate (default: the model's default)")
    parser.add_argument(
        "--price-per-1k-tokens", type=float, metavar="USD", help="training price per 1,000 tokens for the cost estimate"
    )
    parser.set_defaults(func=run)


def _opener(path: Path) -> Callable[[], Iterator[bytes]]:
    """Opens `path` as byte chunks; a later open refuses a file whose size, modification time or inode changed.

    The validator reads a file twice when it must confirm possible duplicates (and `--split` reads it again to
    write the split), so an edit between the reads must stop the run, not mix two versions of the file.
    """
    from pipeline_core.dataset.lines import SourceChangedError, file_chunks

    first: list[tuple[int, int, int]] = []

    def open_chunks() -> Iterator[bytes]:
        with path.open("rb") as stream:
            st = os.fstat(stream.fileno())
            seen = (st.st_size, st.st_mtime_ns, st.st_ino)
            if not first:
                first.append(seen)
            elif seen != first[0]:
                raise SourceChangedError(f"{path} changed while it was being validated; try again")
            yield from file_chunks(cast(BinaryIO, stream))

    return open_chunks


def _progress() -> Callable[[str, int, int], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(name: str, lines: int, read: int) -> None:
        print(f"\r{name}: {lines:,} lines, {read / 1e6:,.1f} MB", end="", file=sys.stderr, flush=True)

    return show


# --- the base model -----------------------------------------------------------------------------------------------


def find_cdk_json(start: Path) -> Path | None:
    """The project's settings file: cdk.json in `start` or the nearest of its parents that has one."""
    for folder in (start, *start.parents):
        candidate = folder / CDK_JSON
        try:
            if candidate.exists():
                return candidate
        except OSError:  # a folder we may not look into holds no settings we could read
            continue
    return None


def choose_base_model(flag: str | None, cwd: Path) -> ModelChoice:
    """The --base-model flag, else the project's setting in cdk.json, else the built-in default."""
    if flag is not None:
        return ModelChoice(flag, "from --base-model")
    path = find_cdk_json(cwd.resolve())
    if path is None:
        return ModelChoice(DEFAULT_BASE_MODEL_ID, f"the built-in default; no {CDK_JSON} in {cwd} or its parents")
    fix = "fix it or pass --base-model ID"
    try:
        settings = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}; {fix}") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: it is not UTF-8 text; {fix}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg}); {fix}") from None
    if not isinstance(settings, dict):
        raise UsageError(f"{path}: the file must hold a JSON object, not {type(settings).__name__}; {fix}")
    found: object = settings
    for key in BASE_MODEL_SETTING.split("."):
        if not isinstance(found, dict):
            raise UsageError(f"{path}: {BASE_MODEL_SETTING} sits under a value that is not an object; {fix}")
        if key not in found:
            return ModelChoice(DEFAULT_BASE_MODEL_ID, f"the built-in default; {path} sets no {BASE_MODEL_SETTING}")
        found = found[key]
    if not isinstance(found, str) or not found.strip():
        raise UsageError(f"{path}: {BASE_MODEL_SETTING} must be a base model id, got {json.dumps(found)}; {fix}")
    return ModelChoice(found, f"from {BASE_MODEL_SETTING} in {path}")


# --- inputs and outputs -------------------------------------------------------------------------------------------


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise UsageError(f"cannot read {path}: no such file")
    if path.is_dir():
        raise UsageError(f"cannot read {path}: it is a directory; give a JSON Lines file")
    if not path.is_file():
        raise UsageError(f"cannot read {path}: not a regular file (the validator reads a file twice)")


def _check_text(path: Path, name: str) -> None:
    """Refuse, in one line, a file that is an archive, binary, UTF-16 or UTF-32 rather than UTF-8 JSON Lines."""
    from pipeline_core.dataset.sniff import SNIFF_BYTES, diagnose

    try:
        with path.open("rb") as stream:
            head = stream.read(SNIFF_BYTES)
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    problem = diagnose(head, "FILE" if name == STDIN_NAME else shlex.quote(name))
    if problem is not None:
        raise UsageError(f"cannot validate {name}: {problem}")


def _read_stdin(folder: Path) -> Path:
    """Copy standard input to a file: the validator reads its input twice (to check, then to split)."""
    if sys.stdin.isatty():
        print("finetune validate: reading JSON Lines from standard input (end with Ctrl-D)", file=sys.stderr)
    path = folder / "stdin.jsonl"
    with path.open("wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    return path


def _split_outputs(out_dir: Path) -> list[Path]:
    return [out_dir / name for name in _DATA_FILES.values()]


def _write_split(result: ValidationResult, out_dir: Path) -> Snapshot:
    """Write the three split files together: each replaces its old version only once all are complete."""
    from finetune.atomic import atomic_write
    from pipeline_core.dataset import write_snapshot

    out_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as written:

        def open_sink(split_name: str) -> AbstractContextManager[Writer]:
            # The atomic writes stay open until every split is written; an error removes all the new files.
            stream = written.enter_context(atomic_write(out_dir / _DATA_FILES[split_name], "wb", encoding=None))
            return nullcontext(cast("Writer", stream))

        return write_snapshot(result, open_sink)


def _split_config(args: argparse.Namespace) -> SplitConfig | None:
    from pipeline_core.dataset import SplitConfig

    split_flags = {"--validation-share": args.validation_share, "--test-share": args.test_share, "--seed": args.seed}
    if args.split is None:
        given = [flag for flag, value in split_flags.items() if value is not None]
        if given:
            raise UsageError(f"{', '.join(given)} only apply with --split OUT_DIR")
        return None
    if args.validation is not None or args.test is not None:
        raise UsageError("--split splits one file; do not combine it with --validation or --test")
    if args.split.exists() and not args.split.is_dir():
        raise UsageError(f"--split {args.split}: it is a file; give a folder for the split files")
    try:
        chosen = {"validation_share": args.validation_share, "test_share": args.test_share, "seed": args.seed}
        return SplitConfig(**{name: value for name, value in chosen.items() if value is not None})
    except ValueError as exc:
        message = str(exc).replace("validation_share", "--validation-share").replace("test_share", "--test-share")
        raise UsageError(message) from None


def validate(files: list[DatasetFile], **options: Any) -> ValidationResult:
    """The dataset validator (`pipeline_core.dataset.validate`), imported only when the command runs."""
    from pipeline_core.dataset import validate as validate_dataset

    return validate_dataset(files, **options)


# --- the command --------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    try:
        with ExitStack() as cleanup:

            def scratch() -> Path:
                """A temporary folder, made on first use (only standard input needs one) and removed on exit."""
                import tempfile

                folder = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="finetune-validate-"))
                return Path(folder)

            return _run(args, scratch)
    except UsageError as err:
        print(f"finetune validate: {err}", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace, scratch: Callable[[], Path]) -> int:
    from pipeline_core.dataset import POOL, DatasetFile
    from pipeline_core.dataset.lines import SourceChangedError

    named: list[tuple[str, Path | None]] = [("train", args.file), ("validation", args.validation), ("test", args.test)]
    given = [(split_name, path) for split_name, path in named if path is not None]
    if sum(str(path) == STDIN for _, path in given) > 1:
        raise UsageError("standard input can be read only once: give - for one file at most")
    for _, path in given:
        if str(path) != STDIN:
            _check_readable(path)
    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs must be 1 or more, got {args.epochs}")
    if args.price_per_1k_tokens is not None and args.price_per_1k_tokens < 0:
        raise UsageError(f"--price-per-1k-tokens must be 0 or more, got {args.price_per_1k_tokens:g}")
    split = _split_config(args)
    if split is not None:
        # Before anything is opened: writing a split file over its own input would empty the input first.
        from finetune.atomic import OutputIsInput, refuse_input_as_output  # (and tempfile: only a split needs them)

        try:
            refuse_input_as_output(_split_outputs(args.split), [path for _, path in given if str(path) != STDIN])
        except OutputIsInput as exc:
            raise UsageError(f"--split {args.split}: {exc}") from None
    choice = choose_base_model(args.base_model, Path.cwd())
    try:
        get_base_model(choice.model_id)
    except UnsupportedModelError as exc:
        raise UsageError(f"{exc} (base model {choice.source})") from None
    inputs: list[tuple[str, Path, str]] = []  # (split, local path, name in findings)
    for split_name, path in given:
        if str(path) == STDIN:
            inputs.append((split_name, _read_stdin(scratch()), STDIN_NAME))
        else:
            inputs.append((split_name, path, str(path)))
    for _, path, name in inputs:
        _check_text(path, name)

    headline = f"Base model: {choice.model_id} ({choice.source})"
    print(headline, file=sys.stderr if args.json else sys.stdout, flush=True)
    if split is not None:
        _, path, name = inputs[0]
        files = [DatasetFile(POOL, name, _opener(path))]
    else:
        files = [DatasetFile(split_name, name, _opener(path)) for split_name, path, name in inputs]
    progress = _progress()
    try:
        result = validate(
            files,
            base_model_id=choice.model_id,
            split=split,
            epochs=args.epochs,
            price_per_1k_training_tokens=args.price_per_1k_tokens,
            progress=progress,
            # The text summary shows no file digest: only the JSON report and the split files' check need them.
            file_digests=args.json or split is not None,
        )
    except (OSError, SourceChangedError) as exc:  # the second pass for duplicates reads a file again
        raise UsageError(f"cannot read input: {exc}") from None
    if progress is not None:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    report = result.report
    if split is not None and result.valid:
        out_dir: Path = args.split
        try:
            snapshot = _write_split(result, out_dir)
        except (OSError, SourceChangedError) as exc:
            raise UsageError(f"cannot write the split files to {out_dir}: {exc}") from None
        written = ", ".join(f"{n:,} {s}" for s, n in snapshot.records.items())
        print(f"finetune validate: wrote {written} record(s) to {out_dir} (sha256 {snapshot.sha256})", file=sys.stderr)
        for split_name, file_name in _DATA_FILES.items():
            if split_name not in snapshot.records and (out_dir / file_name).exists():
                print(f"finetune validate: note: {out_dir / file_name} is not from this split (it has no "
                      f"{split_name} records) and was left as it was", file=sys.stderr)  # fmt: skip
    sys.stdout.write(report.to_json() if args.json else report.to_text())
    return EXIT_OK if report.valid else EXIT_FAILED
