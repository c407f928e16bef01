"""The Validate dataset handler end to end on moto S3 with a bucket whose default encryption is SSE-KMS."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

HANDLER = Path(__file__).resolve().parents[3] / "lambdas" / "validate_dataset" / "handler.py"
DATA, ARTIFACTS, PREFIX = "training-data", "artifacts", "runs/demo/exec-1/"


def _load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("validate_dataset_handler", HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


handler_module = _load_handler()


def record(i: int) -> bytes:
    return json.dumps(
        {
            "messages": [
                {"role": "user", "content": f"What is {i} times 3?"},
                {"role": "assistant", "content": f"It is {3 * i}."},
            ]
        }
    ).encode()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        key_id = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
        s3 = boto3.client("s3")
        for bucket in (DATA, ARTIFACTS):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}
                    ]
                },
            )
        monkeypatch.setenv(handler_module.ENV_KMS_KEY_ID, key_id)
        yield s3, key_id


def event(**source: Any) -> dict[str, Any]:
    return {
        "run": {
            "run_name": "demo",
            "execution_name": "exec-1",
            "base_model_id": "anthropic.claude-3-haiku-20240307-v1:0:200k",
            "data_bucket": DATA,
            "artifacts_bucket": ARTIFACTS,
            "artifacts_prefix": PREFIX,
            "source": {"kind": "single", "train_key": "uploads/data.jsonl", "validation_key": None, "test_key": None}
            | source,
            "split": {"validation_share": 0.1, "test_share": 0.1, "seed": 13},
            "price_per_1k_training_tokens": 0.008,
            "epochs": 2,
        }
    }


def keys(s3: Any) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=ARTIFACTS).get("Contents", [])}


def test_valid_single_file_is_split_and_written(aws: tuple[Any, str]) -> None:
    s3, key_id = aws
    body = b"\r\n".join(record(i) for i in range(500))  # CRLF and no final newline: valid, normalised
    s3.put_object(Bucket=DATA, Key="uploads/data.jsonl", Body=body)
    out = handler_module.handler(event(), None, s3=s3)

    assert out["valid"] is True
    assert out["counts"] == {"errors": 0, "warnings": 1, "train": 400, "validation": 50, "test": 50}
    assert out["reason"] == "The dataset passed validation (1 warning(s))"
    written = ("validation/report.json", "validation/report.txt", "data/train.jsonl", "data/validation.jsonl")
    assert keys(s3) == {PREFIX + k for k in (*written, "data/test.jsonl")}
    assert out["report_uri"] == f"s3://{ARTIFACTS}/{PREFIX}validation/report.json"
    assert out["train_uri"] == f"s3://{ARTIFACTS}/{PREFIX}data/train.jsonl"
    blobs = [s3.get_object(Bucket=ARTIFACTS, Key=f"{PREFIX}data/{s}.jsonl")["Body"].read() for s in
             ("train", "validation", "test")]  # fmt: skip
    assert out["dataset_sha256"] == hashlib.sha256(b"".join(blobs)).hexdigest()
    assert all(b"\r" not in blob and blob.endswith(b"\n") for blob in blobs)
    head = s3.head_object(Bucket=ARTIFACTS, Key=f"{PREFIX}data/train.jsonl")
    assert head["ServerSideEncryption"] == "aws:kms" and key_id in head["SSEKMSKeyId"]
    report = json.loads(s3.get_object(Bucket=ARTIFACTS, Key=f"{PREFIX}validation/report.json")["Body"].read())
    assert report["valid"] and report["snapshot"]["sha256"] == out["dataset_sha256"]
    assert report["findings"][0]["rule"] == "FILE-CRLF"
    assert report["estimated_training_cost"]["epochs"] == 2


def test_invalid_file_gets_a_report_and_no_data(aws: tuple[Any, str]) -> None:
    s3, _ = aws
    body = b"\n".join(record(i) for i in range(50)) + b'\n{"messages": []}\n'
    s3.put_object(Bucket=DATA, Key="uploads/data.jsonl", Body=body)
    out = handler_module.handler(event(), None, s3=s3)
    assert out["valid"] is False and out["counts"]["errors"] >= 1
    assert out["reason"] == "The dataset failed validation: SCHEMA-TOO-FEW-MESSAGES (1 line)"
    assert out["train_uri"] is None and out["dataset_sha256"] is None
    assert keys(s3) == {PREFIX + "validation/report.json", PREFIX + "validation/report.txt"}
    text = s3.get_object(Bucket=ARTIFACTS, Key=f"{PREFIX}validation/report.txt")["Body"].read().decode()
    assert text.startswith("Dataset INVALID") and "s3://training-data/uploads/data.jsonl:51" in text


def test_the_reason_counts_failing_lines_and_never_quotes_a_record(aws: tuple[Any, str]) -> None:
    s3, _ = aws
    leaked = {"messages": [{"role": "sysadmin hunter2", "content": "q"}, {"role": "assistant", "content": "a"}]}
    body = b"\n".join(record(i) for i in range(50)) + b"\n" + (json.dumps(leaked).encode() + b"\n") * 3 + b"{x\n"
    s3.put_object(Bucket=DATA, Key="uploads/data.jsonl", Body=body)
    out = handler_module.handler(event(), None, s3=s3)
    assert out["reason"] == "The dataset failed validation: SCHEMA-ROLE-INVALID (3 lines), JSON-INVALID (1 line)"
    report = s3.get_object(Bucket=ARTIFACTS, Key=f"{PREFIX}validation/report.json")["Body"].read()
    assert b"hunter2" in report  # the report quotes the value; the reason, which goes out by email, does not


def test_a_compressed_upload_gets_one_finding_and_a_reason_that_says_so(aws: tuple[Any, str]) -> None:
    s3, _ = aws
    s3.put_object(Bucket=DATA, Key="uploads/data.jsonl", Body=gzip.compress(b"\n".join(record(i) for i in range(500))))
    out = handler_module.handler(event(), None, s3=s3)
    assert out["valid"] is False and out["counts"]["errors"] == 1
    assert out["reason"].startswith(
        "The dataset failed validation: FILE-NOT-UTF8-TEXT (the file is a gzip archive (it starts with 1F 8B)"
    )
    report = json.loads(s3.get_object(Bucket=ARTIFACTS, Key=f"{PREFIX}validation/report.json")["Body"].read())
    assert report["findings_per_rule"] == {"FILE-NOT-UTF8-TEXT": 1}
    assert keys(s3) == {PREFIX + "validation/report.json", PREFIX + "validation/report.txt"}


def test_manifest_with_separate_files_is_not_split(aws: tuple[Any, str]) -> None:
    s3, _ = aws
    s3.put_object(Bucket=DATA, Key="m/train.jsonl", Body=b"\n".join(record(i) for i in range(60)) + b"\n")
    s3.put_object(Bucket=DATA, Key="m/val.jsonl", Body=b"\n".join(record(i) for i in range(100, 110)) + b"\n")
    out = handler_module.handler(
        event(kind="manifest", train_key="m/train.jsonl", validation_key="m/val.jsonl"), None, s3=s3
    )
    assert out["valid"] and out["counts"]["train"] == 60 and out["counts"]["validation"] == 10
    assert out["test_uri"] is None and PREFIX + "data/test.jsonl" not in keys(s3)


def test_separate_files_with_duplicates_are_read_once_each(aws: tuple[Any, str]) -> None:
    # A duplicate and a leak would send the CLI's validator back to these files for a second pass; the function
    # reads each S3 object once (then once more per file it copies into the snapshot).
    s3, _ = aws
    train = [record(i) for i in range(60)] + [record(0)]
    s3.put_object(Bucket=DATA, Key="m/train.jsonl", Body=b"\n".join(train) + b"\n")
    s3.put_object(Bucket=DATA, Key="m/val.jsonl", Body=b"\n".join(record(i) for i in (5, *range(100, 109))) + b"\n")
    keys_read: list[str] = []
    client = FaultyS3(s3, before_get=lambda _n, kwargs: keys_read.append(kwargs["Key"]))
    out = handler_module.handler(
        event(kind="manifest", train_key="m/train.jsonl", validation_key="m/val.jsonl"), None, s3=client
    )
    report = json.loads(s3.get_object(Bucket=ARTIFACTS, Key=f"{PREFIX}validation/report.json")["Body"].read())
    assert {"QUALITY-DUPLICATE", "QUALITY-LEAKAGE"} <= set(report["findings_per_rule"])
    copies = 1 if out["valid"] else 0  # the snapshot is written only for a valid dataset
    assert keys_read.count("m/train.jsonl") == 1 + copies, keys_read
    assert keys_read.count("m/val.jsonl") == 1 + copies, keys_read


def test_large_snapshot_uses_multipart_upload(aws: tuple[Any, str], monkeypatch: pytest.MonkeyPatch) -> None:
    s3, _ = aws
    monkeypatch.setattr(handler_module, "UPLOAD_PART_BYTES", 5 * 1024 * 1024)
    filler = "x" * 20_000
    lines = [
        json.dumps(
            {"messages": [{"role": "user", "content": f"q{i} {filler}"}, {"role": "assistant", "content": "ok!"}]}
        )
        for i in range(400)
    ]
    s3.put_object(Bucket=DATA, Key="uploads/data.jsonl", Body="\n".join(lines).encode() + b"\n")
    out = handler_module.handler(event(), None, s3=s3)
    train = s3.get_object(Bucket=ARTIFACTS, Key=f"{PREFIX}data/train.jsonl")
    assert out["valid"] and train["ContentLength"] > 5 * 1024 * 1024
    assert train["Body"].read().count(b"\n") == out["counts"]["train"]


def test_malformed_event_is_rejected() -> None:
    with pytest.raises(handler_module.EventError):
        handler_module.RunInput.from_event({"run": {"run_name": "x"}})


class FaultyS3:
    """The moto client with hooks: `before_get(n, kwargs)` runs before the n-th GetObject (1-based), and
    `fail[name]` makes that API raise the given exception."""

    def __init__(self, s3: Any, before_get: Any = None, fail: dict[str, BaseException] | None = None) -> None:
        self._s3, self._before_get, self._fail, self.gets = s3, before_get, fail or {}, 0
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._s3, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append(name)
            if name == "get_object":
                self.gets += 1
                if self._before_get:
                    self._before_get(self.gets, kwargs)
            if name in self._fail:
                raise self._fail[name]
            return real(**kwargs)

        return call


def client_error(code: str, status: int) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


def test_every_pass_reads_the_version_the_run_started_with(aws: tuple[Any, str]) -> None:
    s3, _ = aws
    s3.put_bucket_versioning(Bucket=DATA, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=DATA, Key="uploads/data.jsonl", Body=b"\n".join(record(i) for i in range(100)))
    s3.put_object(Bucket=DATA, Key="uploads/data.jsonl", Body=b"\n".join(record(i) for i in range(200)))

    def replace_again(n: int, kwargs: dict[str, Any]) -> None:
        assert kwargs.get("VersionId") == first["VersionId"]
        if n == 2:  # between the validation pass and the snapshot: a third upload changes nothing here
            s3.put_object(Bucket=DATA, Key="uploads/data.jsonl", Body=b"\n".join(record(i) for i in range(300)))

    client = FaultyS3(s3, before_get=replace_again)
    out = handler_module.handler(event(train_version_id=first["VersionId"]), None, s3=client)
    assert out["valid"] and sum(out["counts"][s] for s in ("train", "validation", "test")) == 100
    assert client.gets >= 2


def test_without_a_version_a_replaced_upload_stops_the_run_with_a_named_error(aws: tuple[Any, str]) -> None:
    s3, _ = aws
    s3.put_object(Bucket=DATA, Key="uploads/data.jsonl", Body=b"\n".join(record(i) for i in range(100)))

    def replace(n: int, kwargs: dict[str, Any]) -> None:
        if n == 2:
            assert "IfMatch" in kwargs
            s3.put_object(Bucket=DATA, Key="uploads/data.jsonl", Body=b"\n".join(record(i) for i in range(90)))

    with pytest.raises(handler_module.SourceChangedError, match="replaced after validation"):
        handler_module.handler(event(), None, s3=FaultyS3(s3, before_get=replace))
    assert not any(k.startswith(PREFIX + "data/") for k in keys(s3))


@pytest.mark.parametrize(
    "error",
    [
        client_error("SlowDown", 503),
        client_error("InternalError", 500),
        pytest.param("streaming", id="ResponseStreamingError"),
    ],
)
def test_throttling_and_broken_streams_are_retryable(aws: tuple[Any, str], error: Any) -> None:
    from botocore.exceptions import ResponseStreamingError

    from pipeline_aws.errors import TransientServiceError

    s3, _ = aws
    s3.put_object(Bucket=DATA, Key="uploads/data.jsonl", Body=b"\n".join(record(i) for i in range(100)))
    if error == "streaming":
        error = ResponseStreamingError(error="connection reset mid-body")
    with pytest.raises(TransientServiceError):
        handler_module.handler(event(), None, s3=FaultyS3(s3, fail={"get_object": error}))


def test_a_permanent_error_is_not_retried(aws: tuple[Any, str]) -> None:
    from botocore.exceptions import ClientError

    s3, _ = aws
    with pytest.raises(ClientError, match="NoSuchKey"):
        handler_module.handler(event(), None, s3=s3)


def test_a_failed_multipart_completion_aborts_and_reports_the_first_error(
    aws: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, key_id = aws
    monkeypatch.setattr(handler_module, "UPLOAD_PART_BYTES", 5 * 1024 * 1024)
    complete = client_error("InvalidPart", 400)
    client = FaultyS3(
        s3, fail={"complete_multipart_upload": complete, "abort_multipart_upload": client_error("AccessDenied", 403)}
    )
    upload = handler_module.S3Upload(client, ARTIFACTS, "big.bin", key_id, "application/octet-stream")
    with pytest.raises(type(complete)) as raised, upload as out:
        out.write(b"x" * (6 * 1024 * 1024))
    assert raised.value is complete  # the failed abort is logged, not raised in its place
    assert client.calls[-2:] == ["complete_multipart_upload", "abort_multipart_upload"]


@pytest.mark.parametrize(("code", "status"), [("AccessDenied", 403), ("NoSuchVersion", 404), ("MethodNotAllowed", 405)])
def test_a_pinned_version_that_is_gone_is_named(aws: tuple[Any, str], code: str, status: int) -> None:
    s3, _ = aws
    s3.put_object(Bucket=DATA, Key="uploads/data.jsonl", Body=b"\n".join(record(i) for i in range(100)))
    client = FaultyS3(s3, fail={"get_object": client_error(code, status)})
    with pytest.raises(handler_module.SourceChangedError, match=rf"version v1 cannot be read \({code}\)"):
        handler_module.handler(event(train_version_id="v1"), None, s3=client)
    # Without a pinned version an AccessDenied is a permissions problem, reported as it is.
    if code == "AccessDenied":
        with pytest.raises(ClientError, match="AccessDenied"):
            handler_module.handler(event(), None, s3=FaultyS3(s3, fail={"get_object": client_error(code, status)}))
