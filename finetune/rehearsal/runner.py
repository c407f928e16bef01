"""The local rehearsal: the synthesized state machine, run by moto's interpreter, calling the real handlers in-process.

Steps (docs/rehearsal.md): synthesize the app in-process (nag and asset bundling off); create the template's buckets
(SSE-KMS under a moto KMS key), topic and rule in moto; resolve the state machine's ``DefinitionString`` to local
ARNs and create it in moto unchanged; start the simulated Bedrock stand-in; upload a dataset and deliver the S3
"Object Created" event to the trigger handler through Lambda, as EventBridge would; follow the execution; copy the
reports out of moto's S3. Everything Bedrock returns is simulated, and the reports say so.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO, cast
from unittest import mock

from finetune.atomic import atomic_write
from pipeline_core.contracts import ENV_PROMOTION_PARAMETER, SERVING_ON_DEMAND, SERVING_PROVISIONED, run_name_from_key
from pipeline_core.models import CATALOGUE, DEFAULT_BASE_MODEL_ID, DataFormat

from . import demo_data
from .admission import EndRelay, create_tables
from .approval import Approver
from .bedrock_standin import BedrockStandIn, SimulationConfig
from .champion import FAULT as CHAMPION_FAULT
from .champion import ChampionRun, run_champion
from .moto_patches import LocalFunction, LocalLambda, in_handler, patched_moto
from .moto_support import moto_with_passthrough
from .progress import Progress
from .template import TemplateResolver, find_resources

ROOT = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = ROOT / "lambdas"
ACCOUNT_ID = "123456789012"  # moto's default account, and the stand-in's

#: Faults of the rehearsal: the stand-in's own, plus two the rehearsal injects itself. One line each for --help.
REHEARSAL_FAULTS: Mapping[str, str] = {
    "job-failed": "the customization job ends Failed",
    "job-stopped": "the customization job is stopped by someone else",
    "pt-failed": "Provisioned Throughput ends Failed",
    "pt-stuck": "Provisioned Throughput stays Creating until the handler's wait limit (ThroughputNotReady)",
    "deployment-failed": "the on-demand deployment ends Failed (with a model that allows on-demand serving)",
    "deployment-stuck": "the on-demand deployment stays Creating until the wait limit (DeploymentNotReady)",
    "throttle-burst": "10% of model calls are throttled once (retried, the run still completes)",
    "runtime-errors": "5% of model calls fail with 5xx (retried) or ModelErrorException (counted as failed)",
    "handler-crash": "the aggregate handler raises once (an unhandled error the workflow catches)",
    "worse-candidate": "the fine-tuned model answers worse than the base model (the gate rejects it)",
    "weaker-than-champion": "a first run is promoted, then this run's model answers better than base but worse than "
    "that champion (the gate rejects it)",
    "duplicate-event": "the upload's event is delivered twice (one execution, one job)",
    "base-model-eol": "Bedrock says the base model reached end of life (the run stops before any job)",
    "base-model-legacy": "Bedrock says the base model is Legacy, end of life in 90 days (the run warns, completes)",
    "quota-exceeded": "Bedrock refuses the first creation of the job and of the throughput or deployment with "
    "ServiceQuotaExceededException (the workflow waits and retries; the run completes)",
}
STANDIN_FAULTS = frozenset(
    {
        "job-failed",
        "job-stopped",
        "pt-failed",
        "pt-stuck",
        "deployment-failed",
        "deployment-stuck",
        "throttle-burst",
        "runtime-errors",
        "worse-candidate",
        "weaker-than-champion",
        "base-model-eol",
        "base-model-legacy",
        "quota-exceeded",
    }
)
#: Faults that act on one way of serving the candidate: asked for in a rehearsal that serves it the other way, they
#: would do nothing, so the rehearsal refuses them (a usage error).
SERVING_FAULTS: Mapping[str, str] = {
    "pt-failed": SERVING_PROVISIONED,
    "pt-stuck": SERVING_PROVISIONED,
    "deployment-failed": SERVING_ON_DEMAND,
    "deployment-stuck": SERVING_ON_DEMAND,
}
#: The handler the handler-crash fault makes raise once.
CRASH_HANDLER = "aggregate"
#: The rehearsal's compressed clock: poll every second; give up on a throughput or a deployment after 6 seconds.
POLL_SECONDS = 1
THROUGHPUT_MAX_WAIT_MINUTES = 0.1
DEPLOYMENT_MAX_WAIT_MINUTES = 0.1
#: How long a run waits for approval (settings approval "required") on the compressed clock.
APPROVAL_TIMEOUT_SECONDS = 30
#: Settings every rehearsal synthesizes with, under the caller's overrides: a quota refusal is waited out for one
#: minute at most, so the QuotaExceeded retry's first wait is 3 seconds, not a minute (pipeline_core.admission).
REHEARSAL_SETTINGS: Mapping[str, Any] = {"admission": {"quotaWaitMinutes": 1}}
#: How often the execution's status is checked, and the bounds of the pause between history reads (_Follower).
STATUS_POLL_SECONDS = 0.2
HISTORY_POLL_MIN_SECONDS = 0.2
HISTORY_POLL_MAX_SECONDS = 2.0


class RehearsalError(Exception):
    """The rehearsal itself could not run (a usage problem or a template it cannot map)."""


#: A settings-override key (not a setting): the hyperparameters section that replaces cdk.json's instead of being
#: merged into it, so another model's unknown hyperparameters do not follow it (see model_overrides).
HYPERPARAMETERS_REPLACED = "_replaceHyperparameters"
DEFAULT_REGION = "us-west-2"  # stacks.settings' default, for a cdk.json that names no Region


# ---- synthesis ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SynthesizedApp:
    """The two templates and what the rehearsal needs to know about the stacks that made them."""

    templates: Mapping[str, Mapping[str, Any]]
    data_plane_stack: str
    pipeline_stack: str
    #: Lambda logical id (pipeline stack) -> handler folder under lambdas/.
    function_folders: Mapping[str, str]
    region: str
    settings_name: str
    #: The configured base model (customization id), whose data format the demo dataset follows.
    base_model_id: str = DEFAULT_BASE_MODEL_ID
    #: How the rehearsal's run serves its candidate (the demo's run.json names no mode: the setting decides).
    serving_mode: str = SERVING_PROVISIONED


def project_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def model_overrides(base_model_id: str | None = None, region: str | None = None) -> dict[str, Any]:
    """Settings overrides that rehearse another base model and/or Region (``finetune rehearse --base-model/--region``).

    Without ``region``, a model that cannot be fine-tuned in the configured Region moves to its first catalogued
    Region. The configured hyperparameters the new model does not take are dropped (the settings refuse unknown
    ones), so the model's defaults apply to them.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from stacks.settings import CONTEXT_KEY  # type: ignore[import-not-found,unused-ignore]

    if base_model_id is None and region is None:
        return {}
    try:
        configured = project_context().get(CONTEXT_KEY) or {}
    except (OSError, ValueError, KeyError) as err:
        raise RehearsalError(f"cannot read the settings in {ROOT / 'cdk.json'}: {err}") from None
    overrides: dict[str, Any] = {}
    if region is not None:
        overrides["region"] = region
    if base_model_id is not None:
        overrides["baseModelId"] = base_model_id
        model = CATALOGUE.get(base_model_id)
        if model is not None:
            if region is None and configured.get("region", DEFAULT_REGION) not in model.regions:
                overrides["region"] = model.regions[0]
            known = {hp.name for hp in model.hyperparameters}
            given = configured.get("hyperparameters") or {}
            overrides[HYPERPARAMETERS_REPLACED] = {k: v for k, v in given.items() if k in known}
    return overrides


def synthesize(settings_overrides: Mapping[str, Any] | None = None, outdir: str | None = None) -> SynthesizedApp:
    """Build the app in-process (cdk-nag off, asset bundling off: the rehearsal runs handlers from source)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import aws_cdk as cdk

    from app import build_app  # type: ignore[import-not-found,unused-ignore]
    from stacks.settings import (  # type: ignore[import-not-found,unused-ignore]
        CONTEXT_KEY,
        SettingsError,
        load_settings,
    )

    try:
        context = project_context()
    except (OSError, ValueError, KeyError) as err:
        raise RehearsalError(f"cannot read the settings in {ROOT / 'cdk.json'}: {err}") from None
    configured = _merge(context.get(CONTEXT_KEY) or {}, REHEARSAL_SETTINGS)
    pipeline_settings = apply_overrides(configured, settings_overrides or {})
    context[CONTEXT_KEY] = pipeline_settings
    context["aws:cdk:bundling-stacks"] = []  # no asset is deployed, so none is built
    with tempfile.TemporaryDirectory(prefix="rehearsal-synth-") as tmp:
        app = cdk.App(analytics_reporting=False, outdir=outdir or tmp, context=context)
        try:
            settings = load_settings(pipeline_settings)
        except SettingsError as err:
            source = "cdk.json with the rehearsal's overrides" if settings_overrides else "cdk.json"
            raise RehearsalError(f"{source}: {err}") from None
        stacks = build_app(app, settings, nag=False)
        assembly = app.synth()
        templates = {
            stack.stack_name: json.loads(Path(stack.template_full_path).read_text()) for stack in assembly.stacks
        }
    pipeline: Any = stacks["pipeline"]
    folders = {
        str(pipeline.resolve(function.function.node.default_child.logical_id)): folder
        for folder, function in pipeline.functions.items()
    }
    return SynthesizedApp(
        templates=templates,
        data_plane_stack=stacks["data_plane"].stack_name,
        pipeline_stack=pipeline.stack_name,
        function_folders=folders,
        region=settings.region,
        settings_name=settings.name,
        base_model_id=settings.base_model_id,
        serving_mode=_serving_mode(settings.serving, settings.base_model.serving_modes(settings.region)),
    )


def _serving_mode(setting: str, modes: Sequence[str]) -> str:
    """The serving mode of a run whose run.json names none, as Resolve run picks it (pipeline_core.manifest):
    ``auto`` serves on demand where the model allows it; a fixed setting serves its own way."""
    if setting in (SERVING_PROVISIONED, SERVING_ON_DEMAND):
        return setting
    return SERVING_ON_DEMAND if SERVING_ON_DEMAND in modes else SERVING_PROVISIONED


def apply_overrides(pipeline: Mapping[str, Any], settings_overrides: Mapping[str, Any]) -> dict[str, Any]:
    """cdk.json's ``pipeline`` settings with the rehearsal's overrides merged in (see model_overrides)."""
    overrides = dict(settings_overrides)
    replaced = overrides.pop(HYPERPARAMETERS_REPLACED, None)
    merged = _merge(pipeline, overrides)
    if replaced is not None:
        merged["hyperparameters"] = dict(replaced)
    return merged


def _merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# ---- local resources ---------------------------------------------------------------------------------------------
def _short_hash(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


class LocalResources:
    """Local values for the template's resources: real moto resources where the run uses them, stable names else."""

    def __init__(self, app: SynthesizedApp) -> None:
        self.app = app
        self.values: dict[tuple[str, str], dict[str | None, str]] = {}
        self.resolver = TemplateResolver(app.templates, self.lookup, region=app.region, account_id=ACCOUNT_ID)

    def lookup(self, stack: str, logical_id: str, attribute: str | None) -> str:
        values = self.values.get((stack, logical_id))
        if values is None:
            values = self._default(stack, logical_id)
            self.values[(stack, logical_id)] = values
        if attribute not in values:
            raise RehearsalError(f"the rehearsal has no local value for {stack}.{logical_id}.{attribute or 'Ref'}")
        return values[attribute]

    def physical_name(self, stack: str, logical_id: str, limit: int = 64) -> str:
        # CloudFormation names resources <stack>-<logical id>-<suffix>; a stable suffix keeps runs comparable.
        return f"{stack}-{logical_id}"[: limit - 13] + "-" + _short_hash(stack, logical_id, length=12).upper()

    def _default(self, stack: str, logical_id: str) -> dict[str | None, str]:
        kind = self.resolver.resource(stack, logical_id)["Type"]
        region, name = self.app.region, self.physical_name(stack, logical_id)
        service = kind.split("::")[1].lower()
        if kind == "AWS::IAM::Role":
            return {None: name, "Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", "RoleId": "AROA" + name[-12:]}
        if kind == "AWS::Lambda::Function":
            return {None: name, "Arn": f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"}
        if kind == "AWS::Logs::LogGroup":
            return {None: name, "Arn": f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{name}:*"}
        if kind == "AWS::SQS::Queue":
            return {
                None: f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{name}",
                "Arn": f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}",
                "QueueName": name,
            }
        if kind.startswith("AWS::EC2::"):
            prefix = {"VPC": "vpc", "Subnet": "subnet", "SecurityGroup": "sg"}.get(kind.split("::")[2], "res")
            local_id = f"{prefix}-{_short_hash(stack, logical_id)}"
            return {None: local_id, "GroupId": local_id, "VpcId": local_id, "SubnetId": local_id}
        return {None: name, "Arn": f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{name}"}

    def set(self, stack: str, logical_id: str, ref: str, **attributes: str) -> None:
        values: dict[str | None, str] = {None: ref}
        values.update(attributes)
        self.values[(stack, logical_id)] = values


@dataclass
class LocalCloud:
    """What the rehearsal created in moto, by role."""

    resources: LocalResources
    data_bucket: str
    artifacts_bucket: str
    topic_arn: str
    state_machine_arn: str
    definition: str
    rule_name: str
    event_pattern: str
    functions: dict[str, LocalFunction]
    environment: dict[str, str]


def _data_plane_bucket(app: SynthesizedApp, output_name: str) -> str:
    outputs = app.templates[app.data_plane_stack].get("Outputs", {})
    value = outputs.get(output_name, {}).get("Value", {})
    if "Ref" not in value:
        raise RehearsalError(f"the data plane template has no {output_name} output naming a bucket")
    return str(value["Ref"])


def provision(app: SynthesizedApp, region: str) -> LocalCloud:
    """Create the template's KMS keys, buckets, topic, rule and state machine in moto (inside ``mock_aws``)."""
    import boto3

    res = LocalResources(app)
    resolve = res.resolver.resolve
    kms, s3, sns = (boto3.client(name, region_name=region) for name in ("kms", "s3", "sns"))
    for stack, template in app.templates.items():
        for logical_id in find_resources(template, "AWS::KMS::Key"):
            key = kms.create_key(Description=f"rehearsal {stack}/{logical_id}")["KeyMetadata"]
            res.set(stack, logical_id, key["KeyId"], Arn=key["Arn"])
        for logical_id, bucket in find_resources(template, "AWS::S3::Bucket").items():
            properties = bucket.get("Properties", {})
            if "BucketName" in properties:
                name = res.resolver.resolve_string(properties["BucketName"], stack)
            else:
                name = res.physical_name(stack, logical_id, limit=63).lower()
            s3.create_bucket(Bucket=name, **_location(region))
            if "BucketEncryption" in properties:
                # CloudFormation's rule shape names the default "ServerSideEncryptionByDefault"; the API's "Apply...".
                rules = [
                    {("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
                     for k, v in rule.items()}
                    for rule in resolve(properties["BucketEncryption"], stack)["ServerSideEncryptionConfiguration"]
                ]  # fmt: skip
                s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
            if properties.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            res.set(stack, logical_id, name, Arn=f"arn:aws:s3:::{name}", DomainName=f"{name}.s3.amazonaws.com")
    pipeline = app.pipeline_stack
    template = app.templates[pipeline]
    topics = find_resources(template, "AWS::SNS::Topic")
    if len(topics) != 1:
        raise RehearsalError(f"expected one SNS topic in {pipeline}, found {len(topics)}")
    ((topic_id, topic),) = topics.items()
    attributes = {"DisplayName": topic["Properties"].get("DisplayName", "")}
    if "KmsMasterKeyId" in topic["Properties"]:
        attributes["KmsMasterKeyId"] = res.resolver.resolve_string(topic["Properties"]["KmsMasterKeyId"], pipeline)
    topic_arn = sns.create_topic(Name=res.physical_name(pipeline, topic_id, 256), Attributes=attributes)["TopicArn"]
    res.set(pipeline, topic_id, topic_arn, TopicName=topic_arn.rsplit(":", 1)[1])

    machines = find_resources(template, "AWS::StepFunctions::StateMachine")
    if len(machines) != 1:
        raise RehearsalError(f"expected one state machine in {pipeline}, found {len(machines)}")
    ((machine_id, machine),) = machines.items()
    props = machine["Properties"]
    definition = res.resolver.resolve_string(props["DefinitionString"], pipeline)
    sfn = boto3.client("stepfunctions", region_name=region)
    created = sfn.create_state_machine(
        name=props["StateMachineName"],
        definition=definition,
        roleArn=res.resolver.resolve_string(props["RoleArn"], pipeline),
        type=props.get("StateMachineType", "STANDARD"),
        tracingConfiguration={"enabled": bool(props.get("TracingConfiguration", {}).get("Enabled"))},
    )
    machine_arn = created["stateMachineArn"]
    res.set(pipeline, machine_id, machine_arn, Name=props["StateMachineName"])

    # The promotion parameter exists from the start, holding its placeholder, exactly as the template creates it;
    # Promote overwrites it, and every reader treats the placeholder as "nothing promoted".
    ssm = boto3.client("ssm", region_name=region)
    for logical_id, parameter in find_resources(template, "AWS::SSM::Parameter").items():
        properties = parameter["Properties"]
        name = res.resolver.resolve_string(properties["Name"], pipeline)
        value = res.resolver.resolve_string(properties["Value"], pipeline)
        ssm.put_parameter(Name=name, Value=value, Type=properties.get("Type", "String"))
        res.set(pipeline, logical_id, name)

    # The admission queue table; the functions' environment names it by Ref, which resolves to this name.
    for logical_id, name in create_tables(res.resolver, template, pipeline, region).items():
        res.set(pipeline, logical_id, name, Arn=f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}")
    functions: dict[str, LocalFunction] = {}
    environment: dict[str, str] = {}
    owners: dict[str, str] = {}
    for logical_id, function in find_resources(template, "AWS::Lambda::Function").items():
        folder = app.function_folders.get(logical_id)
        if folder is None:
            continue  # CDK's own helpers (none today in this stack); they are not part of the workflow
        variables = res.resolver.resolve(function["Properties"].get("Environment", {}).get("Variables", {}), pipeline)
        for name, value in variables.items():
            # One process hosts every handler, so their variables share os.environ: they must agree.
            if name in environment and environment[name] != value:
                raise RehearsalError(f"{name} differs between the {owners[name]} and {folder} functions")
            environment[name], owners[name] = str(value), folder
        functions[folder] = LocalFunction(
            name=res.lookup(pipeline, logical_id, None),
            arn=res.lookup(pipeline, logical_id, "Arn"),
            folder=folder,
            handler=_no_handler,
            timeout_seconds=int(function["Properties"].get("Timeout", 3)),
            memory_mb=int(function["Properties"].get("MemorySize", 128)),
        )
    missing = sorted(set(app.function_folders.values()) - functions.keys())
    if missing:
        raise RehearsalError(f"no Lambda function in {pipeline} for the handler folders {missing}")

    rule_name, pattern = _upload_rule(res, app, functions["trigger"].arn, region)
    return LocalCloud(
        resources=res,
        data_bucket=res.lookup(app.data_plane_stack, _data_plane_bucket(app, "DataBucketName"), None),
        artifacts_bucket=res.lookup(app.data_plane_stack, _data_plane_bucket(app, "ArtifactsBucketName"), None),
        topic_arn=topic_arn,
        state_machine_arn=machine_arn,
        definition=definition,
        rule_name=rule_name,
        event_pattern=pattern,
        functions=functions,
        environment=environment,
    )


def _location(region: str) -> dict[str, Any]:
    """CreateBucket's Region argument: us-east-1 is the default and refuses to be named as a LocationConstraint
    (docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html, read 2026-12-01; moto answers
    InvalidLocationConstraint as S3 does)."""
    return {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}


def _upload_rule(res: LocalResources, app: SynthesizedApp, trigger_arn: str, region: str) -> tuple[str, str]:
    """Create the rule that targets the trigger function (moto's EventBridge never invokes it; we deliver)."""
    import boto3

    pipeline = app.pipeline_stack
    for logical_id, rule in find_resources(app.templates[pipeline], "AWS::Events::Rule").items():
        props = rule["Properties"]
        targets = res.resolver.resolve(props.get("Targets", []), pipeline)
        if "EventPattern" in props and any(target["Arn"] == trigger_arn for target in targets):
            pattern = json.dumps(res.resolver.resolve(props["EventPattern"], pipeline))
            name = res.physical_name(pipeline, logical_id)
            events = boto3.client("events", region_name=region)
            events.put_rule(Name=name, EventPattern=pattern, State=props.get("State", "ENABLED"))
            events.put_targets(Rule=name, Targets=[{"Id": t["Id"], "Arn": t["Arn"]} for t in targets])
            return name, pattern
    raise RehearsalError(f"no EventBridge rule in {pipeline} targets the trigger function")


def _no_handler(event: Any, context: Any) -> Any:
    raise RehearsalError("handler not loaded")


# ---- handlers ----------------------------------------------------------------------------------------------------
def load_handler(folder: str, tag: str) -> Callable[[Any, Any], Any]:
    """Import ``lambdas/<folder>/handler.py`` as a fresh module (a cold start) with its folder importable."""
    path = LAMBDAS_DIR / folder / "handler.py"
    shared = str(LAMBDAS_DIR / "shared")
    if shared not in sys.path:
        sys.path.insert(0, shared)
    spec = importlib.util.spec_from_file_location(f"_rehearsal_{tag}_{folder}", path)
    if spec is None or spec.loader is None:
        raise RehearsalError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    handler: Callable[[Any, Any], Any] = module.handler
    return handler


def enter_local_aws(stack: ExitStack, region: str) -> None:
    """Make every AWS call of this process local: test credentials, no profile or endpoint of the user's, moto with
    its Step Functions interpreter, and the pipeline's client cache emptied on the way in and out."""
    from pipeline_aws.clients import CLIENTS

    local = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "FINETUNE_SIMULATION": "1",
    }
    stack.enter_context(mock.patch.dict(os.environ, local))
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    extra = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    stack.enter_context(moto_with_passthrough(extra=extra))
    CLIENTS.reset()
    stack.callback(CLIENTS.reset)


def handler_environment(cloud: LocalCloud, standin_env: Mapping[str, str]) -> dict[str, str]:
    """The functions' environment as the template sets it, pointed at the stand-in, with rehearsal-sized waits."""
    env = dict(cloud.environment)
    env.update(standin_env)
    env["FINETUNE_SIMULATION"] = "1"
    if "PIPELINE_DEFAULTS" in env:
        env["PIPELINE_DEFAULTS"] = rehearsal_defaults(env["PIPELINE_DEFAULTS"])
    return env


def run_handlers_locally(
    stack: ExitStack,
    cloud: LocalCloud,
    env: Mapping[str, str],
    output_dir: Path,
    crash_once: frozenset[str] = frozenset(),
) -> LocalLambda:
    """Give the functions `env`, send their logs to output_dir/handlers.log, load each handler afresh and let moto's
    Lambda run them in this process. Returns the LocalLambda, whose invocations are the run's record."""
    stack.enter_context(mock.patch.dict(os.environ, env))
    stack.enter_context(_handler_logs(output_dir / "handlers.log"))
    tag = uuid.uuid4().hex[:8]
    for function in cloud.functions.values():
        function.handler = load_handler(function.folder, tag)
    local_lambda = LocalLambda(cloud.functions, crash_once=crash_once)
    stack.enter_context(patched_moto(local_lambda))
    return local_lambda


def rehearsal_defaults(defaults_json: str) -> str:
    """PIPELINE_DEFAULTS with the compressed clock: 1-second polls and short throughput and deployment waits."""
    defaults = json.loads(defaults_json)
    poll = defaults.setdefault("poll", {})
    for key in (*poll, "job_seconds", "throughput_seconds"):  # every poll the workflow has, whatever its name
        poll[key] = POLL_SECONDS
    defaults.setdefault("throughput", {})["max_wait_minutes"] = THROUGHPUT_MAX_WAIT_MINUTES
    if "approval" in defaults:
        defaults["approval"]["timeout_seconds"] = APPROVAL_TIMEOUT_SECONDS
    if "serving" in defaults:
        defaults["serving"]["max_wait_minutes"] = DEPLOYMENT_MAX_WAIT_MINUTES
    return json.dumps(defaults, sort_keys=True)


# ---- the run -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RehearsalOptions:
    run_name: str = "demo"
    dataset: Path | None = None  # None: the generated demo dataset
    records: int = demo_data.DEFAULT_COUNT
    seed: int = demo_data.DEFAULT_SEED
    candidate_accuracy: float = 0.9
    base_accuracy: float = 0.7
    faults: frozenset[str] = frozenset()
    output_dir: Path | None = None  # default ./rehearsal-output/<run>/
    timeout_seconds: float = 120.0
    quiet: bool = False
    #: Pipeline settings merged over cdk.json's (``synthesize``'s argument); only when ``rehearse`` synthesizes.
    settings_overrides: Mapping[str, Any] = field(default_factory=dict)
    #: Simulated latency of every model call, in ms (``SimulationConfig.default_latency_ms``).
    latency_ms: float = 0.0
    #: The stand-in's rate limits in requests per second (``SimulationConfig``); None turns a limit off.
    rps_per_model_unit: float | None = SimulationConfig.rps_per_model_unit
    on_demand_rps: float | None = SimulationConfig.on_demand_rps
    #: Called with the local resources and the execution ARN once the run has ended, while moto still holds
    #: them: lets tests operate the rehearsed pipeline (e.g. with the operator commands). Its result is kept.
    after_run: Callable[[LocalCloud, str | None], Any] | None = None
    #: Handler folders whose first invocation raises (tests of the cleanup paths; see the handler-crash fault).
    crash_handlers: frozenset[str] = frozenset()
    #: The simulated date the stand-in judges model lifecycles on (None: today, UTC).
    today: date | None = None
    #: How the rehearsal answers a wait for approval (settings approval "required"): approve, reject, or timeout
    #: (no answer); None answers nothing. ``approval_timeout_seconds`` replaces the compressed clock's wait.
    approval: str | None = None
    approval_timeout_seconds: int | None = None
    #: run.json keys besides ``train``: the dataset is uploaded as runs/<run>/train.jsonl with this run.json
    #: instead of inbox/<run>.jsonl. None: the inbox upload.
    manifest: Mapping[str, Any] | None = None
    #: The stand-in's concurrent customization jobs quota (``SimulationConfig.customization_job_quota``).
    customization_job_quota: int = SimulationConfig.customization_job_quota


@dataclass
class RehearsalResult:
    status: str
    error: str | None
    cause: str | None
    execution_arn: str | None
    executions: int
    output_dir: Path
    report_files: list[Path]
    table_md: str | None
    states: list[str]
    trigger_results: list[dict[str, Any]]
    notifications: list[dict[str, Any]]
    provisioned_throughputs: list[dict[str, Any]]
    running_jobs: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    standin_errors: dict[tuple[str, str, str], int]
    definition: str  # what the resolver rendered from the template
    executed_definition: str  # what moto's state machine holds (DescribeStateMachine)
    cloud: LocalCloud
    seconds: float
    invocations: list[Any] = field(default_factory=list)
    #: The execution's history events (GetExecutionHistory), timestamps included.
    history: list[dict[str, Any]] = field(default_factory=list)
    #: The per-example records the Evaluate stage wrote (``evaluation/results/*.jsonl``), in key order.
    evaluation_records: list[dict[str, Any]] = field(default_factory=list)
    #: What ``RehearsalOptions.after_run`` returned.
    after_run_result: Any = None
    #: "Display name (customization id)" of the rehearsed base model, and what the stand-in said of its lifecycle.
    base_model: str = ""
    base_model_lifecycle: str = ""
    #: Custom model deployments (on-demand serving) the stand-in still holds, as GetCustomModelDeployment says.
    custom_model_deployments: list[dict[str, Any]] = field(default_factory=list)
    #: CreateProvisionedModelThroughput and CreateCustomModelDeployment requests the run made (retries included).
    throughputs_created: int = 0
    deployments_created: int = 0
    #: The promoted first run of the weaker-than-champion fault (finetune.rehearsal.champion).
    champion_run: ChampionRun | None = None
    #: The decisions the rehearsal sent (finetune.approval.Decided), with RehearsalOptions.approval.
    approvals: list[Any] = field(default_factory=list)
    #: The most customization jobs running, and throughputs plus deployments existing, at once (BedrockStandIn.peaks);
    #: and the creating calls the quota-exceeded fault refused, by operation.
    peaks: dict[str, int] = field(default_factory=dict)
    quota_refusals: dict[str, int] = field(default_factory=dict)
    #: The promotion parameter's record once the run ended (the model in production, whichever run promoted it).
    promotion_record: dict[str, Any] = field(default_factory=dict)

    @property
    def promoted(self) -> bool:
        return self.status == "SUCCEEDED"


class _HandlerStdout:
    """``sys.stdout`` while the rehearsal runs: what a handler invocation prints (its metrics, EMF documents) goes
    to the handler log, as in Lambda, where stdout is the function's log stream; everything else (the caller's
    own prints, an ``after_run`` hook running ``finetune`` commands, the stand-in's threads) goes to the stdout it
    had. Routed per thread (``moto_patches.in_handler``): moto runs states on threads of its own, concurrently with
    the caller and with each other. A handler's output reaches the log a whole line at a time, so two invocations
    printing at once never interleave within a line."""

    def __init__(self, caller: TextIO, handlers: TextIO, lock: threading.Lock) -> None:
        self._caller, self._handlers, self._lock = caller, handlers, lock
        self._pending = threading.local()

    def write(self, text: str) -> int:
        if not in_handler():
            return self._caller.write(text)
        buffered = getattr(self._pending, "text", "") + text
        complete, newline, rest = buffered.rpartition("\n")
        self._pending.text = rest
        if newline:
            with self._lock:
                self._handlers.write(complete + newline)
        return len(text)

    def flush(self) -> None:
        if not in_handler():
            self._caller.flush()
            return
        rest, self._pending.text = getattr(self._pending, "text", ""), ""
        with self._lock:
            if rest:
                self._handlers.write(rest)
            self._handlers.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno...: the caller's stream
        return getattr(self._caller, name)


@contextmanager
def _handler_logs(path: Path) -> Iterator[None]:
    """Send the handlers' JSON logs to a file so stderr shows only the progress lines. What the handlers print goes
    there too (in Lambda both land in the function's log stream, and the metrics are printed), but only what they
    print: the caller's stdout stays the caller's (``_HandlerStdout``)."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        routed = _HandlerStdout(sys.stdout, stream, threading.Lock())
        root.handlers = [logging.StreamHandler(stream)]
        with redirect_stdout(cast(TextIO, routed)):
            try:
                yield
            finally:
                root.handlers = saved
                root.setLevel(level)


def _s3_event(bucket: str, key: str, head: Mapping[str, Any], region: str) -> dict[str, Any]:
    """The EventBridge "Object Created" event S3 sends.

    Shape: docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
    """
    obj: dict[str, Any] = {"key": key, "size": head["ContentLength"], "etag": str(head["ETag"]).strip('"'),
                           "sequencer": uuid.uuid4().hex[:18].upper()}  # fmt: skip
    if head.get("VersionId"):
        obj["version-id"] = head["VersionId"]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT_ID,
            "reason": "PutObject",
        },
    }


def _dataset_bytes(options: RehearsalOptions, data_format: DataFormat) -> tuple[bytes, list[dict[str, Any]]]:
    if options.dataset is not None:
        data = options.dataset.read_bytes()
    else:
        data = demo_data.to_jsonl(list(demo_data.records(options.records, options.seed, data_format)))
    learned: list[dict[str, Any]] = []
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            learned.append(record)
    return data, learned


def _notifications(topic_arn: str, region: str) -> list[dict[str, Any]]:
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT_ID][region].topics[topic_arn]
    found = []
    for item in topic.sent_notifications:
        # (message id, message, subject, attributes, group id) in moto 5.2.5
        message, subject = item[1], item[2]
        try:
            body = json.loads(message)
        except ValueError:
            body = {"raw": message}
        found.append({"subject": subject, "message": body})
    return found


#: States after which the follower prints a status: state name -> (key of its output, what to call it).
#: A deployment is written to ``$.throughput`` too, the one path every later state reads.
STATUS_STATES: Mapping[str, tuple[str, str]] = {
    "Start training": ("job", "job"),
    "Check training": ("job", "job"),
    "Provision throughput": ("throughput", "throughput"),
    "Check throughput": ("throughput", "throughput"),
    "Deploy candidate": ("throughput", "deployment"),
    "Check deployment": ("throughput", "deployment"),
}


class _Follower:
    """Prints each state as the execution enters it, and the job and throughput status while waiting.

    The history is read again only after a pause that doubles, from HISTORY_POLL_MIN_SECONDS up to
    HISTORY_POLL_MAX_SECONDS, while nothing new happens. moto serializes the whole history (every state's input and
    output) on each GetExecutionHistory, in this process, holding the interpreter lock the handlers' Converse threads
    need: read every 0.2 s, it cut bench/bench_evaluation.py's ratio from 0.77-0.80 to 0.69-0.71 (docs/rehearsal.md).
    """

    def __init__(self, sfn: Any, progress: Progress) -> None:
        self.sfn = sfn
        self.progress = progress
        self.seen = 0
        self.states: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._pause = HISTORY_POLL_MIN_SECONDS
        self._next = 0.0

    def poll(self, execution_arn: str, *, force: bool = False) -> None:
        """Read the history if it is due (or ``force``) and report what is new."""
        if not force and time.monotonic() < self._next:
            return
        events = self._history(execution_arn)
        new = len(events) > self.seen
        self._pause = HISTORY_POLL_MIN_SECONDS if new else min(2 * self._pause, HISTORY_POLL_MAX_SECONDS)
        self._next = time.monotonic() + self._pause
        for event in events[self.seen :]:
            kind = event["type"]
            if kind.endswith("StateEntered"):
                name = event["stateEnteredEventDetails"]["name"]
                self.states.append(name)
                if not (name.startswith("Wait for") and self.states[-3:-1].count(name)):
                    self.progress.step(name)
            elif kind.endswith("StateExited"):
                details = event["stateExitedEventDetails"]
                name = details["name"]
                if name in STATUS_STATES:
                    output = json.loads(details.get("output") or "{}")
                    key, what = STATUS_STATES[name]
                    status = (output.get(key) or {}).get("status")
                    if status:
                        self.progress.step(f"  {what} status: {status}")
        self.seen = len(events)
        self.events = events

    def _history(self, execution_arn: str) -> list[dict[str, Any]]:
        pages = self.sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        return [event for page in pages for event in page["events"]]


def rehearse(
    options: RehearsalOptions, app: SynthesizedApp | None = None, progress: Progress | None = None
) -> RehearsalResult:
    """Run one rehearsal end to end; ``app`` may be shared between runs (tests synthesize once)."""
    progress = progress or Progress(quiet=options.quiet)
    unknown = sorted(options.faults - REHEARSAL_FAULTS.keys())
    if unknown:
        raise RehearsalError(f"unknown fault(s) {unknown}; known: {', '.join(REHEARSAL_FAULTS)}")
    started = time.monotonic()
    if app is None:
        progress.step("Synthesizing the app (in-process, cdk-nag off)")
        app = synthesize(options.settings_overrides)
    elif options.settings_overrides:
        raise RehearsalError("settings_overrides apply at synthesis: pass an app synthesized with them, or no app")
    idle = sorted(fault for fault in options.faults if SERVING_FAULTS.get(fault, app.serving_mode) != app.serving_mode)
    if idle:
        served = "on demand" if app.serving_mode == SERVING_ON_DEMAND else "through Provisioned Throughput"
        other = (
            "a model served through Provisioned Throughput, such as the default"
            if app.serving_mode == SERVING_ON_DEMAND
            else "one that allows on-demand serving: --base-model amazon.nova-lite-v1:0:300k --region us-east-1"
        )
        raise RehearsalError(
            f"--fault {idle[0]} would do nothing: {app.base_model_id} in {app.region} is served {served}; "
            f"rehearse it with {other}"
        )
    base_model = CATALOGUE[app.base_model_id]
    data, learned = _dataset_bytes(options, base_model.data_format)
    region = app.region
    output_dir = options.output_dir or Path("rehearsal-output") / options.run_name
    config = SimulationConfig(
        accuracy={"candidate": options.candidate_accuracy, "base": options.base_accuracy},
        seed=options.seed,
        faults=frozenset(options.faults & STANDIN_FAULTS),
        default_latency_ms=options.latency_ms,
        rps_per_model_unit=options.rps_per_model_unit,
        on_demand_rps=options.on_demand_rps,
        region=region,
        account_id=ACCOUNT_ID,
        today=options.today,
        base_model_id=base_model.model_id,
        customization_job_quota=options.customization_job_quota,
    )
    with ExitStack() as stack:
        enter_local_aws(stack, region)
        import boto3

        s3 = boto3.client("s3", region_name=region)
        standin = stack.enter_context(BedrockStandIn(config, s3_client=s3))
        standin.learn(learned)
        progress.step("Creating the template's resources in moto; starting the simulated Bedrock stand-in")
        cloud = provision(app, region)
        env = handler_environment(cloud, standin.env())
        if "PIPELINE_DEFAULTS" in env and options.approval_timeout_seconds is not None:
            defaults = json.loads(env["PIPELINE_DEFAULTS"])
            defaults.setdefault("approval", {})["timeout_seconds"] = options.approval_timeout_seconds
            env["PIPELINE_DEFAULTS"] = json.dumps(defaults)
        crash = frozenset({CRASH_HANDLER}) if "handler-crash" in options.faults else frozenset()
        crash |= options.crash_handlers
        local_lambda = run_handlers_locally(stack, cloud, env, output_dir, crash)

        champion = None
        if CHAMPION_FAULT in options.faults:  # a first run, promoted, that this one must beat (champion.py)
            champion = run_champion(
                cloud,
                data,
                run_name=f"{options.run_name}-champion",
                region=region,
                account_id=ACCOUNT_ID,
                progress=progress,
                timeout_seconds=options.timeout_seconds,
            )
        key = f"inbox/{options.run_name}.jsonl"
        if options.manifest is not None:
            folder = f"runs/{options.run_name}/"
            s3.put_object(Bucket=cloud.data_bucket, Key=folder + "train.jsonl", Body=data)
            key = folder + "run.json"
            data = json.dumps({"train": "train.jsonl", **options.manifest}).encode()
        s3.put_object(Bucket=cloud.data_bucket, Key=key, Body=data)
        head = s3.head_object(Bucket=cloud.data_bucket, Key=key)
        progress.step(f"Uploaded {len(learned)} records to s3://{cloud.data_bucket}/{key}")
        event = _s3_event(cloud.data_bucket, key, head, region)
        events = boto3.client("events", region_name=region)
        if not events.test_event_pattern(EventPattern=cloud.event_pattern, Event=json.dumps(event))["Result"]:
            raise RehearsalError(f"the upload rule's pattern does not match the event for {key}")
        lambda_client = boto3.client("lambda", region_name=region)
        deliveries = 2 if "duplicate-event" in options.faults else 1
        trigger_results: list[dict[str, Any]] = []
        for _ in range(deliveries):
            response = lambda_client.invoke(FunctionName=cloud.functions["trigger"].arn, Payload=json.dumps(event))
            payload = json.loads(response["Payload"].read())
            if response.get("FunctionError"):
                raise RehearsalError(f"the trigger failed: {payload.get('errorType')}: {payload.get('errorMessage')}")
            trigger_results.append(payload)
            progress.step(f"Upload event delivered to the trigger: {_describe_trigger(payload)}")
        sfn = boto3.client("stepfunctions", region_name=region)
        executions = sfn.list_executions(stateMachineArn=cloud.state_machine_arn)["executions"]
        execution_arn = next((r["execution_arn"] for r in trigger_results if r.get("execution_arn")), None)
        follower = _Follower(sfn, progress)
        approver = Approver(options.approval, region, cloud.state_machine_arn, cloud.artifacts_bucket)
        relay = EndRelay(sfn, lambda_client, cloud.functions["dispatcher"].arn, cloud.state_machine_arn, region,
                         ACCOUNT_ID)  # fmt: skip
        status, error, cause = "NOT_STARTED", None, None
        if execution_arn is not None:
            deadline = time.monotonic() + options.timeout_seconds
            while True:
                follower.poll(execution_arn)
                approver.poll(s3, str(run_name_from_key(key)), execution_arn)
                described = sfn.describe_execution(executionArn=execution_arn)
                status = described["status"]
                if status != "RUNNING":
                    relay.poll()  # the end reaches the dispatcher, as EventBridge's status-change rule delivers it
                    follower.poll(execution_arn, force=True)
                    error, cause = described.get("error"), described.get("cause")
                    break
                if time.monotonic() > deadline:
                    sfn.stop_execution(executionArn=execution_arn, error="RehearsalTimeout",
                                       cause=f"the rehearsal gave up after {options.timeout_seconds:g} s")  # fmt: skip
                    follower.poll(execution_arn, force=True)
                    status, error = "TIMED_OUT", "RehearsalTimeout"
                    cause = f"the execution did not finish within {options.timeout_seconds:g} s"
                    break
                time.sleep(STATUS_POLL_SECONDS)
            output_dir.mkdir(parents=True, exist_ok=True)
        report_files, table_md = _copy_reports(s3, cloud, options.run_name, execution_arn, output_dir)
        records = _evaluation_records(s3, cloud, options.run_name, execution_arn)
        after_run_result = options.after_run(cloud, execution_arn) if options.after_run else None
        result = RehearsalResult(
            status=status,
            error=error,
            cause=cause,
            execution_arn=execution_arn,
            executions=len(executions),
            output_dir=output_dir,
            report_files=report_files,
            table_md=table_md,
            states=follower.states,
            trigger_results=trigger_results,
            notifications=_notifications(cloud.topic_arn, region),
            provisioned_throughputs=standin.provisioned_throughputs(),
            custom_model_deployments=standin.custom_model_deployments(),
            throughputs_created=standin.call_count("CreateProvisionedModelThroughput"),
            deployments_created=standin.call_count("CreateCustomModelDeployment"),
            running_jobs=standin.running_jobs(),
            jobs=standin.jobs(),
            base_model=f"{base_model.display_name} ({base_model.model_id})",
            base_model_lifecycle=_lifecycle_phrase(standin, base_model.model_id, region),
            standin_errors=standin.errors,
            definition=cloud.definition,
            executed_definition=sfn.describe_state_machine(stateMachineArn=cloud.state_machine_arn)["definition"],
            cloud=cloud,
            seconds=time.monotonic() - started,
            invocations=list(local_lambda.invocations),
            history=follower.events,
            evaluation_records=records,
            after_run_result=after_run_result,
            champion_run=champion,
            approvals=list(approver.decided),
            peaks=standin.peaks(),
            quota_refusals=standin.quota_refusals(),
            promotion_record=_promotion_record(cloud, region),
        )
    return result


def _promotion_record(cloud: LocalCloud, region: str) -> dict[str, Any]:
    """What the promotion parameter names once the run has ended ({} when nothing is promoted): the model in
    production, whichever run promoted it."""
    import boto3

    name = cloud.environment.get(ENV_PROMOTION_PARAMETER)
    if not name:
        return {}
    try:
        value = boto3.client("ssm", region_name=region).get_parameter(Name=name)["Parameter"]["Value"]
        record = json.loads(value)
    except Exception:  # absent, the placeholder, or not JSON: nothing promoted
        return {}
    return record if isinstance(record, dict) else {}


def _describe_trigger(payload: Mapping[str, Any]) -> str:
    if payload.get("started"):
        return f"started execution {payload.get('execution_name')}"
    return f"no new execution ({payload.get('reason')})"


def _copy_reports(
    s3: Any, cloud: LocalCloud, run_name: str, execution_arn: str | None, output_dir: Path
) -> tuple[list[Path], str | None]:
    """Copy the run's reports (and the validation report) out of moto's S3 into ``output_dir``.

    Reports an earlier rehearsal left there are removed first: the folder shows this run's outcome only.
    """
    names = ("report.json", "report.md", "report.html", "validation/report.json", "validation/report.txt")
    for name in names:
        (output_dir / name.replace("/", "-")).unlink(missing_ok=True)
    if execution_arn is None:
        return [], None
    execution = execution_arn.rsplit(":", 1)[1]
    prefix = f"runs/{run_name}/{execution}/"
    copied: list[Path] = []
    table_md: str | None = None
    for name in names:
        try:
            body = s3.get_object(Bucket=cloud.artifacts_bucket, Key=prefix + name)["Body"].read()
        except s3.exceptions.NoSuchKey:
            continue
        target = output_dir / name.replace("/", "-")
        target.parent.mkdir(parents=True, exist_ok=True)
        # Replaced only once complete: an interrupted copy never leaves half a report (or half an input file).
        with atomic_write(target, "wb", encoding=None) as out:
            out.write(body)
        copied.append(target)
        if name == "report.md":
            table_md = body.decode()
    return copied, table_md


def _evaluation_records(s3: Any, cloud: LocalCloud, run_name: str, execution_arn: str | None) -> list[dict[str, Any]]:
    """The records in the run's ``evaluation/results/`` files, read before moto's S3 goes away."""
    if execution_arn is None:
        return []
    prefix = f"runs/{run_name}/{execution_arn.rsplit(':', 1)[1]}/evaluation/results/"
    records: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=cloud.artifacts_bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=cloud.artifacts_bucket, Key=item["Key"])["Body"].read()
            records.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return records


def _lifecycle_phrase(standin: BedrockStandIn, model_id: str, region: str) -> str:
    state = standin.lifecycle(model_id)
    if state is None:
        return f"unknown to the simulated Bedrock in {region}"
    return f"{state.describe()} in {region} on {standin.config.date.isoformat()}"


def readable_cause(cause: str | None, error: str | None = None) -> str:
    """A failed run's cause as its notification and `finetune status` say it (pipeline_core.explain.sentence): a
    Lambda error's message without the stack trace, never JSON or a path to code; "" without a cause."""
    from pipeline_core.explain import sentence

    return sentence(error, cause) if cause else ""


def summary_lines(result: RehearsalResult) -> list[str]:
    """The closing lines: final status and reason, the reports, the base model, and what the stand-in holds."""
    lines = [f"Execution {result.status}" + (f": {result.execution_arn}" if result.execution_arn else "")]
    if result.error or result.cause:
        lines.append(f"Reason: {result.error or ''}: {readable_cause(result.cause, result.error)}".rstrip(": "))
    elif result.promoted:
        lines.append("Reason: the candidate passed the quality gate and was promoted")
    lines.append(still_billing(result))
    if result.report_files:
        report = next((p for p in result.report_files if p.name == "report.md"), result.report_files[0])
        lines.append(f"Report: {report} ({len(result.report_files)} file(s) in {result.output_dir})")
    else:
        lines.append(f"Report: none written (handler logs in {result.output_dir / 'handlers.log'})")
    if result.base_model:
        lines.append(f"Base model: {result.base_model}, simulated lifecycle {result.base_model_lifecycle}")
    started = f"{len(result.jobs)} job(s) started in total" if result.jobs else "no customization job was started"
    lines.append(
        f"Simulated Bedrock still holds {len(result.custom_model_deployments)} custom model deployment(s), "
        f"{len(result.provisioned_throughputs)} Provisioned Throughput(s) and "
        f"{len(result.running_jobs)} running customization job(s) ({started})"
    )
    return lines


def still_billing(result: RehearsalResult) -> str:
    """What the run would leave billing in AWS, and why (finetune.rehearsal.billing)."""
    from .billing import billing_line, final_state

    return billing_line(
        throughputs=result.provisioned_throughputs,
        deployments=result.custom_model_deployments,
        state=final_state(result.history),
        recorded=result.promotion_record,
        model=result.base_model.split(" (", 1)[0],
        trained=any(job.get("status") == "Completed" for job in result.jobs),
    )


def exit_code(result: RehearsalResult) -> int:
    return 0 if result.promoted else 1


def fault_help() -> Sequence[str]:
    return [f"{name}: {text}" for name, text in REHEARSAL_FAULTS.items()]
