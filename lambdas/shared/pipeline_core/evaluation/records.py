"""Builds the Converse request for one (example, model) call and the evaluation record its answer or failure becomes.

A record is the shape `pipeline_core.report.Aggregator.add_batch` reads, plus `role` for people reading the file:
`{"id", "model", "role", "prediction", "references", "latency_ms", "input_tokens", "output_tokens", "error"}`.
A failed call keeps `error` ("<code>: <message>") and null figures, so it is counted but never scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline_core.evaluation.examples import EvaluationExample
from pipeline_core.report.model import Role

MAX_ERROR_CHARS = 500  # an error message is evidence, not a payload: keep result files small


@dataclass(frozen=True)
class ModelCall:
    """A model every example is sent to, and the part it plays in the report."""

    model_id: str  # the Converse modelId: a Provisioned Throughput ARN, a model id or an inference profile
    role: Role


def models_to_call(
    candidate: str, base: str, references: Sequence[str], champion: str | None = None
) -> tuple[ModelCall, ...]:
    """Candidate, the champion (the model in production, when it is compared), base, then each distinct reference;
    a model named twice is asked only once."""
    calls = [ModelCall(candidate, Role.CANDIDATE)]
    if champion is not None and champion not in (candidate, base):
        calls.append(ModelCall(champion, Role.CHAMPION))
    calls.append(ModelCall(base, Role.BASE))
    seen = {call.model_id for call in calls}
    for reference in references:
        if reference not in seen:
            seen.add(reference)
            calls.append(ModelCall(reference, Role.REFERENCE))
    return tuple(calls)


def converse_request(example: EvaluationExample, model_id: str, max_tokens: int) -> dict[str, Any]:
    """Keyword arguments of bedrock-runtime Converse. Temperature 0 so a re-run asks the same question the same way."""
    return {
        "modelId": model_id,
        **example.converse_arguments(),
        "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0},
    }


def _response_text(response: Mapping[str, Any]) -> str:
    content = response.get("output", {}).get("message", {}).get("content", [])
    return "".join(block["text"] for block in content if isinstance(block, dict) and isinstance(block.get("text"), str))


def answered_record(
    example: EvaluationExample, call: ModelCall, response: Mapping[str, Any], elapsed_ms: float
) -> dict[str, Any]:
    """The record of a successful Converse call.

    Latency is the service's own `metrics.latencyMs` when present: it excludes our thread pool's queueing and the
    client's network, so models are compared on what they themselves took. `elapsed_ms` (the successful attempt,
    measured by the caller) stands in when it is missing.
    """
    usage = response.get("usage", {})
    latency = response.get("metrics", {}).get("latencyMs")
    return {
        "id": example.id,
        "model": call.model_id,
        "role": call.role.value,
        "prediction": _response_text(response),
        "references": list(example.references),
        "latency_ms": float(latency) if isinstance(latency, int | float) else round(elapsed_ms, 3),
        "input_tokens": int(usage.get("inputTokens", 0)),
        "output_tokens": int(usage.get("outputTokens", 0)),
        "error": None,
    }


def failed_record(example: EvaluationExample, call: ModelCall, code: str, message: str) -> dict[str, Any]:
    """The record of a call that failed for good: never scored, counted against the model's failed share."""
    return {
        "id": example.id,
        "model": call.model_id,
        "role": call.role.value,
        "prediction": None,
        "references": list(example.references),
        "latency_ms": None,
        "input_tokens": None,
        "output_tokens": None,
        "error": f"{code}: {message}"[:MAX_ERROR_CHARS],
    }
