"""Lambda handler behind the S3 "Object Created" EventBridge rule: start one workflow execution per upload.

The execution name is derived from the key and the ETags of what the run reads, so EventBridge delivering the
same event twice, or a user re-uploading identical bytes, finds the existing execution (ExecutionAlreadyExists)
instead of starting and paying for a second run; new data under the same manifest changes an ETag and starts a
new one. Step Functions keeps execution names unique per state machine for 90 days
(docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html). The upload is queued under that
name in the admission table first (written only if absent, so a repeated event queues nothing), and its execution
starts at once only if fewer than the admission limit are running; otherwise the dispatcher starts it later.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pipeline_aws import metrics
from pipeline_aws.admission import Dispatcher, enqueue, execution_arn_of, position
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.observability import instrumented
from pipeline_aws.s3 import ObjectTooLarge, head, read_text
from pipeline_core import contracts
from pipeline_core.manifest import MAX_MANIFEST_BYTES, manifest_folder, referenced_files

LOGGER = setup_logging("trigger")


@dataclass(frozen=True)
class Upload:
    """The object an EventBridge "Object Created" event describes.

    Event shape: docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
    """

    bucket: str
    key: str
    etag: str
    version_id: str | None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Upload:
        detail = event["detail"]
        obj = detail["object"]
        return cls(
            bucket=str(detail["bucket"]["name"]),
            key=str(obj["key"]),
            etag=str(obj.get("etag", "")).strip('"'),
            version_id=obj.get("version-id"),
        )


def _fingerprints(upload: Upload) -> list[str]:
    """The key and ETags that identify what this run would read; the manifest's files when it names any."""
    prints = [upload.key, upload.etag]
    if not upload.key.endswith("/" + contracts.MANIFEST_NAME):
        return prints
    try:
        text, _ = read_text(upload.bucket, upload.key, max_bytes=MAX_MANIFEST_BYTES, version_id=upload.version_id)
    except ObjectTooLarge:
        return prints  # Resolve run reports the problem; the trigger only starts the execution
    folder = manifest_folder(upload.key)
    for name in referenced_files(text):
        found = head(upload.bucket, folder + name)
        # A missing file still fingerprints (as "missing"), so uploading it later starts a new run.
        prints += [name, str(found["ETag"]).strip('"') if found else "missing"]
    return prints


def start(upload: Upload, state_machine_arn: str) -> dict[str, Any]:
    run_name = contracts.run_name_from_key(upload.key)
    if run_name is None:
        reason = "not a pipeline upload: expected inbox/<name>.jsonl or runs/<name>/run.json"
        log(LOGGER, "ignored upload", key=upload.key, reason=reason)
        return {"started": False, "reason": reason}
    name = contracts.execution_name(run_name, *_fingerprints(upload))
    bind(run=run_name, execution=name)
    source = asdict(upload) | {"run_name": run_name}
    table = os.environ[contracts.ENV_ADMISSION_TABLE]
    # Queued first, started only while a slot is free (pipeline_aws.admission): a burst of uploads waits its turn
    # instead of racing for the account's Bedrock quotas. A failed enqueue raises, so EventBridge delivers again.
    if not enqueue(table, name, {"source": source}):
        log(LOGGER, "duplicate upload", key=upload.key)
        return {"started": False, "reason": "duplicate", "execution_name": name}
    dispatcher = Dispatcher(table, state_machine_arn, int(os.environ[contracts.ENV_MAX_CONCURRENT_RUNS]))
    try:
        outcome = dispatcher.dispatch()
    except Exception as err:  # the run is queued; the dispatcher's next event or schedule starts it
        log(LOGGER, "dispatch failed; the run stays queued", key=upload.key, error=f"{type(err).__name__}: {err}")
        outcome = None
    if outcome is not None:
        metrics.dispatched(started=len(outcome.started), waiting=outcome.waiting, failed=len(outcome.failed))
        for failure in outcome.failed:  # out of the queue for good: `finetune runs` lists it as FAILED_TO_START
            log(LOGGER, "queued run failed to start", level=logging.ERROR, **failure)
    if outcome is not None and name in outcome.already_started:
        # StartExecution refused the name (an execution of the same upload ran before the queue existed).
        log(LOGGER, "duplicate upload", key=upload.key)
        return {"started": False, "reason": "duplicate", "execution_name": name}
    refused = next((f for f in outcome.failed if f["execution_name"] == name), None) if outcome else None
    if refused is not None:
        return {"started": False, "reason": "failed to start", "execution_name": name, "error": refused["error"]}
    if outcome is not None and name in outcome.started:
        arn = execution_arn_of(state_machine_arn, name)
        log(LOGGER, "execution started", key=upload.key, execution_arn=arn)
        return {"started": True, "execution_arn": arn, "execution_name": name}
    where = position(table, name)
    log(LOGGER, "run queued", key=upload.key, position=where[0] if where else None)
    result: dict[str, Any] = {"started": False, "reason": "queued", "execution_name": name}
    if where:
        result |= {"position": where[0], "queued": where[1]}
    return result


@instrumented
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    bind()
    return start(Upload.from_event(event), os.environ[contracts.ENV_STATE_MACHINE_ARN])
