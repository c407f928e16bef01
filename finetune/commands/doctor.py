"""`finetune doctor`: a read-only preflight of an AWS account for the settings in cdk.json (and the deployed stacks).

It checks, one line each: the credentials; the Region; the base and reference models (lifecycle, fine-tuning
support, access); the Service Quotas a run needs; and, once deployed, the stacks, the data bucket's EventBridge
notifications and the KMS key. It only reads: every client it uses refuses any operation but Get*, List* and
Describe* (finetune.doctor_checks.read_only). Exit codes: 0 nothing blocks a run (warnings allowed), 1 something
does, 2 usage error, unreadable cdk.json or credentials that do not work, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from finetune.cli import EXIT_USAGE
from finetune.doctor_checks import Check, Clients, Status, Target, exit_code, read_only, run_checks

INTERRUPTED = "interrupted; nothing was changed (finetune doctor only reads)"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTEXT_KEY = "pipeline"
EXIT_CODES_HELP = (
    "Exit codes: 0 nothing blocks a run (warnings allowed), 1 a check failed (a run would fail), "
    "2 usage error, unreadable cdk.json, or credentials that do not work, 130 interrupted."
)
SYMBOLS = {Status.OK: "✓", Status.WARN: "!", Status.FAIL: "✗"}
ASCII_SYMBOLS = {Status.OK: "+", Status.WARN: "!", Status.FAIL: "x"}
# Several quota pages and model calls: a slow answer must not hang the preflight, and botocore's standard retry
# mode already backs off on throttling before a check reports it.
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20
MAX_ATTEMPTS = 4


class DoctorError(Exception):
    """A problem with the command line or cdk.json: one line, exit 2."""


def _faults_help() -> str:
    from finetune.doctor_rehearsal import DOCTOR_FAULTS

    return "\n".join(f"  {name:<18} {text}" for name, text in DOCTOR_FAULTS.items())


class _Help(argparse.RawDescriptionHelpFormatter):
    """Lists the rehearsal's faults only when help is shown (they live beside the rehearsal's heavy imports)."""

    def _format_text(self, text: str) -> str:
        if "%(faults)s" in text:
            text = text.replace("%(faults)s", _faults_help())
        return super()._format_text(text)


def _fault(value: str) -> str:
    from finetune.doctor_rehearsal import DOCTOR_FAULTS

    if value not in DOCTOR_FAULTS:
        raise argparse.ArgumentTypeError(f"unknown fault {value!r}; choose from {', '.join(DOCTOR_FAULTS)}")
    return value


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "doctor",
        help="check, read-only, that an AWS account is ready for the pipeline (run it before `make deploy`)",
        description=(
            "Check, without creating, changing or deleting anything, whether a pipeline run would work in an AWS\n"
            "account with the settings in cdk.json:\n"
            "  1. the credentials and the account (sts:GetCallerIdentity)\n"
            "  2. the Region: the base model can be fine-tuned there\n"
            "  3. the base model and each reference model: lifecycle (ACTIVE, LEGACY, end of life), fine-tuning\n"
            "     support, access (GetFoundationModelAvailability), inference profiles\n"
            "  4. the Service Quotas a run needs: no-commitment model units for custom models, customization jobs\n"
            "  5. the stacks and their outputs (not deployed yet is a warning)\n"
            "  6. once deployed: the data bucket's EventBridge notifications and 7. the KMS key\n"
            "One line per check: ✓ ok, ! warning, ✗ a run would fail, each with what to do. Only Get*, List* and\n"
            "Describe* calls are made: the clients refuse any other operation."
        ),
        epilog="rehearsal faults (--rehearsal --fault NAME, repeatable):\n%(faults)s\n\n" + EXIT_CODES_HELP,
        formatter_class=_Help,
    )
    parser.add_argument(
        "--cdk-json",
        type=Path,
        metavar="FILE",
        help="the settings to check (default: ./cdk.json, else the project's cdk.json)",
    )
    group = parser.add_argument_group("where to look")
    group.add_argument("--region", help="check this Region instead of cdk.json's pipeline.region")
    group.add_argument("--profile", help="AWS named profile (default: the standard credential chain)")
    group.add_argument(
        "--stack-prefix",
        metavar="PREFIX",
        help="stacks are PREFIXDataPlane and PREFIXPipeline (default: from pipeline.name, as app.py names them)",
    )
    parser.add_argument("--json", action="store_true", help="print the checks as a JSON list instead of lines")
    rehearsal = parser.add_argument_group("rehearsal (no AWS account)")
    rehearsal.add_argument(
        "--rehearsal",
        action="store_true",
        help="run the same checks against moto and the simulated Bedrock stand-in, with the app deployed there",
    )
    rehearsal.add_argument(
        "--fault",
        dest="faults",
        action="append",
        default=[],
        type=_fault,
        metavar="NAME",
        help="with --rehearsal: break the simulated account in this way (see below)",
    )
    parser.set_defaults(func=run)


# ---- settings ----------------------------------------------------------------------------------------------------
def find_cdk_json(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    here = Path.cwd() / "cdk.json"
    return here if here.is_file() else PROJECT_ROOT / "cdk.json"


def read_pipeline_context(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise DoctorError(f"cannot read {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise DoctorError(f"{path} is not valid JSON: {err}") from None
    context = document.get("context") if isinstance(document, dict) else None
    if not isinstance(context, dict):
        raise DoctorError(f'{path} has no "context" object: is it this project\'s cdk.json?')
    pipeline = context.get(CONTEXT_KEY, {})
    if not isinstance(pipeline, dict):
        raise DoctorError(f"{path}: context.{CONTEXT_KEY} must be an object")
    return pipeline


def load_settings(path: Path, pipeline: Mapping[str, Any], today: date) -> Any:
    """The validated settings, by the same code synthesis uses (stacks/settings.py beside the cdk.json)."""
    project = str(path.resolve().parent)
    added = project not in sys.path
    if added:
        # stacks/ is not an installed package: the settings code is read from the project the cdk.json belongs to.
        sys.path.insert(0, project)
    try:
        from stacks.settings import SettingsError
        from stacks.settings import load_settings as load
    except ImportError:
        raise DoctorError(
            f"no stacks/settings.py beside {path}: pass --cdk-json of a checkout of this project"
        ) from None
    finally:
        if added:
            sys.path.remove(project)
    try:
        return load(pipeline, today=today)
    except SettingsError as err:
        raise DoctorError(f"{path}: {err}") from None


def stack_prefix(name: str) -> str:
    """The stacks' name prefix as app.py derives it from pipeline.name ("fine-tune" -> "FineTune")."""
    return "".join(part.capitalize() for part in name.split("-"))


def today() -> date:
    return datetime.now(UTC).date()


def target_of(settings: Any, args: argparse.Namespace, when: date) -> Target:
    prefix = args.stack_prefix or stack_prefix(settings.name)
    return Target(
        name=settings.name,
        region=args.region or settings.region,
        region_source="--region" if args.region else "cdk.json pipeline.region",
        base_model_id=settings.base_model_id,
        reference_models=tuple(settings.evaluation.reference_models),
        model_units=int(settings.throughput.model_units),
        data_plane_stack=f"{prefix}DataPlane",
        pipeline_stack=f"{prefix}Pipeline",
        today=when,
    )


# ---- clients -----------------------------------------------------------------------------------------------------
@dataclass
class ClientFactory:
    """One read-only client per service, made from one session."""

    make: Callable[[str], Any]
    _clients: dict[str, Any]

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = read_only(self.make(service))
        return self._clients[service]


def client_config() -> Any:
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )


def session_clients(profile: str | None, region: str) -> ClientFactory:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except BotoCoreError as err:  # ProfileNotFound, a broken config file
        raise DoctorError(f"{err} (check --profile and AWS_PROFILE against ~/.aws/config)") from None
    config = client_config()
    return ClientFactory(lambda service: session.client(service, region_name=region, config=config), {})


@contextmanager
def real_account(args: argparse.Namespace, target: Target) -> Iterator[Clients]:
    yield session_clients(args.profile, target.region)


# ---- output ------------------------------------------------------------------------------------------------------
def _symbols() -> Mapping[Status, str]:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "".join(SYMBOLS.values()).encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return ASCII_SYMBOLS
    return SYMBOLS


def render(checks: list[Check], header: str) -> str:
    symbols = _symbols()
    lines = [header]
    for check in checks:
        lines.append(f"{symbols[check.status]} {check.name}: {check.detail}")
        if check.fix and check.status is not Status.OK:
            lines.append(f"    fix: {check.fix}")
    counts = {status: sum(c.status is status for c in checks) for status in Status}
    problems, warnings = counts[Status.FAIL], counts[Status.WARN]
    code = exit_code(checks)
    if code == EXIT_USAGE:
        verdict = "AWS could not be reached with these credentials: fix the credentials line and run again"
    elif problems:
        verdict = "a run would fail: fix the ✗ lines first".replace("✗", symbols[Status.FAIL])
    else:
        verdict = "nothing blocks a run" + (" (read the warnings)" if warnings else "")
    lines.append(
        f"{counts[Status.OK]} ok, {warnings} warning{'s' * (warnings != 1)}, "
        f"{problems} problem{'s' * (problems != 1)}: {verdict}"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    when = today()
    try:
        if args.faults and not args.rehearsal:
            raise DoctorError("--fault needs --rehearsal: faults break the simulated account, never a real one")
        path = find_cdk_json(args.cdk_json)
        pipeline = read_pipeline_context(path)
        settings = load_settings(path, pipeline, when)
        target = target_of(settings, args, when)
        if args.rehearsal:
            from finetune.doctor_rehearsal import rehearsal_account

            account = rehearsal_account(target, pipeline, frozenset(args.faults))
        else:
            account = real_account(args, target)
        with account as clients:
            checks = run_checks(clients, target)
    except DoctorError as err:
        print(f"finetune doctor: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps([check.to_json() for check in checks], indent=2))
    else:
        where = "REHEARSAL (moto and the simulated Bedrock stand-in; no AWS account)" if args.rehearsal else "AWS"
        header = (
            f"finetune doctor: pipeline {target.name!r}, base model {target.base_model_id}, "
            f"Region {target.region}, {where}; settings from {path}"
        )
        print(render(checks, header))
    return exit_code(checks)
