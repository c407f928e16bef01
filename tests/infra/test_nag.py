"""cdk-nag: the whole app passes the AwsSolutions, HIPAA, NIST 800-53 rev 5 and Serverless packs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from stacks.nag import PACKS, acknowledge, add_nag_packs

# The prefixes cdk-nag gives its findings; CDK's own acknowledgments (e.g. CloudFormation-Validate) are not ours.
NAG_PACKS = {"AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "Serverless"}


def _violations(outdir: Path) -> list[str]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        f"{violation['ruleName']} @ {construct['constructPath']}"
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
        for construct in violation["violatingConstructs"]
    ]


def _synth_with_nag(synth: Any, tmp_path: Path, overrides: dict[str, Any] | None = None) -> list[str]:
    try:
        synth(overrides, nag=True, outdir=str(tmp_path))
    except Exception as err:  # ValidationFailed surfaces as a jsii RuntimeError
        if not (tmp_path / "validation-report.json").exists():
            raise
        assert "Validation failed" in str(err) or "validation" in str(err).lower()
    report = tmp_path / "validation-report.json"
    return _violations(tmp_path) if report.exists() else []


@pytest.mark.parametrize("overrides", [{}, {"vpcEnabled": False}], ids=["default", "no-vpc"])
def test_no_unacknowledged_findings(synth: Any, tmp_path: Path, overrides: dict[str, Any]) -> None:
    assert _synth_with_nag(synth, tmp_path, overrides) == []


def test_packs_are_the_four_the_product_is_held_to() -> None:
    names = {pack.__name__ for pack in PACKS}
    assert names == {"AwsSolutionsChecks", "HIPAASecurityChecks", "NIST80053R5Checks", "ServerlessChecks"}


def test_the_nag_check_catches_a_regression(tmp_path: Path) -> None:
    """A bucket without encryption, TLS or logging is reported: the check above is not vacuous."""
    app = cdk.App(outdir=str(tmp_path), analytics_reporting=False)
    stack = cdk.Stack(app, "Regression")
    s3.Bucket(stack, "Careless")
    add_nag_packs(app)
    with pytest.raises(Exception):  # noqa: B017 - jsii raises a generic RuntimeError for ValidationFailed
        app.synth()
    found = _violations(tmp_path)
    assert any(v.startswith("AwsSolutions-S10 @ Regression/Careless") for v in found), found
    assert any(v.startswith("AwsSolutions-S1 @ Regression/Careless") for v in found), found


def test_every_acknowledgment_is_a_reasoned_sentence_on_one_path(synth: Any, tmp_path: Path) -> None:
    synth(nag=True, outdir=str(tmp_path))
    acks: list[tuple[str, str, str]] = []
    for tree_file in tmp_path.glob("*.metadata.json"):
        for path, entries in json.loads(tree_file.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    acks.extend((path, r, why) for r, why in entry["data"].items() if r.split("::")[0] in NAG_PACKS)
    assert acks, "no acknowledgments found in the cloud assembly metadata"
    for path, rule, reason in acks:
        assert path.count("/") >= 3, f"{rule} acknowledged too broadly at {path}"
        assert reason.endswith(".") and len(reason.split()) >= 8, f"{rule} at {path}: {reason!r}"


def test_acknowledge_refuses_a_reason_that_is_not_a_sentence() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ValueError, match="full sentence"):
        acknowledge(stack, "AwsSolutions-S1", "ok")


# ---- an acknowledgment covers the (wildcard, actions) it was written for, never a new action beside them ---------
def _with_extra_grant(monkeypatch: pytest.MonkeyPatch, owner: str, actions: list[str], resource: str) -> None:
    """Add a statement to ``owner``'s role before the stack acknowledges its wildcards (as a careless change would)."""
    from aws_cdk import Aws
    from aws_cdk import aws_iam as iam

    from stacks.pipeline_stack import PipelineStack

    original = PipelineStack._grant_key_use

    def grant_more(stack: PipelineStack) -> None:
        original(stack)
        arn = resource.format(partition=Aws.PARTITION, region=Aws.REGION, account=Aws.ACCOUNT_ID)
        stack.functions[owner].role.add_to_policy(iam.PolicyStatement(actions=actions, resources=[arn]))

    monkeypatch.setattr(PipelineStack, "_grant_key_use", grant_more)


@pytest.mark.parametrize(
    ("owner", "actions", "resource", "path"),
    [
        # Evaluate may invoke what is ours; deleting custom models was never acknowledged for it.
        (
            "evaluate",
            ["bedrock:DeleteCustomModel"],
            "arn:{partition}:bedrock:{region}:{account}:custom-model/*",
            "FinetunePipeline/Evaluate/Role/DefaultPolicy/Resource",
        ),
        # Evaluate already holds InvokeModel on provisioned-model/*: a delete beside it is still new.
        (
            "evaluate",
            ["bedrock:InvokeModel", "bedrock:DeleteProvisionedModelThroughput"],
            "arn:{partition}:bedrock:{region}:{account}:provisioned-model/*",
            "FinetunePipeline/Evaluate/Role/DefaultPolicy/Resource",
        ),
        # Train only reads the job's output: writing it is new on an already acknowledged wildcard.
        (
            "train",
            ["s3:PutObject"],
            "arn:{partition}:s3:::finetune-artifacts-{account}-{region}/runs/*/*/training/*",
            "FinetunePipeline/Train/Role/DefaultPolicy/Resource",
        ),
    ],
    ids=["delete-custom-model", "delete-beside-invoke", "put-where-train-reads"],
)
def test_a_new_action_on_an_acknowledged_wildcard_fails_nag(
    synth: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    owner: str,
    actions: list[str],
    resource: str,
    path: str,
) -> None:
    _with_extra_grant(monkeypatch, owner, actions, resource)
    violations = _synth_with_nag(synth, tmp_path)
    # Exactly the one finding the new grant shares with an acknowledged one, on the role that got it.
    assert len(violations) == 1, violations
    assert violations[0].startswith("AwsSolutions-IAM5[Resource::") and violations[0].endswith(f" @ {path}")


def test_acknowledgments_are_matched_on_owner_and_actions() -> None:
    """The unit under the test above: the reason's actions per owner decide, the resource alone does not."""
    from aws_cdk import aws_iam as iam

    from stacks.nag import WildcardReason, acknowledge_wildcards, grants

    stack = cdk.Stack(cdk.App(), "S")
    reasons = (
        WildcardReason(
            r"Resource::arn:aws:bedrock:us-west-2:1:provisioned-model/\*",
            "A reason written for invoking throughput from one role only.",
            grants(Evaluate=("bedrock:InvokeModel",), EVERY_OWNER=("bedrock:GetProvisionedModelThroughput",)),
        ),
    )
    resource = "arn:aws:bedrock:us-west-2:1:provisioned-model/*"
    roles: dict[str, iam.Role] = {}
    for owner, actions in (
        ("Evaluate", ["bedrock:InvokeModel"]),  # written for it
        ("Evaluate", ["bedrock:GetProvisionedModelThroughput"]),  # written for every owner
        ("Other", ["bedrock:GetProvisionedModelThroughput"]),
        ("Other", ["bedrock:InvokeModel"]),  # written for Evaluate only
        ("Careless", ["bedrock:InvokeModel", "bedrock:DeleteProvisionedModelThroughput"]),
    ):
        if owner not in roles:
            roles[owner] = iam.Role(stack, owner, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        roles[owner].add_to_policy(iam.PolicyStatement(actions=actions, resources=[resource]))
    unexplained = acknowledge_wildcards(stack, reasons)
    assert sorted(u.split("/")[1] for u in unexplained) == ["Careless", "Other"], unexplained
    assert any("bedrock:InvokeModel to Other" in u for u in unexplained)
