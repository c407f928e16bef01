"""`finetune runs`: the deployed pipeline's recent executions with their status and verdict."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from finetune.cli import EXIT_OK
from finetune.operator import (
    EXIT_CODES_HELP,
    OperatorError,
    add_aws_arguments,
    connect,
    describe,
    discover,
    elapsed,
    executions,
    reason,
    run_name_of,
    verdict,
    when,
)

INTERRUPTED = "interrupted; nothing was changed in AWS"
MAX_LIMIT = 1000  # one ListExecutions page; each row also costs a DescribeExecution call


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "runs",
        help="list the deployed pipeline's recent runs with status and verdict",
        description="List recent executions, newest first, with status, verdict (promoted, rejected...), duration "
        "and, for a run that failed, the one-sentence reason its notification gave.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--limit", type=int, default=20, metavar="N", help=f"how many executions, 1-{MAX_LIMIT} (20)")
    add_aws_arguments(parser, "state_machine_arn")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        raise OperatorError(f"--limit must be from 1 to {MAX_LIMIT}, got {args.limit}")
    aws = connect(args)
    pipeline = discover(aws, args, "state_machine_arn")
    rows = []
    for item in executions(aws, pipeline.state_machine_arn, limit=args.limit):
        description = describe(aws, str(item["executionArn"]))
        start, stop = item.get("startDate"), item.get("stopDate")
        duration = ""
        if isinstance(start, datetime) and isinstance(stop, datetime):
            duration = elapsed((stop - start).total_seconds())
        rows.append(
            (
                when(start),
                run_name_of(str(item["name"])),
                str(item["name"]),
                str(item["status"]),
                verdict(description),
                duration,
                reason(description),
            )
        )
    if not rows:
        print("no runs yet", file=sys.stderr)
        return EXIT_OK
    header = ("STARTED (UTC)", "RUN", "EXECUTION", "STATUS", "VERDICT", "DURATION", "REASON")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK
