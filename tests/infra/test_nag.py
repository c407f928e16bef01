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
