"""Entry point of the `finetune` command: builds the argument parser from the subcommand modules.

Exit codes are shared by every subcommand: 0 success, 1 the thing checked failed (an invalid dataset, a
rejected run), 2 a usage error or unreadable input.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# Subcommand modules under finetune.commands, in the order `--help` lists them.
SUBCOMMANDS: tuple[str, ...] = ("validate", "score", "rehearse", "submit", "status", "report", "runs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finetune",
        description="Fine-tune a base model in Amazon Bedrock: validate data, rehearse the pipeline, operate runs.",
        epilog="Exit codes: 0 success, 1 invalid/rejected/failed, 2 usage error or unreadable input.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"finetune.commands.{name}").register(subparsers)
        subparsers.choices[name].set_defaults(subparser=subparsers.choices[name])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the subcommand, so the usage shown is the one that lists its options
        getattr(args, "subparser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from botocore.exceptions import BotoCoreError

    try:
        code: int = func(args)
    except BotoCoreError as err:
        # The AWS commands turn access errors into one line themselves; what is left is the network or the
        # endpoint (no connection, a timeout, a broken response): one line too, never a traceback.
        print(f"finetune {args.command}: could not complete the AWS call: {err}", file=sys.stderr)
        return EXIT_USAGE
    return code


if __name__ == "__main__":
    sys.exit(main())
