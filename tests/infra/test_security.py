"""Security properties of the synthesized templates: each test fails if the property regresses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cfn import as_list, policy_statements, resources

# The only actions granted on Resource "*": the AWS APIs that support no resource-level permissions.
_NO_RESOURCE_LEVEL = {
    "EC2 Describe calls Bedrock makes for a VPC job (and CDK's default-security-group restrictor)": (
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    ),
    "X-Ray trace upload and sampling (tracing on every function and the state machine)": (
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    ),
    "CloudWatch Logs vended-log delivery for the state machine": (
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    ),
    "Bedrock List calls (the janitor)": (
        "bedrock:ListProvisionedModelThroughputs",
        "bedrock:ListModelCustomizationJobs",
        "bedrock:ListCustomModelDeployments",
    ),
    "CloudWatch PutMetricData (the janitor; limited by a cloudwatch:namespace condition)": (
        "cloudwatch:PutMetricData",
    ),
}
RESOURCE_STAR_ACTIONS = {action: why for why, actions in _NO_RESOURCE_LEVEL.items() for action in actions}


def _data_plane(template_json: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return next(t for name, t in template_json.items() if name.endswith("DataPlane"))


def _key_ids(template: dict[str, Any]) -> set[str]:
    return set(resources(template, "AWS::KMS::Key"))


def _refs(value: Any) -> set[str]:
    """Logical ids a CloudFormation value refers to."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for v in value.values():
            found |= _refs(v)
    elif isinstance(value, list):
        for v in value:
            found |= _refs(v)
    return found


def test_one_customer_managed_key_with_rotation(template_json: dict[str, dict[str, Any]]) -> None:
    keys = resources(_data_plane(template_json), "AWS::KMS::Key")
    assert len(keys) == 1
    (key,) = keys.values()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_every_bucket_is_encrypted_with_our_key_except_the_access_log_bucket(
    template_json: dict[str, dict[str, Any]],
) -> None:
    template = _data_plane(template_json)
    key_ids = _key_ids(template)
    buckets = resources(template, "AWS::S3::Bucket")
    log_targets = {
        ref
        for b in buckets.values()
        for ref in _refs(b["Properties"].get("LoggingConfiguration", {}).get("DestinationBucketName"))
    }
    assert len(log_targets) == 1, "exactly one bucket receives access logs"
    for lid, bucket in buckets.items():
        (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        default = rule["ServerSideEncryptionByDefault"]
        if lid in log_targets:
            # S3 server access logs can only be delivered to an SSE-S3 bucket; it never holds training data.
            assert default["SSEAlgorithm"] == "AES256"
            continue
        assert default["SSEAlgorithm"] == "aws:kms", lid
        assert _refs(default["KMSMasterKeyID"]) <= key_ids and _refs(default["KMSMasterKeyID"]), lid
        assert _refs(bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"]) == log_targets


def test_every_bucket_blocks_public_access_and_is_versioned_with_lifecycle(
    template_json: dict[str, dict[str, Any]],
) -> None:
    for template in template_json.values():
        for lid, bucket in resources(template, "AWS::S3::Bucket").items():
            props = bucket["Properties"]
            assert props["PublicAccessBlockConfiguration"] == {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            }, lid
            assert props["VersioningConfiguration"] == {"Status": "Enabled"}, lid
            rules = props["LifecycleConfiguration"]["Rules"]
            assert any("NoncurrentVersionExpiration" in r for r in rules), lid
            assert any("AbortIncompleteMultipartUpload" in r for r in rules), lid


def test_every_bucket_denies_requests_without_tls(template_json: dict[str, dict[str, Any]]) -> None:
    for template in template_json.values():
        policies = resources(template, "AWS::S3::BucketPolicy")
        for lid in resources(template, "AWS::S3::Bucket"):
            statements = [
                s
                for p in policies.values()
                if lid in _refs(p["Properties"]["Bucket"])
                for s in p["Properties"]["PolicyDocument"]["Statement"]
            ]
            # The deny must name the bucket (ListBucket, bucket settings) and its objects (`bucket/*`: GetObject,
            # PutObject), and apply to every principal; a deny on the bucket ARN alone leaves objects readable
            # over plain HTTP.
            bucket_arn = {"Fn::GetAtt": [lid, "Arn"]}
            objects_arn = {"Fn::Join": ["", [bucket_arn, "/*"]]}
            assert any(
                s["Effect"] == "Deny"
                and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                and as_list(s["Action"]) == ["s3:*"]
                and s.get("Principal") in ("*", {"AWS": "*"})
                and bucket_arn in as_list(s["Resource"])
                and objects_arn in as_list(s["Resource"])
                for s in statements
            ), f"{lid} has no TLS-only policy covering the bucket and its objects for every principal"


def _uses_pipeline_key(value: Any, key_ids: set[str]) -> bool:
    """True when a KMS key property points at the pipeline key: a local reference or the data plane's export."""
    refs = _refs(value)
    text = json.dumps(value)
    return (bool(refs) and refs <= key_ids) or ("PipelineKey" in text and "Fn::ImportValue" in text)


def test_every_log_group_is_encrypted_with_our_key_and_has_retention(template_json: dict[str, dict[str, Any]]) -> None:
    key_ids = set().union(*(_key_ids(t) for t in template_json.values()))
    groups = [(lid, g) for t in template_json.values() for lid, g in resources(t, "AWS::Logs::LogGroup").items()]
    assert groups
    for lid, group in groups:
        props = group["Properties"]
        assert "RetentionInDays" in props, lid
        assert _uses_pipeline_key(props.get("KmsKeyId"), key_ids), f"{lid} is not encrypted with the pipeline key"


def test_every_topic_is_encrypted_with_our_key(template_json: dict[str, dict[str, Any]]) -> None:
    key_ids = set().union(*(_key_ids(t) for t in template_json.values()))
    for template in template_json.values():
        for lid, topic in resources(template, "AWS::SNS::Topic").items():
            assert _uses_pipeline_key(topic["Properties"].get("KmsMasterKeyId"), key_ids), lid


def test_only_the_pipelines_own_alarms_may_publish_to_its_topic(template_json: dict[str, dict[str, Any]]) -> None:
    """A topic policy replaces SNS's default one: without this statement no alarm would ever notify anyone."""
    template = template_json["FinetunePipeline"]
    names = {a["Properties"].get("AlarmName") for a in resources(template, "AWS::CloudWatch::Alarm").values()}
    assert names and all(isinstance(n, str) and n.startswith("finetune.") for n in names), names
    publish = [
        st
        for _, kind, st in policy_statements(template)
        if kind == "resource" and st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(publish) == 1 and publish[0]["Effect"] == "Allow" and publish[0]["Action"] == "sns:Publish"
    conditions = publish[0]["Condition"]
    assert conditions["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = json.dumps(conditions["ArnLike"]["aws:SourceArn"])
    assert ":alarm:finetune.*" in source_arn and ":cloudwatch:" in source_arn


def test_bedrock_role_trust_is_limited_to_this_accounts_customization_jobs(
    template_json: dict[str, dict[str, Any]],
) -> None:
    trusts = [
        s
        for _, kind, s in policy_statements(_data_plane(template_json))
        if kind == "trust" and "bedrock.amazonaws.com" in str(s["Principal"])
    ]
    assert len(trusts) == 1
    (trust,) = trusts
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = trust["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert "model-customization-job/*" in str(source_arn)
    assert "AWS::AccountId" in str(source_arn)


def test_no_statement_allows_every_action(template_json: dict[str, dict[str, Any]]) -> None:
    for template in template_json.values():
        for lid, kind, statement in policy_statements(template):
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement.get("Action", [])):
                assert action != "*", f"{lid} ({kind}) allows every action"
                if action.endswith(":*"):
                    # The one exception: AWS's default key policy statement, which gives the account root
                    # kms:* so that IAM policies (scoped per role, tested above) decide who uses the key
                    # (docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
                    assert kind == "key" and action == "kms:*" and ":root" in str(statement["Principal"]), (
                        f"{lid} ({kind}) allows {action}"
                    )


def test_resource_star_only_where_the_api_has_no_resource_level_permissions(
    template_json: dict[str, dict[str, Any]],
) -> None:
    for template in template_json.values():
        for lid, kind, statement in policy_statements(template):
            if statement["Effect"] != "Allow" or kind != "identity":
                # In a key policy, Resource "*" means the key itself; trust policies have no Resource.
                continue
            if "*" in as_list(statement.get("Resource", [])):
                unexplained = sorted(set(as_list(statement["Action"])) - set(RESOURCE_STAR_ACTIONS))
                assert not unexplained, f"{lid} grants {unexplained} on Resource '*'"
                if "cloudwatch:PutMetricData" in as_list(statement["Action"]):
                    assert "cloudwatch:namespace" in json.dumps(statement.get("Condition")), lid


def test_key_policy_grants_services_only_what_they_need(template_json: dict[str, dict[str, Any]]) -> None:
    for lid, kind, statement in policy_statements(_data_plane(template_json)):
        if kind != "key" or statement["Effect"] != "Allow":
            continue
        principal = statement["Principal"]
        if "Service" in principal:
            # Every service principal in the key policy is conditioned on this account's resources.
            assert statement.get("Condition"), f"{lid}: service access to the key without a condition"


def test_bedrock_role_reads_only_the_validated_snapshot_and_writes_only_its_output(
    template_json: dict[str, dict[str, Any]],
) -> None:
    template = _data_plane(template_json)
    role_ids = [lid for lid, r in resources(template, "AWS::IAM::Role").items() if "bedrock.amazonaws.com" in str(r)]
    statements = [
        s
        for p in resources(template, "AWS::IAM::ManagedPolicy").values()
        if set(role_ids) & _refs(p["Properties"].get("Roles"))
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    s3_grants = {
        (action, str(resource))
        for s in statements
        for action in as_list(s["Action"])
        if action.startswith("s3:")
        for resource in as_list(s["Resource"])
    }
    writes = {r for a, r in s3_grants if a == "s3:PutObject"}
    reads = {r for a, r in s3_grants if a == "s3:GetObject"}
    assert writes and all("/runs/*/*/training/*" in r for r in writes)
    assert reads and all("/runs/*/*/data/*" in r or "/runs/*/*/training/*" in r for r in reads)
    kms = [s for s in statements if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert kms and all("kms:ViaService" in s["Condition"]["StringEquals"] for s in kms)


@pytest.mark.parametrize("vpc_enabled", [True, False])
def test_vpc_is_isolated_when_enabled(synth: Any, vpc_enabled: bool) -> None:
    template = next(t for n, t in synth({"vpcEnabled": vpc_enabled}).items() if n.endswith("DataPlane")).to_json()
    vpcs = resources(template, "AWS::EC2::VPC")
    assert len(vpcs) == (1 if vpc_enabled else 0)
    if not vpc_enabled:
        return
    assert not resources(template, "AWS::EC2::InternetGateway")
    assert not resources(template, "AWS::EC2::NatGateway")
    for route in resources(template, "AWS::EC2::Route").values():
        raise AssertionError(f"unexpected route {route}")
    endpoints = resources(template, "AWS::EC2::VPCEndpoint")
    assert [e["Properties"]["VpcEndpointType"] for e in endpoints.values()] == ["Gateway"]
    assert len(resources(template, "AWS::EC2::FlowLog")) == 1
    for sg in resources(template, "AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in sg["Properties"]
        assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in sg["Properties"]["SecurityGroupEgress"]] == [
            ("tcp", 443, 443)
        ]
    denies = [
        s
        for _, kind, s in policy_statements(template)
        if kind == "resource" and s["Effect"] == "Deny" and "aws:SourceVpce" in str(s)
    ]
    assert len(denies) == 1, "training data is reachable by the Bedrock role only through the endpoint"
