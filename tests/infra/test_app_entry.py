"""`python app.py` on its own (no CDK CLI) builds the same app: it reads cdk.json's context itself, quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_app_runs_without_the_cdk_cli(tmp_path: Path) -> None:
    # No CDK_* variables and no jsii silencing from the caller: the app must manage on its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "JSII_SILENCE_"))}
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    # Only the CDK's own progress lines ("Bundling asset <path>..."): no jsii banner, no stray source location.
    assert [line for line in done.stderr.splitlines() if not line.startswith("Bundling asset ")] == []
