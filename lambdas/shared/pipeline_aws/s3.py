"""Small S3 helpers: read a small object as text or JSON, check that an object exists, write with SSE-KMS."""

from __future__ import annotations

import json
import os
from typing import Any

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import is_code, transient_errors
from pipeline_core import contracts


class ObjectTooLarge(ValueError):
    """A small control file (manifest, plan) is larger than the handler is willing to hold in memory."""


def split_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key)."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def read_text(
    bucket: str, key: str, *, max_bytes: int, s3: Any = None, version_id: str | None = None
) -> tuple[str, str]:
    """The object's text and ETag (of `version_id` when given); refuses objects over `max_bytes`."""
    s3 = s3 or CLIENTS.s3
    extra = {"VersionId": version_id} if version_id else {}
    with transient_errors():
        response = s3.get_object(Bucket=bucket, Key=key, **extra)
        if int(response.get("ContentLength") or 0) > max_bytes:
            response["Body"].close()
            raise ObjectTooLarge(f"s3://{bucket}/{key} is larger than {max_bytes} bytes")
        body = response["Body"].read()
    return body.decode("utf-8", errors="replace"), str(response.get("ETag", ""))


def read_json(bucket: str, key: str, *, max_bytes: int = 1024 * 1024, s3: Any = None) -> Any:
    text, _ = read_text(bucket, key, max_bytes=max_bytes, s3=s3)
    return json.loads(text)


def head(bucket: str, key: str, *, s3: Any = None) -> dict[str, Any] | None:
    """HeadObject, or None when the object does not exist (404 / NoSuchKey)."""
    s3 = s3 or CLIENTS.s3
    try:
        with transient_errors():
            return dict(s3.head_object(Bucket=bucket, Key=key))
    except Exception as err:
        if is_code(err, "404", "NoSuchKey", "NotFound"):
            return None
        raise


def put_bytes(bucket: str, key: str, body: bytes, *, content_type: str, s3: Any = None) -> str:
    """PutObject with SSE-KMS under the pipeline's key (env KMS_KEY_ID); returns the s3:// URI."""
    s3 = s3 or CLIENTS.s3
    extra: dict[str, str] = {"ServerSideEncryption": "aws:kms", "ContentType": content_type}
    kms_key = os.environ.get(contracts.ENV_KMS_KEY_ARN)
    if kms_key:
        extra["SSEKMSKeyId"] = kms_key
    with transient_errors():
        s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    return f"s3://{bucket}/{key}"


def put_json(bucket: str, key: str, value: Any, *, s3: Any = None) -> str:
    body = json.dumps(value, indent=2, ensure_ascii=False, default=str).encode() + b"\n"
    return put_bytes(bucket, key, body, content_type="application/json", s3=s3)


def list_keys(bucket: str, prefix: str, *, s3: Any = None) -> list[str]:
    s3 = s3 or CLIENTS.s3
    keys: list[str] = []
    with transient_errors():
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(str(o["Key"]) for o in page.get("Contents", []))
    return keys
