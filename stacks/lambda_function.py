"""One way to build a pipeline Lambda: its own role and encrypted log group, arm64, traced, minimal asset.

Each function's asset holds its own folder plus the shared domain (`pipeline_core`) and AWS helper
(`pipeline_aws`) packages, copied at synth time without Docker; nothing else of the repository ships.
"""

from __future__ import annotations

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
from constructs import Construct

from stacks.nag import acknowledge
from stacks.retention import log_retention

LAMBDAS_DIR = Path(__file__).resolve().parents[1] / "lambdas"
SHARED_PACKAGES = ("pipeline_core", "pipeline_aws")
RUNTIME = lambda_.Runtime.PYTHON_3_14
ONE_MINUTE = Duration.minutes(1)
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache")


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
    ) -> None:
        super().__init__(scope, construct_id)
        handler_dir = LAMBDAS_DIR / folder
        if not (handler_dir / "handler.py").is_file():
            raise FileNotFoundError(f"{handler_dir / 'handler.py'} does not exist")

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
            architecture=lambda_.Architecture.ARM_64,
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
