"""`finetune status`: follow a run of the deployed pipeline, state by state, until it ends.

Reads only the execution's history (each state entered, with its time since the start) and, while training,
the customization job's status from the states' outputs: no Bedrock call is made. A run still waiting in the
admission queue has no execution yet: it is shown as QUEUED with its position, and followed until it starts.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from finetune.cli import EXIT_FAILED, EXIT_OK, leaving
from finetune.operator import (
    EXIT_CODES_HELP,
    Aws,
    OperatorError,
    Progress,
    add_aws_arguments,
    connect,
    describe,
    discover,
    execution_arn,
    failed,
    failure_report,
    find_execution,
    find_queued,
    history,
    queued_runs,
    reason,
    run_of,
    verdict,
    when,
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
            "an execution name, or a run name (its newest execution); default: the newest execution. A run waiting "
            "for a slot shows as QUEUED with its position in the queue, and is followed until it starts."
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
    add_aws_arguments(parser, "state_machine_arn", "admission_table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.interval <= MAX_INTERVAL_SECONDS:  # written so that NaN fails too
        raise OperatorError(f"--interval must be from 0 to {MAX_INTERVAL_SECONDS:.0f} seconds, got {args.interval:g}")
    aws = connect(args)
    pipeline = discover(aws, args, "state_machine_arn", optional=("admission_table",))
    arn = _wait_in_queue(aws, args, pipeline.state_machine_arn, pipeline.admission_table)
    if arn is None:
        return EXIT_OK
    description = describe(aws, arn)
    name = str(description["name"])
    print(f"run {run_of(description)}: execution {name}", flush=True)
    leaving(args, f"stopped following; the run goes on in AWS; follow it again with `finetune status {name}`")
    progress = Progress()
    while True:
        events = history(aws, arn)
        for line in progress.feed(events):
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
    report = failure_report(events) if failed(description) else None
    if report:  # where the run's evidence is: the validation report of a refused dataset, or the evaluation's
        print(f"report: {report}")
    return EXIT_FAILED if failed(description) else EXIT_OK


def _wait_in_queue(aws: Aws, args: argparse.Namespace, state_machine_arn: str, table: str) -> str | None:
    """The execution to follow. A queued run (no execution yet) is shown with its position and followed until the
    dispatcher starts it; None when it is still queued and not followed."""
    ref = args.execution
    queued = None if ref and ref.startswith("arn:") else find_queued(queued_runs(aws, table), ref)
    if queued is None:
        return find_execution(aws, state_machine_arn, ref)
    arn = execution_arn(state_machine_arn, queued.execution_name)
    if _exists(aws, arn):  # started since the queue was read
        return arn
    print(f"run {queued.run_name}: execution {queued.execution_name}", flush=True)
    leaving(args, f"stopped following; the run stays queued; follow it again with `finetune status {queued.run_name}`")
    shown = ""
    name = queued.execution_name
    while queued is not None:
        line = f"QUEUED: {queued.describe()}, waiting for a slot since {when(queued.arrived)} UTC"
        if line != shown:
            print(line, flush=True)
            shown = line
        if args.no_follow:
            return None
        time.sleep(args.interval)
        queued = next((q for q in queued_runs(aws, table) if q.execution_name == name), None)
    return arn


def _exists(aws: Aws, arn: str) -> bool:
    try:
        describe(aws, arn)
    except OperatorError:
        return False
    return True
