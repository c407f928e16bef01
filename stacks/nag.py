"""cdk-nag: the rule packs the app is checked against, and the one way to acknowledge a finding.

Every acknowledgment names one rule on one construct path and carries a full-sentence reason, so the
synthesized metadata doubles as the audit trail a reviewer reads in the pull request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import cdk_nag
from aws_cdk import aws_iam as iam
from constructs import IConstruct

# The packs the product is held to. The Serverless pack matters once Lambda and Step Functions land.
PACKS = (
    cdk_nag.AwsSolutionsChecks,
    cdk_nag.HIPAASecurityChecks,
    cdk_nag.NIST80053R5Checks,
    cdk_nag.ServerlessChecks,
)


def add_nag_packs(app: cdk.App) -> None:
    """Attach every pack to the app; unacknowledged findings then fail synthesis."""
    cdk.Validations.of(app).add_plugins(*(pack(app) for pack in PACKS))


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one rule on one construct (and the CloudFormation resource it wraps), with its reason."""
    if not reason.rstrip().endswith(".") or len(reason.split()) < 6:
        raise ValueError(f"acknowledging {rule_id} on {construct.node.path}: give the reason as a full sentence")
    # cdk-nag reports a finding as "<pack>::<rule>", e.g. "AwsSolutions::AwsSolutions-IAM5[Resource::*]".
    pack = rule_id.split("-", 1)[0]
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=f"{pack}::{rule_id}", reason=reason))


def flatten_cfn_reference(value: Any) -> str:
    """How cdk-nag spells a policy resource in a finding id (a port of cdk-nag's flattenCfnReference)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return str(delimiter).join(flatten_cfn_reference(item) for item in items)
        if "Fn::Sub" in value:
            return flatten_cfn_reference(value["Fn::Sub"])
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten_cfn_reference(resource)}.{flatten_cfn_reference(attribute)}>"
        if "Fn::ImportValue" in value:
            return flatten_cfn_reference(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{flatten_cfn_reference(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class WildcardReason:
    """Why a family of wildcard grants is the narrowest the API allows; ``pattern`` matches cdk-nag's finding."""

    pattern: str
    reason: str


def wildcard_findings(policy: cdk.CfnResource) -> list[str]:
    """The AwsSolutions-IAM5 finding suffixes cdk-nag will report for ``policy`` (Action::... / Resource::...)."""
    document = cdk.Stack.of(policy).resolve(policy.policy_document)  # type: ignore[attr-defined]
    findings: list[str] = []
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        for action in actions if isinstance(actions, list) else [actions]:
            if "*" in action and f"Action::{action}" not in findings:
                findings.append(f"Action::{action}")
        for resource in resources if isinstance(resources, list) else [resources]:
            flat = flatten_cfn_reference(resource)
            if "*" in flat and f"Resource::{flat}" not in findings:
                findings.append(f"Resource::{flat}")
    return findings


def acknowledge_wildcards(scope: IConstruct, reasons: tuple[WildcardReason, ...]) -> list[str]:
    """Acknowledge, finding by finding, every wildcard grant under ``scope`` that a reason explains.

    A wildcard no reason matches stays unacknowledged, so cdk-nag fails synthesis and the new grant
    cannot slip into a template unreviewed. Returns the findings left unexplained.
    """
    unexplained: list[str] = []
    for construct in scope.node.find_all():
        if not isinstance(construct, iam.CfnPolicy | iam.CfnManagedPolicy):
            continue
        for finding in wildcard_findings(construct):
            match = next((r for r in reasons if re.fullmatch(r.pattern, finding)), None)
            if match is None:
                unexplained.append(f"{construct.node.path}: {finding}")
                continue
            acknowledge(construct, f"AwsSolutions-IAM5[{finding}]", match.reason)
    return unexplained
