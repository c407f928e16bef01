"""The rehearsal's approver: answers a run's wait for approval the way `finetune approve`/`reject` do.

It calls the commands' own function (finetune.approval.decide) against the local cloud, so the rehearsal goes
through the request the workflow stored, sts:GetCallerIdentity and SendTaskSuccess exactly as an operator would.
``timeout`` answers nothing: the wait runs out and the workflow rejects and cleans up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline_core import contracts
from pipeline_core.approval import APPROVAL_REQUEST

ANSWERS = ("approve", "reject", "timeout")
REJECT_REASON = "rehearsal: rejected to show the cleanup path"


@dataclass
class Approver:
    answer: str | None
    region: str
    state_machine_arn: str
    artifacts_bucket: str
    decided: list[Any] = field(default_factory=list)

    def poll(self, s3: Any, run_name: str, execution_arn: str) -> None:
        """Answer once, as soon as the request is stored."""
        if self.answer not in ("approve", "reject") or self.decided:
            return
        execution = execution_arn.rsplit(":", 1)[1]
        key = contracts.run_prefix(run_name, execution) + APPROVAL_REQUEST
        if "Contents" not in s3.list_objects_v2(Bucket=self.artifacts_bucket, Prefix=key):
            return
        import boto3

        from finetune.approval import decide
        from finetune.operator import Aws

        self.decided.append(
            decide(
                Aws(boto3.Session(region_name=self.region)),
                state_machine_arn=self.state_machine_arn,
                artifacts_bucket=self.artifacts_bucket,
                ref=execution_arn,
                decision=self.answer,
                reason=REJECT_REASON if self.answer == "reject" else "",
            )
        )
