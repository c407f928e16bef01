"""The trigger starts exactly one execution per distinct upload, and ignores everything else."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from handler_fixtures import DATA, load_handler

from pipeline_aws.errors import TransientServiceError

trigger = load_handler("trigger")


def upload(key: str, body: bytes) -> dict[str, Any]:
    """Put the object and return the EventBridge event S3 would send for it."""
    s3 = boto3.client("s3")
    put = s3.put_object(Bucket=DATA, Key=key, Body=body)
    return {
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {
            "bucket": {"name": DATA},
            "object": {"key": key, "etag": put["ETag"].strip('"'), "version-id": put.get("VersionId"), "size": 1},
        },
    }


def executions(arn: str) -> list[dict[str, Any]]:
    return list(boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"])


def test_inbox_upload_starts_one_execution_with_the_source(state_machine: str) -> None:
    event = upload("inbox/My Data.jsonl", b'{"messages": []}\n')
    result = trigger.handler(event, None)
    assert result["started"] is True
    assert result["execution_name"].startswith("my-data-")
    described = boto3.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    source = json.loads(described["input"])["source"]
    assert source == {
        "bucket": DATA,
        "key": "inbox/My Data.jsonl",
        "etag": event["detail"]["object"]["etag"],
        "version_id": event["detail"]["object"]["version-id"],
        "run_name": "my-data",
    }


def test_same_event_twice_starts_one_execution(state_machine: str) -> None:
    event = upload("inbox/demo.jsonl", b"one\n")
    first = trigger.handler(event, None)
    second = trigger.handler(event, None)
    assert first["started"] is True
    assert second["execution_name"] == first["execution_name"]
    assert len(executions(state_machine)) == 1


def test_reuploading_identical_bytes_starts_nothing_new(state_machine: str) -> None:
    first = trigger.handler(upload("inbox/demo.jsonl", b"same\n"), None)
    again = trigger.handler(upload("inbox/demo.jsonl", b"same\n"), None)
    assert again["execution_name"] == first["execution_name"]
    assert len(executions(state_machine)) == 1


def test_new_bytes_start_a_new_execution(state_machine: str) -> None:
    first = trigger.handler(upload("inbox/demo.jsonl", b"v1\n"), None)
    second = trigger.handler(upload("inbox/demo.jsonl", b"v2\n"), None)
    assert second["started"] is True and second["execution_name"] != first["execution_name"]
    assert len(executions(state_machine)) == 2


def test_new_data_under_the_same_manifest_starts_a_new_run(state_machine: str) -> None:
    manifest = json.dumps({"train": "train.jsonl"}).encode()
    upload("runs/demo/train.jsonl", b"v1\n")
    first = trigger.handler(upload("runs/demo/run.json", manifest), None)
    again = trigger.handler(upload("runs/demo/run.json", manifest), None)
    upload("runs/demo/train.jsonl", b"v2\n")
    third = trigger.handler(upload("runs/demo/run.json", manifest), None)
    assert again["execution_name"] == first["execution_name"]
    assert third["started"] is True and third["execution_name"] != first["execution_name"]
    assert len(executions(state_machine)) == 2


def test_unparseable_manifest_still_starts_so_resolve_run_reports_it(state_machine: str) -> None:
    result = trigger.handler(upload("runs/demo/run.json", b"{not json"), None)
    assert result["started"] is True


@pytest.mark.parametrize(
    "key", ["runs/demo/train.jsonl", "inbox/notes.txt", "inbox/nested/a.jsonl", "other/run.json", "runs/a/b/run.json"]
)
def test_other_keys_are_ignored(state_machine: str, key: str) -> None:
    result = trigger.handler(upload(key, b"x"), None)
    assert result["started"] is False and "not a pipeline upload" in result["reason"]
    assert executions(state_machine) == []


def test_existing_execution_name_is_reported_as_duplicate(state_machine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """StartExecution rejects a name in use with a different input (e.g. a closed execution)."""
    event = upload("inbox/demo.jsonl", b"x\n")
    first = trigger.handler(event, None)
    event["detail"]["object"]["version-id"] = "another-version"  # same bytes, so same name, different input
    result = trigger.handler(event, None)
    assert result == {"started": False, "reason": "duplicate", "execution_name": first["execution_name"]}


def test_throttled_start_leaves_the_run_queued(state_machine: str, admission_table: str) -> None:
    """StartExecution throttled: the upload is not lost, it waits in the queue for the dispatcher."""
    from botocore.stub import Stubber

    from pipeline_aws.clients import CLIENTS

    sfn = boto3.client("stepfunctions")
    CLIENTS.set("stepfunctions", sfn)
    with Stubber(sfn) as stub:
        stub.add_response("list_executions", {"executions": []})
        stub.add_client_error("start_execution", "ThrottlingException", http_status_code=400)
        result = trigger.handler(upload("inbox/demo.jsonl", b"x\n"), None)
    assert result["started"] is False and result["reason"] == "queued" and result["position"] == 1
    CLIENTS.reset()
    assert executions(state_machine) == []


def test_enqueue_failing_raises_so_eventbridge_delivers_again(state_machine: str) -> None:
    from botocore.stub import Stubber

    from pipeline_aws.clients import CLIENTS

    dynamodb = boto3.client("dynamodb")
    CLIENTS.set("dynamodb", dynamodb)
    with Stubber(dynamodb) as stub:
        stub.add_response("query", {"Items": []})  # enqueue reads the run's marker first
        stub.add_client_error("transact_write_items", "ThrottlingException", http_status_code=400)
        with pytest.raises(TransientServiceError):
            trigger.handler(upload("inbox/demo.jsonl", b"x\n"), None)
        stub.add_client_error("query", "ProvisionedThroughputExceededException", http_status_code=400)
        with pytest.raises(TransientServiceError):
            trigger.handler(upload("inbox/demo.jsonl", b"x\n"), None)
    assert executions(state_machine) == []
