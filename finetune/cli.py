"""Entry point of the `finetune` command: builds the argument parser from the subcommand modules.

Exit codes are shared by every subcommand: 0 success, 1 the thing checked failed (an invalid dataset, a
rejected run, an AWS call that did not complete), 2 a usage error, unreadable input, or something to fix on
the user's side (credentials, permission, a name not found), 130 interrupted (Ctrl-C). Every failure is one
line on stderr, never a traceback: AWS failures and Ctrl-C are turned into that line here, in `main`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C

# Subcommand modules under finetune.commands, in the order `--help` lists them.
SUBCOMMANDS: tuple[str, ...] = ("validate", "score", "rehearse", "doctor", "submit", "status", "report", "runs")
# What Ctrl-C leaves behind, for a command module without its own INTERRUPTED text: the local commands write
# their output only once the work is done.
DEFAULT_INTERRUPTED = "interrupted; no output was written"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finetune",
        description="Fine-tune a base model in Amazon Bedrock: validate data, rehearse the pipeline, operate runs.",
        epilog="Exit codes: 0 success, 1 invalid/rejected/failed, 2 usage error or unreadable input, 130 interrupted.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"finetune.commands.{name}")
        module.register(subparsers)
        subparsers.choices[name].set_defaults(
            subparser=subparsers.choices[name],
            interrupted=getattr(module, "INTERRUPTED", DEFAULT_INTERRUPTED),
        )
    return parser


def leaving(args: argparse.Namespace, state: str) -> None:
    """Record what a Ctrl-C from now on would leave behind (printed by `main` if it comes)."""
    args.interrupted = state


def main(argv: Sequence[str] | None = None) -> int:
    prog = "finetune"
    args: argparse.Namespace | None = None
    try:
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # reported by the subcommand, so the usage shown is the one that lists its options
            getattr(args, "subparser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        prog = f"finetune {args.command}"
        code: int = func(args)
        return code
    except KeyboardInterrupt:
        print(f"{prog}: {getattr(args, 'interrupted', 'interrupted')}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        # The one place AWS failures become a line: the commands name what they were doing (operator.aws_step);
        # anything that escaped them is still reported, never as a traceback.
        from finetune.operator import OperatorError, aws_failure

        failure = err if isinstance(err, OperatorError) else aws_failure(err, "calling AWS")
        if failure is None:
            raise
        print(f"{prog}: {failure}", file=sys.stderr)
        return failure.exit_code


if __name__ == "__main__":
    sys.exit(main())
