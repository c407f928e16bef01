"""Loopback HTTP server that turns requests into calls on the simulated control plane, runtime and Service Quotas."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .control_plane import ControlPlane
from .foundation_models import FoundationModels
from .protocol import (
    JSON_11,
    ApiError,
    HttpAnswer,
    Route,
    error_answer,
    json_answer,
    match_route,
    match_target,
    parse_request,
    validate,
)
from .runtime import Runtime, message_id
from .service_quotas import ServiceQuotas

LOGGER = logging.getLogger(__name__)


class Application:
    """Routes a request, validates it against the service model, calls the simulation and renders the answer."""

    def __init__(
        self, control: ControlPlane, runtime: Runtime, models: FoundationModels, quotas: ServiceQuotas
    ) -> None:
        self.control = control
        self.runtime = runtime
        self.lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.errors: Counter[tuple[str, str, str]] = Counter()
        self._handlers: Mapping[str, Callable[[dict[str, Any]], HttpAnswer]] = {
            "CreateModelCustomizationJob": lambda p: json_answer(201, control.create_job(p)),
            "GetModelCustomizationJob": lambda p: json_answer(200, control.get_job(p["jobIdentifier"])),
            "ListModelCustomizationJobs": lambda p: json_answer(200, control.list_jobs(p)),
            "StopModelCustomizationJob": lambda p: json_answer(200, control.stop_job(p["jobIdentifier"])),
            "GetCustomModel": lambda p: json_answer(200, control.get_model(p["modelIdentifier"])),
            "ListCustomModels": lambda p: json_answer(200, control.list_models(p)),
            "DeleteCustomModel": lambda p: json_answer(200, control.delete_model(p["modelIdentifier"])),
            "CreateProvisionedModelThroughput": lambda p: json_answer(201, control.create_throughput(p)),
            "GetProvisionedModelThroughput": lambda p: json_answer(
                200, control.get_throughput(p["provisionedModelId"])
            ),
            "ListProvisionedModelThroughputs": lambda p: json_answer(200, control.list_throughputs(p)),
            "DeleteProvisionedModelThroughput": lambda p: json_answer(
                200, control.delete_throughput(p["provisionedModelId"])
            ),
            "CreateCustomModelDeployment": lambda p: json_answer(202, control.create_deployment(p)),
            "GetCustomModelDeployment": lambda p: json_answer(
                200, control.get_deployment(p["customModelDeploymentIdentifier"])
            ),
            "ListCustomModelDeployments": lambda p: json_answer(200, control.list_deployments(p)),
            "DeleteCustomModelDeployment": lambda p: json_answer(
                200, control.delete_deployment(p["customModelDeploymentIdentifier"])
            ),
            "TagResource": lambda p: json_answer(200, control.tag(p["resourceARN"], p["tags"])),
            "UntagResource": lambda p: json_answer(200, control.untag(p["resourceARN"], p["tagKeys"])),
            "ListTagsForResource": lambda p: json_answer(200, control.list_tags(p["resourceARN"])),
            "GetFoundationModel": lambda p: json_answer(200, models.get(p["modelIdentifier"])),
            "ListFoundationModels": lambda p: json_answer(200, models.list(p)),
            "GetFoundationModelAvailability": lambda p: json_answer(200, models.availability(p["modelId"])),
            "GetInferenceProfile": lambda p: json_answer(
                200, models.inference_profile(p["inferenceProfileIdentifier"])
            ),
            "Converse": self._converse,
            "InvokeModel": self._invoke_model,
            "GetServiceQuota": lambda p: _json11(quotas.get(p)),
            "ListServiceQuotas": lambda p: _json11(quotas.list(p)),
            "GetAWSDefaultServiceQuota": lambda p: _json11(quotas.get(p, default=True)),
            "ListAWSDefaultServiceQuotas": lambda p: _json11(quotas.list(p, default=True)),
        }

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> HttpAnswer:
        split = urlsplit(target)
        operation, model = "Unknown", ""
        amz_target = next((value for key, value in headers.items() if key.lower() == "x-amz-target"), None)
        json_protocol = amz_target is not None
        labels: dict[str, str] = {}
        try:
            if amz_target is not None:
                route = match_target(amz_target)
            else:
                route, labels = match_route(method, split.path)
            operation = route.name
            model = labels.get("modelId", "")
            with self.lock:
                self.calls[(operation, model)] += 1
            params = self._params(route, labels, split.query, headers, body)
            return self._handlers[operation](params)
        except ApiError as error:
            with self.lock:
                self.errors[(operation, model, error.code)] += 1
            return error_answer(error, json_protocol=json_protocol)
        except Exception as error:  # a bug in the stand-in must still answer in the AWS error shape
            LOGGER.exception("stand-in failed on %s %s", method, target)
            with self.lock:
                self.errors[(operation, model, "InternalServerException")] += 1
            code = "ServiceException" if json_protocol else "InternalServerException"
            return error_answer(ApiError(code, f"stand-in error: {error!r}"), json_protocol=json_protocol)

    @staticmethod
    def _params(
        route: Route, labels: Mapping[str, str], query: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        params = parse_request(route, labels, parse_qs(query, keep_blank_values=True), headers, body)
        validate(route.operation.input_shape, params)
        return params

    def _converse(self, params: dict[str, Any]) -> HttpAnswer:
        started = time.monotonic()
        target = self.runtime.resolve(params["modelId"])
        prompt = self.runtime.converse_prompt(params)
        text, stop_reason, output_tokens = self.runtime.answer(target, prompt)
        latency = round((time.monotonic() - started) * 1000)
        return json_answer(
            200,
            {
                "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": stop_reason,
                "usage": {
                    "inputTokens": prompt.input_tokens,
                    "outputTokens": output_tokens,
                    "totalTokens": prompt.input_tokens + output_tokens,
                },
                "metrics": {"latencyMs": latency},
            },
        )

    def _invoke_model(self, params: dict[str, Any]) -> HttpAnswer:
        started = time.monotonic()
        content_type = params.get("contentType", "application/json")
        if not content_type.startswith("application/json"):
            raise ApiError("ValidationException", f"The stand-in accepts application/json bodies, not {content_type}.")
        target = self.runtime.resolve(params["modelId"])
        prompt = self.runtime.anthropic_prompt(params.get("body"))
        text, stop_reason, output_tokens = self.runtime.answer(target, prompt)
        latency = round((time.monotonic() - started) * 1000)
        document = {
            "id": message_id(),
            "type": "message",
            "role": "assistant",
            "model": target.model_id,
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt.input_tokens, "output_tokens": output_tokens},
        }
        # Bedrock reports counts and latency in these response headers too.
        headers = {
            "X-Amzn-Bedrock-Input-Token-Count": str(prompt.input_tokens),
            "X-Amzn-Bedrock-Output-Token-Count": str(output_tokens),
            "X-Amzn-Bedrock-Invocation-Latency": str(latency),
        }
        answer = json_answer(200, {}, headers)
        return HttpAnswer(answer.status, answer.headers, json.dumps(document).encode())


def _json11(document: dict[str, Any]) -> HttpAnswer:
    """A json-protocol (x-amz-json-1.1) success answer."""
    return json_answer(200, document, {"Content-Type": JSON_11})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    disable_nagle_algorithm = True  # headers and body go out as separate writes: without this, 40 ms per call
    server: StandInHTTPServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = self.server.app.handle(self.command, self.path, dict(self.headers.items()), body)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        LOGGER.debug("%s " + format, self.address_string(), *args)


class StandInHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server on loopback carrying the application."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # the evaluation opens many connections at once

    def __init__(self, app: Application, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.app = app
