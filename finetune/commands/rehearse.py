"""`finetune rehearse`: run the whole pipeline locally against moto and a simulated Bedrock, in about half a minute.

Exit codes: 0 promoted, 1 rejected or failed, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from finetune.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from finetune.rehearsal import demo_data

INTERRUPTED = "rehearsal interrupted; nothing was left running (it was all local)"
DEFAULT_OUTPUT = Path("rehearsal-output")  # reports go to DEFAULT_OUTPUT/<run name>/ unless --output
# The files the rehearsal (finetune/rehearsal/runner.py) writes into the output folder, removing earlier ones first.
OUTPUT_FILES = (
    "report.json",
    "report.md",
    "report.html",
    "validation-report.json",
    "validation-report.txt",
    "handlers.log",
)
# The rehearsal holds the dataset in memory several times over (moto's S3, the split, the stand-in's answers);
# a dataset a model accepts for training is far smaller than this in practice.
MAX_DATASET_BYTES = 256 * 1024 * 1024
# The rehearsal finishes in about half a minute; an hour is far past any run that is still making progress.
MAX_TIMEOUT_SECONDS = 3600.0
#: The wait for approval of `--approval timeout`, in seconds: nobody answers, so it only has to be short.
APPROVAL_TIMEOUT_SECONDS = 3
_FAULTS_PLACEHOLDER = "%(faults)s"


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


class _FaultsHelp(argparse.RawDescriptionHelpFormatter):
    """Lists the faults only when help is shown: they live in the runner, whose imports (moto, botocore) are slow."""

    def _format_text(self, text: str) -> str:
        if _FAULTS_PLACEHOLDER in text:
            from finetune.rehearsal.runner import REHEARSAL_FAULTS

            width = max(map(len, REHEARSAL_FAULTS))
            faults = "\n".join(f"  {name:<{width}} {help_}" for name, help_ in REHEARSAL_FAULTS.items())
            text = text.replace(_FAULTS_PLACEHOLDER, faults)
        return super()._format_text(text)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "rehearse",
        help="run the whole pipeline locally (moto + a simulated Bedrock); no AWS account needed",
        description="Synthesize the app, run its state machine in moto with the real Lambda handlers in-process and a "
        "simulated Bedrock, and print the evaluation report. Nothing is trained: every Bedrock answer is simulated. "
        "See docs/rehearsal.md.",
        epilog=f"faults (--fault, repeatable):\n{_FAULTS_PLACEHOLDER}\n\n"
        "Exit codes: 0 promoted, 1 rejected or failed, 2 usage error, 130 interrupted.",
        formatter_class=_FaultsHelp,
    )
    parser.add_argument(
        "--dataset",
        type=Path,
        metavar="FILE",
        help=f"a JSON Lines dataset, at most {MAX_DATASET_BYTES // 2**20} MiB (default: generated demo)",
    )
    parser.add_argument("--run-name", default="demo", help="the run name: the upload is inbox/<name>.jsonl (demo)")
    parser.add_argument(
        "--records",
        type=int,
        default=demo_data.DEFAULT_COUNT,
        help="demo dataset size, 1 to the configured base model's record quota (%(default)s)",
    )
    parser.add_argument("--seed", type=int, default=demo_data.DEFAULT_SEED, help="demo data and simulation seed (7)")
    parser.add_argument("--candidate-accuracy", type=_share, default=0.9, help="simulated fine-tuned accuracy (0.9)")
    parser.add_argument("--base-accuracy", type=_share, default=0.7, help="simulated base model accuracy (0.7)")
    parser.add_argument("--fault", type=_fault, action="append", default=[], metavar="NAME", help="inject a fault")
    parser.add_argument("--output", type=Path, metavar="DIR", help=f"where reports go (./{DEFAULT_OUTPUT}/<run>/)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help=f"give up on the execution after N s, 1-{MAX_TIMEOUT_SECONDS:.0f} (120)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the report and the summary")
    parser.add_argument(
        "--base-model",
        metavar="ID",
        help="rehearse this catalogued base model instead of cdk.json's pipeline.baseModelId (the demo data "
        "follows its format; without --region, its first Region when cdk.json's cannot fine-tune it)",
    )
    parser.add_argument("--region", metavar="REGION", help="rehearse in this Region instead of cdk.json's")
    parser.add_argument(
        "--approval",
        choices=("approve", "reject", "timeout"),
        help="require approval after the quality gate (pipeline.approval) and answer it as `finetune approve` / "
        "`finetune reject` would, or not at all (timeout: the run is rejected and cleaned up)",
    )
    parser.set_defaults(func=run)


def _usage(message: str) -> int:
    print(f"finetune rehearse: {message}", file=sys.stderr)
    return EXIT_USAGE


def _record_quota(overrides: dict[str, Any]) -> tuple[str, int]:
    """The configured base model (cdk.json, as the rehearsal reads it) and its total-record quota."""
    from finetune.rehearsal.runner import ROOT, RehearsalError, apply_overrides, project_context

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from stacks.settings import CONTEXT_KEY, SettingsError, load_settings  # type: ignore[import-not-found,unused-ignore]

    try:
        settings = load_settings(apply_overrides(project_context().get(CONTEXT_KEY) or {}, overrides))
    except SettingsError as err:  # a ValueError: caught before the unreadable-file case below
        flags = " with --base-model/--region" if overrides else ""
        raise RehearsalError(f"cdk.json{flags}: {err}") from None
    except (OSError, ValueError, KeyError) as err:
        raise RehearsalError(f"cannot read the settings in {ROOT / 'cdk.json'}: {err}") from None
    model = settings.base_model
    return f"{model.display_name} ({model.model_id}, {CONTEXT_KEY}.baseModelId)", int(model.quotas.max_total_records)


def _check_dataset(dataset: Path, output_dir: Path) -> str | None:
    """Why the dataset cannot be rehearsed, or None."""
    from finetune.atomic import OutputIsInput, refuse_input_as_output

    try:
        size = dataset.stat().st_size
        dataset.open("rb").close()
    except OSError as err:
        return f"cannot read {dataset}: {err.strerror or err}"
    if not dataset.is_file():
        return f"cannot read {dataset}: not a regular file"
    if size > MAX_DATASET_BYTES:
        return f"--dataset {dataset} is {size:,} bytes; the rehearsal holds at most {MAX_DATASET_BYTES:,} in memory"
    try:
        refuse_input_as_output([output_dir / name for name in OUTPUT_FILES], [dataset])
    except OutputIsInput as err:
        return f"--dataset: {err}: the rehearsal writes its reports to {output_dir}"
    return None


def run(args: argparse.Namespace) -> int:
    import re

    from finetune.rehearsal.progress import Progress
    from finetune.rehearsal.runner import (
        RehearsalError,
        RehearsalOptions,
        exit_code,
        model_overrides,
        rehearse,
        summary_lines,
    )
    from pipeline_core.contracts import RUN_NAME_PATTERN

    if not re.fullmatch(RUN_NAME_PATTERN, args.run_name):
        return _usage(f"--run-name must match {RUN_NAME_PATTERN}")
    output_dir: Path = args.output if args.output is not None else DEFAULT_OUTPUT / args.run_name
    if args.output is not None and args.output.exists() and not args.output.is_dir():
        return _usage(f"--output {args.output} is a file; give a folder for the reports")
    if args.dataset is not None:
        problem = _check_dataset(args.dataset, output_dir)
        if problem:
            return _usage(problem)
    if not 1 <= args.timeout <= MAX_TIMEOUT_SECONDS:  # written so that NaN fails too
        return _usage(f"--timeout must be from 1 to {MAX_TIMEOUT_SECONDS:.0f} seconds, got {args.timeout:g}")
    if args.records < 1:
        return _usage(f"--records must be at least 1, got {args.records}")
    try:
        overrides = model_overrides(args.base_model, args.region)
        if args.approval:
            overrides["approval"] = {"mode": "required", "timeoutHours": 1}
        model, quota = _record_quota(overrides)
    except RehearsalError as exc:
        return _usage(str(exc))
    if args.records > quota:
        # The pipeline's validation would refuse the upload: fail now, not after synthesizing and running.
        return _usage(f"--records {args.records:,} is more than the {quota:,}-record quota of {model}")
    options = RehearsalOptions(
        run_name=args.run_name,
        dataset=args.dataset,
        records=args.records,
        seed=args.seed,
        candidate_accuracy=args.candidate_accuracy,
        base_accuracy=args.base_accuracy,
        faults=frozenset(args.fault),
        output_dir=output_dir,
        timeout_seconds=args.timeout,
        quiet=args.quiet,
        settings_overrides=overrides,
        approval=args.approval,
        # No answer: a short wait shows the timeout path without waiting for the compressed clock's.
        approval_timeout_seconds=APPROVAL_TIMEOUT_SECONDS if args.approval == "timeout" else None,
    )
    progress = Progress(quiet=args.quiet)
    try:
        result = rehearse(options, progress=progress)
    except RehearsalError as exc:
        return _usage(str(exc))
    if result.table_md:
        sys.stdout.write(result.table_md if result.table_md.endswith("\n") else result.table_md + "\n")
    for decided in result.approvals:
        progress.always(f"approval: {decided.decision} by {decided.decided_by} at {decided.decided_at}")
    for line in summary_lines(result):
        progress.always(line)
    code = exit_code(result)
    return EXIT_OK if code == 0 else EXIT_FAILED
