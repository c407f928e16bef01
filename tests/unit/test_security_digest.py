"""The security digest generator on a small hand-written template: tokens, deny statements, conditions, order."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tools.security_digest import Renderer, main, render_digest

ROLE = "WorkerRoleABCDEF12"
BUCKET = "DataBucket0A1B2C3D"
KEY = "PipelineKey99887766"

TEMPLATE: dict[str, Any] = {
    "Resources": {
        KEY: {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "logs.amazonaws.com"},
                            "Action": ["kms:Encrypt*", "kms:Decrypt*"],
                            "Resource": "*",
                            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                        }
                    ]
                },
            },
        },
        BUCKET: {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": {
                    "Fn::Join": ["", ["demo-data-", {"Ref": "AWS::AccountId"}, "-", {"Ref": "AWS::Region"}]]
                },
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {
                            "ServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": {"Fn::GetAtt": [KEY, "Arn"]},
                            }
                        }
                    ]
                },
            },
        },
        "DataBucketPolicy11112222": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": BUCKET},
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Action": "s3:*",
                            "Resource": [{"Fn::Join": ["", [{"Fn::GetAtt": [BUCKET, "Arn"]}, "/*"]]}],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ]
                },
            },
        },
        ROLE: {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                }
            },
        },
        "WorkerRoleDefaultPolicy33334444": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": ROLE}],
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:PutObject", "s3:GetObject"],
                            "Resource": {
                                "Fn::Join": [
                                    "",
                                    [
                                        "arn:",
                                        {"Ref": "AWS::Partition"},
                                        ":s3:::demo-data-",
                                        {"Ref": "AWS::AccountId"},
                                        "-",
                                        {"Ref": "AWS::Region"},
                                        "/runs/*",
                                    ],
                                ]
                            },
                            "Condition": {"StringLike": {"s3:prefix": ["runs/*", "inbox/*"]}},
                        },
                        {
                            "Effect": "Allow",
                            "Action": "lambda:InvokeFunction",
                            "Resource": {"Fn::GetAtt": ["TrainFunction55556666", "Arn"]},
                        },
                        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": {"Fn::Sub": "${" + KEY + ".Arn}"}},
                    ]
                },
            },
        },
        "TrainFunction55556666": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Role": {"Fn::GetAtt": [ROLE, "Arn"]}},
        },
        "ScheduleRule77778888": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": "rate(1 hour)",
                "Targets": [{"Id": "Target0", "Arn": {"Fn::GetAtt": ["TrainFunction55556666", "Arn"]}}],
            },
        },
    },
    "Outputs": {
        "KeyExport": {"Value": {"Fn::GetAtt": [KEY, "Arn"]}, "Export": {"Name": "Demo:KeyArn"}},
    },
}

CONSUMER: dict[str, Any] = {
    "Resources": {
        "Topic12345678": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"KmsMasterKeyId": {"Fn::ImportValue": "Demo:KeyArn"}},
        }
    }
}


@pytest.fixture
def digest() -> str:
    return render_digest({"Demo": TEMPLATE, "Consumer": CONSUMER})


def test_tokens_render_as_readable_placeholders() -> None:
    renderer = Renderer({"Demo": TEMPLATE, "Consumer": CONSUMER})
    join = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::x-", {"Ref": "AWS::AccountId"}, "/*"]]}
    assert renderer.render("Demo", join) == "arn:${Partition}:s3:::x-${AccountId}/*"
    assert renderer.render("Demo", {"Fn::GetAtt": ["TrainFunction55556666", "Arn"]}) == "<TrainFunction.Arn>"
    assert renderer.render("Demo", {"Ref": ROLE}) == "<WorkerRole>"
    # A named bucket reads as its name and ARN, not as a logical id.
    assert renderer.render("Demo", {"Ref": BUCKET}) == "demo-data-${AccountId}-${Region}"
    assert (
        renderer.render("Demo", {"Fn::GetAtt": [BUCKET, "Arn"]})
        == "arn:${Partition}:s3:::demo-data-${AccountId}-${Region}"
    )
    assert renderer.render("Demo", {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:*"}) == (
        "arn:${Partition}:logs:${Region}:*"
    )
    # A cross-stack import renders as what the other stack exports, qualified with that stack's name.
    assert renderer.render("Consumer", {"Fn::ImportValue": "Demo:KeyArn"}) == "<Demo/PipelineKey.Arn>"
    assert renderer.render("Demo", {"Fn::Select": [1, {"Fn::GetAZs": ""}]}) == "${AZ[1]}"


def test_deny_statements_and_conditions_are_shown(digest: str) -> None:
    assert (
        "- **DENY** `s3:*`\n  - to anyone (`AWS: *`)\n"
        "  - on `arn:${Partition}:s3:::demo-data-${AccountId}-${Region}/*`\n" in digest
    )
    assert "  - when `aws:SecureTransport` Bool `false`" in digest
    assert "  - when `s3:prefix` StringLike `inbox/*`, `runs/*`" in digest  # values sorted
    assert "  - when `aws:SourceAccount` StringEquals `${AccountId}`" in digest


def test_roles_show_trust_users_and_grants(digest: str) -> None:
    section = digest.split("### Demo / WorkerRole", 1)[1].split("\n## ", 1)[0]
    assert "Used by: `Demo / TrainFunction` (AWS::Lambda::Function)" in section
    assert "- **Allow** `sts:AssumeRole`\n  - to `Service: lambda.amazonaws.com`" in section
    assert "- **Allow** `s3:GetObject`, `s3:PutObject`" in section  # actions sorted
    assert "  - on `<TrainFunction.Arn>`" in section
    assert "  - on `<PipelineKey.Arn>`" in section


def test_key_lists_who_uses_it_across_stacks(digest: str) -> None:
    section = digest.split("## KMS keys", 1)[1].split("\n## ", 1)[0]
    assert "Automatic rotation: on" in section
    assert "`Consumer / Topic` (AWS::SNS::Topic)" in section
    assert "`Demo / DataBucket` (AWS::S3::Bucket)" in section


def test_triggers_and_network(digest: str) -> None:
    assert "  - schedule `rate(1 hour)`\n  - target `<TrainFunction.Arn>`" in digest
    assert "No VPC." in digest


def test_output_is_deterministic_whatever_the_input_order() -> None:
    reordered = copy.deepcopy(TEMPLATE)
    reordered["Resources"] = dict(reversed(list(reordered["Resources"].items())))
    assert render_digest({"Consumer": CONSUMER, "Demo": reordered}) == render_digest(
        {"Demo": TEMPLATE, "Consumer": CONSUMER}
    )


def test_hash_suffix_is_kept_when_stripping_it_would_collide() -> None:
    template = {
        "Resources": {"QueueAAAAAAAA": {"Type": "AWS::SQS::Queue"}, "QueueBBBBBBBB": {"Type": "AWS::SQS::Queue"}}
    }
    renderer = Renderer({"S": template})
    assert renderer.render("S", {"Ref": "QueueAAAAAAAA"}) == "<QueueAAAAAAAA>"


def test_templates_flag_reads_a_cloud_assembly(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    (tmp_path / "Demo.template.json").write_text(json.dumps(TEMPLATE))
    assert main(["--templates", str(tmp_path)]) == 0
    assert "### Demo / WorkerRole" in capsys.readouterr().out
    assert main(["--templates", str(tmp_path / "missing")]) == 2


# ---- the Bedrock boundary a reviewer reads per role ---------------------------------------------------------------
def _bedrock_role(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resources": {
            "EvaluateRoleABCDEF12": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": {"Statement": []}},
            },
            "EvaluateRoleDefaultPolicy12345678": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "Roles": [{"Ref": "EvaluateRoleABCDEF12"}],
                    "PolicyDocument": {"Statement": list(statements)},
                },
            },
        }
    }


def test_the_digest_states_each_roles_bedrock_boundary_and_what_aws_leaves_unconditioned() -> None:
    owned = {"StringEquals": {"aws:ResourceTag/finetune:pipeline": "finetune"}}
    digest = render_digest(
        {
            "S": _bedrock_role(
                {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "pm/*", "Condition": owned},
                {"Effect": "Allow", "Action": "bedrock:DeleteProvisionedModelThroughput", "Resource": "pm/*"},
                {"Effect": "Allow", "Action": "bedrock:GetFoundationModel", "Resource": "fm/*"},
            )
        }
    )
    assert "- may invoke: only resources tagged `finetune:pipeline=finetune`" in digest
    # A delete without the condition is impossible to miss: it is listed, with no reason recorded for it.
    assert "- may `bedrock:DeleteProvisionedModelThroughput` without a tag condition: NO REASON RECORDED" in digest
    section = digest.split("## Bedrock actions without a tag condition", 1)[1].split("\n## ", 1)[0]
    assert "`bedrock:GetFoundationModel` | AWS lists no aws:ResourceTag" in section
    assert "`bedrock:InvokeModel`" not in section


def test_a_role_without_bedrock_grants_has_no_boundary_and_the_section_says_none() -> None:
    digest = render_digest({"S": _bedrock_role({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "b/*"})})
    assert "Bedrock boundary" not in digest
    assert "## Bedrock actions without a tag condition\n\nNone." in digest


def test_a_tag_grant_bounded_only_where_a_tag_exists_says_an_untagged_resource_can_be_tagged() -> None:
    creating = {
        "StringEquals": {"aws:RequestTag/finetune:pipeline": "finetune"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["finetune:pipeline", "finetune:run"]},
    }
    if_exists = {**creating, "StringEqualsIfExists": {"aws:ResourceTag/finetune:pipeline": "finetune"}}
    tag = {"Effect": "Allow", "Action": "bedrock:TagResource", "Resource": "pm/*"}
    digest = render_digest({"S": _bedrock_role({**tag, "Condition": if_exists})})
    assert "an untagged existing resource can be tagged by this role (Bedrock's tag-on-create authorization" in digest
    assert "drop TagResource from Train/Throughput if creation works without it" in digest
    # Without the IfExists grant (a create call only), nothing is said about existing resources.
    create = {"Effect": "Allow", "Action": "bedrock:CreateProvisionedModelThroughput", "Resource": "pm/*"}
    plain = render_digest({"S": _bedrock_role({**create, "Condition": creating})})
    assert "untagged existing resource" not in plain and "may create only when tagging with" in plain


def _approval_templates(*, waits: bool, approver: bool) -> dict[str, Any]:
    template = _bedrock_role({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "b/*"})
    resource = "arn:aws:states:::lambda:invoke" + (".waitForTaskToken" if waits else "")
    template["Resources"]["Workflow"] = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"DefinitionString": {"Fn::Join": ["", ['{"Resource":"', resource, '"}']]}},
    }
    if approver:
        statements = template["Resources"]["EvaluateRoleDefaultPolicy12345678"]["Properties"]["PolicyDocument"]
        statements["Statement"].append({"Effect": "Allow", "Action": "states:SendTaskSuccess", "Resource": "sm"})
    return {"S": template}


@pytest.mark.parametrize("waits", [True, False])
def test_the_approval_section_says_the_token_is_no_secret_and_who_holds_send_task_success(waits: bool) -> None:
    digest = render_digest(_approval_templates(waits=waits, approver=False))
    section = digest.split("## Approval\n", 1)[1].split("\n## ", 1)[0]
    assert ("waits for a task token (approval required)" in section) is waits
    assert ("(approval off)" in section) is not waits
    assert "The task token is not a secret" in section and "execution history" in section
    assert "these templates grant it to nobody" in section
    assert "CloudTrail's SendTaskSuccess event is the authoritative record" in section
    assert "uploaders must not hold SendTaskSuccess" in section
    granted = render_digest(_approval_templates(waits=waits, approver=True))
    assert "these templates grant it to S / EvaluateRoleDefaultPolicy. Never" in granted
    assert "grant it to nobody" not in granted
