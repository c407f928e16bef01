"""One decorator for every handler: Powertools tracing, the Lambda context on the log lines, metrics flushed.

`@instrumented` on `handler(event, context=None, **injected)`:
- starts the invocation's logging (`logs.begin_invocation`): the previous binding gone, cold start and the Lambda
  context (function name, request id) on every line, the handler then binds run and execution;
- traces the call with Powertools' Tracer (an X-Ray subsegment `## handler`, the cold start as an annotation,
  an exception as metadata). Active tracing is on for every function (stacks/lambda_function.py); outside Lambda
  the Tracer disables itself;
- counts a quota refusal that ends the invocation (`QuotaExceeded`: the workflow waits it out) as a quota wait;
- flushes the invocation's metrics with the bound run and execution as properties, whether the handler returned
  or raised, and prints nothing when none were recorded.
Tracer docs: docs.aws.amazon.com/powertools/python/latest/core/tracer/ (read 2026-12-01).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Tracer

from pipeline_aws import logs, metrics

TRACER = Tracer()
# pipeline_aws.errors.QuotaExceeded, matched by name as the workflow's Catch does.
QUOTA_EXCEEDED = "QuotaExceeded"
F = TypeVar("F", bound=Callable[..., Any])
_cold_start = True


def instrumented(handler: F) -> F:
    # Responses are not recorded: a state payload can be large and X-Ray documents are limited to 64 KB.
    traced = TRACER.capture_lambda_handler(handler, capture_response=False)

    @functools.wraps(handler)
    def wrapper(event: Any, context: object = None, **injected: Any) -> Any:
        global _cold_start
        logs.begin_invocation(context, cold_start=_cold_start)
        _cold_start = False
        try:
            return traced(event, context, **injected)
        except Exception as err:
            if type(err).__name__ == QUOTA_EXCEEDED:
                metrics.quota_wait()
            raise
        finally:
            metrics.flush(**logs.bound())

    return wrapper  # type: ignore[return-value]
