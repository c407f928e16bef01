"""The catalogue of base models this pipeline can customize: data format, quotas, Regions, hyperparameters.

This is the one place that says which base model can be fine-tuned where and with which limits. Synthesis
(settings validation), the dataset validator and the workflow all read it.

Sources (checked 2026-11-25; lifecycle and the supported-models table re-read 2026-12-01):
- [SUPPORTED] https://docs.aws.amazon.com/bedrock/latest/userguide/custom-model-fine-tuning.md
  ("Supported models and Regions for fine-tuning"; the .md copy is newer than the .html one and no longer lists
  Titan Text G1 - Express).
- [LIFECYCLE] https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html: Active, Legacy,
  End-of-Life; a Legacy model gets no new Provisioned Throughput, and under the policy for models launched from
  2026-09-07 no new fine-tuning jobs either. GetFoundationModel returns the live state in `modelLifecycle`.
- [PREP] https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-prepare.html
  (data formats and the per-model quota tables).
- [HP-CLAUDE] https://docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-anth-claude-3.html
- [ON-DEMAND] https://docs.aws.amazon.com/bedrock/latest/userguide/deploy-custom-model-on-demand.html (read
  2026-12-01): which custom models can be served on demand (a custom model deployment) and where.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from pipeline_core import contracts
from pipeline_core.end_of_life import foundation_model_id


class DataFormat(StrEnum):
    """The record shape a model family's customization job accepts [PREP]."""

    CLAUDE_MESSAGES = "claude-messages"  # {"system"?: str, "messages": [{"role", "content": str}, ...]}
    PROMPT_COMPLETION = "prompt-completion"  # {"prompt": str, "completion": str}
    CONVERSE = "bedrock-conversation-2024"  # {"schemaVersion", "system": [{"text"}], "messages": [...]}


@dataclass(frozen=True)
class HyperParameter:
    """One tunable hyperparameter: its API name, default and inclusive range."""

    name: str
    default: float
    minimum: float
    maximum: float
    integer: bool = False

    def render(self, value: float) -> str:
        """Bedrock takes hyperparameters as a string-to-string map."""
        return str(int(value)) if self.integer else repr(float(value))


@dataclass(frozen=True)
class DatasetQuotas:
    """Per-model dataset limits [PREP]. None means the documentation states no limit."""

    min_records: int
    max_train_records: int
    max_validation_records: int
    max_total_records: int
    max_tokens_per_record: int
    max_train_file_bytes: int
    max_validation_file_bytes: int
    chars_per_token: float  # the documented planning ratio, used for conservative token estimates


class LifecycleStatus(StrEnum):
    """A model's state on Bedrock [LIFECYCLE]. The API returns ACTIVE or LEGACY; an end-of-life model is gone
    (GetFoundationModel and InvokeModel answer ResourceNotFoundException), so END_OF_LIFE is ours."""

    ACTIVE = "ACTIVE"
    LEGACY = "LEGACY"
    END_OF_LIFE = "END_OF_LIFE"


@dataclass(frozen=True)
class Lifecycle:
    """What AWS's documentation said about a model's lifecycle in a Region, when it was read, and how sure we are.

    The catalogue's copy is a fact frozen in code: synthesis uses it to refuse a model that is documented as
    end-of-life, and `Resolve run` and `finetune doctor` ask the live account (GetFoundationModel) before any
    money is spent. ``confirmed`` is False where AWS's own pages could not be found; such a status only warns.
    """

    status: LifecycleStatus
    source: str
    read_on: str = "2026-12-01"
    end_of_life: str | None = None  # YYYY-MM-DD
    confirmed: bool = True
    note: str = ""

    def status_on(self, today: date) -> LifecycleStatus:
        """The status on ``today``: a documented end-of-life date that has passed makes the model end-of-life."""
        if self.end_of_life and today >= date.fromisoformat(self.end_of_life):
            return LifecycleStatus.END_OF_LIFE
        return self.status


@dataclass(frozen=True)
class BaseModel:
    """A customizable foundation model and everything the pipeline needs to know about it."""

    model_id: str  # the identifier passed as baseModelIdentifier (with its context-length suffix)
    runtime_model_id: str  # the on-demand identifier used to invoke the base model for comparison
    display_name: str
    data_format: DataFormat
    regions: tuple[str, ...]
    quotas: DatasetQuotas
    hyperparameters: tuple[HyperParameter, ...] = field(default_factory=tuple)
    lifecycle: Lifecycle = Lifecycle(LifecycleStatus.ACTIVE, "not reviewed", confirmed=False)
    # Regions whose lifecycle differs from ``lifecycle`` (a model may retire in one Region and live on in another).
    lifecycle_by_region: Mapping[str, Lifecycle] = field(default_factory=lambda: MappingProxyType({}))
    # Regions where a custom model of this base model can be served on demand [ON-DEMAND]; everywhere else only
    # Provisioned Throughput serves it.
    on_demand_regions: tuple[str, ...] = ()

    @property
    def foundation_model_id(self) -> str:
        """The id GetFoundationModel takes: the customization id without its context-length suffix."""
        return foundation_model_id(self.model_id)

    def lifecycle_in(self, region: str) -> Lifecycle:
        return self.lifecycle_by_region.get(region, self.lifecycle)

    def serving_modes(self, region: str) -> tuple[str, ...]:
        """How a custom model of this base model can be served in ``region``: Provisioned Throughput always,
        on demand where [ON-DEMAND] lists the model and the Region."""
        if region in self.on_demand_regions:
            return (contracts.SERVING_PROVISIONED, contracts.SERVING_ON_DEMAND)
        return (contracts.SERVING_PROVISIONED,)

    def hyperparameter(self, name: str) -> HyperParameter:
        for hp in self.hyperparameters:
            if hp.name == name:
                return hp
        raise KeyError(name)


GB = 1024**3
MB = 1024**2

# Claude 3 Haiku limits: [PREP] table "Anthropic Claude 3 Haiku". Hyperparameters: [HP-CLAUDE].
_CLAUDE_3_HAIKU = BaseModel(
    model_id="anthropic.claude-3-haiku-20240307-v1:0:200k",
    runtime_model_id="anthropic.claude-3-haiku-20240307-v1:0",
    display_name="Claude 3 Haiku",
    data_format=DataFormat.CLAUDE_MESSAGES,
    regions=("us-west-2",),
    quotas=DatasetQuotas(
        min_records=32,
        max_train_records=10_000,
        # Validation limits re-checked 2026-12-01: the per-model tables moved to
        # https://docs.aws.amazon.com/bedrock/latest/userguide/model-training-validation-requirements.html, whose
        # Claude 3 Haiku table was not in the searchable copy; AWS's sample validator states the same two values
        # (MAX_VALIDATION_LINES = 1000, MAX_VALIDATION_SIZE_GB = 1 in aws-samples/amazon-bedrock-samples
        # custom-models/bedrock-fine-tuning/claude-haiku/DataValidation/data_validation.py), though it checks a
        # validation file against the training line limits (32-10,000) and so never applies the 1,000.
        max_validation_records=1_000,
        max_total_records=10_000,
        max_tokens_per_record=32_000,
        max_train_file_bytes=10 * GB,
        max_validation_file_bytes=1 * GB,
        # The AWS sample validator estimates tokens as characters / 3; we keep its conservative ratio.
        chars_per_token=3.0,
    ),
    hyperparameters=(
        HyperParameter("epochCount", 2, 1, 10, integer=True),
        HyperParameter("batchSize", 32, 4, 256, integer=True),
        HyperParameter("learningRateMultiplier", 1.0, 0.1, 2.0),
        HyperParameter("earlyStoppingThreshold", 0.001, 0.0, 0.1),
        HyperParameter("earlyStoppingPatience", 2, 1, 10, integer=True),
    ),
    # Model card, read 2026-12-01 in its newest copy (a translation of the English page):
    # https://docs.aws.amazon.com/zh_tw/bedrock/latest/userguide/model-card-anthropic-claude-3-haiku.md
    # End of life on 2026-09-10 in most Regions ("This model version has reached the end of its life"); still
    # served in ca-central-1, eu-central-2 and sa-east-1, Legacy in ap-northeast-2. us-west-2, the only Region
    # where it could be fine-tuned, is not among them. (The fine-tuning table [SUPPORTED] still lists it: stale.)
    lifecycle=Lifecycle(
        LifecycleStatus.LEGACY,  # until the end-of-life date, which status_on applies
        "docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-3-haiku",
        end_of_life="2026-09-10",
    ),
    lifecycle_by_region=MappingProxyType(
        {
            **{
                region: Lifecycle(
                    LifecycleStatus.ACTIVE,
                    "docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-3-haiku",
                    note="still served here after the 2026-09-10 end of life elsewhere; not fine-tunable here",
                )
                for region in ("ca-central-1", "eu-central-2", "sa-east-1")
            },
            "ap-northeast-2": Lifecycle(
                LifecycleStatus.LEGACY,
                "docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-3-haiku",
            ),
        }
    ),
)

# Llama limits: [PREP] "Meta Llama 3.1/3.2/3.3": 16,000 tokens per record, 100-10,000 records in total.
# UNCONFIRMED (2026-11-25 doc search): the PREP quota table was not in the searchable excerpts; these values come from
# the project's earlier reading of [PREP]. The 10,000 training / 1,000 validation split is UNCONFIRMED for Llama.
_LLAMA_QUOTAS = DatasetQuotas(
    min_records=100,
    max_train_records=10_000,
    max_validation_records=1_000,
    max_total_records=10_000,
    max_tokens_per_record=16_000,
    max_train_file_bytes=10 * GB,
    max_validation_file_bytes=1 * GB,
    chars_per_token=3.0,
)
# Llama 3.1 and 3.2 hyperparameters, verified 2026-11-25: epochCount 1-10 (default 5), batchSize 1-1 (1),
# learningRate 5.00E-6-0.1 (1.00E-4).
# https://docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-meta-llama31.html
# https://docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-meta-llama32.html
_EPOCHS_BATCH_LR = (
    HyperParameter("epochCount", 5, 1, 10, integer=True),
    HyperParameter("batchSize", 1, 1, 1, integer=True),
    HyperParameter("learningRate", 0.0001, 0.000005, 0.1),
)


def _llama(model_id: str, runtime_id: str, name: str, data_format: DataFormat, lifecycle: Lifecycle) -> BaseModel:
    return BaseModel(
        model_id=model_id,
        runtime_model_id=runtime_id,
        display_name=name,
        data_format=data_format,
        regions=("us-west-2",),
        quotas=_LLAMA_QUOTAS,
        hyperparameters=_EPOCHS_BATCH_LR,
        lifecycle=lifecycle,
    )


# Lifecycles read 2026-12-01.
# Llama 3.1 70B: its model card (newest copy, a translation) says "Model lifecycle: Active", launched 2024-07-23,
# EOL no sooner than 2025-07-23.
_LLAMA31_70B_LIFECYCLE = Lifecycle(
    LifecycleStatus.ACTIVE,
    "docs.aws.amazon.com/zh_cn/bedrock/latest/userguide/model-card-meta-llama-3-1-70b-instruct.md",
)
# Llama 3.1 8B: UNCONFIRMED. Its AWS model card was not found in the documentation search; an older copy of the
# card said Active and no Legacy notice was found. The live check decides.
_LLAMA31_8B_LIFECYCLE = Lifecycle(
    LifecycleStatus.ACTIVE,
    "docs.aws.amazon.com/bedrock/latest/userguide/model-card-meta-llama-3-1-8b-instruct (not found; older copy)",
    confirmed=False,
)
# Llama 3.2 (all sizes): UNCONFIRMED end of life on 2026-07-07. Only third-party sources were found (a listing of
# Bedrock's lifecycle table in github.com/awslabs/startups pull request 131); AWS's own card was not. Unconfirmed,
# so synthesis warns instead of refusing and the live check decides.
_LLAMA32_LIFECYCLE = Lifecycle(
    LifecycleStatus.LEGACY,
    "docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html (third-party copy of its table)",
    end_of_life="2026-07-07",
    confirmed=False,
)


# Titan Text Express: [PREP] 4,096 tokens per record at batch size 1, 1 GB training and 100 MB validation file.
# UNCONFIRMED (2026-11-25 doc search): the record counts below (min 1, 10,000 training, 1,000 validation) were not
# found in the searchable excerpts of [PREP]. The 4,096-token limit matches the service error quoted in
# https://github.com/aws-samples/amazon-bedrock-workshop/issues/224 ("exceeds limit of 4096 for train data").
_TITAN_EXPRESS = BaseModel(
    model_id="amazon.titan-text-express-v1:0:8k",
    runtime_model_id="amazon.titan-text-express-v1",
    display_name="Titan Text G1 - Express",
    data_format=DataFormat.PROMPT_COMPLETION,
    regions=("us-east-1", "us-west-2"),
    quotas=DatasetQuotas(
        min_records=1,
        max_train_records=10_000,
        max_validation_records=1_000,
        max_total_records=10_000,
        max_tokens_per_record=4_096,
        max_train_file_bytes=1 * GB,
        max_validation_file_bytes=100 * MB,
        # [PREP]: "plan on about 6 characters per token"; we halve it to stay conservative.
        chars_per_token=3.0,
    ),
    # Titan Text Lite/Express table, verified 2026-11-25 (the 1-5 epochs / default 2 row is Titan Text Premier's):
    # https://docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-titan-text.html
    hyperparameters=(
        HyperParameter("epochCount", 5, 1, 10, integer=True),
        HyperParameter("batchSize", 1, 1, 64, integer=True),
        HyperParameter("learningRate", 0.00001, 0.0, 1.0),
        HyperParameter("learningRateWarmupSteps", 5, 0, 250, integer=True),
    ),
    # UNCONFIRMED end of life (read 2026-12-01): the newest [SUPPORTED] table no longer lists Titan Text G1 -
    # Express (an older copy did, in us-east-1 and us-west-2), and third-party projects removed it as end-of-life
    # during 2025; no AWS page with its date was found. Synthesis warns; the live check decides.
    lifecycle=Lifecycle(
        LifecycleStatus.END_OF_LIFE,
        "docs.aws.amazon.com/bedrock/latest/userguide/custom-model-fine-tuning.md (no longer listed)",
        confirmed=False,
    ),
)

# Nova: Converse format, https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html
# UNCONFIRMED (2026-11-25 doc search): that page recommends at least 100 samples per task but states no record or
# token quota. 8-20,000 records comes from the AWS sample validator (aws-samples/amazon-bedrock-samples
# custom-models/bedrock-fine-tuning/nova/understanding/dataset_validation/nova_ft_dataset_validator.py); the
# 1,000 validation records, 32,000 tokens per record and file sizes are UNCONFIRMED.
_NOVA_QUOTAS = DatasetQuotas(
    min_records=8,
    max_train_records=20_000,
    max_validation_records=1_000,
    max_total_records=20_000,
    max_tokens_per_record=32_000,
    max_train_file_bytes=10 * GB,
    max_validation_file_bytes=1 * GB,
    chars_per_token=3.0,
)


# Nova Micro, Lite and Pro: UNCONFIRMED Active (read 2026-12-01). The lifecycle table lists them as launched
# 2024-12-04 with "EOL no sooner than 2025-12-04"; no Legacy notice was found, and no current model card was read.
_NOVA_LIFECYCLE = Lifecycle(
    LifecycleStatus.ACTIVE, "docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html", confirmed=False
)
# Nova 2 Lite's model card (read 2026-12-01): "Model lifecycle: Active", launched 2025-12-02, no EOL date.
# https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-amazon-nova-2-lite
_NOVA2_LIFECYCLE = Lifecycle(
    LifecycleStatus.ACTIVE, "docs.aws.amazon.com/bedrock/latest/userguide/model-card-amazon-nova-2-lite"
)


# Nova 2 Lite, read 2026-12-01: Bedrock's page (docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html)
# states no record or token quota. The validation script the Nova 2 user guide points to for checking a dataset
# (docs.aws.amazon.com/nova/latest/nova2-userguide/nova-data-preparation.html, "Validation tools") allows 200-20,000
# SFT samples for Nova 2 Lite (NOVA_2_0_LITE_SAMPLE_BOUNDS in aws-samples/amazon-nova-samples customization/
# bedrock-finetuning/understanding/dataset_validation/nova_ft_dataset_validator.py), so its minimum is 200, not
# Nova's 8. The page adds that a
# validation set "will not be supported during SFT training". The other limits are Nova's (UNCONFIRMED).
_NOVA2_LITE_QUOTAS = replace(_NOVA_QUOTAS, min_records=200)


def _nova(
    model_id: str,
    runtime_id: str,
    name: str,
    lifecycle: Lifecycle = _NOVA_LIFECYCLE,
    quotas: DatasetQuotas = _NOVA_QUOTAS,
) -> BaseModel:
    # [ON-DEMAND] (read 2026-12-01) lists Nova Micro, Lite, Pro and Nova 2 Lite for on-demand deployment in
    # us-east-1, the one Region where they can be fine-tuned; the model must be customized on or after 2025-07-16,
    # which every model this pipeline trains is.
    return BaseModel(
        model_id=model_id,
        runtime_model_id=runtime_id,
        display_name=name,
        data_format=DataFormat.CONVERSE,
        regions=("us-east-1",),
        quotas=quotas,
        # Verified 2026-11-25: https://docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-nova-mm.html
        # Nova 2 Lite's Bedrock hyperparameters are UNCONFIRMED (no page found 2026-12-01): it takes Nova's.
        hyperparameters=(
            HyperParameter("epochCount", 2, 1, 5, integer=True),
            HyperParameter("learningRate", 0.00001, 0.000001, 0.0001),
            HyperParameter("learningRateWarmupSteps", 10, 0, 100, integer=True),
        ),
        lifecycle=lifecycle,
        on_demand_regions=("us-east-1",),
    )


CATALOGUE: dict[str, BaseModel] = {
    m.model_id: m
    for m in (
        _CLAUDE_3_HAIKU,
        _llama(
            "meta.llama3-1-8b-instruct-v1:0:128k",
            "meta.llama3-1-8b-instruct-v1:0",
            "Llama 3.1 8B Instruct",
            DataFormat.PROMPT_COMPLETION,
            _LLAMA31_8B_LIFECYCLE,
        ),
        _llama(
            "meta.llama3-1-70b-instruct-v1:0:128k",
            "meta.llama3-1-70b-instruct-v1:0",
            "Llama 3.1 70B Instruct",
            DataFormat.PROMPT_COMPLETION,
            _LLAMA31_70B_LIFECYCLE,
        ),
        _llama(
            "meta.llama3-2-1b-instruct-v1:0:128k",
            "meta.llama3-2-1b-instruct-v1:0",
            "Llama 3.2 1B Instruct",
            DataFormat.CONVERSE,
            _LLAMA32_LIFECYCLE,
        ),
        _llama(
            "meta.llama3-2-3b-instruct-v1:0:128k",
            "meta.llama3-2-3b-instruct-v1:0",
            "Llama 3.2 3B Instruct",
            DataFormat.CONVERSE,
            _LLAMA32_LIFECYCLE,
        ),
        _llama(
            "meta.llama3-2-11b-instruct-v1:0:128k",
            "meta.llama3-2-11b-instruct-v1:0",
            "Llama 3.2 11B Instruct",
            DataFormat.CONVERSE,
            _LLAMA32_LIFECYCLE,
        ),
        _llama(
            "meta.llama3-2-90b-instruct-v1:0:128k",
            "meta.llama3-2-90b-instruct-v1:0",
            "Llama 3.2 90B Instruct",
            DataFormat.CONVERSE,
            _LLAMA32_LIFECYCLE,
        ),
        _TITAN_EXPRESS,
        _nova("amazon.nova-micro-v1:0:128k", "amazon.nova-micro-v1:0", "Nova Micro"),
        _nova("amazon.nova-lite-v1:0:300k", "amazon.nova-lite-v1:0", "Nova Lite"),
        _nova("amazon.nova-pro-v1:0:300k", "amazon.nova-pro-v1:0", "Nova Pro"),
        # [SUPPORTED] lists amazon.nova-2-lite-v1:0:256k in us-east-1. Its data format is Nova's Converse format
        # plus optional reasoning content (docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html,
        # read 2026-12-01). The model has no in-Region on-demand inference: the base model is called through the
        # US cross-Region inference profile.
        _nova(
            "amazon.nova-2-lite-v1:0:256k",
            "us.amazon.nova-2-lite-v1:0",
            "Nova 2 Lite",
            _NOVA2_LIFECYCLE,
            _NOVA2_LITE_QUOTAS,
        ),
    )
}

# The default: the strongest text model that Bedrock can fine-tune in us-west-2 whose lifecycle AWS documents as
# Active on 2026-12-01 ([SUPPORTED] and _LLAMA31_70B_LIFECYCLE). Claude 3 Haiku, the first default, reached end
# of life there on 2026-09-10. Llama 3.1 8B is the cheaper choice in the same Region.
DEFAULT_BASE_MODEL_ID = "meta.llama3-1-70b-instruct-v1:0:128k"


# [ON-DEMAND] also lists Llama 3.3 70B in us-west-2; the catalogue does not hold it (its model card says Legacy), so
# no catalogued model can be served on demand in us-west-2.
ON_DEMAND_SOURCE = "docs.aws.amazon.com/bedrock/latest/userguide/deploy-custom-model-on-demand.html, read 2026-12-01"


# The geographies of the cross-Region inference profiles a run may name as a reference model (`us.<model id>`):
# the ones the stack grants InvokeModel for and the settings accept
# (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html, read 2026-12-01).
INFERENCE_PROFILE_GEOGRAPHIES = ("us", "eu", "apac", "global")


def is_inference_profile_id(model_id: str) -> bool:
    """A cross-Region inference profile id (`us.anthropic...`) or an inference profile's ARN."""
    geography, _, rest = model_id.partition(".")
    return (geography in INFERENCE_PROFILE_GEOGRAPHIES and bool(rest)) or ":inference-profile/" in model_id


class UnsupportedModelError(ValueError):
    """The base model is unknown, or cannot be customized in the requested Region."""


def on_demand_anywhere(region: str) -> bool:
    """Whether any catalogued model that can be fine-tuned in ``region`` can be served on demand there."""
    return any(region in m.regions and region in m.on_demand_regions for m in CATALOGUE.values())


def on_demand_where() -> str:
    """Where the catalogue allows on-demand serving, for error messages: "Nova Micro (us-east-1), ..."."""
    return ", ".join(
        f"{m.display_name} ({', '.join(m.on_demand_regions)})" for m in CATALOGUE.values() if m.on_demand_regions
    )


def require_on_demand(model: BaseModel, region: str) -> None:
    """Fail in one line when a custom model of ``model`` cannot be served on demand in ``region``."""
    if contracts.SERVING_ON_DEMAND not in model.serving_modes(region):
        raise UnsupportedModelError(
            f"{model.display_name} ({model.model_id}) cannot be served on demand in {region}; on demand is "
            f"available for {on_demand_where()} (source: {ON_DEMAND_SOURCE})"
        )


def get_base_model(model_id: str) -> BaseModel:
    """Look a base model up by its customization identifier, with an error that lists the choices."""
    try:
        return CATALOGUE[model_id]
    except KeyError:
        # Customization ids carry a context-length suffix the runtime ids lack (":200k" for Claude 3 Haiku).
        close = sorted(known for known in CATALOGUE if known.startswith(model_id + ":"))
        if close:
            raise UnsupportedModelError(
                f"unknown base model {model_id!r}: fine-tuning uses the customization id, did you mean "
                f"{' or '.join(map(repr, close))}?"
            ) from None
        choices = ", ".join(sorted(CATALOGUE))
        raise UnsupportedModelError(f"unknown base model {model_id!r}; customizable models are: {choices}") from None


def alternatives(region: str, today: date, *, exclude: str = "") -> list[BaseModel]:
    """Catalogued models that can be fine-tuned in ``region`` and are documented as Active on ``today``."""
    return [
        m
        for m in CATALOGUE.values()
        if m.model_id != exclude
        and region in m.regions
        and m.lifecycle_in(region).status_on(today) is LifecycleStatus.ACTIVE
    ]


def _choose_instead(region: str, today: date, exclude: str) -> str:
    here = alternatives(region, today, exclude=exclude)
    if here:
        return "choose one of: " + ", ".join(f"{m.model_id} ({m.display_name})" for m in here)
    elsewhere = [
        f"{m.model_id} in {r}"
        for m in CATALOGUE.values()
        if m.model_id != exclude
        for r in m.regions
        if m.lifecycle_in(r).status_on(today) is LifecycleStatus.ACTIVE
    ]
    return "no catalogued model is Active in this Region; choose one of: " + ", ".join(elsewhere)


def lifecycle_verdict(model: BaseModel, region: str, today: date) -> tuple[bool, str | None]:
    """(blocking, message) for the documented lifecycle of ``model`` in ``region`` on ``today``.

    Blocking: documented end-of-life, confirmed by AWS's pages. Unconfirmed end-of-life and Legacy only warn:
    the live check (`Resolve run`, `finetune doctor`) has the last word. ``message`` is one line, or None.
    """
    facts = model.lifecycle_in(region)
    status = facts.status_on(today)
    if status is LifecycleStatus.ACTIVE:
        return False, None
    when = f" on {facts.end_of_life}" if facts.end_of_life else ""
    source = f"source: {facts.source}, read {facts.read_on}" + ("" if facts.confirmed else ", UNCONFIRMED")
    instead = _choose_instead(region, today, model.model_id)
    if status is LifecycleStatus.END_OF_LIFE:
        text = f"{model.display_name} ({model.model_id}) reached end of life in {region}{when} ({source}); {instead}"
        return facts.confirmed, text
    text = (
        f"{model.display_name} ({model.model_id}) is Legacy in {region}"
        + (f" and reaches end of life{when}" if when else "")
        + f" ({source}): AWS creates no new Provisioned Throughput for a Legacy model; {instead}"
    )
    return False, text


def require_customizable(model_id: str, region: str) -> BaseModel:
    """Return the base model, or fail when it cannot be fine-tuned in ``region`` [SUPPORTED]."""
    model = get_base_model(model_id)
    if region not in model.regions:
        raise UnsupportedModelError(
            f"{model.display_name} ({model_id}) cannot be fine-tuned in {region}; "
            f"supported Regions: {', '.join(model.regions)} "
            "(source: docs.aws.amazon.com/bedrock/latest/userguide/custom-model-fine-tuning.html)"
        )
    return model
