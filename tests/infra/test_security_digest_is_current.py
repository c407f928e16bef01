"""The committed security digest (docs/SECURITY-DIGEST.md) is exactly what the current templates grant."""

from __future__ import annotations

from typing import Any

from tools.security_digest import DIGEST_PATH, REGENERATE_COMMAND, render_digest


def test_committed_digest_matches_the_synthesized_templates(template_json: dict[str, dict[str, Any]]) -> None:
    fresh = render_digest(template_json)
    committed = DIGEST_PATH.read_text(encoding="utf-8") if DIGEST_PATH.exists() else ""
    assert committed == fresh, (
        f"docs/SECURITY-DIGEST.md is stale: what the templates grant has changed. Run `{REGENERATE_COMMAND}`, "
        "review the diff and commit it with the change."
    )


def test_digest_covers_every_role_and_the_key(template_json: dict[str, dict[str, Any]]) -> None:
    digest = render_digest(template_json)
    for stack, template in template_json.items():
        for lid, res in template["Resources"].items():
            if res["Type"] in ("AWS::IAM::Role", "AWS::KMS::Key", "AWS::Events::Rule", "AWS::EC2::SecurityGroup"):
                assert f"{stack} / " in digest and lid[:-8] in digest, f"{stack}/{lid} is missing from the digest"
    assert "{'Ref'" not in digest and '"Fn::' not in digest, "an unrendered CloudFormation token is in the digest"
