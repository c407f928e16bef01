"""Lambda handler behind the S3 "Object Created" EventBridge rule: start one workflow execution per upload.

The execution name is derived from the key and the ETags of what the run reads, so EventBridge delivering the
same event twice, or a user re-uploading identical bytes, finds the existing execution (ExecutionAlreadyExists)
instead of starting and paying for a second run; new data under the same manifest changes an ETag and starts a
new one. Step Functions keeps execution names unique per state machine for 90 days
(docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import is_code, transient_errors
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
    try:
        with transient_errors():
            response = CLIENTS.sfn.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps({"source": source})
            )
    except Exception as err:
        # StartExecution with an existing name and different input fails with ExecutionAlreadyExists; with the
        # same input it returns the running execution. Either way this upload already has its run.
        if is_code(err, "ExecutionAlreadyExists"):
            log(LOGGER, "duplicate upload", key=upload.key)
            return {"started": False, "reason": "duplicate", "execution_name": name}
        raise
    log(LOGGER, "execution started", key=upload.key, execution_arn=response["executionArn"])
    return {"started": True, "execution_arn": response["executionArn"], "execution_name": name}


@instrumented
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    bind()
    return start(Upload.from_event(event), os.environ[contracts.ENV_STATE_MACHINE_ARN])
