"""The documented `npx cdk synth` prints the summary and real warnings only: no banner, no flag nagging."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# One "Bundling asset ..." line per Lambda function (9), the two-line summary and a blank line: 12 today. The
# rest leaves room for a real warning (a base model's lifecycle, for example), not for a banner of 11 lines.
MAX_LINES = 20
NOISE = ("jsii", "b'", 'b"', "program.js", "feature flags", "end-of-life", "cross-stack-reference")


def noisy_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if any(word in line.lower() for word in NOISE)]


def test_noise_is_recognised() -> None:
    # What the output looked like before: the jsii banner as Python bytes, a source location, flag nagging.
    before = (
        "b'!!  Node 20 is end-of-life and not supported anymore by this software since 2026-10-30.  !!\\n'\n"
        "/tmp/tmp7u8h9grr/lib/program.js:1:5591\n"
        'WARNING No cross-stack-reference strength configured, defaulting to "strong".\n'
        "Successfully synthesized to /work/main/cdk.out\n"
        "76 feature flags are not configured. Run 'cdk flags --unstable=flags' to learn more.\n"
    )
    assert len(noisy_lines(before)) == 4
    assert noisy_lines("Successfully synthesized to cdk.out\nBundling asset FinetunePipeline/Train/...") == []


@pytest.mark.slow
def test_cdk_synth_is_quiet(tmp_path: Path) -> None:
    npx = shutil.which("npx")
    assert npx, "npx is required (Node 20+); make setup installs the pinned CDK CLI into node_modules"
    assert (ROOT / "node_modules" / ".bin" / "cdk").exists(), "run make setup: the pinned CDK CLI is missing"
    # The caller's environment minus anything that would hide the problem (the Makefile exports the jsii switch).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "JSII_SILENCE_"))}
    # --no-notices: notices come from the network and change from day to day; the rest is the documented command.
    done = subprocess.run(
        [npx, "--no-install", "cdk", "synth", "--no-notices", "--output", str(tmp_path / "cdk.out")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("Successfully synthesized to ") for line in lines), done.stdout[-3000:]
    assert noisy_lines(done.stdout) == []
    assert len(lines) <= MAX_LINES, done.stdout

    # The CDK reports each flag it knows; one whose recommended value differs from how it behaves unconfigured
    # must be set in cdk.json (else synth lists it as not configured, and its behaviour is left to the CLI).
    manifest = json.loads((tmp_path / "cdk.out" / "manifest.json").read_text())
    report = next(a for a in manifest["artifacts"].values() if a["type"] == "cdk:feature-flag-report")
    flags = report["properties"]["flags"]
    unconfigured = sorted(
        name
        for name, flag in flags.items()
        if "userValue" not in flag
        and flag.get("recommendedValue") != flag.get("unconfiguredBehavesLike", {}).get("v2", False)
    )
    assert unconfigured == []
    # The deployed behaviour, chosen explicitly: strong references protect the data plane's key (app.py).
    assert flags["@aws-cdk/core:defaultCrossStackReferences"]["userValue"] == "strong"
