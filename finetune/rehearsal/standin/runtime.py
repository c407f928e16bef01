"""Simulated bedrock-runtime: Converse and InvokeModel answered by models of configurable accuracy."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from pipeline_core.contracts import TAG_APPROVED
from pipeline_core.models import CATALOGUE, LifecycleStatus

from .config import SimulationConfig, unit_hash
from .control_plane import ACTIVE, IN_SERVICE, ControlPlane, CustomModel
from .foundation_models import END_OF_LIFE_MESSAGE
from .protocol import ApiError

_ARN = re.compile(r"arn:aws[^:]*:bedrock:(?P<region>[^:]*):(?P<account>\d*):(?P<kind>[a-z-]+)/(?P<rest>.+)")
_CROSS_REGION_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.")
_WORD = re.compile(r"[a-z0-9]+")
_WRONG_ANSWERS = ("simulated wrong answer", "incorrect reply", "xyzzy plugh", "qqq zzz")


def estimate_tokens(text: str) -> int:
    """Token estimate used for usage counts: characters / 4, rounded up."""
    return math.ceil(len(text) / 4)


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def wrong_answer(reference: str) -> str:
    """An answer sharing no word with the reference, so its token F1 against it is 0."""
    taken = _words(reference)
    for candidate in _WRONG_ANSWERS:
        if not _words(candidate) & taken:
            return candidate
    return "-"  # no alphanumeric token at all


@dataclasses.dataclass(frozen=True)
class ModelTarget:
    """What a runtime modelId resolved to: the simulated model and its throughput limit."""

    model_id: str  # as the caller named it (decoded)
    simulation_key: str  # "candidate" or the on-demand runtime id: decides answers, with the seed and the prompt
    accuracy: float
    latency_ms: float
    bucket_key: str
    rate: float | None  # requests per second for the token bucket


@dataclasses.dataclass(frozen=True)
class Prompt:
    """The parts of a request the simulation looks at."""

    system: str
    texts: tuple[tuple[str, str], ...]  # (role, text) in order
    max_tokens: int | None

    @property
    def last_user_text(self) -> str:
        return next((text for role, text in reversed(self.texts) if role == "user"), "")

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps([self.system, self.texts]).encode()).hexdigest()

    @property
    def input_tokens(self) -> int:
        return estimate_tokens(self.system + "".join(text for _, text in self.texts))


@dataclasses.dataclass
class _Bucket:
    tokens: float
    stamp: float


class AnswerKey:
    """Reference answers indexed by last-user-message text, learned from dataset records (thread-safe)."""

    def __init__(self) -> None:
        self._answers: dict[str, str] = {}
        self._lock = threading.Lock()

    def learn(self, records: Iterable[Mapping[str, Any] | str]) -> int:
        """Index records (Claude messages, Converse or prompt/completion formats, dicts or JSON lines)."""
        learned = 0
        for record in records:
            parsed = json.loads(record) if isinstance(record, str) else record
            pair = _prompt_and_answer(parsed)
            if pair is not None:
                with self._lock:
                    self._answers[pair[0].strip()] = pair[1]
                learned += 1
        return learned

    def get(self, prompt: str) -> str | None:
        with self._lock:
            return self._answers.get(prompt.strip())

    def __len__(self) -> int:
        with self._lock:
            return len(self._answers)


def _text_of(content: Any) -> str:
    """Text of a message content: a string, Claude blocks (``{"type":"text","text"}``) or Converse blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(block.get("text", "")) for block in content if isinstance(block, Mapping) and "text" in block
        )
    return ""


def _prompt_and_answer(record: Any) -> tuple[str, str] | None:
    if not isinstance(record, Mapping):
        return None
    if isinstance(record.get("prompt"), str) and isinstance(record.get("completion"), str):
        return record["prompt"], record["completion"]
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    last = messages[-1]
    if not isinstance(last, Mapping) or last.get("role") != "assistant":
        return None
    users = [message for message in messages[:-1] if isinstance(message, Mapping) and message.get("role") == "user"]
    if not users:
        return None
    return _text_of(users[-1].get("content")), _text_of(last.get("content"))


class Runtime:
    """The runtime simulation: model resolution, throttling, fault injection, answers and call counters."""

    def __init__(self, config: SimulationConfig, control: ControlPlane, answers: AnswerKey) -> None:
        self.config = config
        self.control = control
        self.answers = answers
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._attempts: Counter[tuple[str, str]] = Counter()

    # ---- model resolution ------------------------------------------------------------------------------------
    def resolve(self, raw_model_id: str) -> ModelTarget:
        model_id = unquote(raw_model_id)
        config = self.config
        found = _ARN.fullmatch(model_id)
        if found and found["kind"] == "provisioned-model":
            throughput = self.control.find_throughput(model_id)
            if throughput is None:
                raise ApiError("ResourceNotFoundException", f"Provisioned model {model_id} not found.")
            if throughput.status != IN_SERVICE:
                raise ApiError(
                    "ValidationException", f"Provisioned model {model_id} is {throughput.status}, not InService."
                )
            rate = None if config.rps_per_model_unit is None else config.rps_per_model_unit * throughput.model_units
            return self._candidate(model_id, rate, throughput.model)
        if found and found["kind"] == "custom-model-deployment":
            # A deployed custom model answers exactly as a provisioned one: the candidate. Its rate limit is the
            # on-demand one, as it is billed and throttled per request, not per model unit.
            deployment = self.control.find_deployment(model_id)
            if deployment is None:
                raise ApiError("ResourceNotFoundException", f"Custom model deployment {model_id} not found.")
            if deployment.status != ACTIVE:
                raise ApiError(
                    "ValidationException", f"Custom model deployment {model_id} is {deployment.status}, not Active."
                )
            return self._candidate(model_id, config.on_demand_rps, deployment.model)
        if (found and found["kind"] == "custom-model") or self.control.find_model(model_id) is not None:
            raise ApiError(
                "ValidationException",
                "Invocation of a custom model with on-demand throughput isn't supported; "
                "purchase Provisioned Throughput or deploy the model, and use the provisioned model or deployment ARN.",
            )
        if found and found["kind"] in ("foundation-model", "inference-profile"):
            model_id = found["rest"]
        elif found:
            raise ApiError("ValidationException", "The provided model identifier is invalid.")
        return self._on_demand(model_id)

    def _candidate(self, model_id: str, rate: float | None, model: CustomModel | None = None) -> ModelTarget:
        """The fine-tuned model behind a provisioned model or deployment ARN: the ``"candidate"`` simulation key."""
        config = self.config
        accuracy = config.accuracy.get(model_id, config.accuracy.get("candidate", config.default_accuracy))
        if "weaker-than-champion" in config.faults and model is not None and self._challenger(model):
            # A later run's model, while a promoted one serves: three quarters of the way from base to the champion,
            # so it beats base but loses to the champion (the same draws decide, so it is right only where the
            # champion is).
            base = config.accuracy.get("base", config.default_accuracy)
            accuracy = base + (accuracy - base) * 3 / 4
        if "worse-candidate" in config.faults:
            base = config.accuracy.get("base", config.default_accuracy)
            accuracy = max(0.0, min(accuracy, base - config.worse_candidate_margin))
        latency = config.latency_ms.get(model_id, config.latency_ms.get("candidate", config.default_latency_ms))
        return ModelTarget(model_id, "candidate", accuracy, latency, model_id, rate)

    def _challenger(self, model: CustomModel) -> bool:
        """Whether ``model`` is not approved while another custom model is (Promote tags what it promotes)."""
        approved = [m for m in self.control.custom_models_snapshot() if m.tags.get(TAG_APPROVED) == "true"]
        return model.tags.get(TAG_APPROVED) != "true" and any(m.arn != model.arn for m in approved)

    def _on_demand(self, model_id: str) -> ModelTarget:
        config = self.config
        plain = model_id
        for prefix in _CROSS_REGION_PREFIXES:
            if model_id.startswith(prefix):
                plain = model_id[len(prefix) :]
        keys = [key for key in (model_id, plain) if key in config.accuracy]
        is_base = plain in config.base_runtime_ids
        if is_base:
            self._check_base_invocable(model_id, plain)
        if keys:
            accuracy = config.accuracy[keys[0]]
        elif is_base:
            accuracy = config.accuracy.get("base", config.default_accuracy)
        elif plain in config.on_demand_models or model_id in config.on_demand_models:
            accuracy = config.default_accuracy
        else:
            raise ApiError("ValidationException", "The provided model identifier is invalid.")
        latency_keys = [key for key in (model_id, plain) if key in config.latency_ms]
        if latency_keys:
            latency = config.latency_ms[latency_keys[0]]
        else:
            latency = config.latency_ms.get("base", config.default_latency_ms) if is_base else config.default_latency_ms
        return ModelTarget(model_id, plain, accuracy, latency, f"on-demand:{plain}", config.on_demand_rps)

    def _check_base_invocable(self, model_id: str, plain: str) -> None:
        """A base model answers only while it lives, and only by inference profile when it has no in-Region
        on-demand inference (Nova 2 Lite: docs.aws.amazon.com/bedrock/latest/userguide/model-card-amazon-nova-2-lite,
        read 2026-12-01)."""
        state = self.control.foundation_models.lifecycle(plain)
        if state is not None and state.status is LifecycleStatus.END_OF_LIFE:
            raise ApiError("ResourceNotFoundException", END_OF_LIFE_MESSAGE)
        profile_only = any(
            model.foundation_model_id == plain and model.runtime_model_id != plain for model in CATALOGUE.values()
        )
        if profile_only and model_id == plain:
            raise ApiError(
                "ValidationException",
                f"Invocation of model ID {plain} with on-demand throughput isn't supported. Retry your request with "
                "the ID or ARN of an inference profile that contains this model.",
            )

    # ---- request bodies --------------------------------------------------------------------------------------
    @staticmethod
    def converse_prompt(params: Mapping[str, Any]) -> Prompt:
        messages = params.get("messages")
        if not messages:
            raise ApiError("ValidationException", "A conversation must start with a user message (messages is empty).")
        texts: list[tuple[str, str]] = []
        for message in messages:
            for block in message["content"]:
                if "text" not in block:
                    raise ApiError("ValidationException", "The stand-in supports text content blocks only.")
            texts.append((message["role"], _text_of(message["content"])))
        if texts[0][0] != "user":
            raise ApiError("ValidationException", "A conversation must start with a user message.")
        system = "".join(block.get("text", "") for block in params.get("system", []))
        max_tokens = params.get("inferenceConfig", {}).get("maxTokens")
        return Prompt(system, tuple(texts), max_tokens)

    @staticmethod
    def anthropic_prompt(body: bytes | str | None) -> Prompt:
        """Parse an Anthropic Messages body.

        Shape: docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html
        """

        def malformed(detail: str) -> ApiError:
            return ApiError(
                "ValidationException", f"Malformed input request: {detail}, please reformat your input and try again."
            )

        try:
            document = json.loads(body or b"")
        except ValueError:
            raise malformed("the body is not JSON") from None
        if not isinstance(document, dict):
            raise malformed("#: expected type: JSONObject")
        for key in ("anthropic_version", "max_tokens", "messages"):
            if key not in document:
                raise malformed(f"#: required key [{key}] not found")
        max_tokens = document["max_tokens"]
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise malformed("#/max_tokens: expected a positive integer")
        messages = document["messages"]
        if not isinstance(messages, list) or not messages:
            raise malformed("#/messages: expected a non-empty array")
        texts: list[tuple[str, str]] = []
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise malformed(f"#/messages/{index}/role: must be user or assistant")
            content = message.get("content")
            if not isinstance(content, str | list):
                raise malformed(f"#/messages/{index}/content: expected a string or an array")
            texts.append((message["role"], _text_of(content)))
        if texts[0][0] != "user":
            raise malformed("#/messages/0/role: the first message must use the user role")
        return Prompt(_text_of(document.get("system", "")), tuple(texts), max_tokens)

    # ---- the simulation --------------------------------------------------------------------------------------
    def answer(self, target: ModelTarget, prompt: Prompt) -> tuple[str, str, int]:
        """Throttle and inject faults, sleep the model's latency, then answer: (text, stop reason, output tokens)."""
        key = (target.bucket_key, prompt.fingerprint)
        with self._lock:
            self._attempts[key] += 1
            attempt = self._attempts[key]
            self._take_token(target)
        self._inject_faults(target, prompt, attempt)
        if target.latency_ms > 0:
            time.sleep(target.latency_ms / 1000)
        question = prompt.last_user_text
        reference = self.answers.get(question)
        if reference is None and self.config.answer_key is not None:
            reference = self.config.answer_key(question)
        if reference is None:
            text = self.config.unknown_answer
        elif unit_hash(self.config.seed, "correct", target.simulation_key, question) < target.accuracy:
            text = reference
        else:
            text = wrong_answer(reference)
        stop_reason = "end_turn"
        if prompt.max_tokens is not None and estimate_tokens(text) > prompt.max_tokens:
            text, stop_reason = text[: prompt.max_tokens * 4], "max_tokens"
        return text, stop_reason, estimate_tokens(text)

    def _take_token(self, target: ModelTarget) -> None:
        if target.rate is None:
            return
        moment = time.monotonic()
        capacity = max(1.0, target.rate)
        bucket = self._buckets.setdefault(target.bucket_key, _Bucket(capacity, moment))
        bucket.tokens = min(capacity, bucket.tokens + (moment - bucket.stamp) * target.rate)
        bucket.stamp = moment
        if bucket.tokens < 1.0:
            raise ApiError("ThrottlingException", "Too many requests, please wait before trying again.")
        bucket.tokens -= 1.0

    def _inject_faults(self, target: ModelTarget, prompt: Prompt, attempt: int) -> None:
        config = self.config
        # Keyed by the simulated model ("candidate", or the on-demand id), not by the throughput's ARN, whose id is
        # random: the same seed and data inject the same faults in every run.
        draw = (config.seed, target.simulation_key, prompt.fingerprint)
        if "throttle-burst" in config.faults and attempt == 1 and unit_hash(*draw, "throttle") < config.throttle_share:
            raise ApiError("ThrottlingException", "Too many requests, please wait before trying again.")
        if "runtime-errors" in config.faults and unit_hash(*draw, "error") < config.runtime_error_share:
            if unit_hash(*draw, "persistent") < config.persistent_error_share:
                raise ApiError(
                    "ModelErrorException",
                    "The model returned an error (fault runtime-errors, persistent for this prompt).",
                    extra={"originalStatusCode": 500, "resourceName": target.model_id},
                )
            if attempt == 1:
                if unit_hash(*draw, "kind") < 0.5:
                    raise ApiError("InternalServerException", "An internal server error occurred. Retry your request.")
                raise ApiError("ServiceUnavailableException", "The service is unavailable. Try again later.")


def message_id() -> str:
    return "msg_bdrk_" + secrets.token_hex(12)
