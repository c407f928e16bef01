"""Parses and validates a run's `run.json` manifest and merges it with the deployment defaults into the run spec.

The manifest is what a user writes, so every error is one line naming the file, the line, the key, the value
and what is allowed (`runs/x/run.json line 4: hyperparameters.epochCount = 20 is not allowed: expected an
integer from 1 to 10`). The run spec is the `$.run` document of the workflow (DESIGN.md, "The workflow's data").
No AWS calls here: the handler reads the file and checks that the named files exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_core import contracts
from pipeline_core.config import ConfigError, ConfigReader
from pipeline_core.metrics.registry import metric_names
from pipeline_core.models import BaseModel, UnsupportedModelError, require_customizable, require_on_demand
from pipeline_core.names import RunNames

# A file named in run.json lives beside it: a plain file name, no folders (the Bedrock role and the trigger
# only look inside the run's own folder).
FILE_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}"
MAX_MANIFEST_BYTES = 64 * 1024
DEFAULT_MAX_TRAINING_HOURS = 24
SERVING_MODES = (contracts.SERVING_PROVISIONED, contracts.SERVING_ON_DEMAND)
# The stack setting `serving` (stacks/settings.py): `auto` lets each run serve on demand where its model allows.
SERVING_AUTO = "auto"


class InvalidManifest(ValueError):
    """run.json is not valid; the message is one line for the user. The class name is contracts.ERROR_MANIFEST."""


class _ManifestReader(ConfigReader):
    noun = "run.json key"


# ---- the deployment defaults (PIPELINE_DEFAULTS) ------------------------------------------------------------


@dataclass(frozen=True)
class RunDefaults:
    """The run spec defaults resolved from cdk.json at synth time and passed to `Resolve run` as JSON."""

    pipeline_name: str
    base_model_id: str
    hyperparameters: dict[str, str]
    split: dict[str, Any]
    evaluation: dict[str, Any]
    throughput: dict[str, Any]
    max_validation_loss: float | None
    price_per_1k_training_tokens: float | None
    poll: dict[str, Any]
    max_training_hours: float = DEFAULT_MAX_TRAINING_HOURS
    pricing: dict[str, Any] | None = None  # on-demand token prices for cost estimates, with source and date
    # {"setting": auto|provisionedThroughput|onDemand, "max_wait_minutes": int}. Defaults written before on-demand
    # serving existed come from a stack that grants no deployment calls: Provisioned Throughput only.
    serving: dict[str, Any] = field(default_factory=lambda: {"setting": contracts.SERVING_PROVISIONED})
    # pipeline.allowLooseningOverrides: whether run.json may loosen the quality gate below these defaults. Defaults
    # written before the setting existed tighten only, the safe reading of an unknown stack.
    allow_loosening: bool = False
    # pipeline.approval: {"mode": none|required, "timeout_seconds": int, "execution_timeout_seconds": int}; the run
    # spec carries it (`$.run.approval`), and `Bound approval wait` cuts timeout_seconds to the execution's end.
    approval: dict[str, Any] = field(default_factory=lambda: {"mode": "none", "timeout_seconds": 72 * 3600})

    @property
    def serving_setting(self) -> str:
        return str(self.serving.get("setting") or contracts.SERVING_PROVISIONED)

    @property
    def serving_max_wait_minutes(self) -> int:
        """How long a deployment may stay Creating; the Provisioned Throughput bound unless set on its own."""
        return int(self.serving.get("max_wait_minutes") or self.throughput.get("max_wait_minutes") or 60)

    @classmethod
    def from_json(cls, text: str) -> RunDefaults:
        """Parse PIPELINE_DEFAULTS; a KeyError/TypeError here is a deployment bug, not a user error."""
        raw = json.loads(text)
        evaluation = dict(raw["evaluation"])
        evaluation["gate"] = dict(evaluation["gate"])
        return cls(
            pipeline_name=str(raw["pipeline_name"]),
            base_model_id=str(raw["base_model_id"]),
            hyperparameters={str(k): str(v) for k, v in raw["hyperparameters"].items()},
            split=dict(raw["split"]),
            evaluation=evaluation,
            throughput=dict(raw["throughput"]),
            max_validation_loss=raw.get("max_validation_loss"),
            price_per_1k_training_tokens=raw.get("price_per_1k_training_tokens"),
            poll=dict(raw["poll"]),
            max_training_hours=float(raw.get("max_training_hours", DEFAULT_MAX_TRAINING_HOURS)),
            pricing=raw.get("pricing"),
            serving=dict(raw.get("serving") or {"setting": contracts.SERVING_PROVISIONED}),
            allow_loosening=bool(raw.get("allow_loosening_overrides", False)),
            approval=dict(raw.get("approval") or {"mode": "none", "timeout_seconds": 72 * 3600}),
        )


# ---- what a manifest chooses -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunChoices:
    """The validated manifest merged with the defaults: everything the run spec needs besides names and buckets."""

    base_model: BaseModel
    hyperparameters: dict[str, str]
    split: dict[str, Any]
    evaluation: dict[str, Any]
    keep_after_promotion: bool
    max_validation_loss: float | None
    serving_mode: str = contracts.SERVING_PROVISIONED
    train: str | None = None  # file names beside run.json; None for a single inbox upload
    validation: str | None = None
    test: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # role -> file name, in manifest order

    @property
    def epochs(self) -> int:
        """Epochs for cost estimates; a model without an epochCount hyperparameter trains once."""
        value = self.hyperparameters.get("epochCount")
        return int(float(value)) if value is not None else 1


def _line_of(text: str, dotted_key: str) -> int | None:
    """The line on which the (possibly nested) key appears, searching each segment after its parent."""
    pos, line = 0, None
    for segment in dotted_key.split("."):
        match = re.compile(r'"' + re.escape(segment) + r'"\s*:').search(text, pos)
        if match is None:
            break
        pos, line = match.end(), text.count("\n", 0, match.start()) + 1
    return line


def _fail(source: str, text: str, key: str, detail: str) -> InvalidManifest:
    line = _line_of(text, key) if key else None
    return InvalidManifest(f"{source} line {line}: {detail}" if line else f"{source}: {detail}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ConfigError(f"{key} appears twice", key=key)
        seen[key] = value
    return seen


def _hyperparameters(r: ConfigReader, model: BaseModel, start: Mapping[str, str]) -> dict[str, str]:
    rendered = dict(start)
    for hp in model.hyperparameters:
        if r.present(hp.name):
            rendered[hp.name] = hp.render(r.number(hp.name, hp.default, hp.minimum, hp.maximum, integer=hp.integer))
    return rendered


# ---- run.json tightens the quality gate, never loosens it (unless pipeline.allowLooseningOverrides) -------------
# Whoever may upload run.json is not necessarily whoever set the stack's gate: a run may ask for more (a higher
# score, a smaller p-value), never for less, unless the stack's owner allowed it in cdk.json.
LOOSENING_HINT = (
    "remove the key or choose a stricter value, or set pipeline.allowLooseningOverrides to true in cdk.json and deploy"
)
# run.json key (under evaluation) -> (gate field, range, direction): an "at least" key is stricter when higher, an
# "at most" key when lower.
GATE_KEYS: tuple[tuple[str, str, float, float, str], ...] = (
    ("minScore", "min_score", 0.0, 100.0, "at least"),
    ("minImprovementPoints", "min_improvement_points", -100.0, 100.0, "at least"),
    ("minImprovementPercent", "min_improvement_percent", -100.0, 1000.0, "at least"),
    ("maxPValue", "max_p_value", 0.0, 1.0, "at most"),
    ("maxFailedShare", "max_failed_share", 0.0, 1.0, "at most"),
)


def _shown_number(value: float) -> str:
    """0.05 -> "0.05", 1.0 -> "1": a number as a person writes it."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def loosens(direction: str, requested: float | None, allowed: float | None) -> bool:
    """Whether a run's value is less strict than the stack's. None is "no threshold": the loosest value of an
    "at most" key, so it loosens any threshold and tightens nothing; any threshold tightens "no threshold"."""
    if allowed is None:
        return False
    if requested is None:
        return True
    return requested < allowed if direction == "at least" else requested > allowed


def loosening_message(where: str, requested: float | None, direction: str, allowed: float) -> str:
    """One line: the key, the requested and the allowed value, and what to do."""
    shown = "null" if requested is None else _shown_number(requested)
    verb = "requires" if direction == "at least" else "allows"
    return f"{where} = {shown} loosens the gate (stack {verb} {direction} {_shown_number(allowed)}); {LOOSENING_HINT}"


def _tighten_only(r: ConfigReader, key: str, requested: float | None, direction: str, allowed: float | None) -> None:
    if loosens(direction, requested, allowed):
        assert allowed is not None  # loosens() is False without a stack threshold
        raise ConfigError(loosening_message(r.where(key), requested, direction, allowed), key=r.where(key))


def _evaluation(r: ConfigReader, defaults: Mapping[str, Any], *, allow_loosening: bool) -> dict[str, Any]:
    """Evaluation overrides; the ranges are the ones `stacks/settings.py` applies to cdk.json. Unless
    `allow_loosening`, a gate value less strict than the stack's is refused."""
    gate = dict(defaults["gate"])
    result = {k: v for k, v in defaults.items() if k != "gate"}
    result.setdefault("system_prompt", None)
    stack_metric = str(defaults["metric"])
    result["metric"] = r.choice("metric", stack_metric, metric_names())
    # The gate's thresholds were set for the stack's metric: another one (an easier score) loosens them all.
    if result["metric"] != stack_metric and not allow_loosening:
        where = r.where("metric")
        raise ConfigError(
            f"{where} = {result['metric']} loosens the gate (stack requires metric {stack_metric}, the one its "
            f"thresholds were set for); {LOOSENING_HINT}",
            key=where,
        )
    if r.present("maxTokens"):
        result["max_tokens"] = r.number("maxTokens", 0, 1, 4096, integer=True)
    if r.present("concurrency"):
        result["concurrency"] = r.number("concurrency", 0, 1, 64, integer=True)
    if r.present("referenceModels"):
        chosen = r.string_list("referenceModels", [], 3, "a list of at most 3 Bedrock model ids")
        # The evaluation role may invoke only the references deployed with the stack (cdk.json); another model
        # would fail every call with AccessDenied, so a run may pick among those and no other.
        deployed = [str(m) for m in defaults.get("reference_models") or []]
        unknown = [m for m in chosen if m not in deployed]
        if unknown:
            allowed = ", ".join(deployed) if deployed else "none are deployed"
            raise ConfigError(
                f"{', '.join(unknown)} is not a deployed reference model ({allowed}); add it to "
                "pipeline.evaluation.referenceModels in cdk.json and deploy",
                key="referenceModels",
            )
        result["reference_models"] = chosen
    if r.present("systemPrompt"):
        result["system_prompt"] = r.string("systemPrompt", "", r"(?s).{1,20000}", "a string of 1 to 20000 characters")
    for key, name, lo, hi, direction in GATE_KEYS:
        if r.present(key):
            value = r.number(key, 0.0, lo, hi)
            if not allow_loosening:
                _tighten_only(r, key, value, direction, float(defaults["gate"][name]))
            gate[name] = value
    result["gate"] = gate
    return result


def _split(r: ConfigReader, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Split overrides; the ranges are the ones `stacks/settings.py` applies to cdk.json."""
    split = dict(defaults)
    if r.present("validationShare"):
        split["validation_share"] = r.number("validationShare", 0.0, 0.0, 0.5)
    if r.present("testShare"):
        split["test_share"] = r.number("testShare", 0.0, 0.0, 0.5)
    if r.present("seed"):
        split["seed"] = r.number("seed", 0, 0, 2**31 - 1, integer=True)
    total = float(split["validation_share"]) + float(split["test_share"])
    if total > 0.6:
        raise ConfigError(f"split: validationShare + testShare = {total:g} is too large: at most 0.6", key="split")
    return split


def _model(model_id: str, region: str) -> BaseModel:
    try:
        return require_customizable(model_id, region)
    except UnsupportedModelError as err:
        raise ConfigError(f"baseModelId: {err}", key="baseModelId") from None


def _serving(r: ConfigReader, defaults: RunDefaults, model: BaseModel, region: str) -> str:
    """The run's serving mode: the manifest's choice within what the stack allows, or the stack's default.

    The stack setting `auto` allows both modes and picks on demand where the model allows it; a fixed setting
    allows only itself. Either way the model must allow the mode in the Region (pipeline_core.models).
    """
    setting = defaults.serving_setting
    allowed = SERVING_MODES if setting == SERVING_AUTO else (setting,)
    if r.present("serving"):
        mode = r.choice("serving", "", SERVING_MODES)
        if mode not in allowed:
            raise ConfigError(
                f"serving = {mode!r} is not allowed: this pipeline's setting pipeline.serving is {setting!r}; "
                f"use {' or '.join(map(repr, allowed))}, or change the setting in cdk.json and deploy",
                key="serving",
            )
    elif setting == SERVING_AUTO:
        modes = model.serving_modes(region)
        mode = contracts.SERVING_ON_DEMAND if contracts.SERVING_ON_DEMAND in modes else contracts.SERVING_PROVISIONED
    else:
        mode = setting
    if mode == contracts.SERVING_ON_DEMAND:
        try:
            require_on_demand(model, region)
        except UnsupportedModelError as err:
            if r.present("serving"):
                raise ConfigError(f"serving: {err}; remove serving to use the default", key="serving") from None
            raise ConfigError(
                f"baseModelId: {err}, and this pipeline serves only on demand (pipeline.serving); choose one of those",
                key="baseModelId",
            ) from None
    return mode


def _choices(r: ConfigReader, defaults: RunDefaults, region: str, *, manifest: bool) -> RunChoices:
    files: dict[str, str] = {}
    if manifest:
        for role in ("train", "validation", "test"):
            described = "a file name beside run.json, such as train.jsonl"
            name = r.string(role, None, FILE_NAME_PATTERN, described)
            if name == contracts.MANIFEST_NAME:
                r.fail(role, name, described)
            if name is not None:
                files[role] = name
        if "train" not in files:
            raise ConfigError("train is required: name the training file beside run.json", key="")
        if "validation" in files and "test" not in files:
            raise ConfigError(
                "validation is named but test is not: the quality gate needs a test set; name test too, "
                "or name only train to have it split automatically",
                key="validation",
            )
    model_id = r.string("baseModelId", defaults.base_model_id, r".+", "a Bedrock base model identifier")
    model = _model(model_id, region)
    start = (
        defaults.hyperparameters
        if model.model_id == defaults.base_model_id
        else {hp.name: hp.render(hp.default) for hp in model.hyperparameters}
    )
    hyperparameters = r.section("hyperparameters", lambda c: _hyperparameters(c, model, start))
    evaluation = r.section(
        "evaluation", lambda c: _evaluation(c, defaults.evaluation, allow_loosening=defaults.allow_loosening)
    )
    if r.present("split") and ("validation" in files or "test" in files):
        raise ConfigError("split is allowed only when neither validation nor test is named", key="split")
    split = r.section("split", lambda c: _split(c, defaults.split))
    stack_keep = bool(defaults.throughput["keep_after_promotion"])
    keep = r.boolean("keepThroughput", stack_keep)
    # Keeping the candidate's throughput is the looser choice: it bills by the hour with no end set, and the kept
    # throughput is what the promotion record tells applications to call. Not keeping it never starts a bill.
    if keep and not stack_keep and not defaults.allow_loosening:
        raise ConfigError(
            "keepThroughput = true loosens the gate (stack setting provisionedThroughput.keepAfterPromotion is false: "
            f"a promoted model keeps no throughput); {LOOSENING_HINT}",
            key="keepThroughput",
        )
    serving_mode = _serving(r, defaults, model, region)
    # Present and null switches the deployment's loss threshold off for this run.
    if r.present("maxValidationLoss"):
        loss = r.optional_number("maxValidationLoss", 0.0, 100.0)
        if not defaults.allow_loosening:
            _tighten_only(r, "maxValidationLoss", loss, "at most", defaults.max_validation_loss)
    else:
        loss = defaults.max_validation_loss
    r.finish()
    return RunChoices(
        base_model=model,
        hyperparameters=hyperparameters,
        split=split,
        evaluation=evaluation,
        keep_after_promotion=keep,
        max_validation_loss=loss,
        serving_mode=serving_mode,
        train=files.get("train"),
        validation=files.get("validation"),
        test=files.get("test"),
        files=files,
    )


def parse_manifest(text: str, *, source: str, defaults: RunDefaults, region: str) -> RunChoices:
    """Validate run.json text (`source` names it in errors) and merge it with the defaults.

    Raises InvalidManifest with a one-line, line-numbered message on the first problem.
    """
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as err:
        raise InvalidManifest(f"{source} line {err.lineno}: not valid JSON: {err.msg} (column {err.colno})") from None
    except ConfigError as err:
        raise _fail(source, text, err.key, str(err)) from None
    if not isinstance(raw, dict):
        raise InvalidManifest(f'{source} line 1: expected a JSON object such as {{"train": "train.jsonl"}}')
    try:
        return _choices(_ManifestReader(raw), defaults, region, manifest=True)
    except ConfigError as err:
        raise _fail(source, text, err.key, str(err)) from None


def default_choices(defaults: RunDefaults, region: str) -> RunChoices:
    """The choices for a single inbox upload: the deployment defaults, checked against the Region."""
    try:
        return _choices(_ManifestReader({}), defaults, region, manifest=False)
    except ConfigError as err:
        raise InvalidManifest(f"pipeline defaults: {err}") from None


def referenced_files(text: str) -> list[str]:
    """Best effort for the trigger: the file names a manifest names, or [] when it does not parse."""
    try:
        raw = json.loads(text)
    except ValueError:
        return []
    if not isinstance(raw, dict):
        return []
    return [
        v
        for k in ("train", "validation", "test")
        if isinstance(v := raw.get(k), str) and re.fullmatch(FILE_NAME_PATTERN, v)
    ]


def manifest_folder(manifest_key: str) -> str:
    """`runs/<folder>/run.json` -> `runs/<folder>/`: the named files live beside the manifest."""
    return manifest_key.rsplit("/", 1)[0] + "/"


def build_run_spec(
    choices: RunChoices,
    defaults: RunDefaults,
    *,
    run_name: str,
    execution_name: str,
    data_bucket: str,
    artifacts_bucket: str,
    source: Mapping[str, Any],
    execution_start_time: str | None = None,
) -> dict[str, Any]:
    """The `$.run` document (DESIGN.md). `source` is `{kind, train_key, validation_key, test_key}`.

    `execution_start_time` (`$$.Execution.StartTime`) makes `resource_name` and `token_seed` unique to this
    execution even when a later one reuses its name (pipeline_core.names).
    """
    throughput = dict(defaults.throughput)
    throughput["keep_after_promotion"] = choices.keep_after_promotion
    names = RunNames.for_execution(execution_name, execution_start_time)
    return {
        "pipeline_name": defaults.pipeline_name,
        "run_name": run_name,
        "execution_name": execution_name,
        "execution_start_time": execution_start_time,
        "resource_name": names.resource_name,
        "token_seed": names.token_seed,
        "base_model_id": choices.base_model.model_id,
        "runtime_model_id": choices.base_model.runtime_model_id,
        "data_bucket": data_bucket,
        "artifacts_bucket": artifacts_bucket,
        "artifacts_prefix": contracts.run_prefix(run_name, execution_name),
        "source": dict(source),
        "split": choices.split,
        "hyperparameters": choices.hyperparameters,
        "epochs": choices.epochs,
        "evaluation": choices.evaluation,
        "throughput": throughput,
        "serving": {"mode": choices.serving_mode, "max_wait_minutes": defaults.serving_max_wait_minutes},
        "max_validation_loss": choices.max_validation_loss,
        "price_per_1k_training_tokens": defaults.price_per_1k_training_tokens,
        "poll": dict(defaults.poll),
        "max_training_hours": defaults.max_training_hours,
        "pricing": defaults.pricing,
        "approval": dict(defaults.approval),
    }
