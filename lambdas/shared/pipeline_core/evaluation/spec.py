"""Reads the evaluation part of the run spec (`$.run.evaluation`, `$.run.pricing`) into typed settings.

Both evaluation handlers read it: `evaluate` for batching and calling, `aggregate` for metrics, gate and prices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_core.metrics.gate import ChampionThresholds, GateThresholds
from pipeline_core.metrics.operational import TokenPrice
from pipeline_core.metrics.registry import METRICS

# Not among the synth-time settings yet: 20 examples x 3 models at concurrency 4 is about 15 rounds of calls,
# well inside a Lambda's 15 minutes even with throttling backoff.
DEFAULT_BATCH_SIZE = 20
GATE_KEYS = (
    "min_score",
    "min_improvement_points",
    "min_improvement_percent",
    "max_p_value",
    "max_failed_share",
    "champion",
)
CHAMPION_GATE_KEYS = ("enabled", "min_improvement_points", "max_p_value")
SECONDARY_METRIC = "exact_match"  # shown beside token_f1: the stricter view of the same answers
# Shown beside the primary metric: exact match beside token F1; beside TAT-QA's numeric F1, its exact match and
# plain token F1 (which rewards sign and decimal errors: the pair shows how much of a score is numbers).
SECONDARY_METRICS: dict[str, tuple[str, ...]] = {
    "token_f1": (SECONDARY_METRIC,),
    "tatqa_f1": ("tatqa_em", "token_f1"),
}


class SpecError(ValueError):
    """The run spec's evaluation settings are missing or mistyped."""


def _integer(raw: Mapping[str, Any], key: str, *, minimum: int, default: int | None = None) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise SpecError(f"run.evaluation.{key} must be an integer of at least {minimum}, got {value!r}")
    return value


def _number(raw: Mapping[str, Any], key: str, where: str) -> float:
    value = raw.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise SpecError(f"{where}.{key} must be a non-negative number, got {value!r}")
    return float(value)


def _gate(metric: str, raw: object) -> GateThresholds:
    """A key left out keeps GateThresholds' default; a key set to null switches its check off."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SpecError(f"run.evaluation.gate must be an object, got {raw!r}")
    unknown = sorted(set(raw) - set(GATE_KEYS))
    if unknown:
        raise SpecError(f"run.evaluation.gate has unknown key(s) {', '.join(unknown)}; known: {', '.join(GATE_KEYS)}")
    values: dict[str, float | None] = {}
    for key in GATE_KEYS:
        if key not in raw or key == "champion":
            continue
        value = raw[key]
        # A negative improvement threshold is legitimate: "may be at most this much worse than base".
        signed = key in ("min_improvement_points", "min_improvement_percent")
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or (value < 0 and not signed)
        ):
            raise SpecError(f"run.evaluation.gate.{key} must be {'a' if signed else 'a non-negative'} number or null")
        values[key] = None if value is None else float(value)
    default = GateThresholds(metric=metric)

    def pick(key: str) -> float | None:
        return values[key] if key in values else getattr(default, key)

    return GateThresholds(
        metric=metric,
        min_score=pick("min_score"),
        min_improvement_points=pick("min_improvement_points"),
        min_improvement_percent=pick("min_improvement_percent"),
        max_p_value=pick("max_p_value"),
        max_failed_share=pick("max_failed_share"),
        champion=_champion_gate(raw.get("champion")),
    )


def _champion_gate(raw: object) -> ChampionThresholds:
    """`run.evaluation.gate.champion`; absent (a run resolved before it existed) keeps ChampionThresholds' defaults."""
    if raw is None:
        return ChampionThresholds()
    if not isinstance(raw, Mapping):
        raise SpecError(f"run.evaluation.gate.champion must be an object, got {raw!r}")
    unknown = sorted(set(raw) - set(CHAMPION_GATE_KEYS))
    if unknown:
        known = ", ".join(CHAMPION_GATE_KEYS)
        raise SpecError(f"run.evaluation.gate.champion has unknown key(s) {', '.join(unknown)}; known: {known}")
    default = ChampionThresholds()
    enabled = raw.get("enabled", default.enabled)
    if not isinstance(enabled, bool):
        raise SpecError(f"run.evaluation.gate.champion.enabled must be true or false, got {enabled!r}")
    numbers: dict[str, float | None] = {}
    for key in ("min_improvement_points", "max_p_value"):
        value = raw.get(key, getattr(default, key))
        signed = key == "min_improvement_points"
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or (value < 0 and not signed)
        ):
            raise SpecError(
                f"run.evaluation.gate.champion.{key} must be {'a' if signed else 'a non-negative'} number or null"
            )
        numbers[key] = None if value is None else float(value)
    return ChampionThresholds(enabled, numbers["min_improvement_points"], numbers["max_p_value"])


@dataclass(frozen=True)
class Champion:
    """`run.evaluation.champion`: the model in production when the run started, as Resolve run found it."""

    model_id: (
        str | None
    )  # what applications invoke (a provisioned model or deployment ARN); None when nothing serves it
    kind: str | None  # contracts.SERVING_*
    run_name: str | None
    served: bool  # still InService / Active when the run started: only then is it evaluated
    note: str  # one sentence for the report: what was found and whether it is compared

    @classmethod
    def from_run(cls, raw: object) -> Champion | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise SpecError(f"run.evaluation.champion must be an object or null, got {raw!r}")
        served = raw.get("served")
        if not isinstance(served, bool):
            raise SpecError(f"run.evaluation.champion.served must be true or false, got {served!r}")
        model_id = raw.get("model_id")
        if served and not (isinstance(model_id, str) and model_id):
            raise SpecError("run.evaluation.champion.model_id must name the served champion")

        def text(key: str) -> str | None:
            value = raw.get(key)
            return None if value is None else str(value)

        return cls(text("model_id"), text("kind"), text("run_name"), served, str(raw.get("note") or ""))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "kind": self.kind,
            "run_name": self.run_name,
            "served": self.served,
            "note": self.note,
        }


@dataclass(frozen=True)
class EvaluationSpec:
    """How to evaluate: what to ask, how hard to push, what to measure and what passes."""

    metric: str
    max_tokens: int
    concurrency: int
    max_examples: int
    batch_size: int
    reference_models: tuple[str, ...]
    gate: GateThresholds
    champion: Champion | None = None

    @property
    def champion_to_call(self) -> str | None:
        """The champion's model id when the gate compares with it: switched on, recorded and still served."""
        if self.gate.champion.enabled and self.champion is not None and self.champion.served:
            return self.champion.model_id
        return None

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The primary metric first, then the ones shown beside it (SECONDARY_METRICS)."""
        return (self.metric, *SECONDARY_METRICS.get(self.metric, ()))

    @classmethod
    def from_run(cls, run: Mapping[str, Any]) -> EvaluationSpec:
        raw = run.get("evaluation")
        if not isinstance(raw, Mapping):
            raise SpecError("run.evaluation must be an object")
        metric = raw.get("metric")
        if metric not in METRICS:
            raise SpecError(f"run.evaluation.metric = {metric!r}; known metrics: {', '.join(METRICS)}")
        references = raw.get("reference_models") or []
        if not isinstance(references, list) or not all(isinstance(r, str) and r for r in references):
            raise SpecError("run.evaluation.reference_models must be a list of model ids")
        return cls(
            metric=str(metric),
            max_tokens=_integer(raw, "max_tokens", minimum=1),
            concurrency=_integer(raw, "concurrency", minimum=1),
            max_examples=_integer(raw, "max_examples", minimum=1),
            batch_size=_integer(raw, "batch_size", minimum=1, default=DEFAULT_BATCH_SIZE),
            reference_models=tuple(references),
            gate=_gate(str(metric), raw.get("gate")),
            champion=Champion.from_run(raw.get("champion")),
        )


@dataclass(frozen=True)
class PriceTable:
    """On-demand token prices by model id, and where they came from (shown in the report)."""

    prices: Mapping[str, TokenPrice]
    source: str | None = None
    date: str | None = None

    @classmethod
    def from_run(cls, run: Mapping[str, Any]) -> PriceTable:
        """`run.pricing = {"models": {model_id: {"input_per_1k", "output_per_1k"}}, "source", "date"}`, optional."""
        raw = run.get("pricing")
        if raw is None:
            return cls({})
        if not isinstance(raw, Mapping) or not isinstance(raw.get("models", {}), Mapping):
            raise SpecError("run.pricing must be an object with a 'models' object")
        prices: dict[str, TokenPrice] = {}
        for model_id, price in raw.get("models", {}).items():
            if not isinstance(price, Mapping):
                raise SpecError(f"run.pricing.models[{model_id!r}] must be an object")
            where = f"run.pricing.models[{model_id!r}]"
            prices[str(model_id)] = TokenPrice(
                _number(price, "input_per_1k", where), _number(price, "output_per_1k", where)
            )
        source, date = raw.get("source"), raw.get("date")
        return cls(prices, None if source is None else str(source), None if date is None else str(date))
