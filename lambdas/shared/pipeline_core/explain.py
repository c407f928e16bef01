"""A failed run's error as one sentence a person reads: in its notification, its execution's cause, the CLI.

Step Functions hands a ``Catch`` the error as ``{"Error", "Cause"}``. A Lambda function's unhandled exception
arrives with ``Cause`` holding Lambda's JSON error document, ``{"errorMessage", "errorType", "stackTrace", ...}``;
the service's own ``States.*`` errors carry plain text, or nothing
(docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html, read 2026-12-01). Step Functions also
cuts a long cause short, so the JSON may be incomplete. :func:`sentence` accepts all of these and never returns a
stack trace, a path to source code or JSON: the handler's log and the execution history keep those.

A notification is plain-text email, and an error's message may quote the dataset (a record a check refused, a
value it could not parse). So a message is shown only with every secret or personal-data value the dataset
validator detects replaced by ``[redacted]`` (``pipeline_core.dataset.quality.redact_sensitive``), and the message
of a Python built-in exception (``KeyError: 'x'``, ``ValueError: ...``: a fault in the code, whose message may
hold any value the code met) is never shown: the sentence names only the exception's type.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Mapping
from typing import Any

from pipeline_core.dataset.quality import redact_sensitive

#: A reason longer than this is cut at a word and ends with "…"; a stack trace is never needed to say what failed.
MAX_CHARS = 300
#: Each half of a cleanup failure's sentence (what the cleanup met, and why the run had failed).
MAX_PART_CHARS = 150
ELLIPSIS = "…"
#: What joins the quality gate's reasons in a rejection's cause (the aggregate handler's ``reasons_text``).
REASON_SEPARATOR = " | "
#: What stands in a sentence for a value the dataset validator would report as a secret or personal data.
REDACTED = "[redacted]"

NOTICE_REASON = "reason"
NOTICE_REPORT = "report"

#: The Step Functions and Lambda errors a run can end on without a message of its own, said in words.
KNOWN_ERRORS: Mapping[str, str] = {
    "States.Timeout": "a step ran past its time limit",
    "States.HeartbeatTimeout": "a step stopped sending heartbeats",
    "States.TaskFailed": "a step failed",
    "States.Permissions": "the state machine was not allowed to run a step (a missing permission)",
    "States.Runtime": "the workflow met a value it could not process (a missing or malformed field)",
    "States.DataLimitExceeded": "a step's output was larger than Step Functions accepts (256 KiB)",
    "States.ExceedToleratedFailureThreshold": "too many evaluation batches failed",
    "States.ItemReaderFailed": "the evaluation could not read its plan from S3",
    "States.ResultWriterFailed": "the evaluation could not write its results",
    "States.NoChoiceMatched": "the workflow reached a choice none of whose rules matched",
    "States.IntrinsicFailure": "the workflow could not build a step's input",
    "States.ParameterPathFailure": "the workflow could not find a field a step needs",
    "States.ResultPathMatchFailure": "the workflow could not store a step's result",
    "Lambda.Unknown": "a pipeline function ran out of time or memory",
    "Sandbox.Timedout": "a pipeline function ran out of time",
    "Lambda.TooManyRequestsException": "Lambda throttled a pipeline function past every retry",
    "Lambda.ServiceException": "Lambda failed to run a pipeline function past every retry",
    "Lambda.AWSLambdaException": "Lambda failed to run a pipeline function past every retry",
    "Lambda.SdkClientException": "Step Functions could not reach Lambda past every retry",
}

#: Python's own exceptions: raised by a handler, they are a fault in the code, not a verdict about the run.
_PYTHON_ERRORS = frozenset(
    name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
)
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):.*", re.DOTALL)
_FRAME = re.compile(r'File "[^"]*", line \d+(?:, in [^\s,]+)?')
# A path to source code (POSIX or Windows, optionally with a line number): /var/task/handler.py, lambdas/x/y.py:12.
_CODE_PATH = re.compile(
    r"(?<![\w:/])(?:[A-Za-z]:)?[\w.\-~]*(?:[/\\][\w.\-]+)+\.(?:py|pyc|pyi|js|mjs|cjs|ts|java|go|rb|sh)\b(?::\d+)?"
)
_ERROR_MESSAGE = re.compile(r'"errorMessage"\s*:\s*"((?:[^"\\]|\\.)*)"')
_NOT_JSON = object()
_ERROR_TYPE = re.compile(r'"errorType"\s*:\s*"((?:[^"\\]|\\.)*)"')


def sentence(error: str | None, cause: str | None, *, limit: int = MAX_CHARS) -> str:
    """What went wrong, in one line of at most ``limit`` characters (see the module docstring)."""
    error = (error or "").strip()
    message, error_type = _message(cause)
    message = _clean(message)
    kind = error_type or error
    if not message:
        text = _describe(error)
    elif kind in _PYTHON_ERRORS:
        # The Catch's {Error, Cause} does not say which step raised it; the execution history does.
        text = f"An internal error ({kind}) in a pipeline function; see the execution history"
    else:
        text = redact_sensitive(message, REDACTED)
    return _fit_reasons(text, limit) or truncate(text, limit)


def truncate(text: str, limit: int = MAX_CHARS) -> str:
    """``text`` whole if it fits in ``limit`` characters, else cut at a word with "…" (never longer than ``limit``)."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(ELLIPSIS), 1)]
    if " " in cut[1:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-(") + ELLIPSIS


def _fit_reasons(text: str, limit: int) -> str | None:
    """A list of reasons (the quality gate's, joined by REASON_SEPARATOR) that does not fit, cut between reasons
    rather than inside one: as many whole reasons as fit, then how many more the report lists. None when ``text``
    fits, is not such a list, or not even its first reason fits whole (then ``truncate`` cuts it at a word)."""
    reasons = text.split(REASON_SEPARATOR)
    if len(text) <= limit or len(reasons) < 2:
        return None
    for kept in range(len(reasons) - 1, 0, -1):
        more = len(reasons) - kept
        fitted = REASON_SEPARATOR.join(
            [*reasons[:kept], f"and {more} more reason{'s' if more > 1 else ''} in the report"]
        )
        if len(fitted) <= limit:
            return fitted
    return None


def failure_notice(state: Mapping[str, Any]) -> dict[str, Any]:
    """The ``reason`` and ``report`` of a failed run's notification, from the workflow's state document.

    ``$.error`` is what the run failed on; ``$.cleanup_error``, when present, is what the cleanup after it met.
    """
    error = _error(state.get("error"))
    report = report_uri(state)
    reason = _without_report(sentence(*error), report)
    cleanup = state.get("cleanup_error")
    if isinstance(cleanup, Mapping):
        met = _without_report(sentence(*_error(cleanup), limit=MAX_PART_CHARS), report)
        reason = truncate(
            f"Cleaning up after the failure did not finish ({_lower_first(met)}), so this run's training job, "
            f"Provisioned Throughput or deployment may still be running and billing; the run had failed because "
            f"{_lower_first(truncate(reason, MAX_PART_CHARS))}",
            2 * MAX_CHARS,
        )
    return {NOTICE_REASON: reason, NOTICE_REPORT: report}


def report_uri(state: Mapping[str, Any]) -> str | None:
    """The run's evaluation report once written; the dataset's validation report when the dataset was refused."""
    evaluation = state.get("evaluation")
    if isinstance(evaluation, Mapping) and _is_uri(evaluation.get("report_uri")):
        return str(evaluation["report_uri"])
    validation = state.get("validation")
    if isinstance(validation, Mapping) and validation.get("valid") is False and _is_uri(validation.get("report_uri")):
        return str(validation["report_uri"])
    return None


def _is_uri(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("s3://")


def _error(value: Any) -> tuple[str | None, str | None]:
    if not isinstance(value, Mapping):
        return None, None
    error, cause = value.get("Error"), value.get("Cause")
    return (str(error) if error is not None else None), (str(cause) if cause is not None else None)


def _message(cause: str | None) -> tuple[str, str]:
    """(the message, Lambda's errorType or "") of a cause: Lambda's JSON, a nested {Error, Cause}, or plain text."""
    if not cause or not cause.strip():
        return "", ""
    text = cause.strip()
    try:
        document: Any = json.loads(text)
    except ValueError:
        document = _NOT_JSON
        if text.startswith("{"):
            # Cut short by Step Functions: still Lambda's document, whose message comes before the stack trace.
            found, named = _ERROR_MESSAGE.search(text), _ERROR_TYPE.search(text)
            return (_unescape(found.group(1)) if found else ""), (_unescape(named.group(1)) if named else "")
    if isinstance(document, dict):
        if "errorMessage" in document:
            return str(document.get("errorMessage") or ""), str(document.get("errorType") or "")
        if "Error" in document or "Cause" in document:  # a child execution's or a Map item's error
            error, cause = _error(document)
            message, kind = _message(cause)
            return message, kind or (error or "")
        return "", ""  # JSON of another shape says nothing a person can read
    if document is _NOT_JSON:
        return text, ""
    return (document, "") if isinstance(document, str) else ("", "")


def _unescape(value: str) -> str:
    try:
        return str(json.loads(f'"{value}"'))
    except ValueError:
        return value


def _clean(text: str) -> str:
    """One line without stack traces, frames, paths to source code or JSON."""
    text = _TRACEBACK.sub("", text)
    text = _FRAME.sub("", text)
    text = _CODE_PATH.sub("", text)
    text = " ".join(text.split())
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)
    text = re.sub(r"\s+([,;:.)])", r"\1", text)
    text = " ".join(text.split()).strip(" ,;:")
    if text.startswith(("{", "[")):
        return ""
    return text


def _describe(error: str) -> str:
    if not error:
        return "The run failed without saying why; the execution history has the details"
    known = KNOWN_ERRORS.get(error)
    if known:
        return f"{known[0].upper()}{known[1:]} ({error})"
    return f"A step failed with {error}; the execution history has the details"


def _without_report(reason: str, report: str | None) -> str:
    """The reason without a trailing "report: <uri>" when the notification carries that URI on its own."""
    if not report:
        return reason
    trimmed = re.sub(r"[\s;,.]*\breport:\s*" + re.escape(report) + r"\s*$", "", reason, flags=re.IGNORECASE)
    return trimmed or reason


def _lower_first(text: str) -> str:
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text
