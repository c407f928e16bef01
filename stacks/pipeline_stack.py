"""The pipeline stack: handlers, the workflow, its trigger, the janitor, notifications and alarms."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Annotations, Aws, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from pipeline_core import contracts, telemetry
from pipeline_core.approval import APPROVAL_REQUEST, ENV_TOPIC_ARN
from pipeline_core.models import CATALOGUE, INFERENCE_PROFILE_GEOGRAPHIES
from stacks.admission import Admission
from stacks.data_plane import DataPlane, account_arn, bucket_name
from stacks.lambda_function import ONE_MINUTE, PipelineFunction
from stacks.monitoring import DashboardProps, PipelineDashboard
from stacks.nag import WildcardReason, acknowledge, acknowledge_wildcards, grants
from stacks.settings import PipelineSettings
from stacks.workflow import Workflow, WorkflowFunctions

# Every wildcard grant of the pipeline, with the reason it is the narrowest the API allows and the actions, per
# owner (the construct the policy belongs to), it was written for. A wildcard that matches none of these, or that
# grants an action its reason does not list for its owner, is left unacknowledged and fails cdk-nag, so no grant
# widens unreviewed.
_GET, _PUT, _VERSION = "s3:GetObject", "s3:PutObject", "s3:GetObjectVersion"
_BEDROCK_LIST = ("bedrock:ListProvisionedModelThroughputs", "bedrock:ListModelCustomizationJobs")


PIPELINE_WILDCARDS = (
    WildcardReason(
        r"Resource::\*",
        "Only actions without resource-level permissions are granted on all resources: X-Ray trace upload, "
        "Step Functions log delivery, Bedrock List calls, and CloudWatch PutMetricData limited to our namespace.",
        grants(
            EVERY_OWNER=("xray:PutTraceSegments", "xray:PutTelemetryRecords"),
            Janitor=(*_BEDROCK_LIST, "bedrock:ListCustomModelDeployments", "cloudwatch:PutMetricData"),
            Workflow=(
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ),
        ),
    ),
    WildcardReason(
        r"Resource::<\w+\.Arn>:log-stream:\*",
        "Lambda names its log streams at run time, so the grant covers the streams of the function's own log "
        "group only.",
        grants(EVERY_OWNER=("logs:CreateLogStream", "logs:PutLogEvents")),
    ),
    WildcardReason(
        r"Resource::<\w+Function\w+\.Arn>:\*",
        "Step Functions may invoke a named function's versions and aliases; the grant is limited to the one "
        "function the state calls.",
        grants(Workflow=("lambda:InvokeFunction",)),
    ),
    WildcardReason(
        r"Resource::arn:<AWS::Partition>:s3:::[a-z0-9-]+-data-<AWS::AccountId>-<AWS::Region>/(inbox|runs)/\*",
        "Uploads are named by users at run time; the grant reads the upload prefixes of the pipeline's own data "
        "bucket, which nothing of the pipeline writes to.",
        grants(ResolveRun=(_GET, _VERSION), Trigger=(_GET, _VERSION), ValidateDataset=(_GET, _VERSION)),
    ),
    WildcardReason(
        r"Resource::arn:<AWS::Partition>:s3:::[a-z0-9-]+-artifacts-<AWS::AccountId>-<AWS::Region>/runs/\*/\*/"
        r"(training/\*|data/test\.jsonl|evaluation/results/\*|evaluation/plan\.json)",
        "Each run reads the output of an earlier stage under its own run and execution prefix, which is only known "
        "at run time; the grant reads that one part of the prefix family of the pipeline's own bucket.",
        grants(Train=(_GET,), Evaluate=(_GET,), Aggregate=(_GET,), Workflow=(_GET,)),
    ),
    WildcardReason(
        r"Resource::arn:<AWS::Partition>:s3:::[a-z0-9-]+-artifacts-<AWS::AccountId>-<AWS::Region>/runs/\*/\*/"
        r"(validation/\*|data/\*|evaluation/\*|report\.\*|approval/request\.json)",
        "Each stage writes only its own part of its run and execution prefix, which is only known at run time, so "
        "no stage can rewrite another's output.",
        grants(
            ValidateDataset=(_PUT, "s3:AbortMultipartUpload"),
            Evaluate=(_PUT,),
            Aggregate=(_PUT,),
            Approval=(_GET, _PUT),
        ),
    ),
    WildcardReason(
        r"Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:custom-model/\*",
        "Bedrock names custom models at run time; every grant but the creating ones is conditioned on the "
        "pipeline's tag, in this account and Region.",
        grants(
            Train=("bedrock:CreateModelCustomizationJob", "bedrock:TagResource"),
            Throughput=("bedrock:CreateProvisionedModelThroughput", "bedrock:CreateCustomModelDeployment"),
            Promote=("bedrock:TagResource",),
            Janitor=("bedrock:GetCustomModel",),
        ),
    ),
    WildcardReason(
        r"Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:model-customization-job/\*",
        "Bedrock names customization jobs at run time; jobs are created, stopped and read only with the pipeline's "
        "tag, in this account and Region.",
        grants(
            Train=(
                "bedrock:CreateModelCustomizationJob",
                "bedrock:GetModelCustomizationJob",
                "bedrock:StopModelCustomizationJob",
                "bedrock:TagResource",
            ),
            Janitor=("bedrock:ListTagsForResource", "bedrock:StopModelCustomizationJob"),
        ),
    ),
    WildcardReason(
        r"Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:provisioned-model/\*",
        "Bedrock names Provisioned Throughput at run time; it is created, invoked, tagged and deleted only with the "
        "pipeline's tag, in this account and Region.",
        grants(
            Throughput=(
                "bedrock:CreateProvisionedModelThroughput",
                "bedrock:GetProvisionedModelThroughput",
                "bedrock:DeleteProvisionedModelThroughput",
                "bedrock:TagResource",
            ),
            Evaluate=("bedrock:InvokeModel",),
            ResolveRun=("bedrock:GetProvisionedModelThroughput",),
            Promote=("bedrock:TagResource", "bedrock:DeleteProvisionedModelThroughput", "bedrock:ListTagsForResource"),
            Janitor=("bedrock:DeleteProvisionedModelThroughput", "bedrock:ListTagsForResource"),
        ),
    ),
    WildcardReason(
        r"Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:custom-model-deployment/\*",
        "Bedrock names custom model deployments at run time; they are created, invoked, tagged and deleted only "
        "with the pipeline's tag, in this account and Region.",
        grants(
            Throughput=(
                "bedrock:CreateCustomModelDeployment",
                "bedrock:GetCustomModelDeployment",
                "bedrock:DeleteCustomModelDeployment",
                "bedrock:TagResource",
            ),
            Evaluate=("bedrock:InvokeModel",),
            ResolveRun=("bedrock:GetCustomModelDeployment",),
            Promote=("bedrock:TagResource", "bedrock:DeleteCustomModelDeployment", "bedrock:ListTagsForResource"),
            Janitor=("bedrock:DeleteCustomModelDeployment", "bedrock:ListTagsForResource"),
        ),
    ),
    WildcardReason(
        r"Resource::arn:<AWS::Partition>:bedrock:\*::foundation-model/[\w.:-]+",
        "A cross-Region inference profile routes a reference model to any Region of its geography, so the "
        "named foundation model is granted in every Region.",
        grants(Evaluate=("bedrock:InvokeModel",)),
    ),
    WildcardReason(
        r"Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/\*",
        "The janitor reads the lifecycle of the promoted model's base model, which a later catalogue may no longer "
        "list just when its end of life nears; GetFoundationModel returns only a foundation model's public details.",
        grants(Janitor=("bedrock:GetFoundationModel",)),
    ),
    WildcardReason(
        r"Resource::arn:<AWS::Partition>:states:\S+:execution:\S+:\*",
        "Execution names are derived from uploads at run time; the grant is limited to this pipeline's own "
        "state machine.",
        grants(
            Janitor=("states:DescribeExecution",),
            Trigger=("states:DescribeExecution",),
            Dispatcher=("states:DescribeExecution",),
            Workflow=("states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"),
        ),
    ),
    WildcardReason(
        r"Action::kms:(GenerateDataKey|ReEncrypt)\*",
        "CDK's encrypt and decrypt grant for the state machine's encryption and its encrypted topic; it is "
        "limited to the one pipeline key.",
        grants(Workflow=("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")),
    ),
)

# How often the workflow polls; the rehearsal shortens both through the defaults it hands the handler.
JOB_POLL_SECONDS = 300
THROUGHPUT_POLL_SECONDS = 60


def run_defaults(settings: PipelineSettings) -> dict[str, Any]:
    """The run spec defaults handed to `Resolve run`; a manifest may override a documented subset."""
    e = settings.evaluation
    return {
        "pipeline_name": settings.name,
        "base_model_id": settings.base_model_id,
        "hyperparameters": dict(settings.hyperparameters),
        "split": {
            "validation_share": settings.split.validation_share,
            "test_share": settings.split.test_share,
            "seed": settings.split.seed,
        },
        "evaluation": {
            "metric": e.metric,
            "max_tokens": e.max_tokens,
            "concurrency": e.concurrency,
            "max_examples": e.max_examples,
            "batch_size": e.batch_size,
            "reference_models": list(e.reference_models),
            "gate": {
                "min_score": e.min_score,
                "min_improvement_points": e.min_improvement_points,
                "min_improvement_percent": e.min_improvement_percent,
                "max_p_value": e.max_p_value,
                "max_failed_share": e.max_failed_share,
                # The model in production the candidate must also beat (Resolve run finds it, Evaluate asks it).
                "champion": {
                    "enabled": e.champion.enabled,
                    "min_improvement_points": e.champion.min_improvement_points,
                    "max_p_value": e.champion.max_p_value,
                },
            },
        },
        "throughput": {
            "model_units": settings.throughput.model_units,
            "keep_after_promotion": settings.throughput.keep_after_promotion,
            "max_wait_minutes": settings.throughput.max_wait_minutes,
        },
        # Resolve run turns the setting into each run's mode (pipeline_core.manifest); a deployment may stay
        # Creating as long as Provisioned Throughput may.
        "serving": {"setting": settings.serving, "max_wait_minutes": settings.throughput.max_wait_minutes},
        "max_validation_loss": settings.max_validation_loss,
        # Without it, Resolve run refuses a run.json that loosens the gate (pipeline_core.manifest).
        "allow_loosening_overrides": settings.allow_loosening_overrides,
        # The workflow waits for a decision (Request approval) only when required, at most this long.
        # The execution's timeout bounds each wait (Bound approval wait, lambdas/approval).
        "approval": {
            "mode": settings.approval.mode,
            "timeout_seconds": settings.approval.timeout_hours * 3600,
            "execution_timeout_seconds": settings.execution_timeout_hours * 3600,
        },
        "price_per_1k_training_tokens": settings.pricing.training_per_1k_tokens,
        "pricing": {
            "models": {
                model_id: {"input_per_1k": p.input_per_1k, "output_per_1k": p.output_per_1k}
                for model_id, p in sorted(settings.pricing.on_demand.items())
            },
            "source": settings.pricing.source,
            "date": settings.pricing.date,
            # The report's serving cost (pipeline_core.report.serving): Provisioned Throughput hours, and the
            # token price of a candidate served by an on-demand deployment.
            "model_unit_per_hour": settings.pricing.model_unit_per_hour,
            "custom_models": custom_model_prices(settings),
        },
        "poll": {"job_seconds": JOB_POLL_SECONDS, "throughput_seconds": THROUGHPUT_POLL_SECONDS},
    }


def custom_model_prices(settings: PipelineSettings) -> dict[str, Any] | None:
    prices = settings.pricing.on_demand_custom_model
    if prices is None:
        return None
    return {
        "models": {
            model_id: {"input_per_1k": p.input_per_1k, "output_per_1k": p.output_per_1k}
            for model_id, p in sorted(prices.models.items())
        },
        "source": prices.source,
        "date": prices.date,
    }


def foundation_model_arns(settings: PipelineSettings, *, runtime: bool) -> list[str]:
    """ARNs of the base models a run may use in this Region: customization ids, or their runtime ids."""
    models = [m for m in CATALOGUE.values() if settings.region in m.regions]
    ids = sorted({m.runtime_model_id if runtime else m.model_id for m in models})
    return [f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{model_id}" for model_id in ids]


def reference_model_arns(model_ids: tuple[str, ...]) -> list[str]:
    """Reference models: a foundation model in this Region, or a cross-Region inference profile."""
    arns: list[str] = []
    for model_id in model_ids:
        geo, _, rest = model_id.partition(".")
        if model_id.startswith("arn:"):
            # Named by ARN (a foundation model, a profile or a provisioned model): granted on exactly that ARN.
            arns.append(model_id)
        elif geo in INFERENCE_PROFILE_GEOGRAPHIES and rest:
            # A cross-Region profile routes to the foundation model in any Region of its geography
            # (docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html).
            arns.append(f"{account_arn('bedrock')}:inference-profile/{model_id}")
            arns.append(f"arn:{Aws.PARTITION}:bedrock:*::foundation-model/{rest}")
        else:
            arns.append(f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{model_id}")
    return arns


class PipelineStack(Stack):
    """Composes the handlers, the workflow, the trigger, the janitor and monitoring around a data plane."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: PipelineSettings, data_plane: DataPlane, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.dp = data_plane
        if settings.lifecycle_warning:
            # Documented as Legacy, or end-of-life without AWS's own confirmation: the run checks the live account.
            Annotations.of(self).add_warning_v2("finetune:base-model-lifecycle", settings.lifecycle_warning)
        key = data_plane.key
        # The buckets are referenced by their derived names, not by cross-stack exports (see bucket_name).
        self.data_bucket = s3.Bucket.from_bucket_name(self, "DataBucket", bucket_name(settings, "data"))
        self.artifacts_bucket = s3.Bucket.from_bucket_name(self, "ArtifactsBucket", bucket_name(settings, "artifacts"))
        self.promotion_parameter_name = f"/{settings.name}/promoted-model"
        # The stack creates the parameter, so nobody can create it first or point it at another team's throughput
        # (Promote deletes what it replaces). SSM values cannot be empty: the placeholder means "nothing promoted"
        # to every reader (pipeline_aws.ssm). Retained: it is the production pointer applications read, and a
        # deleted stack must not take it down. CloudFormation writes the placeholder only when it creates the
        # parameter; a change to these properties would make it write them again over the promoted value, so
        # leave them as they are (tests/infra/test_security.py pins them).
        self.promotion_parameter = ssm.StringParameter(
            self,
            "PromotedModelParameter",
            parameter_name=self.promotion_parameter_name,
            string_value=contracts.PROMOTION_PLACEHOLDER,
            description="The promoted model applications call; written only by the pipeline's Promote function",
        )
        self.promotion_parameter.apply_removal_policy(RemovalPolicy.RETAIN)
        # "." cannot occur in a pipeline name, so another pipeline's alarms ("finetune-dev.") never match this one's.
        self.alarm_prefix = f"{settings.name}."

        self.topic = sns.Topic(
            self,
            "Notifications",
            display_name=f"{settings.name} fine-tuning pipeline",
            master_key=key,
            enforce_ssl=True,
        )
        if settings.notification_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.notification_email))
        # A topic policy replaces SNS's default one, so the alarms may publish only if it says so: the pipeline's
        # own alarms in this account, by name (https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger).
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowPipelineAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": f"{account_arn('cloudwatch')}:alarm:{self.alarm_prefix}*"},
                },
            )
        )

        common_env = {
            contracts.ENV_PIPELINE_NAME: settings.name,
            contracts.ENV_DATA_BUCKET: self.data_bucket.bucket_name,
            contracts.ENV_ARTIFACTS_BUCKET: self.artifacts_bucket.bucket_name,
            contracts.ENV_KMS_KEY_ARN: key.key_arn,
        }
        self.functions: dict[str, PipelineFunction] = {}
        fn = self._function
        resolve = fn(
            "ResolveRun",
            "resolve_run",
            "Resolves a run from its manifest and the pipeline defaults",
            {
                **common_env,
                contracts.ENV_DEFAULTS: json.dumps(run_defaults(settings), sort_keys=True),
                # Read for the champion, the promoted model the candidate must beat (pipeline_aws.champion).
                contracts.ENV_PROMOTION_PARAMETER: self.promotion_parameter_name,
            },
        )
        validate = fn(
            "ValidateDataset",
            "validate_dataset",
            "Validates and snapshots a dataset before training",
            common_env,
            timeout=Duration.minutes(15),
            memory_size=1024,
        )
        vpc_env = {
            contracts.ENV_SUBNET_IDS: ",".join(s.subnet_id for s in data_plane.vpc.isolated_subnets)
            if data_plane.vpc
            else "",
            contracts.ENV_SECURITY_GROUP_IDS: data_plane.security_group.security_group_id
            if data_plane.security_group
            else "",
        }
        train = fn(
            "Train",
            "train",
            "Starts, checks and stops the Bedrock customization job",
            {**common_env, **vpc_env, contracts.ENV_CUSTOMIZATION_ROLE_ARN: data_plane.customization_role.role_arn},
        )
        throughput = fn(
            "Throughput",
            "throughput",
            "Creates, checks and deletes Provisioned Throughput or the on-demand deployment serving the candidate",
            # Read before a delete: the throughput the promotion record names is serving and is never deleted.
            {**common_env, contracts.ENV_PROMOTION_PARAMETER: self.promotion_parameter_name},
        )
        evaluate = fn(
            "Evaluate",
            "evaluate",
            "Plans the evaluation and scores one batch against every model",
            common_env,
            timeout=Duration.minutes(15),
            memory_size=512,
        )
        aggregate = fn(
            "Aggregate",
            "aggregate",
            "Aggregates the evaluation into the report and the verdict",
            common_env,
            timeout=Duration.minutes(10),
            memory_size=1024,
        )
        promote = fn(
            "Promote",
            "promote",
            "Records the promoted model where applications read it",
            {**common_env, contracts.ENV_PROMOTION_PARAMETER: self.promotion_parameter_name},
            # The promotion lock's lease (pipeline_aws.lock.LEASE_SECONDS) outlasts it.
            timeout=Duration.seconds(contracts.PROMOTE_TIMEOUT_SECONDS),
        )
        approval = self._approval_function(common_env) if settings.approval.required else None
        # No grant: it reads only the state it is given and calls nothing.
        explain = fn(
            "Explain",
            "explain",
            "Turns a failed run's error into the sentence its notification carries",
            {contracts.ENV_PIPELINE_NAME: settings.name},
        )

        self.workflow = Workflow(
            self,
            "Workflow",
            settings=settings,
            functions=WorkflowFunctions(
                resolve_run=resolve.function,
                validate_dataset=validate.function,
                train=train.function,
                throughput=throughput.function,
                evaluate=evaluate.function,
                aggregate=aggregate.function,
                promote=promote.function,
                explain=explain.function,
                approval=approval.function if approval else None,
            ),
            topic=self.topic,
            key=key,
        )
        state_machine = self.workflow.state_machine
        # Beyond its own encryption (CDK's statement, bound to the state machine's encryption context), the
        # state machine uses the key only to publish to the encrypted topic and to read the evaluation plan.
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [f"sns.{Aws.REGION}.amazonaws.com", f"s3.{Aws.REGION}.amazonaws.com"]
                    }
                },
            )
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=self._run_objects(contracts.EVALUATION_PLAN),
            )
        )

        self.trigger_dlq = self._dead_letter_queue("TriggerDeadLetters")
        self.janitor_dlq = self._dead_letter_queue("JanitorDeadLetters")
        trigger = fn(
            "Trigger",
            "trigger",
            "Starts one execution per upload, idempotently",
            {**common_env, contracts.ENV_STATE_MACHINE_ARN: state_machine.state_machine_arn},
            dead_letter_queue=self.trigger_dlq,
        )
        janitor = fn(
            "Janitor",
            "janitor",
            "Deletes pipeline throughputs and model deployments of ended runs or past their time-to-live",
            {
                **common_env,
                contracts.ENV_STATE_MACHINE_ARN: state_machine.state_machine_arn,
                contracts.ENV_TTL_HOURS: str(settings.throughput.time_to_live_hours),
                contracts.ENV_METRIC_NAMESPACE: contracts.METRIC_NAMESPACE,
                contracts.ENV_PROMOTION_PARAMETER: self.promotion_parameter_name,
                contracts.ENV_BASE_MODEL_ID: settings.base_model_id,
                contracts.ENV_LIFECYCLE_WARNING_DAYS: str(settings.lifecycle_warning_days),
            },
            dead_letter_queue=self.janitor_dlq,
            timeout=Duration.minutes(5),
        )

        # Admission control (stacks/admission.py): uploads queue, and at most run_slots executions run at once.
        self.dispatcher_dlq = self._dead_letter_queue("DispatcherDeadLetters")
        provisioned_possible = settings.serving != contracts.SERVING_ON_DEMAND
        self.admission = Admission(
            self,
            "Admission",
            key=key,
            state_machine=state_machine,
            dispatcher=fn("Dispatcher", "dispatcher", "Starts queued runs as slots free", dict(common_env),
                          dead_letter_queue=self.dispatcher_dlq),
            dead_letter_queue=self.dispatcher_dlq,
            run_slots=settings.admission.run_slots(settings.throughput.model_units, provisioned=provisioned_possible),
        )  # fmt: skip
        self.admission.admit(trigger)
        # The promotion lock (pipeline_aws.lock): one item of the admission table, taken and released by Promote.
        promote.function.add_environment(contracts.ENV_ADMISSION_TABLE, self.admission.table.table_name)
        promote.role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:DeleteItem"], resources=[self.admission.table.table_arn]
            )
        )
        for creating in (train, throughput):  # named in the message of a quota refusal (pipeline_core.quotas)
            creating.function.add_environment(
                contracts.ENV_QUOTA_WAIT_MINUTES, str(settings.admission.quota_wait_minutes)
            )
        self._grant(resolve, validate, train, throughput, evaluate, aggregate, promote, trigger, janitor)
        self._grant_key_use()
        self._trigger_rule(trigger)
        self._janitor_schedule(janitor)
        self._alarms(janitor, trigger)
        self.dashboard = PipelineDashboard(
            self,
            "Monitoring",
            props=DashboardProps(
                pipeline_name=settings.name,
                state_machine=state_machine,
                evaluate=evaluate.function,
                trigger=trigger.function,
                janitor=janitor.function,
                lifecycle_warning_days=settings.lifecycle_warning_days,
                stage_functions={name: f.function for name, f in self.functions.items()},
            ),
        )
        self._acknowledge_findings()

        CfnOutput(self, "StateMachineArn", value=state_machine.state_machine_arn)
        CfnOutput(self, "NotificationTopicArn", value=self.topic.topic_arn)
        CfnOutput(self, "PromotionParameter", value=self.promotion_parameter_name)
        CfnOutput(self, "AdmissionQueueTableName", value=self.admission.table.table_name)

    def _approval_function(self, common_env: dict[str, str]) -> PipelineFunction:
        """The handler of `Request approval` and `Record approval` (pipeline.approval.mode "required"): it writes the
        request (task token) and the reports of a run, and publishes to the topic; nothing else. Approvers need
        states:SendTaskSuccess on the state machine, s3:GetObject on runs/*/*/approval/request.json and
        kms:Decrypt on the key (README, "Approving a promotion")."""
        approval = self._function(
            "Approval",
            "approval",
            "Asks for approval of a candidate and records the decision in its report",
            {**common_env, ENV_TOPIC_ARN: self.topic.topic_arn},
        )
        approval.role.add_to_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=self._run_objects(APPROVAL_REQUEST))
        )
        approval.role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=self._run_objects("report.*"))
        )
        approval.role.add_to_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]))
        return approval

    # ---- Functions --------------------------------------------------------------------------------------------
    def _function(
        self,
        construct_id: str,
        folder: str,
        description: str,
        environment: dict[str, str],
        *,
        dead_letter_queue: sqs.IQueue | None = None,
        timeout: Duration = ONE_MINUTE,
        memory_size: int = 256,
    ) -> PipelineFunction:
        function = PipelineFunction(
            self,
            construct_id,
            folder=folder,
            description=description,
            key=self.dp.key,
            log_days=self.settings.retention.log_days,
            environment=environment,
            pipeline_name=self.settings.name,
            timeout=timeout,
            memory_size=memory_size,
            dead_letter_queue=dead_letter_queue,
        )
        self.functions[folder] = function
        return function

    def _run_objects(self, *paths: str) -> list[str]:
        """ARNs of `paths` under every run's prefix in the artifacts bucket, runs/<run>/<execution>/."""
        return [self.artifacts_bucket.arn_for_objects(f"runs/*/*/{path}") for path in paths]

    def _lifecycle_lookups(self) -> tuple[list[str], list[str]]:
        """(inference-profile ARNs, foundation-model ARNs) whose lifecycle Resolve run may look up."""
        models = [m for m in CATALOGUE.values() if self.settings.region in m.regions]
        foundation = {f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{m.model_id}" for m in models}
        profiles: set[str] = set()
        for arn in reference_model_arns(self.settings.evaluation.reference_models):
            (profiles if ":inference-profile/" in arn else foundation).add(arn)
        # A profile's underlying model may live in any Region of its geography ("bedrock:*::"); only the profile
        # itself is looked up, so those wildcard foundation-model ARNs are not needed here.
        return sorted(profiles), sorted(a for a in foundation if ":bedrock:*::" not in a)

    def _grant(
        self,
        resolve: PipelineFunction,
        validate: PipelineFunction,
        train: PipelineFunction,
        throughput: PipelineFunction,
        evaluate: PipelineFunction,
        aggregate: PipelineFunction,
        promote: PipelineFunction,
        trigger: PipelineFunction,
        janitor: PipelineFunction,
    ) -> None:
        """Each handler gets exactly the calls it makes, on the resources this stack creates or names."""
        data, artifacts = self.data_bucket, self.artifacts_bucket
        bedrock = account_arn("bedrock")
        jobs = f"{bedrock}:model-customization-job/*"
        custom_models = f"{bedrock}:custom-model/*"
        provisioned = f"{bedrock}:provisioned-model/*"
        deployments = f"{bedrock}:custom-model-deployment/*"
        # On-demand serving is granted only where a run of this stack may use it (settings.on_demand_allowed).
        # CreateCustomModelDeployment authorizes on the custom model and the deployment; Get, Delete and
        # TagResource on the deployment; InvokeModel with a deployment ARN as modelId on the deployment
        # (docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html, and
        # docs.aws.amazon.com/bedrock/latest/userguide/deploy-custom-model-on-demand.html, read 2026-12-01).
        on_demand = self.settings.on_demand_allowed
        candidates = [provisioned, deployments] if on_demand else [provisioned]

        def allow(fn: PipelineFunction, actions: list[str], resources: list[str], **conditions: Any) -> None:
            fn.role.add_to_policy(
                iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions or None)
            )

        # Bedrock names its resources at run time, so the grants on custom models, customization jobs, Provisioned
        # Throughput and deployments are wildcards; the pipeline's tag (finetune:pipeline=<name>) narrows them to what
        # this pipeline created. The Service Authorization Reference lists aws:ResourceTag for the custom-model,
        # model-customization-job, provisioned-model and custom-model-deployment resource types, and aws:RequestTag
        # and aws:TagKeys for CreateModelCustomizationJob, CreateProvisionedModelThroughput,
        # CreateCustomModelDeployment and TagResource
        # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html, read
        # 2026-12-01). Where it lists none (foundation models, List calls) tools/security_digest.py says so.
        tag = f"aws:ResourceTag/{contracts.TAG_PIPELINE}"
        ours: dict[str, Any] = {"StringEquals": {tag: self.settings.name}}

        def tagged_at_creation(*, existing: bool) -> dict[str, Any]:
            """A creating call (or the tagging it implies) must tag with this pipeline's name and creation keys only.

            ``existing``: the grant is TagResource, which Bedrock may (or may not) authorize when a create call
            carries tags: whether tag-on-create needs bedrock:TagResource could not be confirmed from AWS's
            documentation (read 2026-12-01), so Train and Throughput keep it, with the resource's tag checked only
            where one exists. That leaves a gap, said plainly in the security digest: such a role can tag an
            existing *untagged* resource (another team's) with this pipeline's name and creation keys, after which
            the tag-bound Delete grants reach it. It can never add the approval key (aws:TagKeys), nor retag what
            carries another pipeline's name. Verify on a real account; if creation works without TagResource,
            drop these grants.
            """
            conditions: dict[str, Any] = {
                "StringEquals": {f"aws:RequestTag/{contracts.TAG_PIPELINE}": self.settings.name},
                "ForAllValues:StringEquals": {"aws:TagKeys": list(contracts.CREATION_TAG_KEYS)},
            }
            if existing:
                conditions["StringEqualsIfExists"] = {tag: self.settings.name}
            return conditions

        # Uploads are read where users put them; nothing of the pipeline writes to the data bucket. The trigger and
        # Resolve run read only manifests (runs/<name>/run.json) and check the files beside them. Every read is of
        # the version the run started with, which S3 authorizes as s3:GetObjectVersion
        # (GetObject with versionId, https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
        for fn in (trigger, resolve):
            allow(fn, ["s3:GetObject", "s3:GetObjectVersion"], [data.arn_for_objects("runs/*")])
        allow(
            validate,
            ["s3:GetObject", "s3:GetObjectVersion"],
            [data.arn_for_objects("inbox/*"), data.arn_for_objects("runs/*")],
        )
        # Without ListBucket, S3 answers 403 instead of 404 for a file a manifest names but nobody uploaded.
        # HeadObject carries no s3:prefix key, so the prefix limit must hold only where the key exists.
        for fn in (trigger, resolve):
            allow(fn, ["s3:ListBucket"], [data.bucket_arn], StringLikeIfExists={"s3:prefix": ["runs/*"]})
        # The snapshot is uploaded in parts and the upload is aborted on error, leaving nothing half-written.
        # Each stage writes only its own part of the run's prefix, so no stage can rewrite another's output (the
        # snapshot training reads, the metrics the gate reads, the report promotion links to).
        allow(validate, ["s3:PutObject", "s3:AbortMultipartUpload"], self._run_objects("validation/*", "data/*"))
        allow(train, ["s3:GetObject"], self._run_objects("training/*"))
        allow(train, ["s3:ListBucket"], [artifacts.bucket_arn], StringLike={"s3:prefix": ["runs/*"]})
        allow(evaluate, ["s3:GetObject"], self._run_objects(contracts.DATA_TEST))
        allow(evaluate, ["s3:PutObject"], self._run_objects("evaluation/*"))
        results = f"{contracts.EVALUATION_RESULTS}*"
        allow(aggregate, ["s3:GetObject"], self._run_objects(results))
        allow(aggregate, ["s3:PutObject"], self._run_objects("report.*"))
        allow(aggregate, ["s3:ListBucket"], [artifacts.bucket_arn], StringLike={"s3:prefix": [f"runs/*/*/{results}"]})

        # Resolve run asks Bedrock for the lifecycle of every model a run may name, before anything is paid for.
        # GetFoundationModel takes foundation-model resources; GetInferenceProfile the profile's own ARN
        # (docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html, read 2026-12-01).
        profiles, foundation = self._lifecycle_lookups()
        allow(resolve, ["bedrock:GetFoundationModel"], foundation)
        if profiles:
            allow(resolve, ["bedrock:GetInferenceProfile"], profiles)
        # It reads the promotion record and asks whether what serves the champion is still in service: Get on the
        # kinds Evaluate may invoke, nothing else (GetProvisionedModelThroughput on provisioned-model,
        # GetCustomModelDeployment on custom-model-deployment: docs.aws.amazon.com/service-authorization/latest/
        # reference/list_amazonbedrock.html, read 2026-12-01).
        allow(resolve, ["ssm:GetParameter"], [self.promotion_parameter.parameter_arn])
        allow(resolve, ["bedrock:GetProvisionedModelThroughput"], [provisioned], **ours)
        if on_demand:
            allow(resolve, ["bedrock:GetCustomModelDeployment"], [deployments], **ours)
        allow(
            train,
            ["bedrock:CreateModelCustomizationJob"],
            [*foundation_model_arns(self.settings, runtime=False), custom_models, jobs],
            **tagged_at_creation(existing=False),
        )
        allow(train, ["bedrock:GetModelCustomizationJob", "bedrock:StopModelCustomizationJob"], [jobs], **ours)
        allow(train, ["bedrock:TagResource"], [jobs, custom_models], **tagged_at_creation(existing=True))
        allow(
            train,
            ["iam:PassRole"],
            [self.dp.customization_role.role_arn],
            StringEquals={"iam:PassedToService": "bedrock.amazonaws.com"},
        )
        # The job encrypts the custom model with our key through Bedrock
        # (docs.aws.amazon.com/bedrock/latest/userguide/encryption-custom-job.html).
        allow(
            train,
            ["kms:DescribeKey", "kms:CreateGrant"],
            [self.dp.key.key_arn],
            StringEquals={"kms:ViaService": f"bedrock.{Aws.REGION}.amazonaws.com"},
        )
        # A create authorizes on the existing custom model (ours: tagged at training) and on the new resource.
        allow(throughput, ["bedrock:CreateProvisionedModelThroughput"], [custom_models], **ours)
        allow(
            throughput,
            ["bedrock:CreateProvisionedModelThroughput"],
            [provisioned],
            **tagged_at_creation(existing=False),
        )
        allow(throughput, ["ssm:GetParameter"], [self.promotion_parameter.parameter_arn])
        allow(
            throughput,
            ["bedrock:GetProvisionedModelThroughput", "bedrock:DeleteProvisionedModelThroughput"],
            [provisioned],
            **ours,
        )
        allow(throughput, ["bedrock:TagResource"], [provisioned], **tagged_at_creation(existing=True))
        if on_demand:
            allow(throughput, ["bedrock:CreateCustomModelDeployment"], [custom_models], **ours)
            allow(
                throughput, ["bedrock:CreateCustomModelDeployment"], [deployments], **tagged_at_creation(existing=False)
            )
            allow(
                throughput,
                ["bedrock:GetCustomModelDeployment", "bedrock:DeleteCustomModelDeployment"],
                [deployments],
                **ours,
            )
            allow(throughput, ["bedrock:TagResource"], [deployments], **tagged_at_creation(existing=True))
        # The candidate only if it is ours; foundation models carry no tags (no aws:ResourceTag for that resource
        # type), and a reference model named by ARN is granted on exactly that ARN.
        allow(evaluate, ["bedrock:InvokeModel"], candidates, **ours)
        allow(
            evaluate,
            ["bedrock:InvokeModel"],
            [
                *foundation_model_arns(self.settings, runtime=True),
                *reference_model_arns(self.settings.evaluation.reference_models),
            ],
        )
        # Only Promote writes the parameter; the stack creates it, so nobody can create it first or point it elsewhere.
        allow(promote, ["ssm:GetParameter", "ssm:PutParameter"], [self.promotion_parameter.parameter_arn])
        # Promote only approves (the janitor then keeps it) what this pipeline created, with the approval tag only.
        allow(
            promote,
            ["bedrock:TagResource"],
            [custom_models, *candidates],
            StringEquals={tag: self.settings.name, f"aws:RequestTag/{contracts.TAG_APPROVED}": "true"},
            **{"ForAllValues:StringEquals": {"aws:TagKeys": list(contracts.PROMOTION_TAG_KEYS)}},
        )
        allow(promote, ["bedrock:DeleteProvisionedModelThroughput"], [provisioned], **ours)
        if on_demand:
            allow(promote, ["bedrock:DeleteCustomModelDeployment"], [deployments], **ours)
        # Reading tags is how Promote tells its own throughput from another team's before deleting what the record
        # names, so it must read anyone's; tags are all it reveals.
        allow(promote, ["bedrock:ListTagsForResource"], candidates)

        self.workflow.state_machine.grant_start_execution(trigger.role)
        # List calls have no resource-level permissions in Bedrock.
        allow(janitor, ["bedrock:ListProvisionedModelThroughputs", "bedrock:ListModelCustomizationJobs"], ["*"])
        # The janitor finds its own resources by reading every listed one's tags; it deletes and stops only its own.
        allow(janitor, ["bedrock:ListTagsForResource"], [provisioned, jobs])
        allow(janitor, ["bedrock:DeleteProvisionedModelThroughput"], [provisioned], **ours)
        allow(janitor, ["bedrock:StopModelCustomizationJob"], [jobs], **ours)
        # On-demand custom model deployments: listing has no resource-level permission; tags and delete take the
        # custom-model-deployment resource
        # (docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html, read 2026-12-01).
        allow(janitor, ["bedrock:ListCustomModelDeployments"], ["*"])
        allow(janitor, ["bedrock:ListTagsForResource"], [deployments])
        allow(janitor, ["bedrock:DeleteCustomModelDeployment"], [deployments], **ours)
        # Days to end of life: the promotion parameter names the custom model, GetCustomModel its base model.
        # GetFoundationModel authorizes on foundation-model resources and GetCustomModel on custom-model ones
        # (docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html, read 2026-12-01).
        allow(janitor, ["ssm:GetParameter"], [self.promotion_parameter.parameter_arn])
        allow(janitor, ["bedrock:GetCustomModel"], [custom_models], **ours)
        any_foundation_model = f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/*"
        allow(janitor, ["bedrock:GetFoundationModel"], [any_foundation_model])
        allow(
            janitor,
            ["states:DescribeExecution"],
            [f"{account_arn('states')}:execution:{self.workflow.state_machine.state_machine_name}:*"],
        )
        allow(
            janitor,
            ["cloudwatch:PutMetricData"],
            ["*"],
            StringEquals={"cloudwatch:namespace": contracts.METRIC_NAMESPACE},
        )

    def _grant_key_use(self) -> None:
        """The pipeline key, per function, only through the services that hold that function's encrypted data.

        Each statement names the service (kms:ViaService) and, where the service sends one, the encryption context
        of the pipeline's own resource: S3 sends the bucket's ARN when bucket keys are on and the object's ARN
        otherwise (docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context), SQS the
        queue's ARN (docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html),
        Step Functions the state machine's ARN (docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html;
        all read 2026-12-01), DynamoDB the table's name and SNS the topic's ARN (cited below). Lambda decrypts the
        functions' environment through the grant it creates for the execution role, which needs no IAM permission for it
        (https://repost.aws/knowledge-center/lambda-kmsaccessdeniedexception-errors, read 2026-12-01). A function
        that reads and writes no encrypted data gets no key statement at all; one this table does not name fails
        synthesis, so a new function's key use is decided, not inherited.
        """
        read, write = ["kms:Decrypt"], ["kms:Decrypt", "kms:GenerateDataKey"]
        data, artifacts = self.data_bucket.bucket_arn, self.artifacts_bucket.bucket_arn

        def s3(*buckets: str) -> tuple[str, dict[str, list[str]] | None]:
            return "s3", {"aws:s3:arn": [arn for bucket in buckets for arn in (bucket, f"{bucket}/*")]}

        workflow = ("states", {"aws:states:stateMachineArn": [self.workflow.state_machine.state_machine_arn]})
        # The admission table: DynamoDB authorizes the caller's key use through the service
        # (docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html) with an encryption
        # context of the table's name and the account (aws:dynamodb:tableName, aws:dynamodb:subscriberId:
        # docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html, "Encryption context"; both read
        # 2026-12-01), so the key serves this table only.
        table: tuple[str, dict[str, list[str]] | None] = (
            "dynamodb",
            {"aws:dynamodb:tableName": [self.admission.table.table_name]},
        )
        # The notification topic: SNS encrypts a published message under the topic's ARN as encryption context
        # (aws:sns:topicArn: the key policy in docs.aws.amazon.com/gamelift/latest/flexmatchguide/
        # queue-notification-sns-sse.html, read 2026-12-01).
        topic: tuple[str, dict[str, list[str]] | None] = ("sns", {"aws:sns:topicArn": [self.topic.topic_arn]})
        table_use = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
        # DescribeKey carries no encryption context, so under the table's context condition it could never apply:
        # it gets its own statement, through DynamoDB only. The key policy of DynamoDB's AWS managed key allows
        # DescribeKey with kms:ViaService and kms:CallerAccount alone, no encryption context (its "Allow access
        # through Amazon DynamoDB" statement; how DynamoDB uses the key:
        # docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html, read 2026-12-01).
        describe: tuple[str, dict[str, list[str]] | None] = ("dynamodb", None)
        table_key = [(table_use, table), (["kms:DescribeKey"], describe)]
        uses: dict[str, list[tuple[list[str], tuple[str, dict[str, list[str]] | None]]]] = {
            "resolve_run": [(read, s3(data))],
            "validate_dataset": [(write, s3(data, artifacts))],
            "train": [(read, s3(artifacts))],  # plus CreateGrant through Bedrock for the custom model (_grant)
            "throughput": [],
            "evaluate": [(write, s3(artifacts))],
            "aggregate": [(write, s3(artifacts))],
            "promote": table_key,  # the promotion lock; SSM String parameter and Bedrock unencrypted
            "explain": [],
            "approval": [(write, s3(artifacts)), (write, topic)],
            "trigger": [(read, s3(data)), (write, workflow), *table_key],
            "dispatcher": [(write, workflow), *table_key],
            "janitor": [(read, workflow)],
        }
        undecided = sorted(set(self.functions) - set(uses))
        if undecided:
            raise ValueError(f"decide the pipeline key use of {undecided} in PipelineStack._grant_key_use")
        for folder, function in self.functions.items():
            queue = function.function.dead_letter_queue
            # Lambda sends a failed asynchronous event to the function's dead-letter queue as the function's role.
            dead_letters = [(write, ("sqs", {"aws:sqs:arn": [queue.queue_arn]}))] if queue else []
            for actions, (service, context) in [*uses[folder], *dead_letters]:
                conditions: dict[str, Any] = {
                    "StringEquals": {"kms:ViaService": f"{service}.{Aws.REGION}.amazonaws.com"}
                }
                if context:
                    conditions["StringLike"] = {f"kms:EncryptionContext:{k}": v for k, v in context.items()}
                function.role.add_to_policy(
                    iam.PolicyStatement(actions=actions, resources=[self.dp.key.key_arn], conditions=conditions)
                )

    def _acknowledge_findings(self) -> None:
        """Wildcards are acknowledged finding by finding against the reasons below; anything new fails nag."""
        acknowledge_wildcards(self, PIPELINE_WILDCARDS)
        for queue in (self.trigger_dlq, self.janitor_dlq, self.dispatcher_dlq):
            acknowledge(
                queue.node.default_child,  # type: ignore[arg-type]
                "Serverless-SQSRedrivePolicy",
                "This queue is itself the dead-letter queue of an EventBridge target and a Lambda function, so "
                "it has nowhere further to redrive to.",
            )
        sm = self.workflow.state_machine
        for policy in (sm.role.node.find_child("DefaultPolicy"), sm.node.find_child("DistributedMapPolicy")):
            for rule in ("NIST.800.53.R5-IAMNoInlinePolicy", "HIPAA.Security-IAMNoInlinePolicy"):
                acknowledge(
                    policy.node.default_child,  # type: ignore[arg-type]
                    rule,
                    "CDK generates the state machine role's policies from the tasks it calls; being inline, they "
                    "cannot be attached to any other principal.",
                )

    # ---- Trigger, schedule, alarms ----------------------------------------------------------------------------
    def _dead_letter_queue(self, construct_id: str) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.dp.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )

    def _trigger_rule(self, trigger: PipelineFunction) -> None:
        """S3 Object Created on inbox/*.jsonl and runs/*/run.json in the data bucket only."""
        dlq = self.trigger_dlq
        self.trigger_rule = events.Rule(
            self,
            "UploadRule",
            description="Starts the pipeline when a dataset or run manifest lands in the data bucket",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.data_bucket.bucket_name]},
                    "object": {
                        "key": [
                            {"wildcard": f"{contracts.INBOX_PREFIX}*.jsonl"},
                            {"wildcard": f"{contracts.RUNS_PREFIX}*/{contracts.MANIFEST_NAME}"},
                        ]
                    },
                },
            ),
            targets=[
                targets.LambdaFunction(
                    trigger.function, dead_letter_queue=dlq, retry_attempts=8, max_event_age=Duration.hours(2)
                )
            ],
        )

    def _janitor_schedule(self, janitor: PipelineFunction) -> None:
        dlq = self.janitor_dlq
        events.Rule(
            self,
            "JanitorSchedule",
            description="Deletes pipeline throughputs and model deployments of ended runs or past their time-to-live",
            schedule=events.Schedule.rate(Duration.hours(1)),
            targets=[targets.LambdaFunction(janitor.function, dead_letter_queue=dlq, retry_attempts=2)],
        )

    def _alarms(self, janitor: PipelineFunction, trigger: PipelineFunction) -> None:
        sm = self.workflow.state_machine
        action = cw_actions.SnsAction(self.topic)
        alarms: dict[str, tuple[str, cloudwatch.IMetric]] = {
            "ExecutionsFailedAlarm": (
                "A pipeline execution failed or was rejected; the notification and report say why",
                sm.metric_failed(period=Duration.minutes(5), statistic="Sum"),
            ),
            "ExecutionsTimedOutAlarm": (
                "A pipeline execution timed out: its Provisioned Throughput is left to the janitor",
                sm.metric_timed_out(period=Duration.minutes(5), statistic="Sum"),
            ),
            "ExecutionsAbortedAlarm": (
                "A pipeline execution was stopped by hand: check for Provisioned Throughput it left",
                sm.metric_aborted(period=Duration.minutes(5), statistic="Sum"),
            ),
            "OverdueThroughputAlarm": (
                "Pipeline Provisioned Throughput older than its time-to-live was found",
                cloudwatch.Metric(
                    namespace=contracts.METRIC_NAMESPACE,
                    metric_name=contracts.METRIC_OVERDUE_THROUGHPUTS,
                    dimensions_map={"Pipeline": self.settings.name},
                    period=Duration.hours(1),
                    statistic="Maximum",
                ),
            ),
            "JanitorErrorsAlarm": (
                "The janitor failed: Provisioned Throughput may be left running",
                janitor.function.metric_errors(period=Duration.hours(1), statistic="Sum"),
            ),
            "TriggerErrorsAlarm": (
                "An upload could not start the pipeline",
                trigger.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            ),
            "DispatcherErrorsAlarm": (
                "A queued run could not be started; it stays queued, and the next execution end or the schedule "
                "tries again",
                self.admission.dispatcher.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            ),
            "RunsFailedToStartAlarm": (
                "A queued run was refused by Step Functions for good and left the queue: finetune runs lists it as "
                "FAILED_TO_START with the error; fix the cause and upload the file again",
                cloudwatch.Metric(
                    namespace=telemetry.metric_namespace(self.settings.name),
                    metric_name=telemetry.METRIC_RUNS_FAILED_TO_START,
                    dimensions_map={telemetry.DIMENSION_SERVICE: self.settings.name},
                    period=Duration.minutes(5),
                    statistic="Sum",
                ),
            ),
            "DeadLettersAlarm": (
                "Events that could not be delivered are waiting in a dead-letter queue",
                cloudwatch.MathExpression(
                    expression="t + j + d",
                    using_metrics={
                        "t": self.trigger_dlq.metric_approximate_number_of_messages_visible(),
                        "j": self.janitor_dlq.metric_approximate_number_of_messages_visible(),
                        "d": self.dispatcher_dlq.metric_approximate_number_of_messages_visible(),
                    },
                    period=Duration.minutes(5),
                ),
            ),
        }
        metric: cloudwatch.IMetric
        for construct_id, (description, metric) in alarms.items():
            alarm = cloudwatch.Alarm(
                self,
                construct_id,
                alarm_name=self.alarm_prefix + construct_id.removesuffix("Alarm"),
                alarm_description=description,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
        self._end_of_life_alarms(action)

    def _end_of_life_alarms(self, action: cw_actions.SnsAction) -> None:
        """One alarm per base model the janitor reports, so the notification says which one and what to do.

        The janitor publishes hourly; alarming on 1 of 3 hours keeps one late run from clearing the alarm (and
        notifying again an hour later). No data (nothing promoted, an Active model without an end-of-life date)
        never fires.
        """
        days = self.settings.lifecycle_warning_days
        for construct_id, role, description in (
            (
                "PromotedModelEndOfLifeAlarm",
                contracts.MODEL_PROMOTED,
                f"The promoted model's base model reaches its end of life in {days} days or fewer; the promoted "
                "model may stop answering then. Train and promote a model on an Active base model.",
            ),
            (
                "BaseModelEndOfLifeAlarm",
                contracts.MODEL_CONFIGURED,
                f"The configured base model (baseModelId) reaches its end of life in {days} days or fewer; runs "
                "cannot train on it after that. Set baseModelId to an Active model.",
            ),
        ):
            alarm = cloudwatch.Alarm(
                self,
                construct_id,
                alarm_name=self.alarm_prefix + construct_id.removesuffix("Alarm"),
                alarm_description=description,
                metric=cloudwatch.Metric(
                    namespace=contracts.METRIC_NAMESPACE,
                    metric_name=contracts.METRIC_DAYS_TO_END_OF_LIFE,
                    dimensions_map={"Pipeline": self.settings.name, contracts.DIMENSION_MODEL: role},
                    period=Duration.hours(1),
                    statistic="Minimum",
                ),
                threshold=days,
                evaluation_periods=3,
                datapoints_to_alarm=1,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
