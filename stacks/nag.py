"""cdk-nag: the rule packs the app is checked against, and the one way to acknowledge a finding.

Every acknowledgment names one rule on one construct path and carries a full-sentence reason, so the
synthesized metadata doubles as the audit trail a reviewer reads in the pull request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
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


EVERY_OWNER = "*"


@dataclass(frozen=True)
class WildcardReason:
    """Why a family of wildcard grants is the narrowest the API allows, and which grants it was written for.

    ``pattern`` matches cdk-nag's finding (``Resource::...`` or ``Action::...``). ``actions`` names, per owner, the
    actions a policy may hold on a matching wildcard: the owner is the construct id the policy sits under in its
    stack (a function such as ``Evaluate``, ``Workflow``, ``DataPlane``), and ``EVERY_OWNER`` lists what any owner
    may hold. cdk-nag's finding names the resource only, so without this a new action on an acknowledged wildcard
    (``bedrock:DeleteCustomModel`` beside ``InvokeModel``) would be acknowledged with it.
    """

    pattern: str
    reason: str
    actions: Mapping[str, frozenset[str]]

    def unexplained_actions(self, owner: str, actions: set[str]) -> list[str]:
        """The actions of ``actions`` this reason was not written for ``owner``; empty when it covers them all."""
        allowed = self.actions.get(EVERY_OWNER, frozenset()) | self.actions.get(owner, frozenset())
        return sorted(actions - allowed)


def grants(**owners: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """``WildcardReason.actions`` from keyword arguments: owner=(actions...); ``EVERY_OWNER=`` for every owner."""
    return {(EVERY_OWNER if owner == "EVERY_OWNER" else owner): frozenset(actions) for owner, actions in owners.items()}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_grants(policy: cdk.CfnResource) -> dict[str, set[str]]:
    """The AwsSolutions-IAM5 finding suffixes cdk-nag will report for ``policy`` (Action::... / Resource::...),
    each with every action the policy's statements grant along with that wildcard."""
    document = cdk.Stack.of(policy).resolve(policy.policy_document)  # type: ignore[attr-defined]
    grants: dict[str, set[str]] = {}
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _as_list(statement.get("Action", []))]
        findings = [f"Action::{a}" for a in actions if "*" in a]
        for resource in _as_list(statement.get("Resource", [])):
            flat = flatten_cfn_reference(resource)
            if "*" in flat:
                findings.append(f"Resource::{flat}")
        for finding in findings:
            grants.setdefault(finding, set()).update(actions)
    return grants


def wildcard_findings(policy: cdk.CfnResource) -> list[str]:
    """The AwsSolutions-IAM5 finding suffixes cdk-nag will report for ``policy`` (Action::... / Resource::...)."""
    return list(wildcard_grants(policy))


def policy_owner(construct: IConstruct) -> str:
    """The construct id a policy sits under in its stack, e.g. FinetunePipeline/Evaluate/Role/... -> Evaluate."""
    stack_path = cdk.Stack.of(construct).node.path
    relative = construct.node.path[len(stack_path) :].strip("/")
    return relative.split("/", 1)[0]


def acknowledge_wildcards(scope: IConstruct, reasons: tuple[WildcardReason, ...]) -> list[str]:
    """Acknowledge, finding by finding, every wildcard grant under ``scope`` that a reason explains.

    A reason explains a finding when its pattern matches the finding and it was written for every action the policy
    grants on that wildcard (``WildcardReason.actions``, for the policy's owner). A wildcard no reason explains stays
    unacknowledged, so cdk-nag fails synthesis and the new grant, or the new action on an old wildcard, cannot slip
    into a template unreviewed. Returns the findings left unexplained.
    """
    unexplained: list[str] = []
    for construct in scope.node.find_all():
        if not isinstance(construct, iam.CfnPolicy | iam.CfnManagedPolicy):
            continue
        owner = policy_owner(construct)
        for finding, actions in wildcard_grants(construct).items():
            match = next((r for r in reasons if re.fullmatch(r.pattern, finding)), None)
            if match is None:
                unexplained.append(f"{construct.node.path}: {finding}")
                continue
            extra = match.unexplained_actions(owner, actions)
            if extra:
                unexplained.append(f"{construct.node.path}: {finding} also grants {', '.join(extra)} to {owner}")
                continue
            acknowledge(construct, f"AwsSolutions-IAM5[{finding}]", match.reason)
    return unexplained
