"""The typed pipeline settings: read once from the `pipeline` object in cdk.json context and validated.

A bad value stops synthesis with one line that names the key, the value and what is allowed, so a typo in
cdk.json never reaches an AWS account. Unknown keys are errors too: a misspelt key silently falling back to
its default is the most common way a setting "does nothing".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from pipeline_core import contracts
from pipeline_core.admission import run_slots
from pipeline_core.config import ConfigError, ConfigReader, misspelling_of
from pipeline_core.models import (
    CATALOGUE,
    DEFAULT_BASE_MODEL_ID,
    BaseModel,
    UnsupportedModelError,
    get_base_model,
    lifecycle_verdict,
    on_demand_anywhere,
    require_customizable,
    require_on_demand,
)
from stacks.reference_model_ids import REFERENCE_MODEL_DESCRIBED, REFERENCE_MODEL_PATTERN

CONTEXT_KEY = "pipeline"
DEFAULT_REGION = "us-west-2"
# How the candidate is served: `auto` serves on demand where the run's base model allows it in the Region and
# buys Provisioned Throughput elsewhere; a fixed mode allows only itself.
SERVING_AUTO = "auto"
SERVING_CHOICES = (SERVING_AUTO, contracts.SERVING_PROVISIONED, contracts.SERVING_ON_DEMAND)

T = TypeVar("T")


class SettingsError(ConfigError):
    """A setting in cdk.json is missing, misspelt or out of range."""


class _Reader(ConfigReader):
    """The shared config reader (pipeline_core.config), raising SettingsError."""

    error = SettingsError
    noun = "setting"


def _section(reader: _Reader, key: str, build: Callable[[_Reader], T]) -> T:
    return reader.section(key, build)


@dataclass(frozen=True)
class ChampionSettings:
    """Whether the candidate must also beat the champion (the model in production), and by how much.

    On by default, with the evidence standard the base comparison uses: any improvement (0 points) that the paired
    test finds significant (p <= 0.05). Without significance, a candidate that only ties the champion would replace
    it half the time by chance, and a run of such promotions lets quality drift down unnoticed.
    """

    enabled: bool = True
    min_improvement_points: float = 0.0
    max_p_value: float = 0.05


def _champion(r: _Reader) -> ChampionSettings:
    return ChampionSettings(
        enabled=r.boolean("enabled", True),
        # Negative: "may be this much worse than the champion" (a cheaper or fresher model); the report says so.
        min_improvement_points=r.number("minImprovementPoints", 0.0, -100.0, 100.0),
        max_p_value=r.number("maxPValue", 0.05, 0.0, 1.0),
    )


@dataclass(frozen=True)
class EvaluationSettings:
    """How the fine-tuned model is compared with the base model, and what it must reach to be promoted."""

    metric: str = "token_f1"
    max_tokens: int = 512
    concurrency: int = 4
    max_examples: int = 5_000
    batch_size: int = 25
    reference_models: tuple[str, ...] = ()
    min_score: float = 0.0
    min_improvement_points: float = 1.0
    min_improvement_percent: float = 0.0
    max_p_value: float = 0.05
    max_failed_share: float = 0.02
    champion: ChampionSettings = field(default_factory=ChampionSettings)


METRICS = ("token_f1", "exact_match", "accuracy", "macro_f1", "json_valid", "json_schema", "tatqa_f1", "tatqa_em")


def _evaluation(r: _Reader) -> EvaluationSettings:
    refs = r.string_list(
        "referenceModels",
        [],
        3,
        "a list of at most 3 Bedrock model ids",
        item_pattern=REFERENCE_MODEL_PATTERN,
        item_described=REFERENCE_MODEL_DESCRIBED,
    )
    return EvaluationSettings(
        metric=r.choice("metric", "token_f1", METRICS),
        max_tokens=r.number("maxTokens", 512, 1, 4096, integer=True),
        # The concurrency a single model unit sustains depends on the prompt sizes; 1-64 keeps one
        # misconfiguration from flooding the account's Bedrock quotas.
        concurrency=r.number("concurrency", 4, 1, 64, integer=True),
        max_examples=r.number("maxExamples", 5_000, 10, 100_000, integer=True),
        # Examples per Distributed Map item; each batch is one Lambda invocation of at most 15 minutes.
        batch_size=r.number("batchSize", 25, 1, 500, integer=True),
        reference_models=tuple(refs),
        min_score=r.number("minScore", 0.0, 0.0, 100.0),
        min_improvement_points=r.number("minImprovementPoints", 1.0, -100.0, 100.0),
        min_improvement_percent=r.number("minImprovementPercent", 0.0, -100.0, 1000.0),
        max_p_value=r.number("maxPValue", 0.05, 0.0, 1.0),
        max_failed_share=r.number("maxFailedShare", 0.02, 0.0, 1.0),
        champion=r.section("champion", _champion),
    )


@dataclass(frozen=True)
class ThroughputSettings:
    """Provisioned Throughput for the candidate: always without commitment, bounded in time and size."""

    model_units: int = 1
    keep_after_promotion: bool = True
    max_wait_minutes: int = 60
    time_to_live_hours: int = 24


# Hours a live run may hold its throughput after it comes into service (evaluation, aggregation, promotion).
EVALUATION_ALLOWANCE_HOURS = 2


def _throughput(r: _Reader) -> ThroughputSettings:
    settings = ThroughputSettings(
        # No-commitment Provisioned Throughput needs model units granted by AWS Support first
        # (https://docs.aws.amazon.com/bedrock/latest/userguide/prov-thru-purchase.html); 1 is the cheapest.
        model_units=r.number("modelUnits", 1, 1, 10, integer=True),
        keep_after_promotion=r.boolean("keepAfterPromotion", True),
        # Creation takes "around 20-30 minutes" (aws-samples Claude Haiku fine-tuning notebook); 60 leaves room.
        max_wait_minutes=r.number("maxWaitMinutes", 60, 10, 240, integer=True),
        time_to_live_hours=r.number("timeToLiveHours", 24, 1, 24 * 31, integer=True),
    )
    # The janitor deletes unpromoted throughput past its time-to-live even while its run is still live.
    floor = settings.max_wait_minutes / 60 + EVALUATION_ALLOWANCE_HOURS
    if settings.time_to_live_hours < floor:
        r.fail(
            "timeToLiveHours",
            settings.time_to_live_hours,
            f"at least maxWaitMinutes/60 + {EVALUATION_ALLOWANCE_HOURS} = {floor:g} hours, so the janitor never "
            "deletes the throughput of a run that is still evaluating",
        )
    return settings


@dataclass(frozen=True)
class SplitSettings:
    """How a single uploaded file is split into train/validation/test."""

    validation_share: float = 0.1
    test_share: float = 0.1
    seed: int = 13


def _split(r: _Reader) -> SplitSettings:
    validation = r.number("validationShare", 0.1, 0.0, 0.5)
    test = r.number("testShare", 0.1, 0.0, 0.5)
    if validation + test > 0.6:
        raise SettingsError(f"{r.path}: validationShare + testShare = {validation + test} is too large: at most 0.6")
    return SplitSettings(
        validation_share=validation, test_share=test, seed=r.number("seed", 13, 0, 2**31 - 1, integer=True)
    )


@dataclass(frozen=True)
class RetentionSettings:
    """How long logs and old object versions are kept."""

    log_days: int = 365
    noncurrent_version_days: int = 90
    incomplete_upload_days: int = 7
    access_log_days: int = 365


# CloudWatch Logs accepts only these retention periods (AWS::Logs::LogGroup RetentionInDays).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def _retention(r: _Reader) -> RetentionSettings:
    log_days = r.number("logDays", 365, 1, 3653, integer=True)
    if log_days not in LOG_RETENTION_DAYS:
        raise SettingsError(
            f"{r.path}.logDays = {log_days} is not allowed: expected one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    return RetentionSettings(
        log_days=log_days,
        noncurrent_version_days=r.number("noncurrentVersionDays", 90, 1, 3650, integer=True),
        incomplete_upload_days=r.number("incompleteUploadDays", 7, 1, 365, integer=True),
        access_log_days=r.number("accessLogDays", 365, 1, 3650, integer=True),
    )


@dataclass(frozen=True)
class TokenPrices:
    """On-demand USD prices per 1,000 input and output tokens of one model."""

    input_per_1k: float
    output_per_1k: float


@dataclass(frozen=True)
class PricingSettings:
    """Prices used for cost estimates only; nothing is billed from them. Check aws.amazon.com/bedrock/pricing."""

    training_per_1k_tokens: float | None = None
    model_unit_per_hour: float | None = None
    on_demand: Mapping[str, TokenPrices] = field(default_factory=dict)
    source: str | None = None
    date: str | None = None  # when the prices were read
    # A custom model served by an on-demand deployment, per base model runtime id: none by default, so the report
    # shows no figure rather than a guessed one (pricing.onDemandCustomModel).
    on_demand_custom_model: CustomModelPrices | None = None


@dataclass(frozen=True)
class CustomModelPrices:
    """On-demand token prices of custom models deployed for on-demand inference, with where they were read."""

    models: Mapping[str, TokenPrices]
    source: str
    date: str


def _token_prices(r: _Reader) -> TokenPrices:
    return TokenPrices(
        input_per_1k=r.number("inputPer1k", 0.0, 0.0, 1_000.0), output_per_1k=r.number("outputPer1k", 0.0, 0.0, 1_000.0)
    )


def _on_demand(r: _Reader) -> dict[str, TokenPrices]:
    return {model_id: r.section(model_id, _token_prices) for model_id in list(r.raw)}


# Claude 3 Haiku's on-demand list price at launch, the default base model's: used for the report's cost per
# 1,000 requests. Prices change; set your own under pricing.onDemand.
DEFAULT_ON_DEMAND = {"anthropic.claude-3-haiku-20240307-v1:0": TokenPrices(input_per_1k=0.00025, output_per_1k=0.00125)}
DEFAULT_PRICE_SOURCE = "https://aws.amazon.com/bedrock/pricing/ (Claude 3 Haiku on-demand list price at launch)"
DEFAULT_PRICE_DATE = "2024-03-13"


def _custom_model_prices(r: _Reader) -> CustomModelPrices:
    models = r.section("models", _on_demand)
    on_demand_models = {m.runtime_model_id for m in CATALOGUE.values() if m.on_demand_regions}
    for model_id in models:
        if model_id not in on_demand_models:
            r.child("models").fail(
                model_id,
                models[model_id],
                f"a price keyed by the runtime id of a base model that can be served on demand "
                f"({', '.join(sorted(on_demand_models))})",
            )
    source_described = "where the prices come from (a URL or a note); required with these prices"
    date_described = "the date the prices were read, YYYY-MM-DD; required with these prices"
    source = r.string("source", None, r"\S.{0,199}", source_described)
    date = r.string("date", None, r"\d{4}-\d{2}-\d{2}", date_described)
    if source is None:
        r.fail("source", None, source_described)
    if date is None:
        r.fail("date", None, date_described)
    return CustomModelPrices(models=models, source=source, date=date)


def _pricing(r: _Reader) -> PricingSettings:
    on_demand = r.section("onDemand", _on_demand) if r.present("onDemand") else dict(DEFAULT_ON_DEMAND)
    r.used.add("onDemand")
    return PricingSettings(
        training_per_1k_tokens=r.optional_number("trainingPer1kTokens", 0.0, 10_000.0),
        model_unit_per_hour=r.optional_number("modelUnitPerHour", 0.0, 10_000.0),
        on_demand=on_demand,
        source=r.string("source", DEFAULT_PRICE_SOURCE, r"\S.{0,199}", "where the prices come from (a URL or a note)"),
        date=r.string("date", DEFAULT_PRICE_DATE, r"\d{4}-\d{2}-\d{2}", "the date the prices were read, YYYY-MM-DD"),
        on_demand_custom_model=r.section("onDemandCustomModel", _custom_model_prices)
        if r.present("onDemandCustomModel")
        else None,
    )


APPROVAL_NONE = "none"
APPROVAL_REQUIRED = "required"


@dataclass(frozen=True)
class ApprovalSettings:
    """Whether a person must approve a candidate that passed the quality gate before it is promoted."""

    mode: str = APPROVAL_NONE
    # The longest wait the other defaults allow (timeToLiveHours 24 - maxWaitMinutes/60 1 - allowance 2), so
    # `mode: required` alone works; a longer wait needs a longer time-to-live and execution timeout.
    timeout_hours: int = 21

    @property
    def required(self) -> bool:
        return self.mode == APPROVAL_REQUIRED


def _approval(r: _Reader) -> ApprovalSettings:
    return ApprovalSettings(
        mode=r.choice("mode", APPROVAL_NONE, (APPROVAL_NONE, APPROVAL_REQUIRED)),
        # A week at most: the execution's own timeout is at most a week (executionTimeoutHours).
        timeout_hours=r.number("timeoutHours", ApprovalSettings.timeout_hours, 1, 24 * 7, integer=True),
    )


def _check_approval(settings: PipelineSettings) -> None:
    """A wait for approval must end before the execution times out (or nothing would clean up) and before the
    janitor deletes the candidate's throughput for being past its time-to-live (or approving would promote a
    deleted throughput)."""
    approval = settings.approval
    if not approval.required:
        return
    where = f"{CONTEXT_KEY}.approval.timeoutHours"
    if approval.timeout_hours >= settings.execution_timeout_hours:
        raise SettingsError(
            f"{where} = {approval.timeout_hours} is not allowed: expected less than "
            f"{CONTEXT_KEY}.executionTimeoutHours ({settings.execution_timeout_hours}), so a run awaiting approval "
            "is rejected and cleaned up before its execution times out",
            key=where,
        )
    floor = settings.throughput.max_wait_minutes / 60 + EVALUATION_ALLOWANCE_HOURS + approval.timeout_hours
    if settings.throughput.time_to_live_hours < floor:
        raise SettingsError(
            f"{CONTEXT_KEY}.provisionedThroughput.timeToLiveHours = {settings.throughput.time_to_live_hours} is not "
            f"allowed with approval required: expected at least maxWaitMinutes/60 + {EVALUATION_ALLOWANCE_HOURS} + "
            f"approval.timeoutHours = {floor:g} hours, so the janitor never deletes the throughput of a run that "
            "awaits approval",
            key=f"{CONTEXT_KEY}.provisionedThroughput.timeToLiveHours",
        )


@dataclass(frozen=True)
class AdmissionSettings:
    """How many runs may hold Bedrock resources at once, and how long a quota refusal is waited out."""

    max_concurrent_runs: int = 2
    max_concurrent_jobs: int = 2
    max_model_units: int = 2
    quota_wait_minutes: int = 60

    def run_slots(self, units_per_run: int, *, provisioned: bool = True) -> int:
        """Executions admitted at once: one run holds at most one job and one throughput (pipeline_core.admission)."""
        return run_slots(
            self.max_concurrent_runs,
            self.max_concurrent_jobs,
            self.max_model_units if provisioned else None,
            units_per_run,
        )


def _admission(r: _Reader) -> AdmissionSettings:
    return AdmissionSettings(
        # Each run starts a customization job, then a throughput; two at once keeps a burst of uploads from
        # holding (and billing) ten throughputs while still overlapping one run's training with another's evaluation.
        max_concurrent_runs=r.number("maxConcurrentRuns", 2, 1, 50, integer=True),
        # Bedrock's concurrent-customization-jobs quota: its default is UNCONFIRMED (the code L-0406044C comes from
        # third-party code, see pipeline_core.quotas); `finetune doctor` reads the account's value. 2 is the
        # cautious default; raise it to what the doctor reports.
        max_concurrent_jobs=r.number("maxConcurrentJobs", 2, 1, 100, integer=True),
        # "Model units no-commitment Provisioned Throughputs across custom models" (L-BE77399C, UNCONFIRMED):
        # an AWS sample says at most 2 no-commitment model units per account, the current docs say units must be
        # requested from AWS Support first (BEDROCK_FACTS 6; docs.aws.amazon.com/bedrock/latest/userguide/
        # prov-thru-purchase.html, read 2026-12-01). 2 matches the sample's limit.
        max_model_units=r.number("maxModelUnits", 2, 1, 1000, integer=True),
        # 0 fails a refused creation at once; at most 12 hours, checked against executionTimeoutHours below.
        quota_wait_minutes=r.number("quotaWaitMinutes", 60, 0, 720, integer=True),
    )


def _check_admission(settings: PipelineSettings) -> None:
    """A run must be able to buy its throughput within maxModelUnits, and its two quota waits (training, serving)
    must fit in the execution's time limit, or the execution would time out while it waits."""
    admission, units = settings.admission, settings.throughput.model_units
    where = f"{CONTEXT_KEY}.admission"
    if settings.serving != contracts.SERVING_ON_DEMAND and admission.max_model_units < units:
        raise SettingsError(
            f"{where}.maxModelUnits = {admission.max_model_units} is not allowed: expected at least "
            f"{CONTEXT_KEY}.provisionedThroughput.modelUnits ({units}), or no run could buy its throughput",
            key=f"{where}.maxModelUnits",
        )
    if 2 * admission.quota_wait_minutes >= settings.execution_timeout_hours * 60:
        raise SettingsError(
            f"{where}.quotaWaitMinutes = {admission.quota_wait_minutes} is not allowed: expected twice it (a run may "
            f"wait at training and at serving) to stay below {CONTEXT_KEY}.executionTimeoutHours "
            f"({settings.execution_timeout_hours} h)",
            key=f"{where}.quotaWaitMinutes",
        )


@dataclass(frozen=True)
class PipelineSettings:
    """Every knob of the pipeline, validated. Built once in app.py and passed down explicitly."""

    name: str = "finetune"
    region: str = DEFAULT_REGION
    base_model_id: str = ""
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    evaluation: EvaluationSettings = EvaluationSettings()
    throughput: ThroughputSettings = ThroughputSettings()
    split: SplitSettings = SplitSettings()
    retention: RetentionSettings = RetentionSettings()
    pricing: PricingSettings = PricingSettings()
    notification_email: str | None = None
    vpc_enabled: bool = True
    execution_timeout_hours: int = 36
    max_validation_loss: float | None = None
    # The catalogue's documented lifecycle of the base model, when it is not Active but not (confirmed) end-of-life:
    # synthesis goes on and shows this as a warning; the run checks the live account before it trains.
    lifecycle_warning: str | None = None
    # The deployed pipeline's alarm fires once the promoted or configured base model has at most this many days
    # left before its end of life (the janitor's DaysToEndOfLife).
    lifecycle_warning_days: int = 60
    serving: str = SERVING_AUTO
    # Whether a run's run.json may loosen the quality gate (lower a minimum, raise a maximum, drop the loss
    # threshold, keep a throughput the stack would delete). Off: run.json may only tighten it.
    allow_loosening_overrides: bool = False
    approval: ApprovalSettings = ApprovalSettings()
    admission: AdmissionSettings = AdmissionSettings()

    @property
    def base_model(self) -> BaseModel:
        return get_base_model(self.base_model_id)

    @property
    def on_demand_allowed(self) -> bool:
        """Whether a run of this stack may serve its candidate on demand: the setting allows it and some model that
        can be fine-tuned in the Region can be served on demand there. Only then does the stack grant the calls."""
        return self.serving != contracts.SERVING_PROVISIONED and on_demand_anywhere(self.region)


def _hyperparameters(r: _Reader, model: BaseModel) -> dict[str, str]:
    rendered: dict[str, str] = {}
    for hp in model.hyperparameters:
        value = r.number(hp.name, hp.default, hp.minimum, hp.maximum, integer=hp.integer)
        rendered[hp.name] = hp.render(value)
    return rendered


def load_settings(context: Any, *, today: date | None = None) -> PipelineSettings:
    """Build the settings from the `pipeline` context object, raising SettingsError on the first bad value.

    ``today`` (default: the current UTC date) decides whether a documented end-of-life date has passed.
    """
    r = _Reader(context, CONTEXT_KEY)
    name = r.string(
        "name",
        "finetune",
        r"[a-z][a-z0-9-]{1,19}",
        "2-20 lower-case letters, digits or hyphens, starting with a letter",
    )
    region = r.string("region", DEFAULT_REGION, r"[a-z]{2}(-gov)?-[a-z]+-\d", "an AWS Region code such as us-west-2")
    base_model_id = r.string("baseModelId", DEFAULT_BASE_MODEL_ID, r".+", "a Bedrock base model identifier")
    try:
        model = require_customizable(base_model_id, region)
    except UnsupportedModelError as err:
        raise SettingsError(f"{CONTEXT_KEY}.baseModelId / {CONTEXT_KEY}.region: {err}") from None
    blocking, lifecycle_message = lifecycle_verdict(model, region, today or datetime.now(UTC).date())
    if blocking:
        raise SettingsError(f"{CONTEXT_KEY}.baseModelId = {base_model_id!r}: {lifecycle_message}")
    hyperparameters = _section(r, "hyperparameters", lambda child: _hyperparameters(child, model))
    evaluation = _section(r, "evaluation", _evaluation)
    email = r.string(
        "notificationEmail",
        None,
        r"[^@\s]+@[^@\s]+\.[^@\s]+",
        "an email address, or null for no subscription",
        nullable=True,
    )
    # Optional training-metrics gate: the job's final validation loss must not exceed this.
    max_validation_loss = r.optional_number("maxValidationLoss", 0.0, 100.0)
    serving = r.choice("serving", SERVING_AUTO, SERVING_CHOICES)
    if serving == contracts.SERVING_ON_DEMAND:
        try:
            require_on_demand(model, region)
        except UnsupportedModelError as err:
            raise SettingsError(
                f"{r.where('serving')} = {serving!r}: {err}; "
                f"set it to {SERVING_AUTO} or {contracts.SERVING_PROVISIONED}",
                key=r.where("serving"),
            ) from None
    settings = PipelineSettings(
        name=name,
        region=region,
        base_model_id=base_model_id,
        hyperparameters=hyperparameters,
        evaluation=evaluation,
        throughput=_section(r, "provisionedThroughput", _throughput),
        split=_section(r, "split", _split),
        retention=_section(r, "retention", _retention),
        pricing=_section(r, "pricing", _pricing),
        notification_email=email,
        vpc_enabled=r.boolean("vpcEnabled", True),
        # Jobs take "several hours"; 36 h bounds a run that would otherwise hold Provisioned Throughput forever.
        execution_timeout_hours=r.number("executionTimeoutHours", 36, 2, 24 * 7, integer=True),
        max_validation_loss=max_validation_loss,
        lifecycle_warning=lifecycle_message,
        # A model stays Legacy for at least 6 months before its end of life, 45 days for some newer ones
        # (https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html, read 2026-12-01).
        lifecycle_warning_days=r.number("lifecycleWarningDays", 60, 1, 365, integer=True),
        serving=serving,
        allow_loosening_overrides=r.boolean("allowLooseningOverrides", False),
        approval=_section(r, "approval", _approval),
        admission=_section(r, "admission", _admission),
    )
    r.finish()
    _check_approval(settings)
    _check_admission(settings)
    # A price is looked up by the id a report compares: a base model's runtime id (a run's manifest may pick any
    # catalogued model) or a reference model's. Any other key (a typo, a customization id with its ":200k"
    # suffix) would silently never be used.
    priced = {m.runtime_model_id for m in CATALOGUE.values()} | set(evaluation.reference_models)
    pricing = r.raw.get("pricing")
    given = pricing.get("onDemand") if isinstance(pricing, dict) else None
    for model_id in given if isinstance(given, dict) else {}:
        if model_id not in priced:
            raise SettingsError(
                f"{CONTEXT_KEY}.pricing.onDemand: {model_id!r} is neither a base model's runtime id (such as "
                f"{model.runtime_model_id!r}) nor one of evaluation.referenceModels, so its price would never be used"
            )
    return settings


# Keys the CDK itself reads or writes in the context: feature flags, CLI options, acknowledgements, lookups.
CDK_CONTEXT_PREFIXES = ("@aws-cdk", "aws:", "aws-cdk:", "cdk", "acknowledged-issue-numbers")


def load_settings_from_context(context: Mapping[str, Any]) -> PipelineSettings:
    """The settings from the whole context; a key that looks like a misspelt `pipeline` is an error.

    Otherwise `"pipline": {...}` would be ignored and every setting would silently take its default.
    """
    for key in context:
        if key.startswith(CDK_CONTEXT_PREFIXES) or "=" in key:  # lookups: "availability-zones:account=...".
            continue
        if misspelling_of(key, CONTEXT_KEY):
            raise SettingsError(f"context key {key!r} is not used; did you mean {CONTEXT_KEY!r}?", key=key)
    if CONTEXT_KEY in context and context[CONTEXT_KEY] is None:
        raise SettingsError(
            f"{CONTEXT_KEY} = null is not allowed: expected an object (remove the key to use the defaults)",
            key=CONTEXT_KEY,
        )
    return load_settings(context.get(CONTEXT_KEY))
