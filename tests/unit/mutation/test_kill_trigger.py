"""The trigger starts one paid run per distinct upload: what it fingerprints and what it logs.

Written against the mutants `make mutate` found surviving in lambdas/trigger/handler.py (docs/mutation.md); each
test names the one-line bug it catches.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pytest
from handler_fixtures import DATA, load_handler

from pipeline_aws.logs import formatter

trigger = load_handler("trigger")
MANIFEST = json.dumps({"train": "train.jsonl", "validation": "validation.jsonl"}).encode()


def upload(key: str, body: bytes) -> dict[str, Any]:
    put = boto3.client("s3").put_object(Bucket=DATA, Key=key, Body=body)
    return {
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {
            "bucket": {"name": DATA},
            "object": {"key": key, "etag": put["ETag"].strip('"'), "version-id": put.get("VersionId"), "size": 1},
        },
    }


def test_every_file_the_manifest_names_is_fingerprinted(state_machine: str) -> None:
    """Catches `prints += [...]` made `prints = [...]` (only the last file would count: new training data under an
    unchanged validation file would not start a run)."""
    upload("runs/demo/train.jsonl", b"v1\n")
    upload("runs/demo/validation.jsonl", b"same\n")
    first = trigger.handler(upload("runs/demo/run.json", MANIFEST), None)
    upload("runs/demo/train.jsonl", b"v2\n")
    second = trigger.handler(upload("runs/demo/run.json", MANIFEST), None)
    assert second["started"] is True and second["execution_name"] != first["execution_name"]


def test_a_manifest_naming_a_missing_file_starts_and_the_upload_of_that_file_counts(state_machine: str) -> None:
    """Catches the missing-file branch dropped (`if found or True` would crash on `None["ETag"]`)."""
    upload("runs/demo/train.jsonl", b"v1\n")
    first = trigger.handler(upload("runs/demo/run.json", MANIFEST), None)
    upload("runs/demo/validation.jsonl", b"late\n")
    second = trigger.handler(upload("runs/demo/run.json", MANIFEST), None)
    assert first["started"] is True and second["started"] is True
    assert second["execution_name"] != first["execution_name"]


def test_the_manifest_version_the_event_names_is_the_one_read(state_machine: str) -> None:
    """Catches `version_id=upload.version_id` dropped: a retried event for an overwritten manifest would read the
    newer manifest and start a run for files the event never announced."""
    boto3.client("s3").put_bucket_versioning(Bucket=DATA, VersioningConfiguration={"Status": "Enabled"})
    upload("runs/demo/train.jsonl", b"t\n")
    upload("runs/demo/other.jsonl", b"o\n")
    upload("runs/demo/validation.jsonl", b"v\n")
    event = upload("runs/demo/run.json", MANIFEST)
    first = trigger.handler(event, None)
    upload("runs/demo/run.json", json.dumps({"train": "other.jsonl"}).encode())
    retried = trigger.handler(event, None)
    assert retried["execution_name"] == first["execution_name"]


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    json_lines = formatter()
    return [json.loads(json_lines.format(r)) for r in caplog.records if r.name == "trigger"]


def test_a_start_is_logged_with_the_key_the_run_and_the_execution(
    state_machine: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Catches the "execution started" line losing its message, key or ARN, or the run/execution binding."""
    caplog.set_level(logging.INFO)
    result = trigger.handler(upload("inbox/demo.jsonl", b"x\n"), None)
    (line,) = [line for line in _lines(caplog) if line["message"] == "execution started"]
    assert line["key"] == "inbox/demo.jsonl" and line["execution_arn"] == result["execution_arn"]
    assert line["run"] == "demo" and line["execution"] == result["execution_name"]


def test_a_duplicate_is_logged_with_its_key(state_machine: str, caplog: pytest.LogCaptureFixture) -> None:
    """Catches the "duplicate upload" line losing its message or key."""
    event = upload("inbox/demo.jsonl", b"x\n")
    trigger.handler(event, None)
    event["detail"]["object"]["version-id"] = "another-version"
    caplog.set_level(logging.INFO)
    trigger.handler(event, None)
    (line,) = [line for line in _lines(caplog) if line["message"] == "duplicate upload"]
    assert line["key"] == "inbox/demo.jsonl"


def test_an_ignored_upload_is_logged_with_its_key_and_reason(
    state_machine: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Catches the "ignored upload" line or the returned reason losing its text, key or reason."""
    caplog.set_level(logging.INFO)
    result = trigger.handler(upload("inbox/notes.txt", b"x"), None)
    reason = "not a pipeline upload: expected inbox/<name>.jsonl or runs/<name>/run.json"
    assert result == {"started": False, "reason": reason}
    (line,) = [line for line in _lines(caplog) if line["message"] == "ignored upload"]
    assert line["key"] == "inbox/notes.txt" and line["reason"] == reason


def test_a_quoted_etag_in_the_event_names_the_same_run_as_a_bare_one(state_machine: str) -> None:
    """Catches `.strip('"')` on the event's ETag made `.strip(None)` or a wrong character set."""
    event = upload("inbox/demo.jsonl", b"x\n")
    bare = trigger.handler(event, None)
    quoted = json.loads(json.dumps(event))
    quoted["detail"]["object"]["etag"] = '"' + event["detail"]["object"]["etag"] + '"'
    assert trigger.handler(quoted, None)["execution_name"] == bare["execution_name"]
