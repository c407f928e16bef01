"""Every change the rehearsal makes to moto 5.2.5's behaviour, in one place (see docs/rehearsal.md).

1. **Lambda runs the real handler in-process.** moto runs Lambda code only in Docker; without Docker
   (``{"lambda": {"use_docker": False}}``) ``LambdaSimpleBackend.invoke`` echoes the payload. The patch replaces it
   with a call of ``lambdas/<folder>/handler.py``'s ``handler(event, context)``, in this process, so the handler's own
   AWS calls reach moto (and Bedrock calls the stand-in). An exception becomes what real Lambda returns for an
   unhandled error: the ``X-Amz-Function-Error: Unhandled`` header and a ``{"errorType", "errorMessage",
   "stackTrace"}`` payload. moto's Step Functions interpreter (``lambda_eval_utils``/``state_task_service_lambda``)
   already turns that into a task failure whose error name is ``errorType`` (the exception's class name), exactly
   as the service does, so the workflow's Retry and Catch on ``TransientServiceError`` etc. work unchanged.

2. **EventBridge TestEventPattern answers.** moto 5.2.5 accepts the call but returns nothing
   (``EventsHandler.test_event_pattern`` is ``pass``). The patch answers ``{"Result": bool}`` with moto's own
   pattern matcher (``moto.events.models.EventPattern``, the one its ``PutEvents`` uses), so the rehearsal checks
   through the real API that the upload rule of the template matches the event it delivers to the trigger.
   (moto's EventBridge never invokes a Lambda or Step Functions target itself; the rehearsal delivers the event.)

Nothing here touches the synthesized definition: the state machine moto runs is the template's, tokens resolved.
Pinned to moto 5.2.5 (``requirements-dev.txt``); :func:`check_moto_version` refuses other versions rather than
patching code it has not been checked against.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

SUPPORTED_MOTO = "5.2.5"

Handler = Callable[[Any, Any], Any]


class SimulatedHandlerCrash(RuntimeError):
    """Raised once by a handler chosen with the ``handler-crash`` fault (a bug or an out-of-memory in real life)."""


def check_moto_version() -> None:
    import moto

    if moto.__version__ != SUPPORTED_MOTO:
        raise RuntimeError(
            f"the rehearsal patches moto {SUPPORTED_MOTO} (finetune/rehearsal/moto_patches.py); "
            f"found {moto.__version__}"
        )


@dataclass
class LocalFunction:
    """One Lambda function of the template, bound to its handler code."""

    name: str
    arn: str
    folder: str
    handler: Handler
    timeout_seconds: int = 60
    memory_mb: int = 128


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object the handlers may read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


@dataclass
class Invocation:
    """A record of one invocation, for the progress lines and the tests."""

    folder: str
    action: str | None
    error: str | None
    seconds: float


_INVOKING = threading.local()


def in_handler() -> bool:
    """Whether this thread is running a handler invocation (``LocalLambda.invoke``): what it prints belongs to the
    function's log stream, not to whoever started the rehearsal (``runner._handler_logs`` routes it)."""
    return bool(getattr(_INVOKING, "depth", 0))


@contextlib.contextmanager
def _invoking() -> Iterator[None]:
    _INVOKING.depth = getattr(_INVOKING, "depth", 0) + 1
    try:
        yield
    finally:
        _INVOKING.depth -= 1


class LocalLambda:
    """Routes Lambda invocations (by function name or ARN) to in-process handlers."""

    def __init__(self, functions: Mapping[str, LocalFunction], *, crash_once: frozenset[str] = frozenset()) -> None:
        self._by_name: dict[str, LocalFunction] = {}
        for function in functions.values():
            self._by_name[function.name] = function
            self._by_name[function.arn] = function
        self._crash_pending = set(crash_once)
        self._lock = threading.Lock()
        self.invocations: list[Invocation] = []

    def find(self, name_or_arn: str) -> LocalFunction | None:
        # A qualified ARN (":$LATEST", ":1") names the same code in the rehearsal.
        function = self._by_name.get(name_or_arn)
        if function is None and name_or_arn.count(":") == 7:
            function = self._by_name.get(name_or_arn.rsplit(":", 1)[0])
        return function

    def _should_crash(self, folder: str) -> bool:
        with self._lock:
            if folder in self._crash_pending:
                self._crash_pending.discard(folder)
                return True
            return False

    def invoke(self, function: LocalFunction, body: Any, response_headers: dict[str, str]) -> bytes:
        raw = body.decode() if isinstance(body, bytes) else (body or "{}")
        event = json.loads(raw) if raw else {}
        context = LambdaContext(function.name, function.arn, function.memory_mb, function.timeout_seconds)
        started = time.monotonic()
        action = event.get("action") if isinstance(event, dict) else None
        try:
            if self._should_crash(function.folder):
                raise SimulatedHandlerCrash(
                    f"simulated crash of the {function.folder} handler (fault handler-crash); it raises only once"
                )
            with _invoking():
                result = function.handler(event, context)
        except Exception as exc:  # an unhandled error, as the Lambda runtime reports it
            with self._lock:
                self.invocations.append(Invocation(function.folder, action, type(exc).__name__, 0.0))
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": context.aws_request_id,
                # From the handler down, as the Lambda runtime reports it: this patch's own frame is not the handler's.
                "stackTrace": traceback.format_tb(exc.__traceback__.tb_next if exc.__traceback__ else None)[-5:],
            }
            return json.dumps(payload).encode()
        with self._lock:
            self.invocations.append(Invocation(function.folder, action, None, time.monotonic() - started))
        return json.dumps(result).encode()


@contextlib.contextmanager
def patched_moto(local_lambda: LocalLambda) -> Iterator[None]:
    """Apply the patches listed in the module docstring for the duration of the block."""
    check_moto_version()
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        function = local_lambda.find(function_name)
        if function is None:
            arn = f"arn:aws:lambda:{backend.region_name}:{backend.account_id}:function:{function_name}"
            raise UnknownFunctionException(arn)
        payload = local_lambda.invoke(function, body, response_headers)
        response_headers["Content-Length"] = str(len(payload))
        return payload

    from moto.events.models import EventPattern
    from moto.events.responses import EventsHandler

    def test_event_pattern(handler: EventsHandler) -> str:
        pattern = EventPattern.load(handler._get_param("EventPattern"))
        return json.dumps({"Result": pattern.matches_event(json.loads(handler._get_param("Event")))})

    with (
        mock.patch.object(LambdaSimpleBackend, "invoke", invoke),
        mock.patch.object(EventsHandler, "test_event_pattern", test_event_pattern),
    ):
        yield
