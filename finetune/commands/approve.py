"""`finetune approve RUN`: approve the promotion of a run that passed the quality gate and awaits a decision."""

from __future__ import annotations

import argparse
from typing import Any

from finetune.cli import EXIT_OK
from finetune.operator import EXIT_CODES_HELP, add_aws_arguments, connect, discover

INTERRUPTED = "interrupted; if the decision was sent, `finetune status RUN` shows it"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "approve",
        help="approve the promotion of a run that awaits approval",
        description=(
            "Approve a run that passed the quality gate and waits for a decision (settings approval.mode "
            "required): it is promoted, and your identity (sts:GetCallerIdentity) and the time are recorded in its "
            "report and the promotion record. RUN is a run name, an execution name or an execution ARN."
        ),
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("run", help="run name, execution name or execution ARN")
    add_aws_arguments(parser, "state_machine_arn", "artifacts_bucket")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from finetune.approval import decide

    aws = connect(args)
    pipeline = discover(aws, args, "state_machine_arn", "artifacts_bucket")
    decided = decide(
        aws,
        state_machine_arn=pipeline.state_machine_arn,
        artifacts_bucket=pipeline.artifacts_bucket,
        ref=args.run,
        decision="approve",
    )
    print(
        f"run {decided.run}: approved by {decided.decided_by} at {decided.decided_at}; "
        f"follow the promotion with `finetune status {decided.execution}`"
    )
    return EXIT_OK
