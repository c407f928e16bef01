"""Configuration, fault names and deterministic hashing for the simulated Bedrock stand-in."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from pipeline_core.models import CATALOGUE

#: Fault names accepted in ``SimulationConfig.faults``, each with what it does. Part of the public contract.
FAULTS: Mapping[str, str] = MappingProxyType(
    {
        "job-failed": "The customization job ends Failed with a failureMessage instead of Completed; "
        "no custom model and no output files are created.",
        "job-stopped": "The customization job passes through Stopping and ends Stopped, as if someone had stopped it; "
        "no custom model is created.",
        "pt-failed": "Provisioned Throughput ends Failed (with a failureMessage) instead of InService.",
        "pt-stuck": "Provisioned Throughput stays Creating until it is deleted.",
        "deployment-failed": "A custom model deployment (on-demand serving) ends Failed (with a failureMessage) "
        "instead of Active.",
        "deployment-stuck": "A custom model deployment stays Creating until it is deleted.",
        "throttle-burst": "A share (throttle_share, default 10%) of runtime calls answer ThrottlingException (429) "
        "the first time a (model, prompt) pair is tried; the retry succeeds.",
        "runtime-errors": "A share (runtime_error_share, default 5%) of (model, prompt) pairs fail: most answer a "
        "transient InternalServerException (500) or ServiceUnavailableException (503) on the first attempt only; a "
        "share of them (persistent_error_share, default 30%) answer ModelErrorException (424) on every attempt.",
        "worse-candidate": "The candidate (provisioned model) answers with accuracy below base: base accuracy minus "
        "worse_candidate_margin (default 0.25), floored at 0.",
        "weaker-than-champion": "A candidate whose custom model is not tagged approved (finetune:approved), while "
        "another custom model is (a promoted champion), answers with accuracy three quarters of the way from base to "
        "candidate; "
        "the champion answers with the candidate accuracy.",
        "base-model-eol": "The base model (base_model_id, or every catalogued model when it is None) has reached end "
        "of life: GetFoundationModel, GetFoundationModelAvailability and CreateModelCustomizationJob answer "
        'ResourceNotFoundException "This model version has reached the end of its life."',
        "base-model-legacy": "The base model (as for base-model-eol) is LEGACY: its modelLifecycle carries a "
        "legacyTime of the simulated date and an endOfLifeTime legacy_days_left (default 90) days after it; jobs "
        "still run.",
        "quota-exceeded": "The account's quotas are held by other work for a while: the first quota_refusals "
        "(default 1) calls of each of CreateModelCustomizationJob, CreateProvisionedModelThroughput and "
        "CreateCustomModelDeployment answer ServiceQuotaExceededException (400) and create nothing; later calls "
        "succeed (within the quotas).",
    }
)

#: Base models the stand-in accepts in CreateModelCustomizationJob: every model of the pipeline's catalogue
#: (pipeline_core.models.CATALOGUE), by its customization id. Whether one is accepted in the simulated Region on the
#: simulated date follows the catalogue's Regions and documented lifecycle (standin/foundation_models.py).
DEFAULT_CUSTOMIZABLE_MODELS: frozenset[str] = frozenset(CATALOGUE)

#: Service Quotas codes the stand-in answers for ServiceCode "bedrock" (GetServiceQuota, ListServiceQuotas).
#: UNCONFIRMED: AWS's documentation does not list Bedrock's quota codes; this one comes from third-party quota
#: checkers ("Model units no-commitment Provisioned Throughputs across custom models", 0 by default).
MODEL_UNITS_QUOTA_CODE = "L-BE77399C"
#: The concurrent customization jobs quota's real code was not found (UNCONFIRMED): this code is the stand-in's own,
#: named so that nobody mistakes it for AWS's. Code that checks a real account must not rely on it.
CUSTOMIZATION_JOBS_QUOTA_CODE = "SIMULATED-concurrent-model-customization-jobs"


#: "Deploy a custom model for on-demand inference" (docs.aws.amazon.com/bedrock/latest/userguide/
#: deploy-custom-model-on-demand.html, read 2026-12-01): "You must customize the model on or after 7/16/2025."
ON_DEMAND_CUSTOMIZED_SINCE = dt.date(2025, 7, 16)


def on_demand_regions(customization_model_id: str) -> tuple[str, ...]:
    """The Regions where a custom model of this base model may be deployed for on-demand inference: the catalogue's
    (``BaseModel.on_demand_regions``, from the same page), so the stand-in refuses what the pipeline would not ask."""
    model = CATALOGUE.get(customization_model_id)
    return model.on_demand_regions if model is not None else ()


def runtime_model_id(customization_model_id: str) -> str:
    """The runtime model id of a customizable base model: ``...-v1:0:200k`` (context-length variant) -> ``...-v1:0``."""
    parts = customization_model_id.split(":")
    return ":".join(parts[:2]) if len(parts) > 2 else customization_model_id


def unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from the given parts (stable across processes, unlike ``hash``)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclasses.dataclass(frozen=True)
class SimulationConfig:
    """How the simulated Bedrock behaves: model accuracy, clocks, limits and injected faults.

    Accuracy and latency keys: ``"candidate"`` (any provisioned model or custom model deployment), ``"base"`` (the
    runtime id of a customizable base model, e.g. ``anthropic.claude-3-haiku-20240307-v1:0``), or an exact runtime
    model id, provisioned model ARN or deployment ARN, which wins over the two generic keys.
    """

    accuracy: Mapping[str, float] = dataclasses.field(default_factory=lambda: {"candidate": 0.9, "base": 0.7})
    seed: int = 0
    #: Seconds a customization job stays InProgress before it ends (the compressed clock).
    job_seconds: float = 2.0
    #: Seconds a job stays Stopping after StopModelCustomizationJob (or the job-stopped fault).
    stop_seconds: float = 0.2
    #: Seconds a Provisioned Throughput stays Creating before InService.
    pt_seconds: float = 1.0
    #: Seconds a custom model deployment stays Creating before Active.
    deployment_seconds: float = 1.0
    #: Simulated model latency in milliseconds, slept before answering; keys as for accuracy.
    latency_ms: Mapping[str, float] = dataclasses.field(default_factory=dict)
    default_latency_ms: float = 0.0
    #: Accuracy of an on-demand model listed in ``on_demand_models`` but not in ``accuracy``.
    default_accuracy: float = 0.5
    #: Requests per second per model unit of a Provisioned Throughput (token bucket); None disables the limit.
    rps_per_model_unit: float | None = 20.0
    #: Requests per second per on-demand model id (token bucket); None disables the limit.
    on_demand_rps: float | None = 50.0
    faults: frozenset[str] = frozenset()
    throttle_share: float = 0.1
    runtime_error_share: float = 0.05
    persistent_error_share: float = 0.3
    worse_candidate_margin: float = 0.25
    #: Lazy reference-answer lookup (prompt text -> answer), consulted after the records given to ``learn``.
    answer_key: Callable[[str], str | None] | None = None
    unknown_answer: str = "I don't know."
    region: str = "us-west-2"
    account_id: str = "123456789012"
    #: Model units all Provisioned Throughputs together may hold (ServiceQuotaExceededException past it); Service
    #: Quotas reports it as MODEL_UNITS_QUOTA_CODE. 0 is what a new account has: no throughput can be bought.
    model_unit_quota: int = 2
    #: Customization jobs that may be InProgress or Stopping at once (ServiceQuotaExceededException past it);
    #: Service Quotas reports it under the stand-in's own CUSTOMIZATION_JOBS_QUOTA_CODE.
    customization_job_quota: int = 4
    #: With the quota-exceeded fault: how many calls of each creating operation are refused before one succeeds.
    quota_refusals: int = 1
    customizable_models: frozenset[str] = DEFAULT_CUSTOMIZABLE_MODELS
    #: The simulated date: decides each catalogued model's documented lifecycle status (None: today, in UTC).
    today: dt.date | None = None
    #: The model the base-model-eol and base-model-legacy faults act on (customization or foundation-model id);
    #: None: every catalogued model.
    base_model_id: str | None = None
    #: Days from the simulated date to the endOfLifeTime the base-model-legacy fault reports.
    legacy_days_left: int = 90
    #: What GetFoundationModelAvailability reports for every model it knows (doctor tests make access fail).
    agreement_status: str = "AVAILABLE"
    authorization_status: str = "AUTHORIZED"
    entitlement_availability: str = "AVAILABLE"
    #: Extra runtime model ids (reference models) that on-demand calls may name.
    on_demand_models: frozenset[str] = frozenset()
    #: Record count assumed for the loss curves when the training data can't be read (no S3 client).
    default_record_count: int = 64
    #: How often the background clock advances jobs and throughputs.
    tick_seconds: float = 0.02

    def __post_init__(self) -> None:
        faults = frozenset(self.faults) if not isinstance(self.faults, str) else frozenset({self.faults})
        unknown = sorted(faults - FAULTS.keys())
        if unknown:
            raise ValueError(f"unknown fault name(s) {unknown}; known faults: {sorted(FAULTS)}")
        object.__setattr__(self, "faults", faults)
        object.__setattr__(self, "accuracy", MappingProxyType(dict(self.accuracy)))
        object.__setattr__(self, "latency_ms", MappingProxyType(dict(self.latency_ms)))
        shares = {
            "default_accuracy": self.default_accuracy,
            "throttle_share": self.throttle_share,
            "runtime_error_share": self.runtime_error_share,
            "persistent_error_share": self.persistent_error_share,
            **{f"accuracy[{key!r}]": value for key, value in self.accuracy.items()},
        }
        for name, value in shares.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in ("job_seconds", "stop_seconds", "pt_seconds", "deployment_seconds", "default_latency_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.tick_seconds <= 0:
            raise ValueError("tick_seconds must be positive")
        for name in ("model_unit_quota", "customization_job_quota", "legacy_days_left", "quota_refusals"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        allowed = {
            "agreement_status": ("AVAILABLE", "PENDING", "NOT_AVAILABLE", "ERROR"),
            "authorization_status": ("AUTHORIZED", "NOT_AUTHORIZED"),
            "entitlement_availability": ("AVAILABLE", "NOT_AVAILABLE"),
        }
        for name, values in allowed.items():
            if getattr(self, name) not in values:
                raise ValueError(f"{name} must be one of {', '.join(values)}, got {getattr(self, name)!r}")

    def with_faults(self, faults: Iterable[str]) -> SimulationConfig:
        """A copy of this configuration with the given faults (validated)."""
        return dataclasses.replace(self, faults=frozenset(faults))

    @property
    def date(self) -> dt.date:
        """The simulated date (``today``, or the current UTC date)."""
        return self.today or dt.datetime.now(dt.UTC).date()

    @property
    def base_runtime_ids(self) -> frozenset[str]:
        """Runtime model ids of the customizable base models: what the ``"base"`` accuracy key covers."""
        return frozenset(runtime_model_id(model) for model in self.customizable_models)
