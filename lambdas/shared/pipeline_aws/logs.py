"""Structured logging: one JSON object per line, carrying the run and execution of the current invocation.

CloudWatch Logs Insights can then filter on `run`, `execution` or any field without parsing messages.
Uses the standard library only, so the handlers need no extra dependency in their assets.
"""

from __future__ import annotations

import json
import logging
import os
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_CONTEXT: ContextVar[dict[str, Any] | None] = ContextVar("pipeline_log_context", default=None)
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: time, level, logger, message, bound context, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "aws_request_id", None)
        if request_id:
            line["request_id"] = request_id
        line.update(_CONTEXT.get() or {})
        line.update({k: v for k, v in vars(record).items() if k not in _RESERVED and k != "aws_request_id"})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def setup_logging(name: str) -> logging.Logger:
    """Put the JSON formatter on the root handlers (the Lambda runtime installs one) and return a named logger."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
    return logging.getLogger(name)


def bind(**fields: Any) -> None:
    """Fields (e.g. run, execution) added to every line of this invocation; replaces the previous binding."""
    _CONTEXT.set({k: v for k, v in fields.items() if v is not None})


def log(logger: logging.Logger, message: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log `message` with `fields` as top-level JSON keys."""
    # LogRecord refuses extra keys that shadow its own attributes (name, module, ...), so those get a suffix.
    logger.log(level, message, extra={(f"{k}_" if k in _RESERVED else k): v for k, v in fields.items()})
