"""Lambda handler for the "Validate dataset" step: stream the upload from S3, validate it, write report and snapshot.

Thin by design: parse the event into typed inputs, call `pipeline_core.dataset`, do the S3 I/O, return a compact
summary for the state machine, with the one-line reason a rejection is notified with. Writes under the run's
artifacts prefix (DESIGN.md, "Run layout in S3"): `validation/report.json`, `validation/report.txt` and, only when
the dataset is valid, `data/train.jsonl`, `data/validation.jsonl`, `data/test.jsonl`, all with SSE-KMS under the
pipeline's key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

from botocore.exceptions import ClientError

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import error_code, is_code, transient_errors
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.observability import instrumented
from pipeline_core.dataset import (
    POOL,
    DatasetFile,
    SourceChangedError,
    SplitConfig,
    ValidationResult,
    validate,
    write_snapshot,
)

# Environment variable names, shared with the construct that sets them.
ENV_KMS_KEY_ID = "KMS_KEY_ID"

# Object keys under the run's artifacts prefix (DESIGN.md, "Run layout in S3").
REPORT_JSON_KEY = "validation/report.json"
REPORT_TEXT_KEY = "validation/report.txt"
DATA_KEYS = {"train": "data/train.jsonl", "validation": "data/validation.jsonl", "test": "data/test.jsonl"}

READ_CHUNK_BYTES = 1 << 20
# S3 multipart parts must be at least 5 MiB except the last one:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
UPLOAD_PART_BYTES = 8 * 1024 * 1024

LOGGER = setup_logging("validate_dataset")


def _log(event: str, **fields: Any) -> None:
    """One JSON object per log line (pipeline_aws.logs), so CloudWatch Logs Insights can filter on fields."""
    log(LOGGER, event, **fields)


class EventError(ValueError):
    """The state machine passed an event that does not match the step's contract."""


# --- typed inputs and outputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    kind: str  # "single" | "manifest"
    train_key: str
    validation_key: str | None = None
    test_key: str | None = None
    # The version of each file the run started with (Resolve run); None only for an unversioned bucket.
    train_version_id: str | None = None
    validation_version_id: str | None = None
    test_version_id: str | None = None


@dataclass(frozen=True)
class RunInput:
    run_name: str
    execution_name: str
    base_model_id: str
    data_bucket: str
    artifacts_bucket: str
    artifacts_prefix: str  # "runs/<run>/<execution>/"
    source: Source
    split: SplitConfig
    price_per_1k_training_tokens: float | None
    epochs: int | None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> RunInput:
        try:
            run = event["run"]
            source = run["source"]
            split = run.get("split") or {}
            prefix = str(run["artifacts_prefix"])
            if source["kind"] not in ("single", "manifest"):
                raise EventError(f"source.kind must be 'single' or 'manifest', got {source['kind']!r}")
            price = run.get("price_per_1k_training_tokens")
            epochs = run.get("epochs")
            return cls(
                run_name=str(run["run_name"]),
                execution_name=str(run["execution_name"]),
                base_model_id=str(run["base_model_id"]),
                data_bucket=str(run["data_bucket"]),
                artifacts_bucket=str(run["artifacts_bucket"]),
                artifacts_prefix=prefix if prefix.endswith("/") else prefix + "/",
                source=Source(
                    kind=str(source["kind"]),
                    train_key=str(source["train_key"]),
                    validation_key=source.get("validation_key"),
                    test_key=source.get("test_key"),
                    train_version_id=source.get("train_version_id") or None,
                    validation_version_id=source.get("validation_version_id") or None,
                    test_version_id=source.get("test_version_id") or None,
                ),
                split=SplitConfig(
                    validation_share=float(split.get("validation_share", 0.1)),
                    test_share=float(split.get("test_share", 0.1)),
                    seed=int(split.get("seed", 13)),
                ),
                price_per_1k_training_tokens=None if price is None else float(price),
                epochs=None if epochs is None else int(epochs),
            )
        except (KeyError, TypeError) as exc:
            raise EventError(f"malformed event: missing or mistyped field {exc}") from exc

    @property
    def splits_upload(self) -> bool:
        """One uploaded file (no validation or test file) is split; DESIGN.md: "split when one file"."""
        return self.source.validation_key is None and self.source.test_key is None


@dataclass(frozen=True)
class StepOutput:
    valid: bool
    # One line for the workflow's failure cause and the notification: the failing rules with counts, never a
    # record's content, bounded by pipeline_core.dataset.report.MAX_REASON_CHARS (Report.reason).
    reason: str
    report_uri: str
    counts: dict[str, int]
    train_uri: str | None
    validation_uri: str | None
    test_uri: str | None
    dataset_sha256: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- S3 I/O ----------------------------------------------------------------------------------------------------


class S3Source:
    """Re-openable S3 object read in raw chunks (line splitting is ours, so CR and the final newline stay visible).

    Every pass reads the version the run started with, so an upload replaced while the run is under way changes
    nothing here (it starts its own run). Without a version id (an unversioned bucket), passes after the first pin
    the first pass's ETag (IfMatch) and a replaced object stops the run with SourceChangedError.
    """

    def __init__(self, s3: Any, bucket: str, key: str, version_id: str | None = None) -> None:
        self.s3, self.bucket, self.key, self.version_id = s3, bucket, key, version_id
        self.etag: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def open(self) -> Iterator[bytes]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if self.version_id is not None:
            kwargs["VersionId"] = self.version_id
        elif self.etag is not None:
            kwargs["IfMatch"] = self.etag
        try:
            response = self.s3.get_object(**kwargs)
        except ClientError as err:
            if is_code(err, "PreconditionFailed", "412"):
                raise SourceChangedError(f"{self.uri} was replaced after validation; upload it again") from None
            # A version deleted since the run started: S3 answers 404 NoSuchVersion to a caller that may list the
            # bucket, 403 to one that may not (this role), and 405 when the version became a delete marker.
            if self.version_id is not None and is_code(err, "NoSuchVersion", "AccessDenied", "MethodNotAllowed"):
                raise SourceChangedError(
                    f"{self.uri}: version {self.version_id} cannot be read ({error_code(err)}): it was deleted "
                    "after the run started, or the pipeline may not read it; upload the file again"
                ) from None
            raise
        self.etag = self.etag or response.get("ETag")
        body = response["Body"]
        try:
            yield from body.iter_chunks(chunk_size=READ_CHUNK_BYTES)
        finally:
            body.close()


class S3Upload:
    """Streams bytes to one S3 object with SSE-KMS: a single PUT when small, a multipart upload otherwise.

    Memory holds at most one part. On an exception the multipart upload is aborted, so no partial object remains.
    """

    def __init__(self, s3: Any, bucket: str, key: str, kms_key_id: str | None, content_type: str) -> None:
        self.s3, self.bucket, self.key = s3, bucket, key
        self.extra: dict[str, str] = {"ServerSideEncryption": "aws:kms", "ContentType": content_type}
        if kms_key_id:
            self.extra["SSEKMSKeyId"] = kms_key_id
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def __enter__(self) -> S3Upload:
        return self

    def write(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= UPLOAD_PART_BYTES:
            self._flush_part()

    def _flush_part(self) -> None:
        if self.upload_id is None:
            created = self.s3.create_multipart_upload(Bucket=self.bucket, Key=self.key, **self.extra)
            self.upload_id = created["UploadId"]
        number = len(self.parts) + 1
        part = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=bytes(self.buffer)
        )
        self.parts.append({"ETag": part["ETag"], "PartNumber": number})
        self.buffer.clear()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self._abort()
            return
        try:
            if self.upload_id is None:
                self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.buffer), **self.extra)
                return
            if self.buffer:
                self._flush_part()
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
            )
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        """Abort the multipart upload, if any. Best effort: the error that got us here is the one to report, and
        the bucket's lifecycle rule removes the parts of an upload whose abort failed."""
        if self.upload_id is None:
            return
        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
        except Exception as err:
            _log("abort failed", key=self.key, upload_id=self.upload_id, error=str(err))


# --- the step --------------------------------------------------------------------------------------------------


def _dataset_files(run: RunInput, s3: Any) -> list[DatasetFile]:
    def file(split: str, key: str, version_id: str | None) -> DatasetFile:
        source = S3Source(s3, run.data_bucket, key, version_id)
        return DatasetFile(split, source.uri, source.open)

    src = run.source
    if run.splits_upload:
        return [file(POOL, src.train_key, src.train_version_id)]
    files = [file("train", src.train_key, src.train_version_id)]
    if src.validation_key:
        files.append(file("validation", src.validation_key, src.validation_version_id))
    if src.test_key:
        files.append(file("test", src.test_key, src.test_version_id))
    return files


def run_step(run: RunInput, s3: Any, kms_key_id: str | None) -> StepOutput:
    """Validate, write the snapshot when valid, write the report; return the step's summary."""
    files = _dataset_files(run, s3)
    _log("validation started", run=run.run_name, execution=run.execution_name, files=[f.name for f in files])
    result: ValidationResult = validate(
        files,
        base_model_id=run.base_model_id,
        split=run.split if run.splits_upload else None,
        epochs=run.epochs,
        price_per_1k_training_tokens=run.price_per_1k_training_tokens,
        # One read of each S3 object: a second pass would GET every file again (up to 10 GB) whenever two prompts
        # might be duplicates, and the function has minutes to spare, not a person waiting at a terminal.
        two_pass=False,
    )
    report = result.report
    bucket, prefix = run.artifacts_bucket, run.artifacts_prefix
    uris: dict[str, str | None] = dict.fromkeys(DATA_KEYS)
    snapshot_sha: str | None = None
    report_dict = report.to_dict()
    if result.valid:

        def open_sink(split: str) -> S3Upload:
            uris[split] = f"s3://{bucket}/{prefix}{DATA_KEYS[split]}"
            return S3Upload(s3, bucket, prefix + DATA_KEYS[split], kms_key_id, "application/jsonl")

        snapshot = write_snapshot(result, open_sink)
        snapshot_sha = snapshot.sha256
        report_dict["snapshot"] = {"sha256": snapshot.sha256, "records": snapshot.records, "bytes": snapshot.bytes}
    with S3Upload(s3, bucket, prefix + REPORT_JSON_KEY, kms_key_id, "application/json") as out:
        out.write(json.dumps(report_dict, indent=2, ensure_ascii=False).encode() + b"\n")
    with S3Upload(s3, bucket, prefix + REPORT_TEXT_KEY, kms_key_id, "text/plain; charset=utf-8") as out:
        out.write(report.to_text().encode())
    output = StepOutput(
        valid=report.valid,
        reason=report.reason(),
        report_uri=f"s3://{bucket}/{prefix}{REPORT_JSON_KEY}",
        counts={
            "errors": report.errors,
            "warnings": report.warnings,
            "train": report.records("train"),
            "validation": report.records("validation"),
            "test": report.records("test"),
        },
        train_uri=uris["train"],
        validation_uri=uris["validation"],
        test_uri=uris["test"],
        dataset_sha256=snapshot_sha,
    )
    _log("validation finished", run=run.run_name, execution=run.execution_name, **output.to_dict())
    return output


@instrumented
def handler(event: Mapping[str, Any], context: object = None, *, s3: Any = None) -> dict[str, Any]:
    """Lambda entry point. `s3` is injectable for tests; otherwise the shared client (standard retries).

    Throttling, 5xx answers and connections that break mid-stream surface as TransientServiceError, which the
    workflow retries with backoff: the step writes the same keys again, so a retry is safe.
    """
    run = RunInput.from_event(event)
    bind(run=run.run_name, execution=run.execution_name)
    with transient_errors():
        return run_step(run, s3 if s3 is not None else CLIENTS.s3, os.environ.get(ENV_KMS_KEY_ID)).to_dict()
