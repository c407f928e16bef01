"""`finetune validate`: check JSON Lines datasets against a base model's rules before paying for a training job.

Exit codes: 0 valid, 1 invalid, 2 usage error or unreadable input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO, cast

from finetune.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from pipeline_core.dataset import POOL, DatasetFile, SplitConfig, validate, write_snapshot
from pipeline_core.dataset.lines import file_chunks
from pipeline_core.dataset.snapshot import SourceChangedError, Writer
from pipeline_core.models import CATALOGUE, DEFAULT_BASE_MODEL_ID, UnsupportedModelError

_DATA_FILES = {"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "validate",
        help="check a dataset against the base model's format, quotas and quality rules",
        description="Validate JSON Lines fine-tuning data without uploading it. Rules: docs/dataset-rules.md.",
        epilog="Exit codes: 0 valid, 1 invalid, 2 usage error or unreadable input.",
    )
    parser.add_argument("file", type=Path, help="the training file (JSON Lines)")
    parser.add_argument("--validation", type=Path, help="a validation file")
    parser.add_argument("--test", type=Path, help="a test file (used for evaluation, not sent to training)")
    parser.add_argument(
        "--base-model",
        default=DEFAULT_BASE_MODEL_ID,
        metavar="ID",
        help=f"base model id (default {DEFAULT_BASE_MODEL_ID}); one of: {', '.join(sorted(CATALOGUE))}",
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
    def open_chunks() -> Iterator[bytes]:
        with path.open("rb") as stream:
            yield from file_chunks(cast(BinaryIO, stream))

    return open_chunks


def _progress() -> Callable[[str, int, int], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(name: str, lines: int, read: int) -> None:
        print(f"\r{name}: {lines:,} lines, {read / 1e6:,.1f} MB", end="", file=sys.stderr, flush=True)

    return show


def _usage(message: str) -> int:
    print(f"finetune validate: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    inputs = [("train", args.file), ("validation", args.validation), ("test", args.test)]
    for _, path in inputs:
        if path is None:
            continue
        if not path.exists():
            return _usage(f"cannot read {path}: no such file")
        if path.is_dir():
            return _usage(f"cannot read {path}: it is a directory; give a JSON Lines file")
        if not path.is_file():
            return _usage(f"cannot read {path}: not a regular file (the validator reads a file twice)")
        try:
            path.open("rb").close()
        except OSError as exc:
            return _usage(f"cannot read {path}: {exc.strerror or exc}")
    if args.epochs is not None and args.epochs < 1:
        return _usage(f"--epochs must be 1 or more, got {args.epochs}")
    if args.price_per_1k_tokens is not None and args.price_per_1k_tokens < 0:
        return _usage(f"--price-per-1k-tokens must be 0 or more, got {args.price_per_1k_tokens:g}")
    split_flags = {"--validation-share": args.validation_share, "--test-share": args.test_share, "--seed": args.seed}
    split: SplitConfig | None = None
    if args.split is None:
        given = [flag for flag, value in split_flags.items() if value is not None]
        if given:
            return _usage(f"{', '.join(given)} only apply with --split OUT_DIR")
    else:
        if args.validation is not None or args.test is not None:
            return _usage("--split splits one file; do not combine it with --validation or --test")
        try:
            chosen = {"validation_share": args.validation_share, "test_share": args.test_share, "seed": args.seed}
            split = SplitConfig(**{name: value for name, value in chosen.items() if value is not None})
        except ValueError as exc:
            message = str(exc).replace("validation_share", "--validation-share").replace("test_share", "--test-share")
            return _usage(message)
    if split is not None:
        files = [DatasetFile(POOL, str(args.file), _opener(args.file))]
    else:
        files = [DatasetFile(split_name, str(path), _opener(path)) for split_name, path in inputs if path is not None]
    progress = _progress()
    try:
        result = validate(
            files,
            base_model_id=args.base_model,
            split=split,
            epochs=args.epochs,
            price_per_1k_training_tokens=args.price_per_1k_tokens,
            progress=progress,
        )
    except UnsupportedModelError as exc:
        return _usage(str(exc))
    except OSError as exc:
        return _usage(f"cannot read input: {exc}")
    if progress is not None:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    report = result.report
    if split is not None and result.valid:
        out_dir: Path = args.split
        try:
            out_dir.mkdir(parents=True, exist_ok=True)

            def open_sink(split_name: str) -> AbstractContextManager[Writer]:
                return (out_dir / _DATA_FILES[split_name]).open("wb")

            snapshot = write_snapshot(result, open_sink)
        except (OSError, SourceChangedError) as exc:
            return _usage(f"cannot write the split files to {out_dir}: {exc}")
        written = ", ".join(f"{n:,} {s}" for s, n in snapshot.records.items())
        print(f"finetune validate: wrote {written} record(s) to {out_dir} (sha256 {snapshot.sha256})", file=sys.stderr)
    sys.stdout.write(report.to_json() if args.json else report.to_text())
    return EXIT_OK if report.valid else EXIT_FAILED
