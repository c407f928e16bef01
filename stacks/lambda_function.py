"""One way to build a pipeline Lambda: its own role and encrypted log group, arm64, traced, minimal asset.

Each function's asset holds its own folder plus the shared domain (`pipeline_core`) and AWS helper
(`pipeline_aws`) packages, copied at synth time without Docker; nothing else of the repository ships. Powertools for
AWS Lambda (Python), which the handlers log, trace and publish metrics with, comes from AWS's published layer, so
the assets hold no compiled code and no copy of it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from pipeline_core import contracts, telemetry
from stacks.nag import acknowledge
from stacks.retention import log_retention

LAMBDAS_DIR = Path(__file__).resolve().parents[1] / "lambdas"
SHARED_PACKAGES = ("pipeline_core", "pipeline_aws")
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements-dev.txt"
ONE_MINUTE = Duration.minutes(1)
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache")


def pinned_version(package: str, requirements: Path = REQUIREMENTS) -> str:
    """The version `requirements` pins `package` to (``name==x.y.z`` or ``name[extras]==x.y.z``)."""
    pattern = re.compile(rf"^{re.escape(package)}(\[[^\]]*\])?==(?P<version>[0-9][^\s#;]*)", re.IGNORECASE)
    for line in requirements.read_text(encoding="utf-8").splitlines():
        found = pattern.match(line.strip())
        if found:
            return found["version"]
    raise ValueError(f"{requirements.name} pins no version of {package}")


# The one place the layer's version comes from: the package the rehearsal and the tests run with.
POWERTOOLS_VERSION = pinned_version("aws-lambda-powertools")


def powertools_layer_parameter(version: str = POWERTOOLS_VERSION) -> str:
    """The public SSM parameter whose value is the ARN of AWS's Powertools layer built from `version`, for this
    runtime and architecture, in the Region of the deployment, e.g. .../arm64/python3.14/3.37.0 ->
    arn:aws:lambda:<region>:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:<layer version>.
    Resolving it at deploy time maps the pinned package version to its layer version exactly, without a table of
    layer numbers to keep by hand. Path: /aws/service/powertools/python/<arch>/<runtime>/<version> (or latest),
    github.com/aws-powertools/powertools-lambda-python/pull/5754 and the "Using SSM Parameter Store" section of
    docs.aws.amazon.com/powertools/python/latest/getting-started/install/ (both read 2026-12-01).
    """
    return f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{version}"


@jsii.implements(cdk.ILocalBundling)
class _CopyHandlerAndSharedPackages:
    """Local bundling: copy the handler folder and the shared packages; the Docker image is never used."""

    def __init__(self, handler_dir: Path) -> None:
        self._handler_dir = handler_dir

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        out = Path(output_dir)
        shutil.copytree(self._handler_dir, out, dirs_exist_ok=True, ignore=_IGNORE)
        for package in SHARED_PACKAGES:
            source = LAMBDAS_DIR / "shared" / package
            if source.is_dir():
                shutil.copytree(source, out / package, dirs_exist_ok=True, ignore=_IGNORE)
        return True


class PipelineFunction(Construct):
    """A Lambda handler of the pipeline (``lambdas/<folder>/handler.py``) with everything fixed once."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        folder: str,
        description: str,
        key: kms.IKey,
        log_days: int,
        environment: dict[str, str],
        timeout: Duration = ONE_MINUTE,
        memory_size: int = 256,
        dead_letter_queue: sqs.IQueue | None = None,
        pipeline_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        handler_dir = LAMBDAS_DIR / folder
        if not (handler_dir / "handler.py").is_file():
            raise FileNotFoundError(f"{handler_dir / 'handler.py'} does not exist")
        pipeline_name = pipeline_name or environment.get(contracts.ENV_PIPELINE_NAME)
        if not pipeline_name:
            raise ValueError(f"{folder}: no pipeline name (pipeline_name or {contracts.ENV_PIPELINE_NAME})")
        # Powertools' service name and metrics namespace: the same for every function of the pipeline.
        environment = {**environment, **telemetry.powertools_environment(pipeline_name)}
        # A dynamic reference ({{resolve:ssm:...}}): CloudFormation reads the public parameter when it deploys.
        powertools_arn = ssm.StringParameter.from_string_parameter_attributes(
            self, "PowertoolsLayerArn", parameter_name=powertools_layer_parameter(), force_dynamic_reference=True
        ).string_value
        self.powertools_layer = lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", powertools_arn)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=key,
            retention=log_retention(log_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        # A role of its own per function, with no managed policies: it holds exactly the grants made on it.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{description} (Lambda execution role)",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=lambda_.Code.from_asset(
                str(handler_dir),
                asset_hash_type=cdk.AssetHashType.OUTPUT,
                bundling=cdk.BundlingOptions(
                    image=RUNTIME.bundling_image, local=_CopyHandlerAndSharedPackages(handler_dir)
                ),
            ),
            role=self.role,
            log_group=self.log_group,
            environment=environment,
            environment_encryption=key,
            timeout=timeout,
            memory_size=memory_size,
            layers=[self.powertools_layer],
            # Active tracing: Lambda's own segment, and Powertools' Tracer adds the handler's subsegments.
            tracing=lambda_.Tracing.ACTIVE,
            # Only asynchronously invoked functions (EventBridge targets) get a dead-letter queue.
            dead_letter_queue=dead_letter_queue,
            retry_attempts=2 if dead_letter_queue else None,
        )
        # Logging permissions scoped to this function's own log group instead of AWSLambdaBasicExecutionRole.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn, f"{self.log_group.log_group_arn}:log-stream:*"],
            )
        )
        # No key statement here: each function uses the pipeline key only through the services that hold its
        # encrypted data (PipelineStack._grant_key_use); Lambda decrypts the environment through its own grant.
        self._acknowledge_common_findings(invoked_synchronously=dead_letter_queue is None)

    def _acknowledge_common_findings(self, *, invoked_synchronously: bool) -> None:
        """The findings every pipeline function shares by design, acknowledged on this function's resources."""
        fn = self.function.node.default_child
        policy = self.role.node.find_child("DefaultPolicy").node.default_child
        assert fn is not None and policy is not None
        for rule in ("NIST.800.53.R5-IAMNoInlinePolicy", "HIPAA.Security-IAMNoInlinePolicy"):
            acknowledge(
                policy,
                rule,
                "Each function has a role of its own whose one policy is generated from scoped grants; an inline "
                "policy cannot be attached to any other principal, which keeps it least-privilege.",
            )
        for rule in ("NIST.800.53.R5-LambdaInsideVPC", "HIPAA.Security-LambdaInsideVPC"):
            acknowledge(
                fn,
                rule,
                "The function only calls AWS APIs with IAM-scoped permissions and listens on nothing; running it "
                "in the isolated VPC would need about eight interface endpoints that cost more than the pipeline.",
            )
        for rule in ("NIST.800.53.R5-LambdaConcurrency", "HIPAA.Security-LambdaConcurrency"):
            acknowledge(
                fn,
                rule,
                "Reserved concurrency is taken from the account pool, which is only ten in new accounts; the state "
                "machine's sequential flow and Map MaxConcurrency bound this function's concurrency instead.",
            )
        if not invoked_synchronously:
            acknowledge(
                self.function.node.find_child("EventInvokeConfig").node.default_child,  # type: ignore[arg-type]
                "Serverless-LambdaAsyncFailureDestination",
                "Failed asynchronous invocations land in this function's dead-letter queue, which an alarm "
                "watches, so a second failure destination would only duplicate them.",
            )
        if invoked_synchronously:
            for rule in ("NIST.800.53.R5-LambdaDLQ", "HIPAA.Security-LambdaDLQ", "Serverless-LambdaDLQ"):
                acknowledge(
                    fn,
                    rule,
                    "Step Functions invokes this function synchronously and handles its failures with Retry and "
                    "Catch, so a dead-letter queue would never receive anything.",
                )
