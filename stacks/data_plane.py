"""The data plane: the customer-managed key, the buckets, the role Bedrock assumes, and the optional VPC.

Everything that holds or touches training data lives here, so a reviewer can read the whole security
boundary in one file.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.retention import log_retention
from stacks.settings import PipelineSettings

# S3 key patterns shared with the Lambda handlers (see DESIGN.md "Run layout in S3").
RUNS_PREFIX = "runs/"
TRAINING_DATA_PATTERN = "runs/*/*/data/*"
TRAINING_OUTPUT_PATTERN = "runs/*/*/training/*"


def bucket_name(settings: PipelineSettings, purpose: str) -> str:
    """The pipeline's bucket names, unique per account and Region, e.g. finetune-data-123456789012-us-west-2.

    Both stacks derive them from the settings, so the pipeline's policies name the buckets in plain ARNs a
    reviewer can read instead of cross-stack import tokens.
    """
    return f"{settings.name}-{purpose}-{Aws.ACCOUNT_ID}-{Aws.REGION}"


def account_arn(service: str) -> str:
    """The ARN prefix of ``service`` in this stack's account and Region, e.g. arn:aws:bedrock:us-west-2:123."""
    return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}"


class DataPlane(Construct):
    """KMS key, data/artifacts/access-log buckets, the Bedrock customization role and the optional VPC."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: PipelineSettings) -> None:
        super().__init__(scope, construct_id)
        retention = settings.retention

        self.key = kms.Key(
            self,
            "PipelineKey",
            description=f"{settings.name}: encrypts training data, artifacts, logs, notifications and custom models",
            enable_key_rotation=True,
            alias=f"alias/{settings.name}-pipeline",
            # Deleting the key would make every artifact and custom model unreadable: keep it.
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch Logs encrypts log groups with the key only when the key policy lets the service use it,
        # scoped to this account's log groups
        # (docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"{account_arn('logs')}:log-group:*"}},
            )
        )

        # Alarm actions and EventBridge dead letters reach the encrypted topic and queues only if those
        # services may use the key; both are limited to this account's resources.
        # (docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services)
        for sid, service in (("AllowAlarmsToNotify", "cloudwatch"), ("AllowEventBridgeDeadLetters", "events")):
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(f"{service}.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],  # in a key policy, "*" means this key
                    conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                )
            )

        # Server access logs can only be delivered to a bucket encrypted with SSE-S3, not SSE-KMS
        # (docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html).
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(retention.access_log_days),
                    noncurrent_version_expiration=Duration.days(retention.noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(retention.incomplete_upload_days),
                )
            ],
        )

        self.data_bucket = self._encrypted_bucket("TrainingDataBucket", "data", settings, event_bridge=True)
        self.artifacts_bucket = self._encrypted_bucket("ArtifactsBucket", "artifacts", settings, event_bridge=False)

        self.customization_role = iam.Role(
            self,
            "BedrockCustomizationRole",
            description="Assumed by Amazon Bedrock to run this pipeline's model customization jobs",
            # Only Bedrock, only for this account's customization jobs: the confused-deputy conditions from
            # docs.aws.amazon.com/bedrock/latest/userguide/custom-model-job-access-security.html
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnEquals": {"aws:SourceArn": f"{account_arn('bedrock')}:model-customization-job/*"},
                },
            ),
        )
        # A customer-managed policy rather than an inline one: it is reviewable on its own and reusable.
        self._customization_statements: list[iam.PolicyStatement] = []
        self._grant_customization_access()

        self.vpc: ec2.Vpc | None = None
        self.security_group: ec2.SecurityGroup | None = None
        if settings.vpc_enabled:
            self._build_vpc(settings)
        self.customization_policy = iam.ManagedPolicy(
            self,
            "BedrockCustomizationPolicy",
            description="What a Bedrock customization job of this pipeline may do",
            roles=[self.customization_role],
            statements=self._customization_statements,
        )

    def condition_service_statements_on_account(self) -> None:
        """Give every service-principal key statement an aws:SourceAccount condition (confused-deputy guard).

        Constructs elsewhere add statements to the key policy (for example Step Functions' log delivery
        for an encrypted state machine) without conditions; call this once every stack is built.
        """
        cfn_key = self.key.node.default_child
        assert isinstance(cfn_key, kms.CfnKey)
        statements = Stack.of(self).resolve(cfn_key.key_policy)["Statement"]
        for index, statement in enumerate(statements):
            if "Service" in statement.get("Principal", {}) and not statement.get("Condition"):
                cfn_key.add_property_override(
                    f"KeyPolicy.Statement.{index}.Condition", {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
                )

    def _encrypted_bucket(
        self, construct_id: str, purpose: str, settings: PipelineSettings, *, event_bridge: bool
    ) -> s3.Bucket:
        retention = settings.retention
        return s3.Bucket(
            self,
            construct_id,
            bucket_name=bucket_name(settings, purpose),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix=f"{purpose}/",
            event_bridge_enabled=event_bridge,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireOldVersionsAndUploads",
                    noncurrent_version_expiration=Duration.days(retention.noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(retention.incomplete_upload_days),
                )
            ],
        )

    def _grant_customization_access(self) -> None:
        """Read only the validated snapshot it trains on, write only its output prefix, use only our key."""
        bucket = self.artifacts_bucket
        self._customization_statements.append(
            iam.PolicyStatement(
                sid="ReadValidatedTrainingData",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(TRAINING_DATA_PATTERN)],
            )
        )
        self._customization_statements.append(
            iam.PolicyStatement(
                sid="WriteJobOutput",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[bucket.arn_for_objects(TRAINING_OUTPUT_PATTERN)],
            )
        )
        self._customization_statements.append(
            iam.PolicyStatement(
                sid="ListRunPrefixesOnly",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{RUNS_PREFIX}*"]}},
            )
        )
        # Reading SSE-KMS objects through S3 and encrypting the custom model through Bedrock; the key is
        # unusable from anywhere else (docs.aws.amazon.com/bedrock/latest/userguide/encryption-custom-job.html).
        self._customization_statements.append(
            iam.PolicyStatement(
                sid="UsePipelineKeyThroughS3AndBedrock",
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
                resources=[self.key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [f"s3.{Aws.REGION}.amazonaws.com", f"bedrock.{Aws.REGION}.amazonaws.com"]
                    }
                },
            )
        )

    def _build_vpc(self, settings: PipelineSettings) -> None:
        """Isolated subnets, an S3 gateway endpoint, no route to the internet.

        Bedrock places the job's network interfaces in these subnets and reaches S3 through the gateway
        endpoint (docs.aws.amazon.com/bedrock/latest/userguide/vpc-model-customization.html). AWS recommends
        one subnet per Availability Zone; two are used.
        """
        flow_log_group = logs.LogGroup(
            self,
            "VpcFlowLogs",
            encryption_key=self.key,
            retention=log_retention(settings.retention.log_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.vpc = ec2.Vpc(
            self,
            "CustomizationVpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
            ],
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        endpoint = self.vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)
        # The endpoint reaches our buckets only: nothing read inside the VPC can be written elsewhere.
        endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="OnlyPipelineBuckets",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                resources=[
                    self.artifacts_bucket.bucket_arn,
                    self.artifacts_bucket.arn_for_objects("*"),
                ],
                conditions={"StringEquals": {"aws:PrincipalAccount": Aws.ACCOUNT_ID}},
            )
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "CustomizationSecurityGroup",
            vpc=self.vpc,
            description="Bedrock customization job: HTTPS to S3 through the gateway endpoint only",
            allow_all_outbound=False,
        )
        # HTTPS out is the only egress. The isolated subnets' route tables hold only the local route and the
        # S3 gateway endpoint's prefix-list route, so the only reachable destination is S3 through the
        # endpoint. (The managed S3 prefix-list id cannot be resolved without an account lookup at synth time,
        # which would break credential-free synthesis.)
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to S3 via the gateway endpoint"
        )

        # Training data and job output are reachable by the Bedrock role only through this VPC's endpoint.
        self.artifacts_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BedrockRoleOnlyThroughVpcEndpoint",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[
                    self.artifacts_bucket.arn_for_objects(TRAINING_DATA_PATTERN),
                    self.artifacts_bucket.arn_for_objects(TRAINING_OUTPUT_PATTERN),
                ],
                conditions={
                    "ArnEquals": {"aws:PrincipalArn": self.customization_role.role_arn},
                    "StringNotEquals": {"aws:SourceVpce": endpoint.vpc_endpoint_id},
                },
            )
        )
        # Bedrock creates and tags its own network interfaces in the subnets
        # (docs.aws.amazon.com/bedrock/latest/userguide/custom-model-job-access-security.html#vpc-permissions).
        self._grant_vpc_access()

    def _grant_vpc_access(self) -> None:
        assert self.vpc is not None and self.security_group is not None
        stack_arn = account_arn("ec2")
        subnet_arns = [f"{stack_arn}:subnet/{s.subnet_id}" for s in self.vpc.isolated_subnets]
        sg_arn = f"{stack_arn}:security-group/{self.security_group.security_group_id}"
        self._customization_statements.append(
            iam.PolicyStatement(
                sid="DescribeNetwork",
                # The EC2 Describe* actions do not support resource-level permissions.
                actions=[
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                resources=["*"],
            )
        )
        self._customization_statements.append(
            iam.PolicyStatement(
                sid="CreateTaggedNetworkInterfaces",
                actions=["ec2:CreateNetworkInterface"],
                resources=[f"{stack_arn}:network-interface/*"],
                conditions={
                    "StringEquals": {"aws:RequestTag/BedrockManaged": ["true"]},
                    "ArnEquals": {
                        "aws:RequestTag/BedrockModelCustomizationJobArn": [
                            f"{account_arn('bedrock')}:model-customization-job/*"
                        ]
                    },
                },
            )
        )
        self._customization_statements.append(
            iam.PolicyStatement(
                sid="CreateInterfacesInPipelineSubnets",
                actions=["ec2:CreateNetworkInterface"],
                resources=[*subnet_arns, sg_arn],
            )
        )
        self._customization_statements.append(
            iam.PolicyStatement(
                sid="ManageBedrockInterfaces",
                actions=[
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                resources=[f"{stack_arn}:network-interface/*"],
                conditions={
                    "ArnEquals": {"ec2:Subnet": subnet_arns},
                    "StringEquals": {"ec2:ResourceTag/BedrockManaged": "true"},
                },
            )
        )
        self._customization_statements.append(
            iam.PolicyStatement(
                sid="TagOnlyNewInterfaces",
                actions=["ec2:CreateTags"],
                resources=[f"{stack_arn}:network-interface/*"],
                conditions={
                    "StringEquals": {"ec2:CreateAction": ["CreateNetworkInterface"]},
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["BedrockManaged", "BedrockModelCustomizationJobArn"]},
                },
            )
        )
