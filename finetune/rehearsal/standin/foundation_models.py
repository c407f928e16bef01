"""Simulated foundation-model catalogue: lifecycle, availability and inference profiles, from the pipeline's catalogue.

What Bedrock would say of a model here is what ``pipeline_core.models.CATALOGUE`` documents for it in the simulated
Region on the simulated date (``SimulationConfig.region`` / ``.date``), changed only by the base-model-eol and
base-model-legacy faults:

- a catalogued model is known in the Regions where it can be fine-tuned, under its foundation-model id
  (``meta.llama3-1-70b-instruct-v1:0``) and its customization id (``...:128k``); both report FINE_TUNING in
  ``customizationsSupported``. Which of the two AWS marks as customizable is UNCONFIRMED (third-party listings
  differ); the pipeline asks about the foundation-model id, so the stand-in answers the same for both.
- ACTIVE and LEGACY are answered with ``modelLifecycle`` (``endOfLifeTime`` when the catalogue knows the date);
  END_OF_LIFE is ResourceNotFoundException "This model version has reached the end of its life.", the answer the
  Claude 3 Haiku model card quotes (docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-3-haiku,
  read 2026-12-01).
- reference models (``SimulationConfig.on_demand_models``) are ACTIVE, not customizable.
- system-defined inference profiles ``us.<id>`` and ``global.<id>`` exist for every known model.

Shapes: botocore's ``bedrock`` service model (FoundationModelDetails, FoundationModelSummary, InferenceProfile).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from pipeline_core.models import CATALOGUE, BaseModel, LifecycleStatus

from .config import SimulationConfig
from .protocol import ApiError

END_OF_LIFE_MESSAGE = "This model version has reached the end of its life."
INVALID_MODEL_MESSAGE = "The provided model identifier is invalid."

_FOUNDATION_ARN = re.compile(r"arn:aws[^:]*:bedrock:[^:]*::foundation-model/(?P<model>.+)")
_PROFILE_ARN = re.compile(r"arn:aws[^:]*:bedrock:[^:]*:\d*:inference-profile/(?P<profile>.+)")
_PROVIDERS = {"amazon": "Amazon", "anthropic": "Anthropic", "meta": "Meta"}
#: The system-defined profiles the stand-in serves, and the Regions each routes to (simulated: at most five, the
#: shape's limit; real profiles may list other Regions).
PROFILE_REGIONS: Mapping[str, tuple[str, ...]] = {
    "us.": ("us-east-1", "us-east-2", "us-west-2"),
    "global.": ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "ap-northeast-1"),
}
_PROFILE_NAMES = {"us.": "US", "global.": "Global"}
#: When every simulated model was "launched" and profiles created: a fixed instant, so answers are reproducible.
_SIMULATED_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def foundation_id(model_id: str) -> str:
    """A customization id or foundation-model id without its context-length suffix."""
    return ":".join(model_id.split(":")[:2])


def branded_name(name: str) -> str:
    """A name within the API's 1-20 characters (``BrandedName``): "Llama 3.1 70B Instruct" -> "Llama 3.1 70B"."""
    for drop in (" Instruct", " G1 -"):
        if len(name) > 20:
            name = name.replace(drop, "")
    return name[:20]


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class SimulatedLifecycle:
    """One model's state as the stand-in reports it, and why."""

    model_id: str  # the foundation-model id
    status: LifecycleStatus
    end_of_life: dt.date | None = None
    legacy_since: dt.date | None = None
    reason: str = "catalogue"  # "catalogue", "reference model" or "fault <name>"

    def describe(self) -> str:
        """One phrase for summaries: "END_OF_LIFE (fault base-model-eol)"."""
        when = f", end of life {self.end_of_life.isoformat()}" if self.end_of_life else ""
        return f"{self.status.value}{when} ({self.reason})"


class FoundationModels:
    """Answers GetFoundationModel, ListFoundationModels, GetFoundationModelAvailability and GetInferenceProfile."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config

    # ---- what is known -----------------------------------------------------------------------------------------
    def _catalogued(self) -> dict[str, BaseModel]:
        """Catalogued models offered in the simulated Region, by foundation-model id and by customization id (and by
        runtime id where it differs without being a profile: Titan Text Express is ``amazon.titan-text-express-v1``)."""
        known: dict[str, BaseModel] = {}
        for model_id in sorted(self.config.customizable_models):
            model = CATALOGUE.get(model_id)
            if model is not None and self.config.region in model.regions:
                known[model.model_id] = model
                known[model.foundation_model_id] = model
                if not model.runtime_model_id.startswith(tuple(PROFILE_REGIONS)):
                    known[model.runtime_model_id] = model
        return known

    def _references(self) -> frozenset[str]:
        """Reference models given as foundation-model ids (profiles are answered by GetInferenceProfile)."""
        return frozenset(
            foundation_id(model)
            for model in self.config.on_demand_models
            if not model.startswith(tuple(PROFILE_REGIONS)) and not model.startswith("arn:")
        )

    def _fault_applies(self, model: BaseModel) -> bool:
        target = self.config.base_model_id
        return target is None or foundation_id(target) == model.foundation_model_id

    def lifecycle(self, model_id: str) -> SimulatedLifecycle | None:
        """The simulated lifecycle of a foundation-model or customization id; None when the model is unknown here."""
        plain = foundation_id(model_id)
        model = self._catalogued().get(model_id) or self._catalogued().get(plain)
        if model is None:
            if plain in self._references():
                return SimulatedLifecycle(plain, LifecycleStatus.ACTIVE, reason="reference model")
            return None
        faults, today = self.config.faults, self.config.date
        if self._fault_applies(model):
            if "base-model-eol" in faults:
                return SimulatedLifecycle(model.foundation_model_id, LifecycleStatus.END_OF_LIFE, today,
                                          reason="fault base-model-eol")  # fmt: skip
            if "base-model-legacy" in faults:
                end = today + dt.timedelta(days=self.config.legacy_days_left)
                return SimulatedLifecycle(
                    model.foundation_model_id, LifecycleStatus.LEGACY, end, today, reason="fault base-model-legacy"
                )
        facts = model.lifecycle_in(self.config.region)
        end_of_life = dt.date.fromisoformat(facts.end_of_life) if facts.end_of_life else None
        reason = "catalogue" if facts.confirmed else "catalogue, UNCONFIRMED"
        return SimulatedLifecycle(model.foundation_model_id, facts.status_on(today), end_of_life, reason=reason)

    def _require(self, identifier: str) -> tuple[str, SimulatedLifecycle]:
        found = _FOUNDATION_ARN.fullmatch(identifier)
        model_id = found["model"] if found else identifier
        state = self.lifecycle(model_id)
        if state is None:
            raise ApiError("ValidationException", INVALID_MODEL_MESSAGE)
        if state.status is LifecycleStatus.END_OF_LIFE:
            raise ApiError("ResourceNotFoundException", END_OF_LIFE_MESSAGE)
        return model_id, state

    def check_customizable(self, model_id: str) -> None:
        """Raise what CreateModelCustomizationJob would for a base model this Region and date do not allow."""
        self._require(model_id)

    # ---- the operations ---------------------------------------------------------------------------------------
    def _details(self, model_id: str, state: SimulatedLifecycle) -> dict[str, Any]:
        model = self._catalogued().get(model_id)
        lifecycle: dict[str, Any] = {"status": state.status.value, "startOfLifeTime": _SIMULATED_EPOCH}
        if state.legacy_since:
            lifecycle["legacyTime"] = _midnight(state.legacy_since)
        if state.end_of_life:
            lifecycle["endOfLifeTime"] = _midnight(state.end_of_life)
        customization_id = model is not None and model_id == model.model_id
        if model is None:
            name, inference = model_id.split(".", 1)[1].split(":")[0], ["ON_DEMAND"]
        elif customization_id:
            name, inference = model.display_name, ["PROVISIONED"]  # a custom model of it needs Provisioned Throughput
        else:
            # A model reached only through an inference profile (Nova 2 Lite) has no in-Region on-demand inference.
            on_demand = model.runtime_model_id in (model.foundation_model_id, model_id)
            name, inference = model.display_name, (["ON_DEMAND"] if on_demand else [])
        return {
            "modelArn": f"arn:aws:bedrock:{self.config.region}::foundation-model/{model_id}",
            "modelId": model_id,
            "modelName": branded_name(name),
            "providerName": _PROVIDERS.get(model_id.split(".", 1)[0], model_id.split(".", 1)[0].title())[:20],
            "inputModalities": ["TEXT"],
            "outputModalities": ["TEXT"],
            "responseStreamingSupported": True,
            "customizationsSupported": ["FINE_TUNING"] if model is not None else [],
            "inferenceTypesSupported": inference,
            "modelLifecycle": lifecycle,
        }

    def get(self, identifier: str) -> dict[str, Any]:
        """GetFoundationModel."""
        model_id, state = self._require(identifier)
        return {"modelDetails": self._details(model_id, state)}

    def list(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """ListFoundationModels, with its four filters; end-of-life models are not listed."""
        summaries = []
        for model_id in sorted({*self._catalogued(), *self._references()}):
            state = self.lifecycle(model_id)
            if state is None or state.status is LifecycleStatus.END_OF_LIFE:
                continue
            details = self._details(model_id, state)
            provider = params.get("byProvider")
            if provider is not None and provider.lower() != details["providerName"].lower():
                continue
            if params.get("byCustomizationType") not in (None, *details["customizationsSupported"]):
                continue
            if params.get("byOutputModality") not in (None, *details["outputModalities"]):
                continue
            if params.get("byInferenceType") not in (None, *details["inferenceTypesSupported"]):
                continue
            summaries.append(details)
        return {"modelSummaries": summaries}

    def availability(self, model_id: str) -> dict[str, Any]:
        """GetFoundationModelAvailability: a catalogued model of another Region is NOT_AVAILABLE here."""
        state = self.lifecycle(model_id)
        if state is None:
            elsewhere = CATALOGUE.get(model_id) or next(
                (m for m in CATALOGUE.values() if m.foundation_model_id == model_id), None
            )
            if elsewhere is None:
                raise ApiError("ValidationException", INVALID_MODEL_MESSAGE)
            region = "NOT_AVAILABLE"
        elif state.status is LifecycleStatus.END_OF_LIFE:
            raise ApiError("ResourceNotFoundException", END_OF_LIFE_MESSAGE)
        else:
            region = "AVAILABLE"
        agreement: dict[str, Any] = {"status": self.config.agreement_status}
        if self.config.agreement_status == "ERROR":
            agreement["errorMessage"] = "Simulated: the model's agreement could not be checked."
        return {
            "modelId": model_id,
            "agreementAvailability": agreement,
            "authorizationStatus": self.config.authorization_status,
            "entitlementAvailability": self.config.entitlement_availability,
            "regionAvailability": region,
        }

    def inference_profile(self, identifier: str) -> dict[str, Any]:
        """GetInferenceProfile for the system-defined ``us.`` and ``global.`` profiles of known models."""
        found = _PROFILE_ARN.fullmatch(identifier)
        profile_id = found["profile"] if found else identifier
        prefix = next((p for p in PROFILE_REGIONS if profile_id.startswith(p)), None)
        if prefix is None:
            raise ApiError("ResourceNotFoundException", f"Inference profile {identifier} not found.")
        model_id = profile_id[len(prefix) :]
        state = self.lifecycle(model_id)
        if state is None or state.status is LifecycleStatus.END_OF_LIFE or model_id != foundation_id(model_id):
            raise ApiError("ResourceNotFoundException", f"Inference profile {identifier} not found.")
        model = self._catalogued().get(model_id)
        label = model.display_name if model is not None else model_id.split(".", 1)[1].split(":")[0]
        name = re.sub(r"[^0-9a-zA-Z]+", " ", f"{_PROFILE_NAMES[prefix]} {label}").strip()[:64]
        return {
            "inferenceProfileName": name,
            "description": f"Routes requests to {name} in its Regions",
            "createdAt": _SIMULATED_EPOCH,
            "updatedAt": _SIMULATED_EPOCH,
            "inferenceProfileArn": (
                f"arn:aws:bedrock:{self.config.region}:{self.config.account_id}:inference-profile/{profile_id}"
            ),
            "models": [
                {"modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model_id}"}
                for region in PROFILE_REGIONS[prefix]
            ],
            "inferenceProfileId": profile_id,
            "status": "ACTIVE",
            "type": "SYSTEM_DEFINED",
        }
