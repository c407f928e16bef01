"""Human approval of a candidate that passed the quality gate: the request the CLI reads, the decision it sends,
and the section each report gets once decided.

The workflow's `Request approval` state (settings `pipeline.approval.mode: required`) waits on a Step Functions task
token. Its handler writes the token to `runs/<run>/<execution>/approval/request.json` in the artifacts bucket
(SSE-KMS), where `finetune approve` / `finetune reject` read it; they answer with SendTaskSuccess and a decision
document. `Record approval` then writes the decision into report.json/md/html. No AWS calls here.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline_core import contracts

APPROVAL_REQUEST = "approval/request.json"  # under the run's prefix in the artifacts bucket
ENV_TOPIC_ARN = "TOPIC_ARN"  # the notification topic the request is published to
STATUS_AWAITING = "AWAITING_APPROVAL"
APPROVE = "approve"
REJECT = "reject"
TIMEOUT = "timeout"
DECISIONS = (APPROVE, REJECT, TIMEOUT)
MAX_REASON_CHARS = 1000

_MD_HEADING = "\n## Approval\n"
_HTML_SECTION = re.compile(r"\n?<section id=\"approval\">.*?</section>\n?", re.S)


class InvalidDecision(ValueError):
    """A decision document the workflow cannot act on."""


@dataclass(frozen=True)
class Decision:
    """`$.approval` once decided: who decided what, when, and the reason a rejection gives."""

    decision: str
    decided_by: str | None
    decided_at: str | None
    reason: str

    @property
    def approved(self) -> bool:
        return self.decision == APPROVE

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def record(self) -> dict[str, Any]:
        """What the promotion record keeps."""
        return {"decided_by": self.decided_by, "decided_at": self.decided_at, "decision": self.decision}

    def sentence(self) -> str:
        if self.decision == APPROVE:
            return f"Approved by {self.decided_by} at {self.decided_at}."
        return f"Rejected at {self.decided_at}: {self.reason}."


# Promote's worst case after an approval: every attempt the workflow's retry policy allows (stacks.workflow.RetryPolicy:
# 1 + 6 attempts, waits of 2 s doubling up to 60 s) runs to the function's timeout (its lock wait included).
PROMOTE_ATTEMPTS = 1 + 6
PROMOTE_RETRY_WAIT_SECONDS = 2 + 4 + 8 + 16 + 32 + 60
PROMOTE_WORST_CASE_SECONDS = PROMOTE_ATTEMPTS * contracts.PROMOTE_TIMEOUT_SECONDS + PROMOTE_RETRY_WAIT_SECONDS
# What runs after the wait ends, before the execution's own timeout: Record approval, Promote, and after a failed
# promotion Delete throughput and the failure notification, each with its retries (15 minutes for all but Promote).
# An execution that times out runs no Catch, so the wait stops this long before it.
CLEANUP_MARGIN_SECONDS = 15 * 60 + PROMOTE_WORST_CASE_SECONDS


def bounded_timeout(
    configured_seconds: int,
    *,
    execution_start: datetime,
    execution_timeout_seconds: int | None,
    now: datetime,
    margin_seconds: int = CLEANUP_MARGIN_SECONDS,
) -> int:
    """How long `Request approval` may wait: the setting, cut to end `margin_seconds` before the execution times
    out. At least 1 (a state timeout is a positive integer): with no time left the wait times out at once and the
    run is cleaned up. Without a known execution timeout (defaults written before it), the setting."""
    if not execution_timeout_seconds:
        return configured_seconds
    end = execution_start + timedelta(seconds=execution_timeout_seconds - margin_seconds)
    left = int((end - now).total_seconds())
    return max(1, min(configured_seconds, left))


def timeout_reason(timeout_seconds: int) -> str:
    hours = timeout_seconds / 3600
    span = f"{hours:g} hours" if timeout_seconds >= 3600 else f"{timeout_seconds} seconds"
    return f"approval timed out: no decision within {span}"


def decision_from(raw: Mapping[str, Any], *, timeout_seconds: int) -> Decision:
    """The decision the CLI sent (or the timeout the workflow caught), checked and given its reason."""
    decision = str(raw.get("decision") or "")
    if decision not in DECISIONS:
        raise InvalidDecision(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    by = raw.get("decided_by")
    at = raw.get("decided_at")
    text = " ".join(str(raw.get("reason") or "").split())[:MAX_REASON_CHARS]
    if decision == TIMEOUT:
        reason = timeout_reason(timeout_seconds)
    elif decision == REJECT:
        if not by:
            raise InvalidDecision("a rejection must say who rejected (decided_by)")
        reason = f"rejected by {by}: {text}" if text else f"rejected by {by}"
    else:
        if not by:
            raise InvalidDecision("an approval must say who approved (decided_by)")
        reason = f"approved by {by}"
    return Decision(decision, str(by) if by else None, str(at) if at else None, reason)


def request_document(
    *, task_token: str, run: Mapping[str, Any], execution_arn: str, requested_at: str, expires_at: str
) -> dict[str, Any]:
    """request.json: what `finetune approve`/`reject` need to answer the wait."""
    return {
        "task_token": task_token,
        "run_name": run["run_name"],
        "execution_name": run["execution_name"],
        "execution_arn": execution_arn,
        "requested_at": requested_at,
        "expires_at": expires_at,
    }


def awaiting_message(*, run_name: str, execution: str, timeout_seconds: int, report: str | None) -> dict[str, Any]:
    """The AWAITING_APPROVAL notification: {status, run, execution, reason, report}."""
    span = timeout_reason(timeout_seconds).split("within ", 1)[1]
    return {
        "status": STATUS_AWAITING,
        "run": run_name,
        "execution": execution,
        "reason": (
            f"The candidate passed the quality gate and awaits a decision: run `finetune approve {run_name}` to "
            f"promote it or `finetune reject {run_name} --reason TEXT` to reject it, within {span}; without a "
            "decision it is rejected and its throughput deleted."
        ),
        "report": report,
    }


# ---- the decision in the reports ---------------------------------------------------------------------------------


def with_approval_json(text: str, decision: Decision) -> str:
    report = json.loads(text)
    if not isinstance(report, dict):
        raise ValueError("report.json is not a JSON object")
    report["approval"] = decision.as_dict()
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def with_approval_markdown(text: str, decision: Decision) -> str:
    """The report with one `## Approval` section at its end (replacing any earlier one: a retry writes it again)."""
    text = text.split(_MD_HEADING, 1)[0]
    return text.rstrip("\n") + "\n" + _MD_HEADING + "\n" + decision.sentence() + "\n"


def with_approval_html(text: str, decision: Decision) -> str:
    text = _HTML_SECTION.sub("", text)
    section = f'<section id="approval"><h2>Approval</h2><p>{html.escape(decision.sentence())}</p></section>\n'
    if "</body>" in text:
        head, tail = text.rsplit("</body>", 1)
        return head + section + "</body>" + tail
    return text + section
