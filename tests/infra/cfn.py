"""Small readers over synthesized CloudFormation JSON, shared by the infra tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def resources(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == type_name}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every IAM statement in the template: (logical id, kind, statement). Kinds: identity, key, bucket, trust."""
    for lid, res in template["Resources"].items():
        props = res.get("Properties", {})
        kind_docs: list[tuple[str, Any]] = []
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            kind_docs.append(("identity", props.get("PolicyDocument")))
        elif res["Type"] == "AWS::IAM::Role":
            kind_docs.append(("trust", props.get("AssumeRolePolicyDocument")))
            kind_docs.extend(("identity", p.get("PolicyDocument")) for p in props.get("Policies", []))
        elif res["Type"] == "AWS::KMS::Key":
            kind_docs.append(("key", props.get("KeyPolicy")))
        elif res["Type"] in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"):
            kind_docs.append(("resource", props.get("PolicyDocument")))
        elif res["Type"] == "AWS::EC2::VPCEndpoint":
            kind_docs.append(("endpoint", props.get("PolicyDocument")))
        for kind, doc in kind_docs:
            if doc:
                for statement in doc["Statement"]:
                    yield lid, kind, statement


def parameter_id(template: dict[str, Any], name: str) -> str:
    """The logical id of the template's one AWS::SSM::Parameter named ``name``."""
    (found,) = [lid for lid, r in resources(template, "AWS::SSM::Parameter").items() if r["Properties"]["Name"] == name]
    return found


def is_parameter_arn(resource: Any, template: dict[str, Any], name: str) -> bool:
    """Whether an IAM Resource is exactly the ARN of the stack's parameter named ``name``, in this account.

    CDK builds it as ``arn:<partition>:ssm:<region>:<account>:parameter`` followed by the parameter's Ref (its name,
    which starts with "/"), so a grant on the stack's parameter names no other and holds no wildcard.
    """
    join = resource.get("Fn::Join") if isinstance(resource, dict) else None
    if not join or join[0] != "":
        return False
    parts = join[1]
    literal = "".join(p for p in parts if isinstance(p, str))
    return (
        parts[-1] == {"Ref": parameter_id(template, name)}
        and isinstance(parts[-2], str)
        and parts[-2].endswith(":parameter")
        and {"Ref": "AWS::AccountId"} in parts
        and ":ssm:" in literal
        and "*" not in literal
    )
