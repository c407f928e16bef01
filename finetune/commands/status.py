"""`finetune status`: follow a run of the deployed pipeline, state by state, until it ends.

Reads only the execution's history (each state entered, with its time since the start) and, while training,
the customization job's status from the states' outputs: no Bedrock call is made.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from finetune.cli import EXIT_FAILED, EXIT_OK, leaving
from finetune.operator import (
    EXIT_CODES_HELP,
    OperatorError,
    Progress,
    add_aws_arguments,
    connect,
    describe,
    discover,
    failed,
    find_execution,
    history,
    reason,
    run_of,
    verdict,
)

# Ctrl-C before the run is found; once it is, the message says how to follow it again.
INTERRUPTED = "interrupted before the run was found; nothing was changed in AWS"
# Polling less often than hourly would miss whole stages; the bound also keeps time.sleep's argument finite.
MAX_INTERVAL_SECONDS = 3600.0


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "status",
        help="follow a run of the deployed pipeline: each state entered, the training job, the outcome",
        description=(
            "Show an execution's progress: each state as it is entered, with the time since the start, and the "
            "training job's status. Follows it until it ends unless --no-follow. EXECUTION is an execution ARN, "
            "an execution name, or a run name (its newest execution); default: the newest execution."
        ),
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("execution", nargs="?", help="execution ARN, execution name or run name (default: newest)")
    parser.add_argument("--no-follow", action="store_true", help="print the progress so far and return")
    parser.add_argument(
        "--interval",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help=f"poll interval, 0-{MAX_INTERVAL_SECONDS:.0f} (15)",
    )
    add_aws_arguments(parser, "state_machine_arn")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.interval <= MAX_INTERVAL_SECONDS:  # written so that NaN fails too
        raise OperatorError(f"--interval must be from 0 to {MAX_INTERVAL_SECONDS:.0f} seconds, got {args.interval:g}")
    aws = connect(args)
    pipeline = discover(aws, args, "state_machine_arn")
    arn = find_execution(aws, pipeline.state_machine_arn, args.execution)
    description = describe(aws, arn)
    name = str(description["name"])
    print(f"run {run_of(description)}: execution {name}", flush=True)
    leaving(args, f"stopped following; the run goes on in AWS; follow it again with `finetune status {name}`")
    progress = Progress()
    while True:
        for line in progress.feed(history(aws, arn)):
            print(line, flush=True)
        if description["status"] != "RUNNING" or args.no_follow:
            break
        time.sleep(args.interval)
        description = describe(aws, arn)
    outcome = verdict(description)
    line = f"{description['status']}: {outcome}"
    if failed(description):
        line += f": {reason(description)}"
    elif description["status"] == "RUNNING" and progress.current:
        line += f" (in {progress.current})"
    print(line)
    return EXIT_FAILED if failed(description) else EXIT_OK
