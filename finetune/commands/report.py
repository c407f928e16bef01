"""`finetune report`: print a run's evaluation table from the report the pipeline wrote to the artifacts bucket."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import webbrowser
from pathlib import Path
from typing import Any

from finetune.cli import EXIT_FAILED, EXIT_OK
from finetune.operator import (
    EXIT_CODES_HELP,
    Aws,
    OperatorError,
    add_aws_arguments,
    aws_step,
    call,
    connect,
    describe,
    discover,
    failed,
    find_execution,
    reason,
    run_of,
    verdict,
)
from pipeline_core import contracts


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="print a run's evaluation table (report.md); --open shows report.html in a browser",
        description=(
            "Fetch runs/<run>/<execution>/report.md from the artifacts bucket and print its evaluation table and "
            "the verdict. EXECUTION is an execution ARN, an execution name, or a run name (its newest execution)."
        ),
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("execution", help="execution ARN, execution name or run name")
    parser.add_argument("--open", action="store_true", help="also write report.html to a temporary file and open it")
    parser.add_argument("--full", action="store_true", help="print the whole report.md, not only the table")
    add_aws_arguments(parser, "artifacts_bucket", "state_machine_arn")
    parser.set_defaults(func=run)


# The aggregate handler marks every report of a rehearsal with this phrase (pipeline_core.report).
SIMULATED_MARK = "SIMULATED RUN"
INTERRUPTED = "interrupted; nothing was changed in AWS and no file was written"
# A report is a table and a few hundred example rows (tens of kB); anything near this size is not one.
MAX_REPORT_BYTES = 64 * 1024 * 1024


def first_table(markdown: str) -> str:
    """The report's first Markdown table (the quality table), or the whole text when it has none."""
    lines = markdown.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        return markdown
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def fetch(aws: Aws, bucket: str, key: str) -> bytes | None:
    """The object's bytes, None if there is no such key; OperatorError past MAX_REPORT_BYTES."""
    from botocore.exceptions import ClientError

    where = f"s3://{bucket}/{key}"
    try:
        response = call(
            f"reading {where}",
            aws.client("s3").get_object,
            let_through=("NoSuchKey", "404", "NoSuchBucket"),
            Bucket=bucket,
            Key=key,
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise OperatorError(f"no such bucket: {bucket} (check --artifacts-bucket and --region)") from None
        return None
    size = int(response.get("ContentLength") or 0)
    with aws_step(f"reading {where}"):
        body: bytes = response["Body"].read(MAX_REPORT_BYTES + 1)
    if max(size, len(body)) > MAX_REPORT_BYTES:
        raise OperatorError(f"{where} is larger than {MAX_REPORT_BYTES:,} bytes: not a report this pipeline wrote")
    return body


def _open_in_browser(html: bytes) -> str:
    """Write the page to a new temporary file (removed again if writing fails) and open it; returns its path."""
    out = tempfile.NamedTemporaryFile("wb", suffix=".html", prefix="finetune-report-", delete=False)  # noqa: SIM115
    try:
        with out:
            out.write(html)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(out.name)
        raise
    webbrowser.open(Path(out.name).as_uri())
    return out.name


def run(args: argparse.Namespace) -> int:
    aws = connect(args)
    pipeline = discover(aws, args, "artifacts_bucket", "state_machine_arn")
    description = describe(aws, find_execution(aws, pipeline.state_machine_arn, args.execution))
    prefix = contracts.run_prefix(run_of(description), str(description["name"]))
    bucket = pipeline.artifacts_bucket
    markdown = fetch(aws, bucket, prefix + contracts.REPORT_MD)
    if markdown is None:
        outcome = f"{description['status']}: {verdict(description)}"
        if failed(description):
            # The run ended before the evaluation wrote a report: say why, as a failure of the run.
            outcome += f": {reason(description)}"
            print(f"no report for {description['name']}: {outcome}")
            return EXIT_FAILED
        raise OperatorError(f"no report at s3://{bucket}/{prefix}{contracts.REPORT_MD} yet ({outcome})")
    text = markdown.decode("utf-8", errors="replace")
    table = text if args.full else first_table(text)
    if not args.full and SIMULATED_MARK in text:
        # A rehearsal's figures come from simulated models; the table alone must not lose that label.
        print("SIMULATED RUN (local rehearsal): these figures are not from Amazon Bedrock.")
    sys.stdout.write(table if table.endswith("\n") else table + "\n")
    print(f"{description['status']}: {verdict(description)}")
    print(f"full report: s3://{bucket}/{prefix}{contracts.REPORT_HTML}", file=sys.stderr)
    if args.open:
        html = fetch(aws, bucket, prefix + contracts.REPORT_HTML)
        if html is None:
            raise OperatorError(f"no report.html at s3://{bucket}/{prefix}")
        print(f"opened {_open_in_browser(html)}", file=sys.stderr)
    return EXIT_FAILED if failed(description) else EXIT_OK
