"""`finetune runs`: the runs waiting in the admission queue, the queued runs that could not start
(FAILED_TO_START, with the error), then the pipeline's recent executions, with their status and verdict."""

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
    failed_starts,
    queued_runs,
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
        description="List the runs waiting for a slot (status QUEUED, by position: the next to start first), then "
        "recent executions, newest first, with status, verdict (promoted, rejected...), duration and, for a run "
        "that failed, the one-sentence reason its notification gave.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument(
        "--limit", type=int, default=20, metavar="N", help=f"how many executions (and queued runs), 1-{MAX_LIMIT} (20)"
    )
    add_aws_arguments(parser, "state_machine_arn", "admission_table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        raise OperatorError(f"--limit must be from 1 to {MAX_LIMIT}, got {args.limit}")
    aws = connect(args)
    pipeline = discover(aws, args, "state_machine_arn", optional=("admission_table",))
    # The queue is read before the executions: a run started in between is then listed as both, and its queued
    # row is dropped below; read the other way round it would be listed as neither.
    waiting = queued_runs(aws, pipeline.admission_table)
    refused = failed_starts(aws, pipeline.admission_table)
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
    listed = {row[2] for row in rows}
    queued = [
        ("-", q.run_name, q.execution_name, "QUEUED", q.describe(), "", f"waiting for a slot since {when(q.arrived)}")
        for q in waiting
        if q.execution_name not in listed
    ][: args.limit]
    # Runs StartExecution refused for good (no execution exists), newest first, after the waiting ones.
    failed = [
        ("-", f.run_name, f.execution_name, "FAILED_TO_START", "", "", f"could not start: {f.error}")
        for f in reversed(refused)
        if f.execution_name not in listed
    ][: args.limit]
    rows = queued + failed + rows
    if not rows:
        print("no runs yet", file=sys.stderr)
        return EXIT_OK
    header = ("STARTED (UTC)", "RUN", "EXECUTION", "STATUS", "VERDICT", "DURATION", "REASON")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK
