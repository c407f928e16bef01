"""The server side of Bedrock's rest-json protocol and Service Quotas' json protocol: routes, request parsing and
validation from botocore's service models."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.utils import parse_timestamp

#: Operations the stand-in answers, per botocore service name.
EMULATED_OPERATIONS: Mapping[str, tuple[str, ...]] = {
    "bedrock": (
        "CreateModelCustomizationJob",
        "GetModelCustomizationJob",
        "ListModelCustomizationJobs",
        "StopModelCustomizationJob",
        "GetCustomModel",
        "ListCustomModels",
        "DeleteCustomModel",
        "CreateProvisionedModelThroughput",
        "GetProvisionedModelThroughput",
        "ListProvisionedModelThroughputs",
        "DeleteProvisionedModelThroughput",
        "CreateCustomModelDeployment",
        "GetCustomModelDeployment",
        "ListCustomModelDeployments",
        "DeleteCustomModelDeployment",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
        "GetFoundationModel",
        "ListFoundationModels",
        "GetFoundationModelAvailability",
        "GetInferenceProfile",
    ),
    "bedrock-runtime": ("Converse", "InvokeModel"),
    "service-quotas": (
        "GetServiceQuota",
        "ListServiceQuotas",
        "GetAWSDefaultServiceQuota",
        "ListAWSDefaultServiceQuotas",
    ),
}
#: The services whose operations are routed by method and path (rest-json); the others by X-Amz-Target (json).
REST_SERVICES = ("bedrock", "bedrock-runtime")

SIMULATED_SUFFIX = " (simulated Bedrock stand-in)"
JSON_11 = "application/x-amz-json-1.1"


class ApiError(Exception):
    """An AWS error answer: its code (the error shape's name), message and, from the service model, HTTP status."""

    def __init__(self, code: str, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.extra = dict(extra or {})


@dataclasses.dataclass(frozen=True)
class Route:
    """One emulated operation: its HTTP method and a regex over the raw (still percent-encoded) path."""

    service: str
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]

    @property
    def name(self) -> str:
        return str(self.operation.name)

    @property
    def json_protocol(self) -> bool:
        """True for the json protocol (Service Quotas): errors carry ``__type`` and the body is x-amz-json-1.1."""
        return self.service not in REST_SERVICES


@dataclasses.dataclass(frozen=True)
class HttpAnswer:
    """A complete HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@functools.cache
def service_model(service: str) -> ServiceModel:
    """botocore's service model of an emulated service (the installed botocore's own data)."""
    return botocore.session.get_session().get_service_model(service)


@functools.cache
def error_statuses() -> Mapping[str, int]:
    """HTTP status of every error shape of both services, as the service models declare it."""
    statuses: dict[str, int] = {}
    for service in EMULATED_OPERATIONS:
        for shape in service_model(service).error_shapes:
            statuses[shape.name] = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    return statuses


@functools.cache
def routes() -> tuple[Route, ...]:
    """The route table of the emulated operations, built from their ``requestUri`` templates."""
    table: list[Route] = []
    for service in REST_SERVICES:
        names = EMULATED_OPERATIONS[service]
        model = service_model(service)
        for name in names:
            operation = model.operation_model(name)
            uri = operation.http["requestUri"].split("?")[0]
            regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(uri))
            table.append(Route(service, operation, operation.http["method"], re.compile(f"^{regex}$")))
    return tuple(table)


@functools.cache
def all_paths() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Every route of both services (emulated or not), to tell an unemulated operation from an unknown path."""
    table: list[tuple[str, re.Pattern[str]]] = []
    for service in REST_SERVICES:
        model = service_model(service)
        for name in model.operation_names:
            operation = model.operation_model(name)
            uri = operation.http["requestUri"].split("?")[0]
            regex = re.sub(r"\\\{(\w+)\+?\\\}", r"[^?]+", re.escape(uri))
            table.append((name, re.compile(f"^{regex}$")))
    return tuple(table)


def match_route(method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
    """The route for a request, with its URI labels decoded; ApiError when nothing matches."""
    for route in routes():
        found = route.pattern.match(raw_path)
        if found and route.method == method:
            return route, {label: unquote(value) for label, value in found.groupdict().items()}
    for name, pattern in all_paths():
        if pattern.match(raw_path):
            raise ApiError("NotImplemented", f"the stand-in does not emulate {name}")
    raise ApiError("UnknownOperationException", f"no operation matches {method} {raw_path}")


@functools.cache
def json_targets() -> Mapping[str, Route]:
    """The json-protocol operations by their ``X-Amz-Target`` header (``ServiceQuotasV20190624.GetServiceQuota``)."""
    table: dict[str, Route] = {}
    for service, names in EMULATED_OPERATIONS.items():
        if service in REST_SERVICES:
            continue
        model = service_model(service)
        for name in names:
            operation = model.operation_model(name)
            route = Route(service, operation, operation.http["method"], re.compile("^/$"))
            table[f"{model.metadata['targetPrefix']}.{name}"] = route
    return table


def match_target(target: str) -> Route:
    """The json-protocol route named by an ``X-Amz-Target`` header; ApiError when it is not emulated."""
    route = json_targets().get(target)
    if route is None:
        raise ApiError("UnknownOperationException", f"the stand-in does not emulate {target}")
    return route


def parse_request(
    route: Route,
    labels: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The operation's input parameters (botocore's names) from the HTTP request."""
    shape = route.operation.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    payload = shape.serialization.get("payload")
    lower_headers = {key.lower(): value for key, value in headers.items()}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and wire_name in labels:
            params[name] = labels[wire_name]
        elif location == "querystring" and wire_name in query:
            params[name] = _from_query(member, query[wire_name], wire_name)
        elif location == "header" and wire_name.lower() in lower_headers:
            params[name] = lower_headers[wire_name.lower()]
    if payload:
        if body:
            params[payload] = body
        return params
    if body.strip():
        try:
            document = json.loads(body)
        except ValueError as error:
            raise ApiError("ValidationException", f"the request body is not valid JSON: {error}") from None
        if not isinstance(document, dict):
            raise ApiError("ValidationException", "the request body must be a JSON object")
        for name, member in shape.members.items():
            if member.serialization.get("location") is None and name in document:
                params[name] = document[name]
    return params


def _from_query(member: Shape, values: list[str], wire_name: str) -> Any:
    value = values[-1]
    try:
        if member.type_name in ("integer", "long"):
            return int(value)
        if member.type_name == "boolean":
            if value not in ("true", "false"):
                raise ValueError(value)
            return value == "true"
        if member.type_name == "timestamp":
            return parse_timestamp(value)
        if member.type_name == "list":
            return list(values)
    except (ValueError, TypeError):
        raise ApiError("ValidationException", f"invalid value {value!r} for query parameter {wire_name}") from None
    return value


def validate(shape: Shape | None, params: Mapping[str, Any]) -> None:
    """Check params against the input shape like an AWS front end: required, types, lengths, ranges, enums, patterns."""
    if shape is None:
        return
    errors: list[str] = []
    _check(shape, params, "", errors)
    if errors:
        count = len(errors)
        raise ApiError(
            "ValidationException",
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(errors),
        )


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    at = f"at '{path}' failed to satisfy constraint: Member must"
    if kind == "structure":
        if not isinstance(value, dict):
            errors.append(f"Value {at} be a structure")
            return
        for required in shape.required_members:
            if value.get(required) is None:
                errors.append(
                    f"Value null at '{_join(path, required)}' failed to satisfy constraint: Member must not be null"
                )
        present = [name for name in shape.members if value.get(name) is not None]
        if meta.get("union") and len(present) != 1:
            errors.append(f"Value {at} have exactly one member set, found {len(present)}")
        for name in present:
            _check(shape.members[name], value[name], _join(path, name), errors)
    elif kind == "list":
        if not isinstance(value, list):
            errors.append(f"Value {at} be a list")
            return
        _check_size(len(value), meta, at, errors)
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{path}.{index}.member", errors)
    elif kind == "map":
        if not isinstance(value, dict):
            errors.append(f"Value {at} be a map")
            return
        _check_size(len(value), meta, at, errors)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.{key}.key", errors)
            _check(shape.value, item, f"{path}.{key}.value", errors)
    elif kind == "string":
        if not isinstance(value, str):
            errors.append(f"Value {at} be a string")
            return
        shown = f"'{value}'" if len(value) <= 256 and not meta.get("sensitive") else "(hidden)"
        at = f"{shown} {at}"
        _check_size(len(value), meta, f"Value {at}", errors, prefixed=True)
        if shape.enum and value not in shape.enum:
            errors.append(f"Value {at} satisfy enum value set: [{', '.join(shape.enum)}]")
        pattern = meta.get("pattern")
        if pattern and len(value) <= 4096:
            compiled = _compiled(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                errors.append(f"Value {at} satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"Value {at} be an integer")
            return
        _check_range(value, meta, f"Value '{value}' {at}", errors)
    elif kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            errors.append(f"Value {at} be a number")
            return
        _check_range(value, meta, f"Value '{value}' {at}", errors)
    elif kind == "boolean" and not isinstance(value, bool):
        errors.append(f"Value {at} be a boolean")
    elif kind == "blob" and not isinstance(value, bytes | str):
        errors.append(f"Value {at} be a blob")
    elif kind == "timestamp" and not isinstance(value, dt.datetime):
        try:
            parse_timestamp(value)
        except (ValueError, TypeError):
            errors.append(f"Value {at} be a timestamp")


def _check_size(size: int, meta: Mapping[str, Any], at: str, errors: list[str], *, prefixed: bool = False) -> None:
    lead = at if prefixed else f"Value {at}"
    if "min" in meta and size < meta["min"]:
        errors.append(f"{lead} have length greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        errors.append(f"{lead} have length less than or equal to {meta['max']}")


def _check_range(value: float, meta: Mapping[str, Any], at: str, errors: list[str]) -> None:
    if "min" in meta and value < meta["min"]:
        errors.append(f"{at} have value greater than or equal to {meta['min']}")
    if "max" in meta and value > meta["max"]:
        errors.append(f"{at} have value less than or equal to {meta['max']}")


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    # The models' patterns are ECMAScript regexes; the few Python can't compile are skipped, not guessed at.
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime):
        return iso8601(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def iso8601(moment: dt.datetime) -> str:
    """The service models declare ``timestampFormat: iso8601``: UTC with milliseconds and a Z."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def request_id() -> str:
    return str(uuid.uuid4())


def json_answer(status: int, document: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> HttpAnswer:
    """A rest-json success answer."""
    body = json.dumps(_drop_none(document), default=_json_default).encode()
    return HttpAnswer(
        status,
        {"Content-Type": "application/json", "x-amzn-RequestId": request_id(), **(headers or {})},
        body,
    )


def error_answer(error: ApiError, *, json_protocol: bool = False) -> HttpAnswer:
    """An error answer: ``x-amzn-errortype`` names the code, the JSON body carries ``message`` (and, for the json
    protocol, the code again as ``__type``)."""
    status = error_statuses().get(error.code, 501 if error.code == "NotImplemented" else 404)
    if error.code == "UnknownOperationException":
        status = 404
    message = error.message if error.message.endswith(SIMULATED_SUFFIX) else error.message + SIMULATED_SUFFIX
    document: dict[str, Any] = {"message": message, **error.extra}
    if json_protocol:
        document = {"__type": error.code, **document}
    headers = {
        "Content-Type": JSON_11 if json_protocol else "application/json",
        "x-amzn-RequestId": request_id(),
        "x-amzn-errortype": f"{error.code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
    }
    return HttpAnswer(status, headers, json.dumps(document).encode())


def _drop_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _drop_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_none(item) for item in value]
    return value
