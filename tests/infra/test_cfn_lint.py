"""cfn-lint over every synthesized template: no errors and no warnings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

# W3005 flags a DependsOn that a GetAtt already implies. CDK's own custom-resource providers emit it; it is
# redundant, never wrong, and not in code we write.
IGNORED = ["W3005"]


@pytest.mark.parametrize("overrides", [{}, {"vpcEnabled": False}], ids=["default", "no-vpc"])
def test_templates_lint_clean(synth: Any, overrides: dict[str, Any]) -> None:
    for name, template in synth(overrides).items():
        matches = lint(
            json.dumps(template.to_json()),
            config=ManualArgs(regions=["us-west-2"], ignore_checks=IGNORED),
        )
        assert [str(m) for m in matches] == [], name


def test_lint_catches_a_broken_template() -> None:
    broken = {
        "Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "On"}}}}
    }
    assert lint(json.dumps(broken), config=ManualArgs(regions=["us-west-2"]))
