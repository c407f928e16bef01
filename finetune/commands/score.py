"""`finetune score FILE`: scores predictions against references offline and prints each metric's mean and 95% CI.

Each line of FILE is `{"prediction": str, "references": [str, ...]}`. The same registry and statistics as
the pipeline's Aggregate step are used, so a number seen here is the number the report would show.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from finetune.cli import EXIT_OK, EXIT_USAGE
from pipeline_core.metrics import DEFAULT_METRIC, SchemaError, get_metric, metric_names, score_examples
from pipeline_core.metrics.stats import DEFAULT_RESAMPLES, DEFAULT_SEED


class InputError(Exception):
    """The input file cannot be read or a line is not a valid example; the message names file and line."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score predictions against references (offline)",
        description="Score predictions against references. Each line of FILE is "
        '{"prediction": "...", "references": ["...", ...]}. Prints each metric\'s mean (0-100) '
        "and its 95% percentile-bootstrap confidence interval.",
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="JSON Lines file of predictions and references")
    parser.add_argument(
        "--metric",
        dest="metrics",
        action="append",
        choices=metric_names(),
        metavar="NAME",
        help=f"metric to compute; repeatable (default {DEFAULT_METRIC}). One of: {', '.join(metric_names())}",
    )
    parser.add_argument("--json", action="store_true", help="print {metric: {mean, ci95, n}} as JSON")
    parser.add_argument(
        "--resamples", type=int, default=DEFAULT_RESAMPLES, help="bootstrap resamples (default %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed (default %(default)s)")
    parser.add_argument(
        "--schema",
        type=Path,
        metavar="SCHEMA",
        help="JSON schema for json_schema (default: each reference's own shape)",
    )
    parser.set_defaults(func=run)


def read_examples(path: Path) -> tuple[list[str], list[list[str]]]:
    """Predictions and references from a JSON Lines file; blank lines are skipped."""
    predictions: list[str] = []
    references: list[list[str]] = []
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                where = f"{path}:{number}"
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError(f"{where}: not UTF-8") from None
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except ValueError as error:
                    raise InputError(f"{where}: not valid JSON ({error})") from None
                predictions.append(_prediction(record, where))
                references.append(_references(record, where))
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror or error})") from None
    if not predictions:
        raise InputError(f"{path}: no examples")
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
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot read the schema ({error})") from None


def run(args: argparse.Namespace) -> int:
    names: list[str] = list(dict.fromkeys(args.metrics or [DEFAULT_METRIC]))  # keep order, drop repeats
    if args.resamples < 1:
        print("finetune score: --resamples must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        schema = _load_schema(args.schema) if args.schema else None
        metrics = [get_metric(name, schema=schema) for name in names]
        predictions, references = read_examples(args.file)
    except (InputError, SchemaError) as error:
        print(f"finetune score: {error}", file=sys.stderr)
        return EXIT_USAGE

    estimates = {
        metric.name: score_examples(metric, predictions, references, resamples=args.resamples, seed=args.seed)
        for metric in metrics
    }
    if args.json:
        print(
            json.dumps(
                {name: {"mean": e.value, "ci95": [e.ci_low, e.ci_high], "n": e.n} for name, e in estimates.items()}
            )
        )
    else:
        width = max(len(name) for name in estimates)
        for name, e in estimates.items():
            print(f"{name:<{width}}  {e.value:6.2f}  95% CI [{e.ci_low:.2f}, {e.ci_high:.2f}]  n={e.n}")
    return EXIT_OK
