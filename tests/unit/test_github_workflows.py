"""The GitHub Actions workflows pass actionlint and keep the properties a reviewer relies on.

actionlint comes from a pinned Python package (requirements-dev.txt), so it is always there: a missing
binary fails this test instead of skipping it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _actionlint() -> str:
    beside_python = Path(sys.executable).parent / "actionlint"
    found = str(beside_python) if beside_python.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed: it comes from the pinned actionlint package in requirements-dev.txt")
    return found


def _load(path: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    return loaded


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_both_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"pull-request.yml", "deploy.yml"}


def test_actionlint_passes() -> None:
    # External linters are off so the result is the same on every machine, whatever else is installed.
    result = subprocess.run(
        [_actionlint(), "-no-color", "-shellcheck=", "-pyflakes=", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_commits_and_permissions_are_least_privilege(path: Path) -> None:
    workflow = _load(path)
    for step in _steps(workflow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{path.name}: {step['uses']} is not pinned to a commit SHA"
    assert workflow["permissions"] == {"contents": "read"}, f"{path.name}: the default token must be read-only"
    for name, job in workflow["jobs"].items():
        permissions = job.get("permissions", {})
        assert set(permissions.values()) <= {"read", "write"} and permissions.get("contents") == "read", name
        uses_aws = any("configure-aws-credentials" in str(step.get("uses", "")) for step in job.get("steps", []))
        assert (permissions.get("id-token") == "write") == uses_aws, f"{path.name}/{name}: id-token only with OIDC"
    text = path.read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text, "no long-lived AWS keys"


def test_pull_request_tests_synthesizes_and_summarizes() -> None:
    workflow = _load(ROOT / ".github" / "workflows" / "pull-request.yml")
    runs = "\n".join(str(step.get("run", "")) for step in _steps(workflow))
    for command in ("make test", "make synth", "cdk.out/validation-report.json", "tools/security_digest.py"):
        assert command in runs, command
    assert runs.count("$GITHUB_STEP_SUMMARY") >= 3
    diff = workflow["jobs"]["diff"]
    assert "vars.AWS_DEPLOY_ROLE_ARN" in diff["if"] and "npx cdk diff" in str(diff["steps"])
    assert "id-token" not in workflow["jobs"]["test"]["permissions"], "the job that runs the tests gets no token"


def test_deploy_needs_approval_and_tests_first() -> None:
    workflow = _load(ROOT / ".github" / "workflows" / "deploy.yml")
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML reads the key `on` as true
    (job,) = workflow["jobs"].values()
    assert job["environment"] == "production"
    runs = [str(step.get("run", "")) for step in job["steps"]]
    test_at = next(i for i, run in enumerate(runs) if run == "make test")
    deploy_at = next(i for i, run in enumerate(runs) if "npx cdk deploy --all --require-approval never" in run)
    assert test_at < deploy_at
