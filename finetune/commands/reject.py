"""`finetune reject RUN --reason TEXT`: reject a run that awaits approval; its throughput is deleted."""

from __future__ import annotations

import argparse
from typing import Any

from finetune.cli import EXIT_OK
from finetune.operator import EXIT_CODES_HELP, OperatorError, add_aws_arguments, connect, discover

INTERRUPTED = "interrupted; if the decision was sent, `finetune status RUN` shows it"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "reject",
        help="reject a run that awaits approval; its throughput is deleted",
        description=(
            "Reject a run that passed the quality gate and waits for a decision (settings approval.mode "
            "required): it is not promoted, its throughput or deployment is deleted, and the reason "
            "'rejected by <your ARN>: TEXT' is recorded in its report and notification. RUN is a run name, an "
            "execution name or an execution ARN."
        ),
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("run", help="run name, execution name or execution ARN")
    parser.add_argument("--reason", required=True, metavar="TEXT", help="why: recorded in the report")
    add_aws_arguments(parser, "state_machine_arn", "artifacts_bucket")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from finetune.approval import decide

    if not args.reason.strip():
        raise OperatorError("--reason must say why (it is recorded in the report)")
    aws = connect(args)
    pipeline = discover(aws, args, "state_machine_arn", "artifacts_bucket")
    decided = decide(
        aws,
        state_machine_arn=pipeline.state_machine_arn,
        artifacts_bucket=pipeline.artifacts_bucket,
        ref=args.run,
        decision="reject",
        reason=args.reason,
    )
    print(
        f"run {decided.run}: rejected by {decided.decided_by} at {decided.decided_at}; its throughput is being "
        f"deleted: follow it with `finetune status {decided.execution}`"
    )
    return EXIT_OK
