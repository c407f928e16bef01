"""The workflow's safety properties, checked on the synthesized state machine definition."""

from __future__ import annotations

import copy
import fnmatch
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cfn import as_list, resources
from pipeline_core import contracts
from stacks import workflow as wf

ROOT = Path(__file__).resolve().parents[2]
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-west-2", "AWS::AccountId": "123456789012"}


def _placeholder(token: dict[str, Any]) -> str:
    """Pseudo parameters as in us-west-2; any other reference as an ARN naming the resource it points at."""
    if "Ref" in token and token["Ref"] in PSEUDO:
        return PSEUDO[token["Ref"]]
    target = token.get("Ref") or token.get("Fn::GetAtt", ["unknown"])[0]
    return f"arn:aws:lambda:us-west-2:123456789012:function:{target}"


def _pipeline(template_json: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return next(t for name, t in template_json.items() if name.endswith("Pipeline"))


def render_definition(template: dict[str, Any]) -> dict[str, Any]:
    """The ASL of the state machine, every CloudFormation token replaced by a placeholder value."""
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    delimiter, parts = machine["Properties"]["DefinitionString"]["Fn::Join"]
    text = delimiter.join(p if isinstance(p, str) else _placeholder(p) for p in parts)
    definition: dict[str, Any] = json.loads(text)
    return definition


@pytest.fixture(scope="module")
def asl(template_json: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return render_definition(_pipeline(template_json))


def all_states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition["States"].items():
        yield name, state
        if state["Type"] == "Map":
            yield from all_states(state["ItemProcessor"])


def successors(state: dict[str, Any]) -> set[str]:
    nxt = {state[k] for k in ("Next", "Default") if k in state}
    nxt |= {choice["Next"] for choice in state.get("Choices", [])}
    nxt |= {catch["Next"] for catch in state.get("Catch", [])}
    return nxt


def reachable(definition: dict[str, Any], start: str, *, blocked: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name in blocked:
            continue
        seen.add(name)
        todo.extend(successors(definition["States"][name]))
    return seen


def terminals(definition: dict[str, Any], names: set[str]) -> set[str]:
    return {n for n in names if definition["States"][n]["Type"] in ("Succeed", "Fail")}


# The states that create what serves the candidate: Provisioned Throughput, or an on-demand deployment.
CREATORS = (wf.PROVISION, wf.DEPLOY)


def throughput_leaks(definition: dict[str, Any]) -> list[str]:
    """Ways an execution could end with Provisioned Throughput or a deployment still existing (empty when none)."""
    leaks: list[str] = []
    after_creation: set[str] = set()
    for creator in CREATORS:
        after_creation |= reachable(definition, creator, blocked={wf.DELETE_THROUGHPUT, wf.PROMOTE})
    leaks += [f"{name} is reachable without deleting" for name in sorted(terminals(definition, after_creation))]
    for name in sorted(after_creation):
        state = definition["States"][name]
        if state["Type"] in ("Task", "Map") and not any(
            c["ErrorEquals"] == ["States.ALL"] for c in state.get("Catch", [])
        ):
            leaks.append(f"{name} has no catch-all")
    after_promotion = reachable(definition, wf.PROMOTE, blocked={wf.DELETE_THROUGHPUT})
    leaks += [
        f"{name} follows Promote but is not a success"
        for name in terminals(definition, after_promotion)
        if definition["States"][name]["Type"] != "Succeed"
    ]
    return leaks


def test_every_path_after_throughput_exists_deletes_it_unless_promoted(asl: dict[str, Any]) -> None:
    """From the states that create the Provisioned Throughput or the on-demand deployment, no terminal state is
    reachable without passing `Delete throughput`, except through `Promote`, which only leads to success."""
    for creator in CREATORS:
        assert creator in asl["States"], creator
    assert throughput_leaks(asl) == []
    # The cleanup itself ends in a failure notification, and its own failure is reported, not swallowed.
    after_delete = reachable(asl, wf.DELETE_THROUGHPUT, blocked=set())
    assert wf.NOTIFY_FAILURE in after_delete and wf.NOTIFY_CLEANUP_FAILURE in after_delete
    assert {asl["States"][n]["Type"] for n in terminals(asl, after_delete)} == {"Fail"}


def test_the_leak_check_finds_a_catch_that_skips_the_cleanup(asl: dict[str, Any]) -> None:
    broken = copy.deepcopy(asl)
    broken["States"][wf.AGGREGATE]["Catch"][0]["Next"] = wf.NOTIFY_FAILURE
    assert "Run failed is reachable without deleting" in throughput_leaks(broken)
    del broken["States"][wf.PLAN]["Catch"]
    assert f"{wf.PLAN} has no catch-all" in throughput_leaks(broken)


@pytest.mark.parametrize("caught", [wf.DEPLOY, wf.CHECK_DEPLOYMENT], ids=["deploy-candidate", "check-deployment"])
def test_the_leak_check_finds_a_deployment_catch_that_skips_the_cleanup(asl: dict[str, Any], caught: str) -> None:
    """The check covers the on-demand path: a Catch on a deployment state that skips `Delete throughput` (or no
    catch-all at all) is reported, although neither state is reachable from `Provision throughput`."""
    assert caught not in reachable(asl, wf.PROVISION, blocked={wf.DELETE_THROUGHPUT, wf.PROMOTE})
    broken = copy.deepcopy(asl)
    (catch,) = broken["States"][caught]["Catch"]
    assert catch["Next"] == wf.DELETE_THROUGHPUT
    catch["Next"] = wf.NOTIFY_FAILURE
    assert "Run failed is reachable without deleting" in throughput_leaks(broken)
    del broken["States"][caught]["Catch"]
    assert f"{caught} has no catch-all" in throughput_leaks(broken)


def test_the_leak_check_finds_a_failed_deployment_that_skips_the_cleanup(asl: dict[str, Any]) -> None:
    broken = copy.deepcopy(asl)
    assert broken["States"][wf.DEPLOYMENT_FAILED]["Next"] == wf.DELETE_THROUGHPUT
    broken["States"][wf.DEPLOYMENT_FAILED]["Next"] = wf.NOTIFY_FAILURE
    assert "Run failed is reachable without deleting" in throughput_leaks(broken)


def test_the_run_spec_serving_mode_chooses_deployment_or_provisioned_throughput(asl: dict[str, Any]) -> None:
    choice = asl["States"][wf.SERVING_CHOICE]
    assert choice["Type"] == "Choice" and choice["Default"] == wf.PROVISION
    (rule,) = choice["Choices"]
    assert rule["Next"] == wf.DEPLOY
    # A run spec without a serving mode (resolved before it existed) takes the default, never a runtime error.
    assert rule["And"] == [
        {"Variable": "$.run.serving.mode", "IsPresent": True},
        {"Variable": "$.run.serving.mode", "StringEquals": contracts.SERVING_ON_DEMAND},
    ]
    gate = asl["States"]["Training metrics acceptable?"]
    assert gate["Default"] == wf.SERVING_CHOICE


def test_the_deployment_is_polled_until_active_and_a_failed_one_is_named_and_deleted(asl: dict[str, Any]) -> None:
    states = asl["States"]
    assert states[wf.DEPLOY]["Parameters"] == {"action": "deploy", "run.$": "$.run", "job.$": "$.job"}
    assert states[wf.DEPLOY]["ResultPath"] == states[wf.CHECK_DEPLOYMENT]["ResultPath"] == "$.throughput"
    assert states[wf.CHECK_DEPLOYMENT]["Parameters"]["action"] == "describe"
    assert states[wf.DEPLOY]["Resource"] == states[wf.PROVISION]["Resource"] == states[wf.CHECK_DEPLOYMENT]["Resource"]
    assert states[wf.DEPLOY]["Next"] == wf.WAIT_DEPLOYMENT
    assert states[wf.WAIT_DEPLOYMENT]["SecondsPath"] == "$.run.poll.throughput_seconds"
    assert states[wf.WAIT_DEPLOYMENT]["Next"] == wf.CHECK_DEPLOYMENT
    active = states[states[wf.CHECK_DEPLOYMENT]["Next"]]
    routes = {c["StringEquals"]: c["Next"] for c in active["Choices"]}
    assert routes == {"Active": wf.PLAN, "Creating": wf.WAIT_DEPLOYMENT}
    assert active["Default"] == wf.DEPLOYMENT_FAILED
    failed = states[wf.DEPLOYMENT_FAILED]
    assert failed["Parameters"]["Error"] == "DeploymentFailed" and failed["ResultPath"] == "$.error"
    assert (
        "$.throughput.arn" in failed["Parameters"]["Cause.$"]
        and "$.throughput.failure_message" in (failed["Parameters"]["Cause.$"])
    )
    # Evaluate calls whichever kind serves the candidate by the ARN in $.throughput.
    assert states[wf.EVALUATE]["ItemSelector"]["candidate_model_id.$"] == "$.throughput.arn"


def test_the_cleanup_inputs_exist_from_the_first_state(asl: dict[str, Any]) -> None:
    """Stop training and Delete throughput read $.job and $.throughput; a missing path would be an uncatchable
    States.Runtime error, so the first state gives both an empty value."""
    first = asl["States"][asl["StartAt"]]
    assert first["Type"] == "Pass" and first["Next"] == wf.RESOLVE
    assert first["Parameters"] == {"source.$": "$.source", "job": {}, "throughput": {}}


def test_a_running_job_is_stopped_on_any_failure_while_training(asl: dict[str, Any]) -> None:
    for name in (wf.START_TRAINING, wf.CHECK_TRAINING):
        (catch,) = asl["States"][name]["Catch"]
        assert catch["Next"] == wf.STOP_TRAINING


def test_every_failure_is_notified_before_the_execution_fails(asl: dict[str, Any]) -> None:
    for name, state in asl["States"].items():
        if state["Type"] != "Fail":
            continue
        predecessors = {n for n, s in asl["States"].items() if name in successors(s)}
        assert predecessors and all(asl["States"][p]["Resource"].endswith(":sns:publish") for p in predecessors), name


def test_every_task_retries_transient_errors_with_backoff(asl: dict[str, Any]) -> None:
    tasks = [(n, s) for n, s in all_states(asl) if s["Type"] == "Task"]
    assert len(tasks) >= 15
    for name, state in tasks:
        # The one policy's entries: transient errors, then a Bedrock quota refusal (test_admission_stack.py).
        retry, *quota = state["Retry"]
        assert [q["ErrorEquals"] for q in quota] == [[contracts.ERROR_QUOTA]], name
        assert set(wf.LAMBDA_TRANSIENT_ERRORS) <= set(retry["ErrorEquals"]), name
        assert retry["BackoffRate"] >= 2 and retry["MaxAttempts"] >= 3 and retry["JitterStrategy"] == "FULL", name


def test_the_execution_has_a_timeout(asl: dict[str, Any]) -> None:
    assert asl["TimeoutSeconds"] == 36 * 3600


def test_waits_are_bounded_by_the_poll_settings_and_the_throughput_check(asl: dict[str, Any]) -> None:
    assert asl["States"][wf.WAIT_TRAINING]["SecondsPath"] == "$.run.poll.job_seconds"
    assert asl["States"][wf.WAIT_THROUGHPUT]["SecondsPath"] == "$.run.poll.throughput_seconds"


def test_evaluation_reads_its_plan_from_s3_with_bounded_concurrency(asl: dict[str, Any]) -> None:
    evaluate = asl["States"][wf.EVALUATE]
    assert evaluate["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert evaluate["ItemReader"]["ReaderConfig"]["InputType"] == "JSON"
    # Both by path: a literal bucket name here would make CDK grant s3:GetObject on the whole bucket.
    assert evaluate["ItemReader"]["Parameters"] == {"Bucket.$": "$.run.artifacts_bucket", "Key.$": "$.plan.key"}
    assert evaluate["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert evaluate["MaxConcurrencyPath"] == "$.run.evaluation.concurrency"
    assert evaluate["ResultPath"] is None, "per-example records never travel through the state document"


def test_definition_passes_asl_validator(asl: dict[str, Any], tmp_path: Path) -> None:
    npx = shutil.which("npx")
    assert npx, "npx is required (make setup installs the pinned asl-validator)"
    path = tmp_path / "asl.json"
    path.write_text(json.dumps(asl))
    result = subprocess.run(
        [npx, "--no-install", "asl-validator", "--json-path", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_rejects_a_broken_definition(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"StartAt": "Missing", "States": {"A": {"Type": "Pass", "End": True}}}))
    result = subprocess.run(
        ["npx", "--no-install", "asl-validator", "--json-path", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0


def _upload_rule(template: dict[str, Any]) -> dict[str, Any]:
    rules = [
        r
        for r in resources(template, "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.s3"]
    ]
    (rule,) = rules
    pattern: dict[str, Any] = rule["Properties"]["EventPattern"]
    return pattern


def _matches(pattern: dict[str, Any], bucket: str, key: str) -> bool:
    """EventBridge matching for this rule's shape: exact bucket name, `wildcard` key patterns."""
    names = [json.dumps(n) for n in pattern["detail"]["bucket"]["name"]]
    if json.dumps(bucket) not in names:
        return False
    return any(fnmatch.fnmatchcase(key, k["wildcard"]) for k in pattern["detail"]["object"]["key"])


def test_trigger_rule_matches_only_uploads_to_the_data_bucket(template_json: dict[str, dict[str, Any]]) -> None:
    pattern = _upload_rule(_pipeline(template_json))
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    (bucket,) = pattern["detail"]["bucket"]["name"]
    assert "-data-" in json.dumps(bucket) and "artifacts" not in json.dumps(bucket)
    assert _matches(pattern, bucket, "inbox/finance.jsonl")
    assert _matches(pattern, bucket, "runs/finance-v2/run.json")
    for key in ("inbox/finance.json", "runs/finance/train.jsonl", "finance.jsonl", "runs/finance/run.json.bak"):
        assert not _matches(pattern, bucket, key), key
    # Whatever the pipeline writes goes to the artifacts bucket, which no rule watches.
    artifacts = {"Fn::Join": ["", ["finetune-artifacts-", {"Ref": "AWS::AccountId"}, "-", {"Ref": "AWS::Region"}]]}
    assert not _matches(pattern, artifacts, "runs/finance/exec/report.json")
    assert not _matches(pattern, artifacts, "inbox/finance.jsonl")


def test_trigger_keys_agree_with_the_handler_contract() -> None:
    assert contracts.run_name_from_key("inbox/Finance Q3.jsonl") == "finance-q3"
    assert contracts.run_name_from_key("runs/a/run.json") == "a"
    assert contracts.run_name_from_key("runs/a/b/run.json") is None


def test_only_the_artifacts_bucket_is_written_by_the_pipeline(template_json: dict[str, dict[str, Any]]) -> None:
    """No role of the pipeline may write to the data bucket: outputs can never re-trigger a run."""
    for lid, policy in resources(_pipeline(template_json), "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a in ("s3:PutObject", "s3:DeleteObject") for a in actions):
                assert "-data-" not in json.dumps(statement["Resource"]), lid


def test_passrole_is_only_for_the_bedrock_role_and_only_to_bedrock(template_json: dict[str, dict[str, Any]]) -> None:
    found = 0
    for policy in resources(_pipeline(template_json), "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "iam:PassRole" in actions:
                found += 1
                assert actions == ["iam:PassRole"]
                assert "BedrockCustomizationRole" in json.dumps(statement["Resource"])
                assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    assert found == 1


def _artifact_paths(statement: dict[str, Any]) -> set[str]:
    """The object paths under runs/<run>/<execution>/ a statement names, e.g. {"data/*"}."""
    paths = set()
    for resource in as_list(statement["Resource"]):
        text = json.dumps(resource)
        if "-artifacts-" in text:
            tail = resource["Fn::Join"][1][-1] if isinstance(resource, dict) else text
            paths.add(str(tail).split("/runs/*/*/", 1)[-1])
    return paths


def test_each_stage_reads_and_writes_only_its_own_part_of_a_run(template_json: dict[str, dict[str, Any]]) -> None:
    """A stage cannot rewrite another's output: the snapshot, the training metrics, the evaluation, the report."""
    expected = {
        "ValidateDataset": {"s3:PutObject": {"validation/*", "data/*"}},
        "Train": {"s3:GetObject": {"training/*"}},
        "Evaluate": {"s3:GetObject": {"data/test.jsonl"}, "s3:PutObject": {"evaluation/*"}},
        "Aggregate": {"s3:GetObject": {"evaluation/results/*"}, "s3:PutObject": {"report.*"}},
        "WorkflowStateMachine": {"s3:GetObject": {"evaluation/plan.json"}},
    }
    found: dict[str, dict[str, set[str]]] = {}
    for lid, policy in resources(_pipeline(template_json), "AWS::IAM::Policy").items():
        owner = next((name for name in expected if lid.startswith(name + "Role")), lid)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in as_list(statement["Action"]):
                if action in ("s3:GetObject", "s3:PutObject") and (paths := _artifact_paths(statement)):
                    found.setdefault(owner, {}).setdefault(action, set()).update(paths)
    assert found == expected
