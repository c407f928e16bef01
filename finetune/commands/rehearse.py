"""`finetune rehearse`: run the whole pipeline locally against moto and a simulated Bedrock, in about half a minute.

Exit codes: 0 promoted, 1 rejected or failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from finetune.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from finetune.rehearsal import demo_data


def _fault(value: str) -> str:
    from finetune.rehearsal.runner import REHEARSAL_FAULTS

    if value not in REHEARSAL_FAULTS:
        raise argparse.ArgumentTypeError(f"unknown fault {value!r}; choose from {', '.join(REHEARSAL_FAULTS)}")
    return value


def _share(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return number


def register(subparsers: Any) -> None:
    from finetune.rehearsal.runner import REHEARSAL_FAULTS

    faults = "\n".join(f"  {name:<16} {text}" for name, text in REHEARSAL_FAULTS.items())
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "rehearse",
        help="run the whole pipeline locally (moto + a simulated Bedrock); no AWS account needed",
        description="Synthesize the app, run its state machine in moto with the real Lambda handlers in-process and a "
        "simulated Bedrock, and print the evaluation report. Nothing is trained: every Bedrock answer is simulated. "
        "See docs/rehearsal.md.",
        epilog=f"faults (--fault, repeatable):\n{faults}\n\n"
        "Exit codes: 0 promoted, 1 rejected or failed, 2 usage error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", type=Path, metavar="FILE", help="a JSON Lines dataset (default: generated demo)")
    parser.add_argument("--run-name", default="demo", help="the run name: the upload is inbox/<name>.jsonl (demo)")
    parser.add_argument("--records", type=int, default=demo_data.DEFAULT_COUNT, help="demo dataset size (%(default)s)")
    parser.add_argument("--seed", type=int, default=demo_data.DEFAULT_SEED, help="demo data and simulation seed (7)")
    parser.add_argument("--candidate-accuracy", type=_share, default=0.9, help="simulated fine-tuned accuracy (0.9)")
    parser.add_argument("--base-accuracy", type=_share, default=0.7, help="simulated base model accuracy (0.7)")
    parser.add_argument("--fault", type=_fault, action="append", default=[], metavar="NAME", help="inject a fault")
    parser.add_argument("--output", type=Path, metavar="DIR", help="where reports go (./rehearsal-output/<run>/)")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up on the execution after N s (120)")
    parser.add_argument("--quiet", action="store_true", help="print only the report and the summary")
    parser.set_defaults(func=run)


def _usage(message: str) -> int:
    print(f"finetune rehearse: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    import re

    from finetune.rehearsal.progress import Progress
    from finetune.rehearsal.runner import RehearsalError, RehearsalOptions, exit_code, rehearse, summary_lines
    from pipeline_core.contracts import RUN_NAME_PATTERN

    if not re.fullmatch(RUN_NAME_PATTERN, args.run_name):
        return _usage(f"--run-name must match {RUN_NAME_PATTERN}")
    if args.dataset is not None and not args.dataset.is_file():
        return _usage(f"cannot read {args.dataset}: no such file")
    if args.records < 1:
        return _usage("--records must be at least 1")
    if args.output is not None and args.output.exists() and not args.output.is_dir():
        return _usage(f"--output {args.output} is a file; give a folder for the reports")
    options = RehearsalOptions(
        run_name=args.run_name,
        dataset=args.dataset,
        records=args.records,
        seed=args.seed,
        candidate_accuracy=args.candidate_accuracy,
        base_accuracy=args.base_accuracy,
        faults=frozenset(args.fault),
        output_dir=args.output,
        timeout_seconds=args.timeout,
        quiet=args.quiet,
    )
    progress = Progress(quiet=args.quiet)
    try:
        result = rehearse(options, progress=progress)
    except RehearsalError as exc:
        return _usage(str(exc))
    if result.table_md:
        sys.stdout.write(result.table_md if result.table_md.endswith("\n") else result.table_md + "\n")
    for line in summary_lines(result):
        progress.always(line)
    code = exit_code(result)
    return EXIT_OK if code == 0 else EXIT_FAILED
