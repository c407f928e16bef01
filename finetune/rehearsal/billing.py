"""What a rehearsed run would leave billing in AWS, said in one closing line.

Read from what the simulated Bedrock still holds when the run has ended (not from what the run meant to do), and
from the execution's final state for why it is there and at what price. A kept Provisioned Throughput bills per
model unit for every hour it exists until deleted; an on-demand custom model deployment bills per token when it is
called and nothing while idle; a custom model bills a monthly storage fee
(docs.aws.amazon.com/bedrock/latest/userguide/prov-throughput.html and
docs.aws.amazon.com/bedrock/latest/userguide/deploy-custom-model-on-demand.html, read 2026-12-01; the prices
themselves: https://aws.amazon.com/bedrock/pricing/, which this pipeline does not copy: pricing.modelUnitPerHour
is yours to set).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

PRICING_PAGE = "https://aws.amazon.com/bedrock/pricing/"
PREFIX = "Still billing in AWS (simulated here): "
KEEP_SETTING = "provisionedThroughput.keepAfterPromotion"


def final_state(history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The execution's output once it succeeded (its state document), else {}."""
    for event in reversed(history):
        details = event.get("executionSucceededEventDetails")
        if isinstance(details, Mapping):
            try:
                output = json.loads(str(details.get("output") or "{}"))
            except ValueError:
                return {}
            return output if isinstance(output, dict) else {}
    return {}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def billing_line(
    *,
    throughputs: Sequence[Mapping[str, Any]],
    deployments: Sequence[Mapping[str, Any]],
    state: Mapping[str, Any],
    model: str,
    trained: bool,
    recorded: Mapping[str, Any] | None = None,
) -> str:
    """One line: what still bills and why, or that nothing does but storage.

    ``throughputs`` and ``deployments``: what Bedrock still holds (Get* descriptions); ``state``: the execution's
    final state ({} when it failed); ``model``: the base model's name; ``trained``: a custom model exists;
    ``recorded``: what the promotion parameter names now, so an earlier run's promoted model (the champion this run
    was measured against) counts as kept after promotion, not as left behind.
    """
    promoted = {
        str(source.get(key))
        for source in (_mapping(state.get("promotion")), _mapping(recorded))
        for key in ("provisioned_model_arn", "invoke_model_id")
        if source.get(key)
    }
    per_hour = _mapping(_mapping(state.get("run")).get("pricing")).get("model_unit_per_hour")
    fine_tuned = f"the fine-tuned {model}" if model else "the fine-tuned model"
    storage = "storage: the run's files in S3" + (
        ", and the custom model at Bedrock's monthly storage fee" if trained else ""
    )
    hourly = []
    for item in throughputs:
        units = int(item.get("modelUnits") or 1)
        name = str(item.get("provisionedModelName") or item.get("provisionedModelArn") or "")
        if isinstance(per_hour, (int, float)) and not isinstance(per_hour, bool):
            price = f"about ${units * per_hour:,.2f} an hour at pricing.modelUnitPerHour ${per_hour:g}"
        else:
            price = f"its hourly price per model unit: {PRICING_PAGE} (set pricing.modelUnitPerHour to see it here)"
        if str(item.get("provisionedModelArn")) in promoted:
            why = f"kept after promotion so applications can call it; set {KEEP_SETTING} false to delete it instead"
        else:
            why = "not promoted, yet not deleted: delete it now (the janitor would, after timeToLiveHours)"
        hourly.append(
            f"{units} model unit{'s' if units != 1 else ''} of Provisioned Throughput {name} serving {fine_tuned}, "
            f"every hour until deleted ({why}; {price})"
        )
    served = []
    for item in deployments:
        name = str(item.get("modelDeploymentName") or item.get("customModelDeploymentArn") or "")
        kept = str(item.get("customModelDeploymentArn")) in promoted
        served.append(
            f"on-demand deployment {name} of {fine_tuned} bills per token when called, nothing while idle"
            + (" (kept after promotion)" if kept else " (not promoted, yet not deleted: delete it now)")
        )
    if hourly:
        return PREFIX + "; ".join(hourly + served) + f"; plus {storage}"
    if served:
        return "Nothing left billing by the hour: " + "; ".join(served) + f"; plus {storage}"
    return f"Nothing left billing except {storage}"
