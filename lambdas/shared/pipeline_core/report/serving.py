"""How the candidate was served during its evaluation and what serving it cost, as every report states it.

Two kinds (contracts.SERVING_*): an on-demand custom model deployment, billed per token and nothing while idle,
whose cost shows in the report's cost per 1,000 requests when the settings give an on-demand custom-model price;
or a no-commitment Provisioned Throughput, billed per model unit for every hour it exists, whose hours so far and
their cost the report states when the settings give a model-unit price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline_core import contracts
from pipeline_core.metrics.operational import TokenPrice

ON_DEMAND_DESCRIPTION = "on-demand custom model deployment"
SECONDS_PER_HOUR = 3600


def billed_hours(created_at: datetime, until: datetime) -> int:
    """Whole hours a no-commitment Provisioned Throughput has billed from its creation to `until`.

    AWS bills it by the hour, every started hour as a whole one, so 60 minutes is 1 hour and 61 minutes is 2;
    a throughput that exists has started its first hour, so it is never fewer than 1.
    """
    seconds = (until - created_at).total_seconds()
    return max(1, math.ceil(seconds / SECONDS_PER_HOUR))


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{where} must be a number of at least 0, not {value!r}")
    return float(value)


def custom_model_price(run: Mapping[str, Any]) -> tuple[TokenPrice | None, str | None, str | None]:
    """The on-demand custom-model token price of the run's base model, with its source and date; Nones without one.

    `run.pricing.custom_models = {"models": {runtime_model_id: {"input_per_1k", "output_per_1k"}}, "source", "date"}`
    (settings pricing.onDemandCustomModel).
    """
    pricing = run.get("pricing") or {}
    section = pricing.get("custom_models") if isinstance(pricing, Mapping) else None
    if not isinstance(section, Mapping):
        return None, None, None
    models = section.get("models") or {}
    price = models.get(str(run.get("runtime_model_id"))) if isinstance(models, Mapping) else None
    if not isinstance(price, Mapping):
        return None, None, None
    where = f"run.pricing.custom_models.models[{run.get('runtime_model_id')!r}]"
    token_price = TokenPrice(
        _number(price.get("input_per_1k"), f"{where}.input_per_1k"),
        _number(price.get("output_per_1k"), f"{where}.output_per_1k"),
    )
    source, date = section.get("source"), section.get("date")
    return token_price, None if source is None else str(source), None if date is None else str(date)


@dataclass(frozen=True)
class ServingInfo:
    """How the candidate was served; the cost fields are None where the settings give no price."""

    kind: str  # contracts.SERVING_PROVISIONED or contracts.SERVING_ON_DEMAND
    model_units: int | None = None  # Provisioned Throughput only
    created_at: str | None = None  # when the throughput or deployment was created (ISO 8601)
    reported_at: str | None = None  # when the report was made: the end of the hours counted
    hours_billed: int | None = None
    model_unit_per_hour: float | None = None  # USD, settings pricing.modelUnitPerHour
    token_price: TokenPrice | None = None  # on demand: USD per 1K tokens, settings pricing.onDemandCustomModel
    price_source: str | None = None
    price_date: str | None = None

    @classmethod
    def from_state(cls, run: Mapping[str, Any], throughput: Mapping[str, Any], reported_at: datetime) -> ServingInfo:
        """From the run spec and `$.throughput`; a `$.throughput` without `kind` predates on-demand serving."""
        kind = str(throughput.get("kind") or contracts.SERVING_PROVISIONED)
        if kind not in (contracts.SERVING_PROVISIONED, contracts.SERVING_ON_DEMAND):
            raise ValueError(f"$.throughput.kind {kind!r} is neither of the two serving modes")
        created_raw = throughput.get("created_at")
        created = datetime.fromisoformat(str(created_raw)) if created_raw else None
        if created is not None and created.tzinfo is None:
            raise ValueError(f"$.throughput.created_at {created_raw!r} has no time zone")
        when = reported_at.isoformat(timespec="seconds")
        if kind == contracts.SERVING_ON_DEMAND:
            price, source, date = custom_model_price(run)
            return cls(
                kind,
                created_at=None if created is None else str(created_raw),
                reported_at=when,
                token_price=price,
                price_source=source,
                price_date=date,
            )
        pricing = run.get("pricing") or {}
        per_hour = pricing.get("model_unit_per_hour") if isinstance(pricing, Mapping) else None
        units = (run.get("throughput") or {}).get("model_units")
        source = pricing.get("source") if isinstance(pricing, Mapping) and per_hour is not None else None
        date = pricing.get("date") if isinstance(pricing, Mapping) and per_hour is not None else None
        return cls(
            kind,
            model_units=None if units is None else int(units),
            created_at=None if created is None else str(created_raw),
            reported_at=when,
            hours_billed=None if created is None else billed_hours(created, reported_at),
            model_unit_per_hour=None if per_hour is None else _number(per_hour, "run.pricing.model_unit_per_hour"),
            price_source=None if source is None else str(source),
            price_date=None if date is None else str(date),
        )

    @property
    def on_demand(self) -> bool:
        return self.kind == contracts.SERVING_ON_DEMAND

    @property
    def description(self) -> str:
        """ "on-demand custom model deployment" or "Provisioned Throughput, N model units"."""
        if self.on_demand:
            return ON_DEMAND_DESCRIPTION
        if self.model_units is None:
            return "Provisioned Throughput"
        return f"Provisioned Throughput, {self.model_units} model unit{'' if self.model_units == 1 else 's'}"

    @property
    def throughput_cost_usd(self) -> float | None:
        """Hours billed so far x model units x the price per model unit per hour; None without all three."""
        if self.hours_billed is None or self.model_units is None or self.model_unit_per_hour is None:
            return None
        return self.hours_billed * self.model_units * self.model_unit_per_hour

    def sentences(self) -> list[str]:
        """What the Markdown and HTML reports say about serving, one sentence per item."""
        article = "an " if self.on_demand else ""
        said = [f"The fine-tuned model was served by {article}{self.description}."]
        priced = f" ({self.price_source or 'source not given'}, read {self.price_date or 'on an unknown date'})"
        if self.on_demand:
            said.append("It is billed per token and costs nothing while idle.")
            if self.token_price is None:
                said.append(
                    "Its cost per 1,000 requests is n/a: no on-demand custom-model price is set for this base "
                    "model (pricing.onDemandCustomModel)."
                )
            else:
                p = self.token_price
                said.append(
                    f"Its cost per 1,000 requests uses ${p.input_per_1k:g} / ${p.output_per_1k:g} per 1,000 input / "
                    f"output tokens{priced}."
                )
            return said
        if self.hours_billed is None:
            said.append("Hours billed: n/a (the throughput's creation time is not known).")
            return said
        said.append(
            f"Hours billed by the time of this report: {self.hours_billed} (from {self.created_at} to "
            f"{self.reported_at}; every started hour is billed as a whole one). It bills until it is deleted."
        )
        cost = self.throughput_cost_usd
        if cost is None:
            said.append("Their cost: n/a (no price per model unit per hour is set: pricing.modelUnitPerHour).")
        else:
            said.append(
                f"Their cost: ${cost:.2f} ({self.hours_billed} h x {self.model_units} model units x "
                f"${self.model_unit_per_hour:g} per model unit per hour{priced})."
            )
        return said

    def to_dict(self) -> dict[str, Any]:
        price = self.token_price
        return {
            "mode": self.kind,
            "description": self.description,
            "model_units": self.model_units,
            "created_at": self.created_at,
            "reported_at": self.reported_at,
            "hours_billed": self.hours_billed,
            "model_unit_per_hour_usd": self.model_unit_per_hour,
            "throughput_cost_usd": self.throughput_cost_usd,
            "token_price_per_1k": None
            if price is None
            else {"input": price.input_per_1k, "output": price.output_per_1k},
            "price_source": self.price_source,
            "price_date": self.price_date,
        }
