"""How many days a foundation model has left before its end of life, from the lifecycle Bedrock reports for it.

GetFoundationModel returns `modelDetails.modelLifecycle`: a status (ACTIVE or LEGACY) and, once the model is
Legacy, its `endOfLifeTime`. After that time the model answers ResourceNotFoundException "This model version has
reached the end of its life". Source: https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html
(read 2026-12-01): a model stays Legacy for at least 6 months before its end of life (45 days for some newer
models), and its end-of-life date is added when it enters Legacy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# What Bedrock says of a model past its end of life (the Claude 3 Haiku model card quotes it, read 2026-12-01).
END_OF_LIFE_MESSAGE = "end of its life"
_FOUNDATION_MODEL = ":foundation-model/"


class NotAFoundationModel(ValueError):
    """An ARN that names something other than a foundation model (a custom model, a throughput)."""


def foundation_model_id(model: str) -> str:
    """A customization id, foundation-model id or foundation-model ARN -> the id GetFoundationModel is asked about.

    Customization ids and the base-model ARNs of custom models carry a context-length suffix
    ("anthropic.claude-3-haiku-20240307-v1:0:200k"); the lifecycle is the model version's, without it.
    """
    if model.startswith("arn:"):
        if _FOUNDATION_MODEL not in model:
            raise NotAFoundationModel(f"{model} is not a foundation-model ARN")
        model = model.split(_FOUNDATION_MODEL, 1)[1]
    return ":".join(model.split(":")[:2])


def days_to_end_of_life(end_of_life: datetime, now: datetime) -> int:
    """Whole days left until ``end_of_life`` (rounded down), and 0 once it has come."""
    return max(0, (end_of_life - now) // timedelta(days=1))


@dataclass(frozen=True)
class ModelLifecycle:
    """One foundation model's lifecycle as Bedrock reported it."""

    model_id: str
    status: str  # ACTIVE | LEGACY as Bedrock reports them, or END_OF_LIFE when Bedrock no longer knows the model
    end_of_life: datetime | None = None

    @classmethod
    def from_details(cls, model_id: str, details: Mapping[str, Any]) -> ModelLifecycle:
        """From GetFoundationModel's `modelDetails` (botocore parses the timestamps to datetimes)."""
        lifecycle = details.get("modelLifecycle") or {}
        end = lifecycle.get("endOfLifeTime")
        return cls(
            model_id=model_id,
            status=str(lifecycle.get("status") or "UNKNOWN"),
            end_of_life=end if isinstance(end, datetime) else None,
        )

    @classmethod
    def ended(cls, model_id: str) -> ModelLifecycle:
        return cls(model_id=model_id, status="END_OF_LIFE")

    def days_left(self, now: datetime) -> int | None:
        """Days until end of life; None while Bedrock gives no end-of-life date (an Active model)."""
        if self.status == "END_OF_LIFE":
            return 0
        if self.end_of_life is None:
            return None
        return days_to_end_of_life(self.end_of_life, now)


def is_end_of_life_message(message: str) -> bool:
    return END_OF_LIFE_MESSAGE in message.lower()


def within_warning(days_left: int | None, warning_days: int) -> bool:
    """The alarm's rule (LessThanOrEqualToThreshold): warn once at most ``warning_days`` whole days are left."""
    return days_left is not None and days_left <= warning_days
