"""`finetune score FILE`: scores predictions against references offline and prints each metric's mean and 95% CI.

Each line of FILE (or of stdin, for `-`) is `{"prediction": str, "references": [str, ...]}`. The same registry
and statistics as the pipeline's Aggregate step are used, so a mean seen here is the mean the report would show,
and so is its interval below 10,000 examples; from there on this command takes the normal-approximation interval
(stats.NORMAL_APPROXIMATION_MIN_N) instead of bootstrapping 1000 x n draws. Everything is held in memory, so the
input is bounded: lines (the validator's limit), records and bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, cast

from finetune.cli import EXIT_OK, EXIT_USAGE
from pipeline_core.dataset.lines import DEFAULT_MAX_LINE_BYTES, LineReader, file_chunks
from pipeline_core.metrics import DEFAULT_METRIC, SchemaError, get_metric, metric_names, score_examples
from pipeline_core.metrics.stats import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    NORMAL_APPROXIMATION_MIN_N,
    interval_method,
)

STDIN = "-"
# Fewer resamples make the 2.5th/97.5th percentiles of the bootstrap too coarse to mean anything; more cost
# memory and time in proportion (a hundred million took over 2 GB) without narrowing the interval further.
MIN_RESAMPLES = 100
MAX_RESAMPLES = 100_000
# The validator's per-line limit (pipeline_core.dataset.lines): far above any record a model accepts.
MAX_LINE_BYTES = DEFAULT_MAX_LINE_BYTES
# Every example is held in memory (a parsed line takes about ten times its size): bound the count and the bytes.
# A test split is at most a model's total-record quota (20,000 for the largest in pipeline_core.models).
MAX_RECORDS = 100_000
MAX_INPUT_BYTES = 256 * 1024 * 1024
MAX_SCHEMA_BYTES = 1024 * 1024


class InputError(Exception):
    """The input file cannot be read or a line is not a valid example; the message names file and line."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score predictions against references (offline)",
        description="Score predictions against references. Each line of FILE is "
        '{"prediction": "...", "references": ["...", ...]}. Prints each metric\'s mean (0-100) '
        "and its 95% confidence interval: percentile bootstrap below "
        f"{NORMAL_APPROXIMATION_MIN_N:,} examples, normal approximation from {NORMAL_APPROXIMATION_MIN_N:,} "
        "(macro_f1 always bootstraps). "
        f"Limits: {MAX_RECORDS:,} examples, {MAX_INPUT_BYTES // 2**20} MiB, {MAX_LINE_BYTES // 2**20} MiB a line.",
        epilog="Exit codes: 0 scored, 2 usage error or unreadable input, 130 interrupted.",
    )
    parser.add_argument(
        "file", metavar="FILE", type=Path, help="JSON Lines file of predictions and references; - reads stdin"
    )
    parser.add_argument(
        "--metric",
        dest="metrics",
        action="append",
        choices=metric_names(),
        metavar="NAME",
        help=f"metric to compute; repeatable (default {DEFAULT_METRIC}). One of: {', '.join(metric_names())}",
    )
    parser.add_argument(
        "--json", action="store_true", help="print {metric: {mean, ci95, n, ci_method}} as JSON (bootstrap or normal)"
    )
    parser.add_argument(
        "--resamples",
        type=int,
        default=DEFAULT_RESAMPLES,
        metavar="N",
        help=f"bootstrap resamples, {MIN_RESAMPLES}-{MAX_RESAMPLES:,} (default %(default)s; unused by the normal "
        "approximation)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed (default %(default)s)")
    parser.add_argument(
        "--schema",
        type=Path,
        metavar="SCHEMA",
        help="JSON schema for json_schema (default: each reference's own shape)",
    )
    parser.set_defaults(func=run)


def read_examples(
    path: Path,
    *,
    max_line_bytes: int | None = None,
    max_records: int | None = None,
    max_bytes: int | None = None,
) -> tuple[list[str], list[list[str]]]:
    """Predictions and references from a JSON Lines file (``-``: stdin); blank lines are skipped.

    The limits default to MAX_LINE_BYTES, MAX_RECORDS and MAX_INPUT_BYTES.
    """
    name = "stdin" if str(path) == STDIN else str(path)
    max_line_bytes = MAX_LINE_BYTES if max_line_bytes is None else max_line_bytes
    max_records = MAX_RECORDS if max_records is None else max_records
    max_bytes = MAX_INPUT_BYTES if max_bytes is None else max_bytes
    try:
        if str(path) == STDIN:
            return _parse(name, file_chunks(sys.stdin.buffer), max_line_bytes, max_records, max_bytes)
        with path.open("rb") as handle:
            return _parse(name, file_chunks(cast(BinaryIO, handle)), max_line_bytes, max_records, max_bytes)
    except OSError as error:
        raise InputError(f"{name}: cannot read ({error.strerror or error})") from None


def _parse(
    name: str, chunks: Iterable[bytes], max_line_bytes: int, max_records: int, max_bytes: int
) -> tuple[list[str], list[list[str]]]:
    predictions: list[str] = []
    references: list[list[str]] = []
    reader = LineReader(chunks, max_line_bytes=max_line_bytes)
    for line in reader:
        where = f"{name}:{line.number}"
        if reader.bytes_read > max_bytes:
            raise InputError(f"{name}: larger than {max_bytes:,} bytes; score it in parts")
        if line.too_long:
            raise InputError(f"{where}: line longer than {max_line_bytes:,} bytes; no example is that long")
        try:
            text = line.data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{where}: not UTF-8") from None
        if not text.strip():
            continue
        if len(predictions) == max_records:
            raise InputError(f"{where}: more than {max_records:,} examples; score them in parts")
        try:
            record = json.loads(text)
        except (ValueError, RecursionError) as error:
            detail = "nested too deeply" if isinstance(error, RecursionError) else str(error)
            raise InputError(f"{where}: not valid JSON ({detail})") from None
        predictions.append(_prediction(record, where))
        references.append(_references(record, where))
    if not predictions:
        raise InputError(f"{name}: no examples")
    return predictions, references


def _prediction(record: object, where: str) -> str:
    if not isinstance(record, Mapping):
        raise InputError(f'{where}: expected an object with "prediction" and "references"')
    prediction = record.get("prediction")
    if not isinstance(prediction, str):
        raise InputError(f'{where}: "prediction" must be a string')
    return prediction


def _references(record: Mapping[str, object], where: str) -> list[str]:
    refs = record.get("references")
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
        raise InputError(f'{where}: "references" must be a non-empty list of strings')
    return [str(r) for r in refs]


def _load_schema(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SCHEMA_BYTES + 1)
        if len(data) > MAX_SCHEMA_BYTES:
            raise InputError(f"{path}: a schema larger than {MAX_SCHEMA_BYTES:,} bytes is not one")
        return json.loads(data.decode("utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot read the schema ({error})") from None
    except RecursionError:
        raise InputError(f"{path}: cannot read the schema (nested too deeply)") from None


def run(args: argparse.Namespace) -> int:
    names: list[str] = list(dict.fromkeys(args.metrics or [DEFAULT_METRIC]))  # keep order, drop repeats
    if not MIN_RESAMPLES <= args.resamples <= MAX_RESAMPLES:
        print(
            f"finetune score: --resamples must be from {MIN_RESAMPLES} to {MAX_RESAMPLES:,}, got {args.resamples}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        schema = _load_schema(args.schema) if args.schema else None
        metrics = [get_metric(name, schema=schema) for name in names]
        predictions, references = read_examples(args.file)
    except (InputError, SchemaError) as error:
        print(f"finetune score: {error}", file=sys.stderr)
        return EXIT_USAGE

    estimates = {
        metric.name: score_examples(
            metric, predictions, references, resamples=args.resamples, seed=args.seed, normal_approximation=True
        )
        for metric in metrics
    }
    methods = {m.name: "bootstrap" if m.is_corpus else interval_method(estimates[m.name].n) for m in metrics}
    if args.json:
        print(
            json.dumps(
                {
                    name: {"mean": e.value, "ci95": [e.ci_low, e.ci_high], "n": e.n, "ci_method": methods[name]}
                    for name, e in estimates.items()
                }
            )
        )
    else:
        width = max(len(name) for name in estimates)
        for name, e in estimates.items():
            how = " (normal approximation)" if methods[name] == "normal" else ""
            print(f"{name:<{width}}  {e.value:6.2f}  95% CI [{e.ci_low:.2f}, {e.ci_high:.2f}]{how}  n={e.n}")
    return EXIT_OK
