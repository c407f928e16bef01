"""Whether a run may spend money on its base model, judged from what Bedrock says about the model now.

`Resolve run` asks Bedrock (GetFoundationModel) before any customization job exists; this module turns the answer
into one line for the user: stop (end of life, or no fine-tuning), warn (Legacy, or a state we do not know), or go
on. Lifecycle rules: https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html (read 2026-12-01):
an end-of-life model answers ResourceNotFoundException; a Legacy model gets no new Provisioned Throughput.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pipeline_core.end_of_life import ModelLifecycle
from pipeline_core.models import BaseModel, alternatives

LIFECYCLE_PAGE = "docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html, read 2026-12-01"
FINE_TUNING = "FINE_TUNING"


@dataclass(frozen=True)
class Verdict:
    """`stop`: one line, and the run ends before training. `warning`: one line for the report and notification."""

    stop: str | None = None
    warning: str | None = None


def _instead(model: BaseModel, region: str, today: date) -> str:
    choices = [m.model_id for m in alternatives(region, today, exclude=model.model_id)]
    if not choices:
        return "no other catalogued model is documented as Active in this Region"
    return "choose instead: " + ", ".join(choices)


def judge_base_model(
    model: BaseModel,
    region: str,
    live: ModelLifecycle,
    customizations: Sequence[str] | None,
    *,
    today: date | None = None,
    detail: str = "",
) -> Verdict:
    """The verdict on a run's base model from its live lifecycle (``live``) and `customizationsSupported`."""
    today = today or datetime.now(UTC).date()
    name = f"{model.display_name} ({model.model_id})"
    said = f" (Bedrock: {detail})" if detail else ""
    when = f"; end of life {live.end_of_life.date().isoformat()}" if live.end_of_life else ""
    if live.status == "END_OF_LIFE":
        return Verdict(
            stop=f"Base model {name} is END_OF_LIFE in {region}{said}{when}; no customization job was started; "
            f"{_instead(model, region, today)}"
        )
    if customizations is not None and FINE_TUNING not in customizations:
        supported = ", ".join(customizations) or "none"
        return Verdict(
            stop=f"Base model {name} cannot be fine-tuned in {region} (customizationsSupported: {supported}); "
            f"no customization job was started; {_instead(model, region, today)}"
        )
    if live.status == "LEGACY":
        days = f" ({live.days_left(datetime.combine(today, datetime.min.time(), UTC))} days left)" if when else ""
        return Verdict(
            warning=f"Base model {name} is LEGACY in {region}{when}{days}: AWS creates no new Provisioned "
            f"Throughput for a Legacy model and may refuse new fine-tuning jobs ({LIFECYCLE_PAGE}); "
            f"{_instead(model, region, today)}"
        )
    if live.status != "ACTIVE":
        return Verdict(warning=f"Base model {name} reports lifecycle status {live.status!r} in {region}{when}")
    return Verdict()


def judge_reference_model(model_id: str, status: str, *, detail: str = "", end_of_life: date | None = None) -> Verdict:
    """A reference model that is gone would cost the comparison after training has been paid for: stop before."""
    said = f" (Bedrock: {detail})" if detail else ""
    if status in ("END_OF_LIFE", "NOT_FOUND"):
        return Verdict(
            stop=f"Reference model {model_id} is not available{said}; no customization job was started; remove it "
            "from evaluation.referenceModels or run.json, or name a model this account can invoke"
        )
    if status == "LEGACY":
        when = f", end of life {end_of_life.isoformat()}" if end_of_life else ""
        return Verdict(warning=f"Reference model {model_id} is LEGACY{when} ({LIFECYCLE_PAGE})")
    if status != "ACTIVE":
        return Verdict(warning=f"Reference model {model_id} reports status {status!r}")
    return Verdict()
