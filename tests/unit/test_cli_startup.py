"""The command line starts at once: `finetune --help`, `validate` and `score` import only what they use.

Each case runs a fresh interpreter with `python -X importtime` and reads the modules it imported: a test of
imports, not of time (the time is measured by bench/bench_validator.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finetune import cli

ROOT = Path(__file__).resolve().parents[2]
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
# Heavy or unrelated to these commands: the AWS SDK, the AWS mock, the rehearsal (its runner and its Bedrock
# stand-in), the CDK, and Powertools with the X-Ray SDK (the handlers' logging, tracing and metrics).
HEAVY = (
    "boto3",
    "botocore",
    "moto",
    "aws_cdk",
    "jsii",
    "finetune.rehearsal",
    "finetune.operator",
    "stacks",
    "aws_lambda_powertools",
    "aws_xray_sdk",
    "pipeline_aws",
)


# `python -X importtime -m finetune.cli ARGS`, which also writes the final sys.modules to a file: importtime logs only
# the imports made by import statements, not the command module that importlib loads.
_RUN = (
    "import atexit, json, os, runpy, sys\n"
    "atexit.register(lambda: open(os.environ['MODULES_OUT'], 'w').write(json.dumps(sorted(sys.modules))))\n"
    "sys.argv = ['finetune', *json.loads(os.environ['FINETUNE_ARGS'])]\n"
    "runpy.run_module('finetune.cli', run_name='__main__', alter_sys=True)\n"
)


def imported_modules(args: list[str], cwd: Path) -> tuple[set[str], set[str], subprocess.CompletedProcess[str]]:
    """(modules in the -X importtime log, modules loaded at exit, the process) of a fresh `finetune ARGS`."""
    out = cwd / "modules.json"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _RUN],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        env={**os.environ, "MODULES_OUT": str(out), "FINETUNE_ARGS": json.dumps(args)},
    )
    logged = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line and not line.endswith("imported package")
    }
    loaded = set(json.loads(out.read_text())) if out.exists() else set()
    return logged, loaded, result


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    record = {"messages": [{"role": "user", "content": "What is 1 plus 1?"}, {"role": "assistant", "content": "2."}]}
    (tmp_path / "tiny.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    (tmp_path / "predictions.jsonl").write_text(json.dumps({"prediction": "2", "references": ["2"]}) + "\n")
    return tmp_path


def test_the_import_log_and_the_module_list_are_read(files: Path) -> None:
    # Guards the reading below: a log we could not read would make every other test pass vacuously.
    logged, loaded, result = imported_modules(["--help"], files)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "argparse" in logged and {"argparse", "finetune"} <= loaded


def accelerated_in(modules: set[str]) -> list[str]:
    """The validator's optional accelerators among `modules`: they belong to `validate` alone."""
    return sorted(m for m in modules if m in ("msgspec", "stringzilla"))


def test_help_imports_no_command(files: Path) -> None:
    logged, loaded, result = imported_modules(["--help"], files)
    modules = logged | loaded
    assert result.returncode == 0 and "validate" in result.stdout
    assert heavy_in(modules) == [] and accelerated_in(modules) == []
    assert sorted(m for m in modules if m.startswith("finetune.commands.")) == []
    assert not any(m.startswith("pipeline_core") for m in modules)


def test_validate_imports_the_validator_and_nothing_heavy(files: Path) -> None:
    logged, loaded, result = imported_modules(["validate", "tiny.jsonl", "--base-model", HAIKU], files)
    modules = logged | loaded
    assert result.returncode == 1, result.stderr[-2000:]  # one record: under Haiku's minimum of 32
    assert "QUOTA-MIN-RECORDS" in result.stdout
    assert "pipeline_core.dataset.validator" in modules  # the command did run
    assert heavy_in(modules) == []
    assert accelerated_in(modules) == ["msgspec", "stringzilla"]  # installed by `make setup`, and used
    assert sorted(m for m in modules if m.startswith("finetune.commands.")) == ["finetune.commands.validate"]
    assert not any(m.startswith("pipeline_core.metrics") for m in modules)


def test_score_imports_the_metrics_and_nothing_heavy(files: Path) -> None:
    logged, loaded, result = imported_modules(["score", "predictions.jsonl"], files)
    modules = logged | loaded
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pipeline_core.metrics" in modules
    assert heavy_in(modules) == []
    assert sorted(m for m in modules if m.startswith("finetune.commands.")) == ["finetune.commands.score"]
    assert "pipeline_core.dataset.validator" not in modules  # score reads lines, it does not validate
    assert accelerated_in(modules) == []


def test_each_summary_is_the_one_its_command_registers() -> None:
    # `--help` lists the summaries from cli.SUMMARIES without importing the commands; they must not drift apart.
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, cli.LazySubcommands))
    for name in cli.SUBCOMMANDS:
        subparsers.load(name)
    registered = {action.dest: action.help for action in subparsers._choices_actions}
    assert registered == cli.SUMMARIES
    assert [action.dest for action in subparsers._choices_actions] == list(cli.SUBCOMMANDS)  # the order kept


def test_a_command_is_loaded_once_and_parses_its_own_options() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["validate", "data.jsonl", "--json"])
    assert args.command == "validate" and args.json and args.func.__module__ == "finetune.commands.validate"
    assert isinstance(args.subparser, argparse.ArgumentParser) and args.subparser.prog == "finetune validate"
    again = parser.parse_args(["validate", "other.jsonl"])
    assert again.subparser is args.subparser
