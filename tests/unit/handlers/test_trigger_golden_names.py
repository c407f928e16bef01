"""The trigger's execution names are pinned: the same upload gets the same name in every process and Python version.

The name is what stops a duplicate EventBridge delivery (possibly handled by another Lambda container, another
interpreter, after a runtime upgrade) from starting and paying for a second run. A digest that differs between
processes (Python's salted hash(), a set's iteration order) would pass every test that runs in one process, so the
values below were computed once, on 2026-12-01, and written in; they change only on purpose, with a note that
uploads in flight during the upgrade may start twice. Each test names the one-line bug it catches.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from handler_fixtures import DATA, load_handler

from pipeline_core import contracts

trigger = load_handler("trigger")
SHARED = Path(__file__).resolve().parents[3] / "lambdas" / "shared"

# Computed once with contracts.execution_name on 2026-12-01:
# name = run_name[:60] + "-" + sha256("\n".join(fingerprints)).hexdigest()[:16]
GOLDEN = [
    (("demo", "inbox/demo.jsonl", "etag"), "demo-0fc09fe1185ff3cd"),
    (("x" * 70, "inbox/x.jsonl", "e"), "x" * 60 + "-6f3bd3d767fdbfc8"),
]
# S3's ETag of a single-part upload without SSE-KMS is the MD5 of the bytes (moto does the same), so the names the
# handler derives for these uploads are fixed too.
INBOX_NAME = "my-data-6df1b3a93c1e3552"  # inbox/My Data.jsonl holding b"one\n"
MANIFEST_NAME = "demo-6c8ef29c858a061a"  # runs/demo/run.json naming train.jsonl (b"v1\n")
MANIFEST = json.dumps({"train": "train.jsonl"}).encode()


@pytest.mark.parametrize(("arguments", "name"), GOLDEN)
def test_execution_names_are_pinned(arguments: tuple[str, ...], name: str) -> None:
    """Catches any change of the digest (algorithm, separator, length, order of the fingerprints)."""
    assert contracts.execution_name(*arguments) == name


def test_the_pinned_name_is_the_documented_derivation() -> None:
    """The golden value is SHA-256 of the newline-joined fingerprints, not something only this code computes."""
    digest = hashlib.sha256(b"inbox/demo.jsonl\netag").hexdigest()[:16]
    assert f"demo-{digest}" == GOLDEN[0][1]


@pytest.mark.parametrize("seed", ["0", "1", "4242", "random"])
def test_a_fresh_interpreter_with_another_hash_seed_derives_the_same_names(seed: str) -> None:
    """Catches a digest built on hash() or on a set's order: both change with PYTHONHASHSEED between processes."""
    code = (
        "import json, sys; from pipeline_core import contracts; "
        "print(json.dumps([contracts.execution_name(*a) for a in json.loads(sys.argv[1])]))"
    )
    arguments = json.dumps([list(a) for a, _ in GOLDEN])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env |= {"PYTHONPATH": str(SHARED), "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", code, arguments], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert json.loads(out) == [name for _, name in GOLDEN]


def _event(key: str, body: bytes) -> dict[str, Any]:
    put = boto3.client("s3").put_object(Bucket=DATA, Key=key, Body=body)
    assert put["ETag"].strip('"') == hashlib.md5(body).hexdigest()  # the premise of the pinned names
    return {
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": DATA}, "object": {"key": key, "etag": put["ETag"], "size": len(body)}},
    }


def test_the_handler_names_an_inbox_upload_as_pinned(state_machine: str) -> None:
    """Catches the handler fingerprinting something else (the version id, the size, the event time)."""
    result = trigger.handler(_event("inbox/My Data.jsonl", b"one\n"), None)
    assert result["started"] is True and result["execution_name"] == INBOX_NAME


def test_the_handler_names_a_manifest_upload_as_pinned(state_machine: str) -> None:
    """Catches the manifest's files left out of the fingerprint, or taken in another order."""
    boto3.client("s3").put_object(Bucket=DATA, Key="runs/demo/train.jsonl", Body=b"v1\n")
    result = trigger.handler(_event("runs/demo/run.json", MANIFEST), None)
    assert result["execution_name"] == MANIFEST_NAME
