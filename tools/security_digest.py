#!/usr/bin/env python3
"""Writes docs/SECURITY-DIGEST.md: what the synthesized templates grant, in a form a reviewer reads in a diff.

The digest lists, per IAM role, who may assume it and what it may do; who may use the KMS key; every
resource policy (deny statements included); the network (VPC, subnets, routes, security groups, endpoints);
and what triggers what (EventBridge rules, schedules, Lambda permissions, alarm actions). CloudFormation
tokens are rendered readably (``${AccountId}``, ``<TrainFunction.Arn>``) and everything is sorted, so the
same templates always give the same bytes on any machine.

    .venv/bin/python tools/security_digest.py            # print the digest of the current code
    .venv/bin/python tools/security_digest.py --write    # regenerate docs/SECURITY-DIGEST.md
    .venv/bin/python tools/security_digest.py --check    # exit 1 if the committed digest is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIGEST_PATH = ROOT / "docs" / "SECURITY-DIGEST.md"
REGENERATE_COMMAND = ".venv/bin/python tools/security_digest.py --write"

Template = Mapping[str, Any]

PSEUDO_PARAMETERS = {
    "AWS::AccountId": "${AccountId}",
    "AWS::Partition": "${Partition}",
    "AWS::Region": "${Region}",
    "AWS::URLSuffix": "${URLSuffix}",
    "AWS::StackName": "${StackName}",
    "AWS::StackId": "${StackId}",
    "AWS::NotificationARNs": "${NotificationARNs}",
    "AWS::NoValue": "",
}
# CDK appends an 8-character hash of the construct path to every logical id; the digest shows the readable part.
_HASH_SUFFIX = re.compile(r"^(?P<name>.+?)(?P<hash>[0-9A-F]{8})$")
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")

IAM_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
RESOURCE_POLICY_TYPES = {
    "AWS::S3::BucketPolicy": ("Bucket", "bucket"),
    "AWS::SNS::TopicPolicy": ("Topics", "topic"),
    "AWS::SQS::QueuePolicy": ("Queues", "queue"),
}


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def code(text: str) -> str:
    """Inline Markdown code that survives backticks inside the text."""
    return f"``{text}``" if "`" in text else f"`{text}`"


class Renderer:
    """Renders CloudFormation values of a set of templates (one per stack) as readable strings."""

    def __init__(self, templates: Mapping[str, Template]) -> None:
        self.templates = templates
        self._names = {stack: _readable_names(t.get("Resources", {})) for stack, t in templates.items()}
        # Export name -> (exporting stack, exported value), so cross-stack imports render as what they import.
        self._exports: dict[str, tuple[str, Any]] = {}
        for stack, template in templates.items():
            for output in template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if isinstance(export, str):
                    self._exports[export] = (stack, output.get("Value"))

    # ---- names -------------------------------------------------------------------------------------------
    def name(self, stack: str, logical_id: str) -> str:
        return self._names.get(stack, {}).get(logical_id, logical_id)

    def resources(self, stack: str) -> Mapping[str, Any]:
        resources: Mapping[str, Any] = self.templates[stack].get("Resources", {})
        return resources

    def of_type(self, *types: str) -> list[tuple[str, str, Mapping[str, Any]]]:
        """(stack, logical id, resource) of the given types, sorted by stack and readable name."""
        found = [
            (stack, lid, res)
            for stack in self.templates
            for lid, res in self.resources(stack).items()
            if res.get("Type") in types
        ]
        return sorted(found, key=lambda item: (item[0], self.name(item[0], item[1]), item[1]))

    def title(self, stack: str, logical_id: str) -> str:
        return f"{stack} / {self.name(stack, logical_id)}"

    # ---- values ------------------------------------------------------------------------------------------
    def resolve(self, stack: str, value: Any, *, qualify: bool = False) -> Any:
        """``value`` with every intrinsic function replaced by a readable string; plain JSON otherwise."""
        if isinstance(value, list):
            return [self.resolve(stack, item, qualify=qualify) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), *_ = value.items()
            rendered = self._intrinsic(stack, fn, arg, qualify)
            if rendered is not None:
                return rendered
        return {key: self.resolve(stack, item, qualify=qualify) for key, item in value.items()}

    def render(self, stack: str, value: Any) -> str:
        resolved = self.resolve(stack, value)
        if isinstance(resolved, str):
            return resolved
        return json.dumps(resolved, sort_keys=True, separators=(", ", ": "))

    def _ref(self, stack: str, target: str, attribute: str | None, qualify: bool) -> str:
        if attribute is None and target in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[target]
        template = self.templates.get(stack, {})
        if attribute is None and target in template.get("Parameters", {}):
            return f"${{{target}}}"
        resource = template.get("Resources", {}).get(target)
        # A bucket with a fixed name reads best as that name (Ref) or its ARN.
        if resource and resource.get("Type") == "AWS::S3::Bucket" and "BucketName" in resource.get("Properties", {}):
            bucket = self.render(stack, resource["Properties"]["BucketName"])
            if attribute is None:
                return bucket
            if attribute == "Arn":
                return f"arn:${{Partition}}:s3:::{bucket}"
        name = self.name(stack, target)
        if qualify:
            name = f"{stack}/{name}"
        return f"<{name}.{attribute}>" if attribute else f"<{name}>"

    def _intrinsic(self, stack: str, fn: str, arg: Any, qualify: bool) -> str | None:
        if fn == "Ref" and isinstance(arg, str):
            return self._ref(stack, arg, None, qualify)
        if fn == "Fn::GetAtt":
            target, _, attribute = arg.partition(".") if isinstance(arg, str) else (arg[0], ".", arg[1])
            return self._ref(stack, str(target), str(attribute), qualify)
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            delimiter, items = arg
            return str(delimiter).join(self._text(stack, item, qualify) for item in as_list(items))
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            return self._sub(stack, str(text), variables, qualify)
        if fn == "Fn::ImportValue" and isinstance(arg, str) and arg in self._exports:
            source_stack, exported = self._exports[arg]
            return self._text(source_stack, exported, True)
        if fn == "Fn::ImportValue":
            return f"import({self._text(stack, arg, qualify)})"
        if fn == "Fn::GetAZs":
            return "${AZs}"
        if fn == "Fn::Select" and isinstance(arg, list) and len(arg) == 2:
            index, items = arg
            if isinstance(items, dict) and "Fn::GetAZs" in items:
                return f"${{AZ[{index}]}}"
            if isinstance(items, dict) and isinstance(items.get("Fn::Split"), list):
                delimiter, source = items["Fn::Split"]
                if isinstance(source, str):
                    items = source.split(str(delimiter))
            resolved = self.resolve(stack, items, qualify=qualify)
            if isinstance(resolved, list) and isinstance(index, int) and 0 <= index < len(resolved):
                return self._text(stack, resolved[index], qualify)
            return f"select({index}, {self._text(stack, items, qualify)})"
        if fn == "Fn::Split" and isinstance(arg, list) and len(arg) == 2:
            delimiter, source = arg
            if isinstance(source, str):
                return None  # a literal splits into a list, which resolve() keeps as JSON
            return f"split({json.dumps(delimiter)}, {self._text(stack, source, qualify)})"
        if fn == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
            condition, yes, no = arg
            return f"if({condition}, {self._text(stack, yes, qualify)}, {self._text(stack, no, qualify)})"
        return None

    def _text(self, stack: str, value: Any, qualify: bool) -> str:
        resolved = self.resolve(stack, value, qualify=qualify)
        return resolved if isinstance(resolved, str) else json.dumps(resolved, sort_keys=True, separators=(",", ":"))

    def _sub(self, stack: str, text: str, variables: Mapping[str, Any], qualify: bool) -> str:
        def replace(match: re.Match[str]) -> str:
            variable = match.group(1)
            if variable in variables:
                return self._text(stack, variables[variable], qualify)
            target, dot, attribute = variable.partition(".")
            return self._ref(stack, target, attribute if dot else None, qualify)

        return _SUB_VARIABLE.sub(replace, text)

    # ---- references --------------------------------------------------------------------------------------
    def references(self, stack: str, value: Any) -> Iterator[tuple[str, str]]:
        """Every (stack, logical id) ``value`` refers to, following cross-stack imports to their export."""
        if isinstance(value, list):
            for item in value:
                yield from self.references(stack, item)
        elif isinstance(value, dict):
            for fn, arg in value.items():
                if fn == "Ref" and isinstance(arg, str) and arg in self.resources(stack):
                    yield stack, arg
                elif fn == "Fn::GetAtt":
                    target = arg.partition(".")[0] if isinstance(arg, str) else arg[0]
                    if target in self.resources(stack):
                        yield stack, str(target)
                elif fn == "Fn::Sub":
                    text = arg if isinstance(arg, str) else arg[0]
                    for variable in _SUB_VARIABLE.findall(str(text)):
                        target = variable.partition(".")[0]
                        if target in self.resources(stack):
                            yield stack, target
                    if isinstance(arg, list) and len(arg) > 1:
                        yield from self.references(stack, arg[1])
                elif fn == "Fn::ImportValue" and isinstance(arg, str) and arg in self._exports:
                    source_stack, exported = self._exports[arg]
                    yield from self.references(source_stack, exported)
                else:
                    yield from self.references(stack, arg)

    def referrers(self, stack: str, logical_id: str) -> list[tuple[str, str]]:
        """(stack, logical id) of every resource whose properties refer to ``logical_id`` of ``stack``."""
        found = {
            (other, lid)
            for other in self.templates
            for lid, res in self.resources(other).items()
            if (stack, logical_id) in set(self.references(other, res.get("Properties", {})))
        }
        return sorted(found, key=lambda item: (item[0], self.name(*item), item[1]))

    def describe(self, stack: str, logical_id: str) -> str:
        res_type = self.templates[stack]["Resources"][logical_id]["Type"]
        return f"{code(self.title(stack, logical_id))} ({res_type})"


def _readable_names(resources: Mapping[str, Any]) -> dict[str, str]:
    """Logical id -> the id without CDK's hash suffix, unless two ids would then collide."""
    stripped: dict[str, str] = {}
    for lid in resources:
        match = _HASH_SUFFIX.match(lid)
        stripped[lid] = match.group("name") if match else lid
    counts: dict[str, int] = {}
    for name in stripped.values():
        counts[name] = counts.get(name, 0) + 1
    return {lid: (name if counts[name] == 1 else lid) for lid, name in stripped.items()}


# ---- statements ----------------------------------------------------------------------------------------------
def principal_text(renderer: Renderer, stack: str, principal: Any) -> str:
    if principal == "*":
        return "anyone (`*`)"
    parts: list[str] = []
    for kind in sorted(principal or {}):
        for value in sorted(renderer.render(stack, v) for v in as_list(principal[kind])):
            text = f"{kind}: {value}"
            if kind == "AWS" and value == "*":
                parts.append("anyone (`AWS: *`)")
            elif kind == "AWS" and value == "arn:${Partition}:iam::${AccountId}:root":
                parts.append(f"{code(text)} (this account: its IAM policies decide)")
            else:
                parts.append(code(text))
    return ", ".join(parts) or "nobody"


def condition_lines(renderer: Renderer, stack: str, conditions: Mapping[str, Any] | None) -> list[str]:
    lines: list[str] = []
    for operator in sorted(conditions or {}):
        for key in sorted(conditions[operator]):  # type: ignore[index]
            values = sorted(renderer.render(stack, v) for v in as_list(conditions[operator][key]))  # type: ignore[index]
            lines.append(f"when {code(key)} {operator} {', '.join(code(v) for v in values)}")
    return lines


def statement_lines(
    renderer: Renderer, stack: str, statement: Mapping[str, Any], *, resource_policy: bool
) -> list[str]:
    """One statement as a bullet with sub-bullets: effect and actions, principal, resources, conditions."""
    effect = str(statement.get("Effect", "Allow"))
    if "NotAction" in statement:
        actions = "every action except " + ", ".join(code(a) for a in sorted(as_list(statement["NotAction"])))
    else:
        actions = ", ".join(code(str(a)) for a in sorted(as_list(statement.get("Action"))))
    head = f"- **{effect.upper() if effect == 'Deny' else effect}** {actions}"
    if statement.get("Sid"):
        head += f" (Sid {code(str(statement['Sid']))})"
    lines = [head]
    if "Principal" in statement or resource_policy:
        lines.append(f"  - to {principal_text(renderer, stack, statement.get('Principal'))}")
    if "NotPrincipal" in statement:
        lines.append(f"  - to everyone except {principal_text(renderer, stack, statement['NotPrincipal'])}")
    if "NotResource" in statement:
        excluded = sorted(renderer.render(stack, r) for r in as_list(statement["NotResource"]))
        lines.append("  - on every resource except " + ", ".join(code(r) for r in excluded))
    for resource in sorted(renderer.render(stack, r) for r in as_list(statement.get("Resource"))):
        lines.append(f"  - on {code(resource)}")
    lines.extend(f"  - {line}" for line in condition_lines(renderer, stack, statement.get("Condition")))
    return lines


def document_lines(renderer: Renderer, stack: str, document: Any, *, resource_policy: bool = False) -> list[str]:
    statements = as_list((document or {}).get("Statement"))
    lines: list[str] = []
    for statement in statements:
        lines.extend(statement_lines(renderer, stack, statement, resource_policy=resource_policy))
    return lines or ["- (no statements)"]


# ---- sections ------------------------------------------------------------------------------------------------
def _attached_policies(renderer: Renderer, stack: str, role_id: str) -> list[tuple[str, Mapping[str, Any]]]:
    attached = []
    for lid, res in renderer.resources(stack).items():
        if res.get("Type") in IAM_POLICY_TYPES:
            roles = as_list(res.get("Properties", {}).get("Roles"))
            if {"Ref": role_id} in roles:
                attached.append((lid, res))
    return sorted(attached, key=lambda item: renderer.name(stack, item[0]))


def roles_section(renderer: Renderer) -> list[str]:
    lines = ["## IAM roles", ""]
    roles = renderer.of_type("AWS::IAM::Role")
    if not roles:
        return [*lines, "No IAM roles.", ""]
    for stack, lid, res in roles:
        props = res.get("Properties", {})
        lines += [f"### {renderer.title(stack, lid)}", ""]
        if props.get("Description"):
            lines += [f"_{renderer.render(stack, props['Description'])}_", ""]
        users = [renderer.describe(s, r) for s, r in renderer.referrers(stack, lid) if not _is_policy(renderer, s, r)]
        if users:
            lines += ["Used by: " + ", ".join(users), ""]
        lines += ["Who can assume it:", ""]
        lines += document_lines(renderer, stack, props.get("AssumeRolePolicyDocument"), resource_policy=True)
        lines.append("")
        if props.get("PermissionsBoundary"):
            lines += [f"Permissions boundary: {code(renderer.render(stack, props['PermissionsBoundary']))}", ""]
        managed = sorted(renderer.render(stack, arn) for arn in as_list(props.get("ManagedPolicyArns")))
        if managed:
            lines += ["AWS managed policies: " + ", ".join(code(arn) for arn in managed), ""]
        inline = sorted(as_list(props.get("Policies")), key=lambda p: str(p.get("PolicyName")))
        attached = _attached_policies(renderer, stack, lid)
        if not inline and not attached and not managed:
            lines += ["What it can do: nothing (no policies).", ""]
        documents = [p.get("PolicyDocument") for p in inline]
        documents += [p.get("Properties", {}).get("PolicyDocument") for _, p in attached]
        lines += boundary_lines(renderer, stack, [s for d in documents for s in as_list((d or {}).get("Statement"))])
        for policy in inline:
            lines += [f"What it can do (inline policy {code(str(policy.get('PolicyName')))}):", ""]
            lines += document_lines(renderer, stack, policy.get("PolicyDocument"))
            lines.append("")
        for policy_id, policy in attached:
            kind = "managed policy" if policy["Type"] == "AWS::IAM::ManagedPolicy" else "policy"
            lines += [f"What it can do ({kind} {code(renderer.name(stack, policy_id))}):", ""]
            lines += document_lines(renderer, stack, policy.get("Properties", {}).get("PolicyDocument"))
            lines.append("")
    return lines


# ---- the Bedrock boundary ------------------------------------------------------------------------------------
# Bedrock actions the templates grant without a tag condition, and why: AWS's Service Authorization Reference lists
# no aws:ResourceTag for their resources, or the grant must reach resources of any owner by design
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html, read 2026-12-01).
NO_TAG_CONDITION = {
    "bedrock:ListTagsForResource": "by design: reading tags is how the janitor and Promote tell the pipeline's "
    "resources from anyone else's before they delete anything",
    "bedrock:ListProvisionedModelThroughputs": "AWS offers no resource-level permission or condition for List calls",
    "bedrock:ListModelCustomizationJobs": "AWS offers no resource-level permission or condition for List calls",
    "bedrock:ListCustomModelDeployments": "AWS offers no resource-level permission or condition for List calls",
    "bedrock:InvokeModel": "foundation models and inference profiles carry no tags: AWS lists no aws:ResourceTag for "
    "the foundation-model and inference-profile resource types; the grant names each model",
    "bedrock:GetFoundationModel": "AWS lists no aws:ResourceTag for the foundation-model resource type",
    "bedrock:GetInferenceProfile": "AWS lists no aws:ResourceTag for the inference-profile resource type",
}
_VERB = re.compile(r"[A-Z][a-z]+")


def _verbs(actions: Iterable[str]) -> str:
    found = sorted({m.group(0).lower() for a in actions if (m := _VERB.match(a.split(":", 1)[1]))})
    return ", ".join(found)


def _tag_values(renderer: Renderer, stack: str, conditions: Mapping[str, Any], operator: str, prefix: str) -> str:
    pairs = [
        f"{key.removeprefix(prefix)}={renderer.render(stack, value)}"
        for key, value in sorted((conditions.get(operator) or {}).items())
        if key.startswith(prefix)
    ]
    return ", ".join(code(pair) for pair in pairs)


def boundary_lines(renderer: Renderer, stack: str, statements: list[Mapping[str, Any]]) -> list[str]:
    """What the role may do to Bedrock resources, by the tag condition that bounds it (none: said why)."""
    lines: list[str] = []
    for statement in statements:
        actions = [str(a) for a in as_list(statement.get("Action")) if str(a).startswith("bedrock:")]
        if statement.get("Effect", "Allow") != "Allow" or not actions:
            continue
        conditions = statement.get("Condition") or {}
        owned = _tag_values(renderer, stack, conditions, "StringEquals", "aws:ResourceTag/")
        requested = _tag_values(renderer, stack, conditions, "StringEquals", "aws:RequestTag/")
        if_exists = _tag_values(renderer, stack, conditions, "StringEqualsIfExists", "aws:ResourceTag/")
        keys = (conditions.get("ForAllValues:StringEquals") or {}).get("aws:TagKeys")
        key_text = f" with tag keys {', '.join(code(k) for k in as_list(keys))} only" if keys else ""
        if owned:
            text = f"may {_verbs(actions)}: only resources tagged {owned}"
            if requested:
                text += f", adding {requested}"
            lines.append(text + key_text)
        elif requested:
            text = f"may {_verbs(actions)} only when tagging with {requested}{key_text}"
            if if_exists:
                text += (
                    f"; an existing resource tagged otherwise is refused ({if_exists} IfExists), but an untagged "
                    "existing resource can be tagged by this role (Bedrock's tag-on-create authorization could not "
                    "be confirmed; verify on a real account and drop TagResource from Train/Throughput if creation "
                    "works without it)"
                )
            lines.append(text)
        else:
            for action in sorted(set(actions)):
                why = NO_TAG_CONDITION.get(action, "NO REASON RECORDED in tools/security_digest.py")
                lines.append(f"may {code(action)} without a tag condition: {why}")
    if not lines:
        return []
    return ["Bedrock boundary:", "", *(f"- {line}" for line in sorted(set(lines))), ""]


def no_condition_section(renderer: Renderer) -> list[str]:
    """Every Bedrock action granted without a tag condition, by role, with why AWS or the design leaves it open."""
    rows: set[str] = set()
    for stack, lid, res in renderer.of_type("AWS::IAM::Role"):
        documents = [p.get("PolicyDocument") for p in as_list(res.get("Properties", {}).get("Policies"))]
        attached = _attached_policies(renderer, stack, lid)
        documents += [p.get("Properties", {}).get("PolicyDocument") for _, p in attached]
        for statement in (s for d in documents for s in as_list((d or {}).get("Statement"))):
            if statement.get("Condition") or statement.get("Effect", "Allow") != "Allow":
                continue
            for action in as_list(statement.get("Action")):
                if str(action).startswith("bedrock:"):
                    why = NO_TAG_CONDITION.get(str(action), "NO REASON RECORDED in tools/security_digest.py")
                    rows.add(f"| {renderer.title(stack, lid)} | {code(str(action))} | {why} |")
    lines = ["## Bedrock actions without a tag condition", ""]
    if not rows:
        return [*lines, "None.", ""]
    return [*lines, "| role | action | why |", "|---|---|---|", *sorted(rows), ""]


def _is_policy(renderer: Renderer, stack: str, lid: str) -> bool:
    return str(renderer.resources(stack)[lid].get("Type")) in IAM_POLICY_TYPES


def keys_section(renderer: Renderer) -> list[str]:
    lines = ["## KMS keys", ""]
    keys = renderer.of_type("AWS::KMS::Key")
    if not keys:
        return [*lines, "No customer-managed keys.", ""]
    aliases = renderer.of_type("AWS::KMS::Alias")
    for stack, lid, res in keys:
        props = res.get("Properties", {})
        lines += [f"### {renderer.title(stack, lid)}", ""]
        if props.get("Description"):
            lines += [f"_{renderer.render(stack, props['Description'])}_", ""]
        names = sorted(
            renderer.render(s, a["Properties"]["AliasName"])
            for s, _, a in aliases
            if (stack, lid) in set(renderer.references(s, a["Properties"].get("TargetKeyId")))
        )
        lines.append(f"- Aliases: {', '.join(code(n) for n in names) or 'none'}")
        lines.append(f"- Automatic rotation: {'on' if props.get('EnableKeyRotation') else 'OFF'}")
        lines.append(f"- Deletion policy: {res.get('DeletionPolicy', 'Delete')}")
        users = [
            renderer.describe(s, r)
            for s, r in renderer.referrers(stack, lid)
            if renderer.resources(s)[r].get("Type") not in ("AWS::KMS::Alias", *IAM_POLICY_TYPES, "AWS::IAM::Role")
        ]
        lines.append(f"- Resources that name it (encryption or configuration): {', '.join(users) or 'none'}")
        lines += ["", "Who the key policy lets use it:", ""]
        lines += document_lines(renderer, stack, props.get("KeyPolicy"), resource_policy=True)
        lines.append("")
    return lines


def _bucket_facts(renderer: Renderer, stack: str, props: Mapping[str, Any]) -> list[str]:
    facts: list[str] = []
    rules = as_list(props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration"))
    for rule in rules:
        default = rule.get("ServerSideEncryptionByDefault", {})
        algorithm = str(default.get("SSEAlgorithm", "none"))
        key = default.get("KMSMasterKeyID")
        facts.append(
            f"encryption {code(algorithm)}"
            + (f" with {code(renderer.render(stack, key))}" if key else "")
            + (" (bucket key)" if rule.get("BucketKeyEnabled") else "")
        )
    if not rules:
        facts.append("encryption: S3 default")
    block = props.get("PublicAccessBlockConfiguration", {})
    flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    facts.append(
        "public access fully blocked" if all(block.get(f) for f in flags) else "PUBLIC ACCESS NOT FULLY BLOCKED"
    )
    facts.append(f"versioning {str(props.get('VersioningConfiguration', {}).get('Status', 'off')).lower()}")
    ownership = [r.get("ObjectOwnership") for r in as_list(props.get("OwnershipControls", {}).get("Rules"))]
    if ownership:
        facts.append(f"object ownership {', '.join(str(o) for o in ownership)}")
    logging = props.get("LoggingConfiguration")
    if logging:
        target = renderer.render(stack, logging.get("DestinationBucketName"))
        facts.append(f"access logs to {code(target + '/' + str(logging.get('LogFilePrefix', '')))}")
    if props.get("NotificationConfiguration", {}).get("EventBridgeConfiguration") is not None:
        facts.append("sends events to EventBridge")
    return facts


def resource_policies_section(renderer: Renderer) -> list[str]:
    lines = ["## Buckets, topics, queues and their resource policies", ""]
    policies = renderer.of_type(*RESOURCE_POLICY_TYPES)
    by_target: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for stack, _, res in policies:
        prop, _ = RESOURCE_POLICY_TYPES[str(res["Type"])]
        for target in set(renderer.references(stack, res.get("Properties", {}).get(prop))):
            by_target.setdefault(target, []).append(res)
    targets = renderer.of_type("AWS::S3::Bucket", "AWS::SNS::Topic", "AWS::SQS::Queue")
    notifications = renderer.of_type("Custom::S3BucketNotifications")
    for stack, lid, res in targets:
        props = res.get("Properties", {})
        lines += [f"### {renderer.title(stack, lid)} ({res['Type']})", ""]
        if res["Type"] == "AWS::S3::Bucket":
            if "BucketName" in props:
                lines.append(f"- Name: {code(renderer.render(stack, props['BucketName']))}")
            facts = _bucket_facts(renderer, stack, props)
            for s, _, note in notifications:
                bucket_ref = note.get("Properties", {}).get("BucketName")
                config = note.get("Properties", {}).get("NotificationConfiguration", {})
                if (stack, lid) in set(renderer.references(s, bucket_ref)) and "EventBridgeConfiguration" in config:
                    facts.append("sends events to EventBridge")
            lines.append(f"- Settings: {'; '.join(sorted(set(facts)))}")
        else:
            key = props.get("KmsMasterKeyId")
            lines.append(f"- Encryption: {code(renderer.render(stack, key)) if key else 'NONE'}")
        lines.append(f"- Deletion policy: {res.get('DeletionPolicy', 'Delete')}")
        lines.append("")
        attached = by_target.get((stack, lid), [])
        if not attached:
            lines += ["No resource policy: only identities of this account that IAM allows can use it.", ""]
        for policy in attached:
            lines += document_lines(
                renderer, stack, policy.get("Properties", {}).get("PolicyDocument"), resource_policy=True
            )
            lines.append("")
    permissions = renderer.of_type("AWS::Lambda::Permission")
    lines += ["### Lambda invoke permissions", ""]
    for stack, _, res in permissions:
        props = res.get("Properties", {})
        text = (
            f"- {code(str(props.get('Principal')))} may {code(str(props.get('Action')))} "
            f"{code(renderer.render(stack, props.get('FunctionName')))}"
        )
        if props.get("SourceArn"):
            text += f" when the source is {code(renderer.render(stack, props['SourceArn']))}"
        if props.get("SourceAccount"):
            text += f" in account {code(renderer.render(stack, props['SourceAccount']))}"
        lines.append(text)
    if not permissions:
        lines.append("None.")
    lines.append("")
    return lines


def network_section(renderer: Renderer) -> list[str]:
    lines = ["## Network exposure", ""]
    vpcs = renderer.of_type("AWS::EC2::VPC")
    if not vpcs:
        lines += ["No VPC.", ""]
    for stack, lid, res in vpcs:
        props = res.get("Properties", {})
        lines += [f"### {renderer.title(stack, lid)}", "", f"- CIDR {code(str(props.get('CidrBlock')))}"]
        gateways = [
            renderer.describe(s, g)
            for s, g, _ in renderer.of_type(
                "AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EgressOnlyInternetGateway"
            )
        ]
        lines.append(f"- Internet, NAT and egress-only gateways: {', '.join(gateways) or 'none'}")
        for s, flow_id, flow in renderer.of_type("AWS::EC2::FlowLog"):
            fprops = flow.get("Properties", {})
            if (stack, lid) in set(renderer.references(s, fprops.get("ResourceId"))):
                lines.append(
                    f"- Flow log {code(renderer.name(s, flow_id))}: traffic {fprops.get('TrafficType')} to "
                    f"{code(renderer.render(s, fprops.get('LogGroupName') or fprops.get('LogDestination')))}"
                )
        for s, _, custom in renderer.of_type("Custom::VpcRestrictDefaultSG"):
            if (stack, lid) in set(renderer.references(s, custom.get("Properties", {}).get("DefaultSecurityGroupId"))):
                lines.append("- Default security group: all its rules are removed at deploy time")
        lines.append("")
        lines += _subnet_lines(renderer, stack, lid)
    endpoint_lines = _endpoint_lines(renderer)
    groups = renderer.of_type("AWS::EC2::SecurityGroup")
    lines += ["### Security groups", ""]
    for stack, lid, res in groups:
        props = res.get("Properties", {})
        lines.append(f"- {code(renderer.title(stack, lid))}: {renderer.render(stack, props.get('GroupDescription'))}")
        lines += _rule_lines(renderer, stack, lid, props)
    if not groups:
        lines.append("None.")
    lines.append("")
    lines += ["### VPC endpoints", "", *endpoint_lines]
    in_vpc = [
        renderer.describe(s, f)
        for s, f, fn in renderer.of_type("AWS::Lambda::Function")
        if fn.get("Properties", {}).get("VpcConfig")
    ]
    lines += ["### Lambda functions attached to a VPC", "", ", ".join(in_vpc) or "None.", ""]
    return lines


def _subnet_lines(renderer: Renderer, stack: str, vpc_id: str) -> list[str]:
    lines = ["| subnet | CIDR | zone | public IP on launch | routes besides local |", "|---|---|---|---|---|"]
    associations = renderer.of_type("AWS::EC2::SubnetRouteTableAssociation")
    routes = renderer.of_type("AWS::EC2::Route")
    endpoints = renderer.of_type("AWS::EC2::VPCEndpoint")
    for s, subnet_id, subnet in renderer.of_type("AWS::EC2::Subnet"):
        props = subnet.get("Properties", {})
        if s != stack or (stack, vpc_id) not in set(renderer.references(s, props.get("VpcId"))):
            continue
        tables = {
            table
            for _, _, assoc in associations
            if (s, subnet_id) in set(renderer.references(s, assoc["Properties"].get("SubnetId")))
            for table in renderer.references(s, assoc["Properties"].get("RouteTableId"))
        }
        route_texts: list[str] = []
        for rs, _, route in routes:
            rprops = route.get("Properties", {})
            if set(renderer.references(rs, rprops.get("RouteTableId"))) & tables:
                destination = rprops.get("DestinationCidrBlock") or rprops.get("DestinationIpv6CidrBlock")
                target = next(
                    (
                        renderer.render(rs, v)
                        for k, v in sorted(rprops.items())
                        if k.endswith("Id") and k != "RouteTableId"
                    ),
                    "?",
                )
                route_texts.append(f"{renderer.render(rs, destination)} -> {target}")
        for es, endpoint_id, endpoint in endpoints:
            eprops = endpoint.get("Properties", {})
            if set(renderer.references(es, eprops.get("RouteTableIds"))) & tables:
                route_texts.append(
                    f"{renderer.render(es, eprops.get('ServiceName'))} prefix list -> {renderer.name(es, endpoint_id)}"
                )
        lines.append(
            f"| {renderer.name(s, subnet_id)} | {props.get('CidrBlock')} "
            f"| {renderer.render(s, props.get('AvailabilityZone'))} "
            f"| {'yes' if props.get('MapPublicIpOnLaunch') else 'no'} | {'; '.join(sorted(route_texts)) or 'none'} |"
        )
    return [*lines, ""]


def _rule_lines(renderer: Renderer, stack: str, group_id: str, props: Mapping[str, Any]) -> list[str]:
    rules: list[tuple[str, Mapping[str, Any]]] = [("ingress", r) for r in as_list(props.get("SecurityGroupIngress"))]
    rules += [("egress", r) for r in as_list(props.get("SecurityGroupEgress"))]
    for s, _, res in renderer.of_type("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
        rprops = res.get("Properties", {})
        if s == stack and (stack, group_id) in set(renderer.references(s, rprops.get("GroupId"))):
            rules.append(("ingress" if res["Type"].endswith("Ingress") else "egress", rprops))
    texts = []
    for direction, rule in rules:
        peer = next(
            (
                renderer.render(stack, rule[k])
                for k in (
                    "CidrIp",
                    "CidrIpv6",
                    "SourceSecurityGroupId",
                    "DestinationSecurityGroupId",
                    "SourcePrefixListId",
                    "DestinationPrefixListId",
                )
                if k in rule
            ),
            "?",
        )
        protocol = str(rule.get("IpProtocol"))
        ports = "all ports" if protocol == "-1" else f"{protocol} {rule.get('FromPort')}-{rule.get('ToPort')}"
        description = f" ({rule['Description']})" if rule.get("Description") else ""
        texts.append(f"  - {direction} {ports} {'from' if direction == 'ingress' else 'to'} {code(peer)}{description}")
    if not any(direction == "ingress" for direction, _ in rules):
        texts.append("  - ingress: none")
    if not any(direction == "egress" for direction, _ in rules):
        texts.append("  - egress: none")
    return sorted(texts)


def _endpoint_lines(renderer: Renderer) -> list[str]:
    endpoints = renderer.of_type("AWS::EC2::VPCEndpoint")
    lines: list[str] = []
    for stack, lid, res in endpoints:
        props = res.get("Properties", {})
        lines.append(
            f"#### {renderer.title(stack, lid)}: {props.get('VpcEndpointType', 'Gateway')} endpoint for "
            f"{code(renderer.render(stack, props.get('ServiceName')))}"
        )
        lines.append("")
        if props.get("PrivateDnsEnabled"):
            lines += ["- Private DNS enabled", ""]
        if props.get("PolicyDocument"):
            lines += ["Endpoint policy:", ""]
            lines += document_lines(renderer, stack, props["PolicyDocument"], resource_policy=True)
        else:
            lines.append("Endpoint policy: the default (full access)")
        lines.append("")
    return lines or ["None.", ""]


def triggers_section(renderer: Renderer) -> list[str]:
    lines = ["## What triggers what", "", "### EventBridge rules and schedules", ""]
    rules = renderer.of_type("AWS::Events::Rule")
    for stack, lid, res in rules:
        props = res.get("Properties", {})
        lines.append(f"- {code(renderer.title(stack, lid))} ({props.get('State', 'ENABLED')})")
        if props.get("Description"):
            lines.append(f"  - {renderer.render(stack, props['Description'])}")
        if props.get("ScheduleExpression"):
            lines.append(f"  - schedule {code(renderer.render(stack, props['ScheduleExpression']))}")
        if props.get("EventPattern"):
            pattern = json.dumps(renderer.resolve(stack, props["EventPattern"]), sort_keys=True)
            lines.append(f"  - pattern {code(pattern)}")
        for target in sorted(as_list(props.get("Targets")), key=lambda t: str(t.get("Id"))):
            text = f"  - target {code(renderer.render(stack, target.get('Arn')))}"
            if target.get("RoleArn"):
                text += f" as {code(renderer.render(stack, target['RoleArn']))}"
            retry = target.get("RetryPolicy", {})
            if retry:
                text += "; retries " + ", ".join(f"{k} {v}" for k, v in sorted(retry.items()))
            if target.get("DeadLetterConfig"):
                text += f"; dead letters to {code(renderer.render(stack, target['DeadLetterConfig'].get('Arn')))}"
            lines.append(text)
    if not rules:
        lines.append("None.")
    lines += ["", "### Alarms and their actions", ""]
    alarms = renderer.of_type("AWS::CloudWatch::Alarm")
    for stack, lid, res in alarms:
        props = res.get("Properties", {})
        lines.append(
            f"- {code(renderer.title(stack, lid))}: {_alarm_metric(renderer, stack, props)} "
            f"{props.get('ComparisonOperator')} {props.get('Threshold')} "
            f"over {props.get('EvaluationPeriods')} period(s)"
        )
        for kind in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            for action in sorted(renderer.render(stack, a) for a in as_list(props.get(kind))):
                lines.append(f"  - {kind[:-7].lower() or 'alarm'} action: {code(action)}")
    if not alarms:
        lines.append("None.")
    lines += ["", "### State machines", ""]
    machines = renderer.of_type("AWS::StepFunctions::StateMachine")
    for stack, lid, res in machines:
        props = res.get("Properties", {})
        logging = props.get("LoggingConfiguration", {})
        encryption = props.get("EncryptionConfiguration", {})
        lines.append(f"- {code(renderer.title(stack, lid))} ({props.get('StateMachineType', 'STANDARD')})")
        lines.append(f"  - runs as {code(renderer.render(stack, props.get('RoleArn')))}")
        lines.append(
            f"  - encryption {encryption.get('Type', 'AWS_OWNED_KEY')}"
            + (f" with {code(renderer.render(stack, encryption['KmsKeyId']))}" if encryption.get("KmsKeyId") else "")
        )
        lines.append(
            f"  - logging {logging.get('Level', 'OFF')}, execution data "
            f"{'included' if logging.get('IncludeExecutionData') else 'excluded'}; "
            f"tracing {'on' if props.get('TracingConfiguration', {}).get('Enabled') else 'off'}"
        )
        starters = [
            renderer.describe(s, r)
            for s, r in renderer.referrers(stack, lid)
            if renderer.resources(s)[r].get("Type") in IAM_POLICY_TYPES
        ]
        lines.append(f"  - policies that name it: {', '.join(starters) or 'none'}")
    if not machines:
        lines.append("None.")
    lines.append("")
    return lines


def _alarm_metric(renderer: Renderer, stack: str, props: Mapping[str, Any]) -> str:
    def metric_text(metric: Mapping[str, Any], stat: Any, period: Any) -> str:
        dimensions = ", ".join(
            f"{d.get('Name')}={renderer.render(stack, d.get('Value'))}"
            for d in sorted(as_list(metric.get("Dimensions")), key=lambda d: str(d.get("Name")))
        )
        return code(f"{metric.get('Namespace')} {metric.get('MetricName')} {{{dimensions}}} {stat} per {period}s")

    if props.get("MetricName"):
        return metric_text(props, props.get("Statistic") or props.get("ExtendedStatistic"), props.get("Period"))
    parts: list[str] = []
    for query in as_list(props.get("Metrics")):
        if "Expression" in query:
            parts.insert(0, code(str(query["Expression"])))
        elif "MetricStat" in query:
            stat = query["MetricStat"]
            parts.append(
                f"{query.get('Id')} = {metric_text(stat.get('Metric', {}), stat.get('Stat'), stat.get('Period'))}"
            )
    return " where ".join([parts[0], "; ".join(parts[1:])]) if len(parts) > 1 else "".join(parts)


def _waits_for_a_task_token(renderer: Renderer) -> bool:
    machines = renderer.of_type("AWS::StepFunctions::StateMachine")
    return any(
        "waitForTaskToken" in json.dumps(res.get("Properties", {}).get("DefinitionString")) for *_, res in machines
    )


def approval_section(renderer: Renderer) -> list[str]:
    """Who can approve a promotion: no template lists approvers, so the digest says where the control lies."""
    waits = _waits_for_a_task_token(renderer)
    holders = sorted(
        {
            renderer.title(stack, lid)
            for stack, lid, res in renderer.of_type(*IAM_POLICY_TYPES, "AWS::IAM::Role")
            for statement in _statements({lid: res})
            if statement.get("Effect", "Allow") == "Allow"
            and any(str(a) in ("states:SendTaskSuccess", "states:*", "*") for a in as_list(statement.get("Action")))
        }
    )
    granted = f"these templates grant it to {', '.join(holders)}" if holders else "these templates grant it to nobody"
    state = (
        "A state machine in these templates waits for a task token (approval required)."
        if waits
        else "No state machine in these templates waits for a task token (approval off); when it is required:"
    )
    return [
        "## Approval",
        "",
        state,
        "",
        "- The task token is not a secret: it is in the execution history and in `approval/request.json`, readable "
        "with `s3:GetObject` on the artifacts bucket's `runs/*` and `kms:Decrypt` on the pipeline key.",
        "- The only control is who holds `states:SendTaskSuccess` (and `states:SendTaskFailure`) on the state "
        f'machine; {granted}. Never grant it on `"*"`.',
        "- `decided_by` is what the approver's own `finetune approve` reports (`sts:GetCallerIdentity`): anyone "
        "holding SendTaskSuccess could record another name. CloudTrail's SendTaskSuccess event is the authoritative "
        "record; uploaders must not hold SendTaskSuccess where separation of duties matters.",
        "",
    ]


def summary_section(renderer: Renderer) -> list[str]:
    lines = [
        "## Summary",
        "",
        '| stack | IAM roles | Allow statements | Deny statements | Allow on `Resource: "*"` |',
        "|---|---|---|---|---|",
    ]
    for stack in sorted(renderer.templates):
        counts = {"Allow": 0, "Deny": 0, "star": 0}
        for statement in _statements(renderer.resources(stack)):
            effect = str(statement.get("Effect", "Allow"))
            counts[effect] = counts.get(effect, 0) + 1
            if effect == "Allow" and "*" in as_list(statement.get("Resource")):
                counts["star"] += 1
        resources = renderer.resources(stack)
        roles = sum(1 for r in resources.values() if r.get("Type") == "AWS::IAM::Role")
        lines.append(f"| {stack} | {roles} | {counts['Allow']} | {counts['Deny']} | {counts['star']} |")
    return [*lines, ""]


def _statements(resources: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for res in resources.values():
        props = res.get("Properties", {})
        docs: list[Any] = [props.get("PolicyDocument"), props.get("KeyPolicy"), props.get("AssumeRolePolicyDocument")]
        docs += [p.get("PolicyDocument") for p in as_list(props.get("Policies")) if isinstance(p, dict)]
        for doc in docs:
            if isinstance(doc, dict):
                yield from (s for s in as_list(doc.get("Statement")) if isinstance(s, dict))


HEADER = f"""# Security digest

<!-- Generated from the synthesized CloudFormation templates; do not edit by hand. -->

What the templates grant, generated by `tools/security_digest.py` from the same synthesis the tests
snapshot. After a change to `stacks/`, `app.py` or `cdk.json`, regenerate it with

    {REGENERATE_COMMAND}

and commit it with the change; `tests/infra/test_security_digest_is_current.py` fails while it is stale. In a pull
request, its diff is the reviewer's list of what the change grants or revokes (see docs/operations.md).

Reading it: `${{AccountId}}`, `${{Region}}` and `${{Partition}}` are the account, Region and partition the stacks
are deployed to; `<Name>` and `<Name.Attr>` are a resource of the same stack (its logical id without CDK's
hash suffix) or one of its attributes, and `<Stack/Name.Attr>` one of another stack (a cross-stack
import). **DENY** statements are in capitals. Conditions read `when <key> <operator> <values>`.
"""


def render_digest(templates: Mapping[str, Template]) -> str:
    """The digest of ``templates`` ({stack name: template JSON}); deterministic for the same input."""
    renderer = Renderer({name: templates[name] for name in sorted(templates)})
    stacks = ", ".join(code(name) for name in sorted(templates))
    sections: list[Callable[[Renderer], list[str]]] = [
        summary_section,
        roles_section,
        no_condition_section,
        keys_section,
        resource_policies_section,
        network_section,
        triggers_section,
        approval_section,
    ]
    lines = [HEADER, f"Stacks: {stacks}.", ""]
    for section in sections:
        lines += section(renderer)
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"


# ---- synthesis and the command line --------------------------------------------------------------------------
def synthesize_templates() -> dict[str, dict[str, Any]]:
    """Synthesize the app with cdk.json's context, exactly as tests/infra/conftest.py does (nag off)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import aws_cdk as cdk
    from aws_cdk.assertions import Template as CdkTemplate

    from app import build_app
    from stacks.settings import CONTEXT_KEY, load_settings

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(analytics_reporting=False, context=context)
    stacks = build_app(app, load_settings(context[CONTEXT_KEY]), nag=False)
    return {stack.stack_name: dict(CdkTemplate.from_stack(stack).to_json()) for stack in stacks.values()}


def read_templates(directory: Path) -> dict[str, dict[str, Any]]:
    """Templates of a cloud assembly directory such as cdk.out ({stack}.template.json)."""
    found = sorted(directory.glob("*.template.json"))
    return {path.name.removesuffix(".template.json"): json.loads(path.read_text()) for path in found}


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate the security digest (docs/SECURITY-DIGEST.md) from the synthesized templates.",
        epilog="Exit codes: 0 ok, 1 --check found the committed digest stale, 2 usage error.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"write {DIGEST_PATH.relative_to(ROOT)}")
    mode.add_argument("--check", action="store_true", help="exit 1 if the committed digest differs from a fresh one")
    parser.add_argument(
        "--templates", type=Path, metavar="DIR", help="read DIR/*.template.json (e.g. cdk.out) instead of synthesizing"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.templates is not None:
        templates = read_templates(args.templates)
        if not templates:
            print(f"security_digest: no *.template.json in {args.templates}", file=sys.stderr)
            return 2
    else:
        templates = synthesize_templates()
    digest = render_digest(templates)
    if args.write:
        DIGEST_PATH.write_text(digest, encoding="utf-8")
        print(f"wrote {DIGEST_PATH.relative_to(ROOT)}", file=sys.stderr)
        return 0
    if args.check:
        current = DIGEST_PATH.read_text(encoding="utf-8") if DIGEST_PATH.exists() else ""
        if current != digest:
            print(f"{DIGEST_PATH.relative_to(ROOT)} is stale: run {REGENERATE_COMMAND}", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
