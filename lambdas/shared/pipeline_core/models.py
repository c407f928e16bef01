"""The catalogue of base models this pipeline can customize: data format, quotas, Regions, hyperparameters.

This is the one place that says which base model can be fine-tuned where and with which limits. Synthesis
(settings validation), the dataset validator and the workflow all read it.

Sources (checked 2026-11-25):
- [SUPPORTED] https://docs.aws.amazon.com/bedrock/latest/userguide/custom-model-fine-tuning.html
  ("Supported models and Regions for fine-tuning").
- [PREP] https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-prepare.html
  (data formats and the per-model quota tables).
- [HP-CLAUDE] https://docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-anth-claude-3.html
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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
    legacy_end_of_life: str | None = None

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
    # Model card: Legacy, end of life 2026-09-10 in some Regions.
    # https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-3-haiku.html
    legacy_end_of_life="2026-09-10",
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


def _llama(model_id: str, runtime_id: str, name: str, data_format: DataFormat) -> BaseModel:
    return BaseModel(
        model_id=model_id,
        runtime_model_id=runtime_id,
        display_name=name,
        data_format=data_format,
        regions=("us-west-2",),
        quotas=_LLAMA_QUOTAS,
        hyperparameters=_EPOCHS_BATCH_LR,
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


def _nova(model_id: str, runtime_id: str, name: str) -> BaseModel:
    return BaseModel(
        model_id=model_id,
        runtime_model_id=runtime_id,
        display_name=name,
        data_format=DataFormat.CONVERSE,
        regions=("us-east-1",),
        quotas=_NOVA_QUOTAS,
        # Verified 2026-11-25: https://docs.aws.amazon.com/bedrock/latest/userguide/cm-hp-nova-mm.html
        hyperparameters=(
            HyperParameter("epochCount", 2, 1, 5, integer=True),
            HyperParameter("learningRate", 0.00001, 0.000001, 0.0001),
            HyperParameter("learningRateWarmupSteps", 10, 0, 100, integer=True),
        ),
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
        ),
        _llama(
            "meta.llama3-1-70b-instruct-v1:0:128k",
            "meta.llama3-1-70b-instruct-v1:0",
            "Llama 3.1 70B Instruct",
            DataFormat.PROMPT_COMPLETION,
        ),
        _llama(
            "meta.llama3-2-1b-instruct-v1:0:128k",
            "meta.llama3-2-1b-instruct-v1:0",
            "Llama 3.2 1B Instruct",
            DataFormat.CONVERSE,
        ),
        _llama(
            "meta.llama3-2-3b-instruct-v1:0:128k",
            "meta.llama3-2-3b-instruct-v1:0",
            "Llama 3.2 3B Instruct",
            DataFormat.CONVERSE,
        ),
        _llama(
            "meta.llama3-2-11b-instruct-v1:0:128k",
            "meta.llama3-2-11b-instruct-v1:0",
            "Llama 3.2 11B Instruct",
            DataFormat.CONVERSE,
        ),
        _llama(
            "meta.llama3-2-90b-instruct-v1:0:128k",
            "meta.llama3-2-90b-instruct-v1:0",
            "Llama 3.2 90B Instruct",
            DataFormat.CONVERSE,
        ),
        _TITAN_EXPRESS,
        _nova("amazon.nova-micro-v1:0:128k", "amazon.nova-micro-v1:0", "Nova Micro"),
        _nova("amazon.nova-lite-v1:0:300k", "amazon.nova-lite-v1:0", "Nova Lite"),
        _nova("amazon.nova-pro-v1:0:300k", "amazon.nova-pro-v1:0", "Nova Pro"),
    )
}

DEFAULT_BASE_MODEL_ID = _CLAUDE_3_HAIKU.model_id


class UnsupportedModelError(ValueError):
    """The base model is unknown, or cannot be customized in the requested Region."""


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
