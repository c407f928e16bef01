"""`finetune report`: print a run's evaluation table from the report the pipeline wrote to the artifacts bucket."""

from __future__ import annotations

import argparse
import sys
import tempfile
import webbrowser
from pathlib import Path
from typing import Any

from finetune.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from finetune.operator import (
    EXIT_CODES_HELP,
    Aws,
    OperatorError,
    add_aws_arguments,
    call,
    connect,
    describe,
    discover,
    failed,
    find_execution,
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


def first_table(markdown: str) -> str:
    """The report's first Markdown table (the quality table), or the whole text when it has none."""
    lines = markdown.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        return markdown
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def fetch(aws: Aws, bucket: str, key: str) -> bytes | None:
    from botocore.exceptions import ClientError

    try:
        response = call(f"reading s3://{bucket}/{key}", aws.client("s3").get_object, Bucket=bucket, Key=key)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        if err.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise OperatorError(f"no such bucket: {bucket}") from None
        raise
    body: bytes = response["Body"].read()
    return body


def run(args: argparse.Namespace) -> int:
    try:
        aws = connect(args)
        pipeline = discover(aws, args, "artifacts_bucket", "state_machine_arn")
        description = describe(aws, find_execution(aws, pipeline.state_machine_arn, args.execution))
        prefix = contracts.run_prefix(run_of(description), str(description["name"]))
        bucket = pipeline.artifacts_bucket
        markdown = fetch(aws, bucket, prefix + contracts.REPORT_MD)
        if markdown is None:
            outcome = f"{description['status']}: {verdict(description)}"
            if description.get("cause"):
                outcome += f": {description['cause']}"
            if failed(description):
                # The run ended before the evaluation wrote a report: say why, as a failure of the run.
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
            with tempfile.NamedTemporaryFile("wb", suffix=".html", prefix="finetune-report-", delete=False) as out:
                out.write(html)
            webbrowser.open(Path(out.name).as_uri())
            print(f"opened {out.name}", file=sys.stderr)
    except OperatorError as err:
        print(f"finetune report: {err}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_FAILED if failed(description) else EXIT_OK
