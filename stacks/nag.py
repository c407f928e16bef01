"""cdk-nag: the rule packs the app is checked against, and the one way to acknowledge a finding.

Every acknowledgment names one rule on one construct path and carries a full-sentence reason, so the
synthesized metadata doubles as the audit trail a reviewer reads in the pull request.
"""

from __future__ import annotations

import aws_cdk as cdk
import cdk_nag
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
