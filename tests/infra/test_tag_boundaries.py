"""The pipeline's boundary in the templates: Bedrock calls only on what carries its tag, the pipeline key only through
the services that hold each role's data, and a promotion parameter that only Promote may write."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cfn import as_list, resources
from pipeline_core import contracts
from stacks.nag import flatten_cfn_reference

NAME = "finetune"  # cdk.json's pipeline name
NOVA = {"region": "us-east-1", "baseModelId": "amazon.nova-lite-v1:0:300k", "hyperparameters": {}}
TAGGABLE = ("provisioned-model/*", "custom-model/*", "custom-model-deployment/*", "model-customization-job/*")
# What a role may do on a taggable wildcard without a condition on the pipeline's tag: read tags, which is how the
# janitor and Promote tell their own resources from anyone else's.
UNCONDITIONED = {"bedrock:ListTagsForResource"}
CREATING = {
    "bedrock:CreateModelCustomizationJob",
    "bedrock:CreateProvisionedModelThroughput",
    "bedrock:CreateCustomModelDeployment",
}
RESOURCE_TAG = f"aws:ResourceTag/{contracts.TAG_PIPELINE}"
REQUEST_TAG = f"aws:RequestTag/{contracts.TAG_PIPELINE}"


def _pipeline(template_json: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return next(t for name, t in template_json.items() if name.endswith("Pipeline"))


def role_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role logical id, statement) for every statement of every policy attached to a role."""
    for policy in resources(template, "AWS::IAM::Policy").values():
        for role in as_list(policy["Properties"]["Roles"]):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                yield role["Ref"], statement


def taggable(statement: dict[str, Any]) -> list[str]:
    flat = [flatten_cfn_reference(r) for r in as_list(statement["Resource"])]
    return [r for r in flat if r.endswith(TAGGABLE)]


@pytest.fixture(scope="module", params=[{}, NOVA], ids=["provisioned", "on-demand"])
def pipeline(request: pytest.FixtureRequest, synth: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return _pipeline({name: t.to_json() for name, t in synth(request.param).items()})


def test_every_bedrock_call_on_a_taggable_wildcard_is_bound_to_the_pipelines_tag(pipeline: dict[str, Any]) -> None:
    seen: set[str] = set()
    for role, statement in role_statements(pipeline):
        if not taggable(statement):
            continue
        actions = set(as_list(statement["Action"]))
        seen |= actions
        conditions = statement.get("Condition", {})
        equals = conditions.get("StringEquals", {})
        if actions <= UNCONDITIONED:
            continue
        assert not actions & UNCONDITIONED, f"{role}: ListTagsForResource shares a statement with {actions}"
        if equals.get(RESOURCE_TAG) == NAME:
            continue
        # Otherwise only creating (tag at creation): the request must carry our name and only our creation keys.
        assert actions <= CREATING | {"bedrock:TagResource"}, f"{role}: {actions} without the pipeline's tag"
        assert equals.get(REQUEST_TAG) == NAME, f"{role}: {actions} may create without the pipeline's tag"
        keys = conditions["ForAllValues:StringEquals"]["aws:TagKeys"]
        assert set(keys) == set(contracts.CREATION_TAG_KEYS), f"{role}: {actions} may set tags {keys}"
        assert contracts.TAG_APPROVED not in keys  # only Promote approves
        if "bedrock:TagResource" in actions:
            # IfExists: an existing resource tagged with another pipeline's name cannot be retagged, but an
            # untagged one (another team's) can be tagged with ours; the digest says so (tag-on-create).
            assert conditions["StringEqualsIfExists"] == {RESOURCE_TAG: NAME}, f"{role} may retag another pipeline's"
    # The test looks at the calls that matter: each kind of delete, tag and invoke is in the template.
    assert {"bedrock:InvokeModel", "bedrock:TagResource", "bedrock:DeleteProvisionedModelThroughput"} <= seen


def test_only_promote_approves_and_only_with_the_approval_tag_on_what_is_ours(pipeline: dict[str, Any]) -> None:
    approving = [
        (role, s)
        for role, s in role_statements(pipeline)
        if "bedrock:TagResource" in as_list(s["Action"]) and "ForAllValues:StringEquals" in s.get("Condition", {})
        if contracts.TAG_APPROVED in s["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]
    ]
    assert [role for role, _ in approving] and all(role.startswith("PromoteRole") for role, _ in approving)
    for _, statement in approving:
        conditions = statement["Condition"]
        assert conditions["ForAllValues:StringEquals"]["aws:TagKeys"] == [contracts.TAG_APPROVED]
        assert conditions["StringEquals"] == {RESOURCE_TAG: NAME, f"aws:RequestTag/{contracts.TAG_APPROVED}": "true"}


def creation_tagging_faults(role: str, statement: dict[str, Any]) -> list[str]:
    """Why a Train or Throughput statement granting bedrock:TagResource is wider than tagging at creation ([] if not).

    TagResource on an existing resource is bounded only IfExists (tools/security_digest.py says why), so what it may
    write must be exactly our name under the creation keys: never the approval key, which only Promote sets.
    """
    if "bedrock:TagResource" not in as_list(statement["Action"]):
        return []
    conditions = statement.get("Condition", {})
    keys = conditions.get("ForAllValues:StringEquals", {}).get("aws:TagKeys")
    faults = []
    if conditions.get("StringEquals", {}).get(REQUEST_TAG) != NAME:
        faults.append(f"{role} may tag without {REQUEST_TAG}={NAME}")
    if keys is None or not set(as_list(keys)) <= set(contracts.CREATION_TAG_KEYS):
        faults.append(f"{role} may tag with keys {keys}")
    if contracts.TAG_APPROVED in as_list(keys or []):
        faults.append(f"{role} may approve")
    return faults


def test_train_and_throughput_tag_only_with_our_name_and_the_creation_keys(pipeline: dict[str, Any]) -> None:
    tagging = [
        (role, s)
        for role, s in role_statements(pipeline)
        if role.startswith(("TrainRole", "ThroughputRole")) and "bedrock:TagResource" in as_list(s["Action"])
    ]
    assert {role.split("Role")[0] for role, _ in tagging} == {"Train", "Throughput"}
    for role, statement in tagging:
        assert creation_tagging_faults(role, statement) == []
    # The check bites: the same statements allowing the approval key, or any key, are each refused.
    role, statement = tagging[0]
    approving = json.loads(json.dumps(statement))
    approving["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"].append(contracts.TAG_APPROVED)
    assert f"{role} may approve" in creation_tagging_faults(role, approving)
    unbounded = json.loads(json.dumps(statement))
    del unbounded["Condition"]["ForAllValues:StringEquals"]
    assert creation_tagging_faults(role, unbounded) == [f"{role} may tag with keys None"]
    unnamed = json.loads(json.dumps(statement))
    del unnamed["Condition"]["StringEquals"][REQUEST_TAG]
    assert creation_tagging_faults(role, unnamed) == [f"{role} may tag without {REQUEST_TAG}={NAME}"]


def test_deletes_and_invokes_are_tag_bound_in_every_role_that_has_them(pipeline: dict[str, Any]) -> None:
    """Catches a delete or invoke added without the condition in a statement of its own."""
    for role, statement in role_statements(pipeline):
        actions = as_list(statement["Action"])
        sensitive = {a for a in actions if a.split(":")[1].startswith(("Delete", "Invoke", "Stop"))}
        if sensitive and taggable(statement):
            assert statement["Condition"]["StringEquals"][RESOURCE_TAG] == NAME, f"{role}: {sensitive}"


# ---- the pipeline key -------------------------------------------------------------------------------------------
def kms_statements(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for role, statement in role_statements(template):
        if any(str(a).startswith("kms:") for a in as_list(statement["Action"])):
            found.setdefault(role, []).append(statement)
    return found


def test_lambda_roles_use_the_key_only_through_a_service(pipeline: dict[str, Any]) -> None:
    function_roles = {
        f["Properties"]["Role"]["Fn::GetAtt"][0] for f in resources(pipeline, "AWS::Lambda::Function").values()
    }
    used = kms_statements(pipeline)
    for role in function_roles:
        for statement in used.get(role, []):
            via = statement["Condition"]["StringEquals"]["kms:ViaService"]
            services = {flatten_cfn_reference(v).split(".")[0] for v in as_list(via)}
            assert services and all(v.endswith(".amazonaws.com") for v in map(flatten_cfn_reference, as_list(via)))
            if "s3" in services:
                context = statement["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]
                assert context and all("finetune-" in json.dumps(c) for c in context), f"{role}: {context}"
            if "sqs" in services:
                assert "kms:EncryptionContext:aws:sqs:arn" in statement["Condition"]["StringLike"], role


DESCRIBE_KEY = ["kms:DescribeKey"]


def _key_contexts(used: dict[str, list[dict[str, Any]]], role_prefix: str, service: str) -> list[Any]:
    """The encryption contexts of the role's key statements through `service` that touch data (DescribeKey, which
    carries no encryption context, is checked apart: test_describe_key_is_granted_apart_through_dynamodb_only)."""
    contexts = []
    for role, statements in used.items():
        if not role.startswith(role_prefix):
            continue
        for statement in statements:
            if as_list(statement["Action"]) == DESCRIBE_KEY:
                continue
            vias = as_list(statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService", []))
            if any(flatten_cfn_reference(via).startswith(f"{service}.") for via in vias):
                contexts.append(statement["Condition"].get("StringLike", {}))
    return contexts


@pytest.mark.parametrize("function", ["Trigger", "Dispatcher"])
def test_the_key_serves_dynamodb_only_for_the_admission_table(pipeline: dict[str, Any], function: str) -> None:
    (table_id,) = resources(pipeline, "AWS::DynamoDB::Table")
    contexts = _key_contexts(kms_statements(pipeline), f"{function}Role", "dynamodb")
    assert contexts == [{"kms:EncryptionContext:aws:dynamodb:tableName": [{"Ref": table_id}]}], contexts


def test_the_key_serves_sns_only_for_the_notification_topic(synth: Callable[..., dict[str, Any]]) -> None:
    """The approval function (deployed only when approval is required) publishes the approval request."""
    pipeline = _pipeline(
        {name: t.to_json() for name, t in synth({"approval": {"mode": "required", "timeoutHours": 12}}).items()}
    )
    (topic_id,) = resources(pipeline, "AWS::SNS::Topic")
    used = kms_statements(pipeline)
    contexts = _key_contexts(used, "ApprovalRole", "sns")
    assert contexts == [{"kms:EncryptionContext:aws:sns:topicArn": [{"Ref": topic_id}]}], contexts
    # No Lambda role uses the key through SNS or DynamoDB without a context naming the pipeline's own resource.
    function_roles = {
        f["Properties"]["Role"]["Fn::GetAtt"][0] for f in resources(pipeline, "AWS::Lambda::Function").values()
    }
    for role in function_roles:
        for service in ("sns", "dynamodb"):
            assert all(_key_contexts({role: used.get(role, [])}, role, service)), (role, service)


def test_promote_uses_the_key_at_most_for_the_admission_table(pipeline: dict[str, Any]) -> None:
    """Its parameter is a String and Bedrock's calls carry no data; the promotion lock is an admission-table item."""
    (table_id,) = resources(pipeline, "AWS::DynamoDB::Table")
    used = {role: statements for role, statements in kms_statements(pipeline).items() if role.startswith("PromoteRole")}
    statements = [s for ss in used.values() for s in ss if as_list(s["Action"]) != DESCRIBE_KEY]
    assert len(_key_contexts(used, "PromoteRole", "dynamodb")) == len(statements), statements
    assert all(c == {"kms:EncryptionContext:aws:dynamodb:tableName": [{"Ref": table_id}]} for c in
               _key_contexts(used, "PromoteRole", "dynamodb"))  # fmt: skip


@pytest.mark.parametrize("function", ["Trigger", "Dispatcher", "Promote"])
def test_describe_key_is_granted_apart_through_dynamodb_only(pipeline: dict[str, Any], function: str) -> None:
    """DescribeKey requests carry no encryption context, so it cannot sit under the table's context condition
    (where it would never apply): its own statement, DynamoDB as the only way in, and no data action with it."""
    used = kms_statements(pipeline)
    statements = [s for r, ss in used.items() if r.startswith(f"{function}Role") for s in ss]
    describe = [s for s in statements if "kms:DescribeKey" in as_list(s["Action"])]
    assert len(describe) == 1 and as_list(describe[0]["Action"]) == DESCRIBE_KEY, describe
    condition = describe[0]["Condition"]
    assert set(condition) == {"StringEquals"} and set(condition["StringEquals"]) == {"kms:ViaService"}
    (via,) = as_list(condition["StringEquals"]["kms:ViaService"])
    assert flatten_cfn_reference(via).startswith("dynamodb."), via


@pytest.mark.parametrize("function", ["Throughput", "Explain"])
def test_roles_that_touch_no_encrypted_data_have_no_key_at_all(pipeline: dict[str, Any], function: str) -> None:
    used = kms_statements(pipeline)
    roles = [role for role in used if role.startswith(f"{function}Role")]
    assert roles == [], f"{function} may use the pipeline key: {[used[r] for r in roles]}"


def test_roles_that_read_s3_may_decrypt_only_their_buckets(pipeline: dict[str, Any]) -> None:
    """Train reads only artifacts (no GenerateDataKey: it writes nothing); Resolve run reads only the data bucket."""
    used = kms_statements(pipeline)
    train = [s for r, ss in used.items() if r.startswith("TrainRole") for s in ss if "StringLike" in s["Condition"]]
    assert [as_list(s["Action"]) for s in train] == [["kms:Decrypt"]]
    assert "artifacts" in json.dumps(train[0]["Condition"]["StringLike"]) and "-data-" not in json.dumps(train)
    resolve = [s for r, ss in used.items() if r.startswith("ResolveRunRole") for s in ss]
    assert resolve and all("-artifacts-" not in json.dumps(s) for s in resolve)


# ---- the promotion parameter ------------------------------------------------------------------------------------
def test_promotes_timeout_is_the_shared_constant_and_the_lock_lease_outlasts_it(pipeline: dict[str, Any]) -> None:
    from pipeline_aws import lock

    (timeout,) = [
        f["Properties"]["Timeout"]
        for f in resources(pipeline, "AWS::Lambda::Function").values()
        if f["Properties"].get("Description", "").startswith("Records the promoted model")
    ]
    assert timeout == contracts.PROMOTE_TIMEOUT_SECONDS
    assert timeout < lock.LEASE_SECONDS


def test_the_stack_creates_the_promotion_parameter_and_keeps_it(template_json: dict[str, dict[str, Any]]) -> None:
    (parameter,) = resources(_pipeline(template_json), "AWS::SSM::Parameter").values()
    assert parameter["Properties"]["Name"] == f"/{NAME}/promoted-model"
    assert parameter["Properties"]["Type"] == "String"
    assert parameter["Properties"]["Value"] == contracts.PROMOTION_PLACEHOLDER
    # Retained: deleting the stack must not take down what applications read; and its properties are pinned, because
    # CloudFormation would write them again (over the promoted value) if they changed.
    assert parameter["DeletionPolicy"] == "Retain" and parameter["UpdateReplacePolicy"] == "Retain"
    assert set(parameter["Properties"]) - {"Tags"} == {"Name", "Type", "Value", "Description"}


def test_only_promote_may_write_the_promotion_parameter(template_json: dict[str, dict[str, Any]]) -> None:
    writers: list[tuple[str, Any]] = []
    for template in template_json.values():
        for role, statement in role_statements(template):
            actions = as_list(statement["Action"])
            if any(a in ("ssm:PutParameter", "ssm:*") or a.startswith("ssm:Put") for a in actions):
                writers.append((role, statement["Resource"]))
    assert len(writers) == 1 and writers[0][0].startswith("PromoteRole"), writers
    (parameter_id,) = resources(_pipeline(template_json), "AWS::SSM::Parameter")
    assert parameter_id in json.dumps(writers[0][1]), "Promote writes exactly the stack's parameter"


def test_the_digest_gives_a_reason_for_every_bedrock_grant_without_a_tag_condition(
    template_json: dict[str, dict[str, Any]],
) -> None:
    from tools.security_digest import render_digest

    digest = render_digest(template_json)
    assert "NO REASON RECORDED" not in digest
    assert "may delete: only resources tagged `finetune:pipeline=finetune`" in digest
