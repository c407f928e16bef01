"""Names and idempotency seeds for the Bedrock resources one execution creates: unique forever, stable on retry.

Bedrock's patterns (botocore 1.44.8 bedrock service model, read 2026-12-01), each 1-63 characters:
- jobName: `[a-zA-Z0-9](-*[a-zA-Z0-9\\+\\-\\.])*`
- customModelName: `([0-9a-zA-Z][_-]?){1,63}`
- provisionedModelName: `([0-9a-zA-Z][_-]?)+`
Their intersection, which every name here fits: letters and digits in runs joined by single hyphens.

Step Functions frees an execution name 90 days after the execution ends
(docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html, read 2026-12-01), so the same
upload sent again later gets the same execution name. Names derived from the execution name alone would then
collide with the custom model the first execution created, and its client request tokens would return the first
execution's job. `RunNames.for_execution` mixes in the execution's start time, which differs between the two
executions and is the same for every retry within one. Digests are SHA-256: Python's hash() differs between
processes, and a retry may run in another Lambda container.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_NAME = 63
DIGEST_CHARS = 16  # 64 bits: contracts.execution_name ends with "-<16 hex>" too


def bedrock_name(text: str, *, keep_tail: int = DIGEST_CHARS) -> str:
    """`text` as a name valid for a job, a custom model and a Provisioned Throughput alike.

    Every run of characters other than letters and digits becomes one hyphen, and none is left at either end.
    A name longer than 63 characters keeps its last `keep_tail` characters (where the digests are) and
    shortens the front, so distinct long names stay distinct.
    """
    name = "-".join(re.findall(r"[A-Za-z0-9]+", text)) or "run"
    if len(name) > MAX_NAME:
        head = name[: MAX_NAME - keep_tail - 1].rstrip("-")
        name = f"{head}-{name[-keep_tail:].lstrip('-')}"
    return name


def _digest(execution_name: str, start_time: str) -> str:
    return hashlib.sha256(f"{execution_name}\n{start_time}".encode()).hexdigest()


@dataclass(frozen=True)
class RunNames:
    """The run spec's `resource_name` (job, custom model and throughput name) and `token_seed` (client tokens)."""

    resource_name: str
    token_seed: str

    @classmethod
    def for_execution(cls, execution_name: str, start_time: str | None) -> RunNames:
        """Names for one execution: the execution name's front, then a digest of its name and start time.

        Without a start time (a state machine defined before this field existed) the names are the execution
        name's, as they were before, so an execution under way during an upgrade keeps finding what it created.
        """
        if not start_time:
            return cls(resource_name=bedrock_name(execution_name), token_seed=execution_name)
        digest = _digest(execution_name, start_time)
        front = bedrock_name(execution_name)[: MAX_NAME - DIGEST_CHARS - 1].rstrip("-")
        return cls(resource_name=f"{front}-{digest[:DIGEST_CHARS]}", token_seed=digest)

    @classmethod
    def from_run(cls, run: Mapping[str, Any]) -> RunNames:
        """The names a run spec carries; a spec written before they existed falls back to the execution name."""
        name, seed = run.get("resource_name"), run.get("token_seed")
        if name and seed:
            return cls(resource_name=str(name), token_seed=str(seed))
        return cls.for_execution(str(run["execution_name"]), None)
