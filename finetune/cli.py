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
from typing import Any, cast

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C

# Subcommand modules under finetune.commands, in the order `--help` lists them, with the one-line summary it shows.
# `finetune --help` lists them from here and imports none; `finetune X` imports finetune.commands.X alone, whose
# register() builds the real parser (tests/unit/test_cli_startup.py checks each summary matches its module's).
SUMMARIES: dict[str, str] = {
    "validate": "check a dataset against the base model's format, quotas and quality rules",
    "score": "score predictions against references (offline)",
    "rehearse": "run the whole pipeline locally (moto + a simulated Bedrock); no AWS account needed",
    "doctor": "check, read-only, that an AWS account is ready for the pipeline (run it before `make deploy`)",
    "submit": "upload a dataset (file or folder) to the deployed pipeline and wait for its run to start",
    "status": "follow a run of the deployed pipeline: each state entered, the training job, the outcome",
    "report": "print a run's evaluation table (report.md); --open shows report.html in a browser",
    "runs": "list the deployed pipeline's recent runs with status and verdict",
    "approve": "approve the promotion of a run that awaits approval",
    "reject": "reject a run that awaits approval; its throughput is deleted",
}
SUBCOMMANDS: tuple[str, ...] = tuple(SUMMARIES)
# What Ctrl-C leaves behind, for a command module without its own INTERRUPTED text: the local commands write
# their output only once the work is done.
DEFAULT_INTERRUPTED = "interrupted; no output was written"


class LazySubcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subcommands whose module is imported only when chosen, so `finetune --help` and each command start at once.

    Each subcommand starts as a placeholder parser with its summary; parsing its name imports its module, whose
    register() replaces the placeholder with the real parser (same place in the list, same name).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending: set[str] = set()

    def add_placeholder(self, name: str, summary: str) -> None:
        self.add_parser(name, help=summary)
        self.pending.add(name)

    def load(self, name: str) -> argparse.ArgumentParser:
        """Import the subcommand's module and register its real parser (once)."""
        if name in self.pending:
            self.pending.discard(name)
            at = next(i for i, action in enumerate(self._choices_actions) if action.dest == name)
            order = list(self._name_parser_map)
            del self._name_parser_map[name]
            del self._choices_actions[at]
            module = importlib.import_module(f"finetune.commands.{name}")
            module.register(self)
            self._choices_actions.insert(at, self._choices_actions.pop())
            self._name_parser_map = {key: self._name_parser_map[key] for key in order}
            self.choices = self._name_parser_map
            sub = self._name_parser_map[name]
            sub.set_defaults(subparser=sub, interrupted=getattr(module, "INTERRUPTED", DEFAULT_INTERRUPTED))
        chosen: argparse.ArgumentParser = self._name_parser_map[name]
        return chosen

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values and values[0] in self.pending:
            self.load(values[0])
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finetune",
        description="Fine-tune a base model in Amazon Bedrock: validate data, rehearse the pipeline, operate runs.",
        epilog="Exit codes: 0 success, 1 invalid/rejected/failed, 2 usage error or unreadable input, 130 interrupted.",
    )
    subparsers = cast(LazySubcommands, parser.add_subparsers(dest="command", metavar="COMMAND", action=LazySubcommands))
    for name, summary in SUMMARIES.items():
        subparsers.add_placeholder(name, summary)
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
