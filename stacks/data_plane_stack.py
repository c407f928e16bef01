"""The stack that holds the data plane: key, buckets, the Bedrock role and the optional VPC."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct, IConstruct

from stacks.data_plane import DataPlane
from stacks.nag import WildcardReason, acknowledge, acknowledge_wildcards, grants
from stacks.settings import PipelineSettings

# Every wildcard grant of the data plane, with the reason it is the narrowest the API allows; any other
# wildcard stays unacknowledged and fails cdk-nag.
DATA_PLANE_WILDCARDS = (
    WildcardReason(
        r"Resource::<DataPlaneArtifactsBucket\w+\.Arn>/runs/\*/\*/data/\*",
        "Each run writes its validated snapshot under its own run and execution prefix, which is not known at "
        "deploy time; Bedrock only reads the data folders of run prefixes.",
        grants(DataPlane=("s3:GetObject",)),
    ),
    WildcardReason(
        r"Resource::<DataPlaneArtifactsBucket\w+\.Arn>/runs/\*/\*/training/\*",
        "Each customization job writes its output under its own run and execution prefix, which is not known at "
        "deploy time; the wildcard is limited to the training folders of run prefixes.",
        grants(DataPlane=("s3:GetObject", "s3:PutObject")),
    ),
    WildcardReason(
        r"Resource::\*",
        "The EC2 Describe actions Bedrock needs for a VPC job do not support resource-level permissions, so they "
        "can only be granted on all resources.",
        grants(
            DataPlane=(
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
            )
        ),
    ),
    WildcardReason(
        r"Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/\*",
        "Bedrock creates the job's network interfaces at run time, so their ids are unknown; every statement on "
        "them is conditioned on Bedrock's request or resource tags and on the pipeline's subnets.",
        grants(
            DataPlane=(
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
                "ec2:CreateTags",
            )
        ),
    ),
)


class DataPlaneStack(Stack):
    """Composes the DataPlane construct and publishes the names users need."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: PipelineSettings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.data_plane = DataPlane(self, "DataPlane", settings=settings)
        CfnOutput(
            self, "DataBucketName", value=self.data_plane.data_bucket.bucket_name, description="Upload datasets here"
        )
        CfnOutput(self, "ArtifactsBucketName", value=self.data_plane.artifacts_bucket.bucket_name)
        CfnOutput(self, "PipelineKeyArn", value=self.data_plane.key.key_arn)
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        """Findings of the cdk-nag packs that are right for this design, each scoped to one path, with its reason."""
        dp = self.data_plane
        log_loop = "This bucket receives the other buckets' server access logs, and logging it into itself would loop."
        for pack in (
            "AwsSolutions-S1",
            "NIST.800.53.R5-S3BucketLoggingEnabled",
            "HIPAA.Security-S3BucketLoggingEnabled",
        ):
            acknowledge(_l1(dp.access_log_bucket), pack, log_loop)
        sse_s3_only = (
            "S3 delivers server access logs only to buckets encrypted with SSE-S3, so this bucket cannot use the "
            "customer-managed key; it holds request logs, never training data."
        )
        for rule in ("NIST.800.53.R5-S3DefaultEncryptionKMS", "HIPAA.Security-S3DefaultEncryptionKMS"):
            acknowledge(_l1(dp.access_log_bucket), rule, sse_s3_only)
        no_replication = (
            "Training data must stay in the customer's chosen Region, so cross-Region replication is deliberately "
            "off; versioning and retained buckets protect against deletion instead."
        )
        for bucket in (dp.access_log_bucket, dp.data_bucket, dp.artifacts_bucket):
            for rule in ("NIST.800.53.R5-S3BucketReplicationEnabled", "HIPAA.Security-S3BucketReplicationEnabled"):
                acknowledge(_l1(bucket), rule, no_replication)

        acknowledge_wildcards(self, DATA_PLANE_WILDCARDS)
        if dp.vpc is not None:
            flow_log_policy = dp.vpc.node.find_child("All").node.find_child("IAMRole").node.find_child("DefaultPolicy")
            for rule in ("NIST.800.53.R5-IAMNoInlinePolicy", "HIPAA.Security-IAMNoInlinePolicy"):
                acknowledge(
                    _l1(flow_log_policy),
                    rule,
                    "CDK creates this flow-log delivery role with an inline policy scoped to the flow-log group "
                    "alone, and it grants nothing else.",
                )

        self._acknowledge_bucket_notifications_handler()

    def _acknowledge_bucket_notifications_handler(self) -> None:
        """CDK's own singleton Lambda that turns on EventBridge notifications for the data bucket."""
        handler = next(c for c in self.node.children if c.node.id.startswith("BucketNotificationsHandler"))
        acknowledge(
            _l1(handler.node.find_child("Role")),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's bucket-notification custom resource runs once at deploy time and only needs to write its own logs, "
            "which is what this managed policy grants.",
        )
        handler_policy = self.data_plane.data_bucket.node.find_child("Notifications").node.find_child("HandlerPolicy")
        for rule in ("NIST.800.53.R5-IAMNoInlinePolicy", "HIPAA.Security-IAMNoInlinePolicy"):
            acknowledge(
                _l1(handler_policy),
                rule,
                "CDK's bucket-notification custom resource gets an inline policy that allows only "
                "s3:PutBucketNotification, and only at deploy time.",
            )


def _l1(construct: IConstruct) -> IConstruct:
    """The CloudFormation resource a finding is reported on: the L2's default child, or the construct itself."""
    return construct.node.default_child or construct
