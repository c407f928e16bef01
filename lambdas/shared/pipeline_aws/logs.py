"""Structured logging on Powertools for AWS Lambda (Python): one JSON object per line, carrying the run and
execution of the current invocation.

CloudWatch Logs Insights can then filter on `run`, `execution` or any field without parsing messages.

One Powertools `Logger` per process holds the formatter and the keys every line carries (`bind`). Its formatter
goes on the root logger's handlers, where the Lambda runtime writes to the function's log stream and where a host
that runs the handlers in-process (the rehearsal, pytest) collects them; each handler logs through a standard
logger named after itself, so a line names the handler that wrote it. Keys live on the formatter rather than in a
context variable, so lines written by worker threads (evaluation calls) carry them too. Powertools comes from
AWS's published Lambda layer (stacks/lambda_function.py), so the handler assets hold no copy of it.
Logger docs: docs.aws.amazon.com/powertools/python/latest/core/logger/ (read 2026-12-01).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.filters import SuppressFilter
from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS

from pipeline_core import telemetry

# Attributes a LogRecord already has; `extra` may not repeat them (logging raises), so such fields get a suffix.
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"} | set(RESERVED_LOG_ATTRS)

_POWERTOOLS = Logger(
    service=os.environ.get(telemetry.ENV_SERVICE_NAME) or "pipeline",
    level=os.environ.get("LOG_LEVEL", "INFO"),
    # The root handlers write the lines (see the module docstring); this logger only keeps the formatter and keys.
    logger_handler=logging.NullHandler(),
    utc=True,
    use_rfc3339=True,
    log_record_order=["timestamp", "level", "name", "message"],
    name="%(name)s",  # the handler's logger, e.g. "train"
)
# Powertools filters records of loggers whose name contains the service name out of the root handlers, against
# duplicates from its own handler. Here the root handlers are the only writers, and a pipeline named like a
# handler ("train") would lose that handler's lines, so the filter comes off.
for _handler in logging.getLogger().handlers:
    for _filter in [f for f in _handler.filters if isinstance(f, SuppressFilter)]:
        _handler.removeFilter(_filter)
_BOUND: set[str] = set()


def formatter() -> logging.Formatter:
    """The Powertools JSON formatter with the keys bound so far (for tests and other handlers)."""
    return _POWERTOOLS.registered_formatter


def setup_logging(name: str) -> logging.Logger:
    """Put the Powertools formatter on the root handlers (the Lambda runtime installs one) and return a named logger."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(formatter())
    root.setLevel(_POWERTOOLS.log_level)
    return logging.getLogger(name)


def bind(**fields: Any) -> None:
    """Fields (e.g. run, execution) added to every line of this invocation; replaces the previous binding."""
    _POWERTOOLS.remove_keys(list(_BOUND))
    _BOUND.clear()
    kept = {k: v for k, v in fields.items() if v is not None}
    _POWERTOOLS.append_keys(**kept)
    _BOUND.update(kept)


def bound() -> dict[str, Any]:
    """The fields the last `bind` added, e.g. to tag this invocation's metrics with the run and execution."""
    current = _POWERTOOLS.get_current_keys()
    return {k: current[k] for k in sorted(_BOUND) if k in current}


def begin_invocation(context: object, *, cold_start: bool) -> None:
    """What Powertools' `inject_lambda_context` adds (cold start, function name, ARN, memory, request id), and the
    previous invocation's binding removed. A handler called without a Lambda context (tests) gets cold_start only."""
    bind()
    keys: dict[str, Any] = {"cold_start": cold_start}
    request_id = getattr(context, "aws_request_id", None)
    if request_id is not None:
        keys |= {
            "function_name": getattr(context, "function_name", None),
            "function_arn": getattr(context, "invoked_function_arn", None),
            "function_memory_size": getattr(context, "memory_limit_in_mb", None),
            "function_request_id": request_id,
        }
    _POWERTOOLS.append_keys(**{k: v for k, v in keys.items() if v is not None})


def log(logger: logging.Logger, message: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log `message` with `fields` as top-level JSON keys."""
    # LogRecord refuses extra keys that shadow its own attributes (name, module, ...), so those get a suffix.
    # stacklevel=2: the line's `location` is the caller, not this function.
    logger.log(level, message, extra={(f"{k}_" if k in _RESERVED else k): v for k, v in fields.items()}, stacklevel=2)
