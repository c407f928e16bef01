"""Admission control: uploads queue in arrival order, start while slots are free, and slots come back on every end."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from handler_fixtures import ACCOUNT, DATA, load_handler

from pipeline_aws import admission
from pipeline_aws.clients import CLIENTS
from pipeline_core import contracts

trigger = load_handler("trigger")
dispatcher = load_handler("dispatcher")


def upload(name: str) -> dict[str, Any]:
    key = f"inbox/{name}.jsonl"
    put = boto3.client("s3").put_object(Bucket=DATA, Key=key, Body=name.encode())
    return {
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": DATA}, "object": {"key": key, "etag": put["ETag"].strip('"')}},
    }


def running(arn: str) -> list[str]:
    listed = boto3.client("stepfunctions").list_executions(stateMachineArn=arn, statusFilter="RUNNING")
    return sorted(e["name"] for e in listed["executions"])


def end(state_machine: str, name: str, status: str) -> dict[str, Any]:
    """End an execution with `status` (moto keeps them RUNNING) and deliver its event to the dispatcher."""
    arn = admission.execution_arn_of(state_machine, name)
    if status == "ABORTED":
        boto3.client("stepfunctions").stop_execution(executionArn=arn)  # stopped from outside: no Catch runs
    else:
        from moto.stepfunctions.models import stepfunctions_backends

        backend = stepfunctions_backends[ACCOUNT]["us-west-2"]
        executions = backend.describe_state_machine(state_machine).executions
        next(e for e in executions if e.execution_arn == arn).status = status
    event = {
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "detail": {"executionArn": arn, "stateMachineArn": state_machine, "name": name, "status": status},
    }
    result: dict[str, Any] = dispatcher.handler(event, None)
    return result


def names(results: list[dict[str, Any]]) -> list[str]:
    return [r["execution_name"] for r in results]


def test_two_start_and_the_rest_queue_in_arrival_order(state_machine: str, admission_table: str) -> None:
    results = [trigger.handler(upload(f"run-{i}"), None) for i in range(5)]
    assert [r["started"] for r in results] == [True, True, False, False, False]
    assert [r.get("position") for r in results[2:]] == [1, 2, 3]
    assert [q.execution_name for q in admission.queued(admission_table)] == names(results[2:])
    assert running(state_machine) == sorted(names(results[:2]))


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
def test_every_ending_frees_its_slot_for_the_oldest_queued_run(state_machine: str, status: str) -> None:
    results = [trigger.handler(upload(f"run-{i}"), None) for i in range(4)]
    first, _, third, fourth = names(results)
    outcome = end(state_machine, first, status)
    assert outcome["started"] == [third] and outcome["waiting"] == 1
    assert third in running(state_machine) and fourth not in running(state_machine)


def test_a_stopped_execution_without_its_event_is_recovered_by_the_schedule(
    state_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """StopExecution from outside, and the event lost: the scheduled run finds the slot free once the grace ends."""
    results = [trigger.handler(upload(f"run-{i}"), None) for i in range(3)]
    boto3.client("stepfunctions").stop_execution(executionArn=results[0]["execution_arn"])
    clock = admission.time.time() + admission.GRACE_SECONDS + 1
    monkeypatch.setattr(admission.time, "time", lambda: clock)
    outcome = dispatcher.handler({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}, None)
    assert outcome["started"] == [results[2]["execution_name"]] and outcome["released"] == [
        results[0]["execution_name"]
    ]


def test_a_just_started_execution_holds_its_slot_even_if_not_listed(state_machine: str, admission_table: str) -> None:
    """ListExecutions is eventually consistent: within the grace, a recorded start counts even when not listed."""
    results = [trigger.handler(upload(f"run-{i}"), None) for i in range(3)]
    sfn = boto3.client("stepfunctions")
    CLIENTS.set("stepfunctions", sfn)
    with Stubber(sfn) as stub:
        stub.add_response("list_executions", {"executions": []})  # the listing lags: shows none running
        outcome = admission.Dispatcher(admission_table, state_machine, 2).dispatch()
    assert outcome.started == [] and outcome.running == 2
    assert [q.execution_name for q in admission.queued(admission_table)] == [results[2]["execution_name"]]


def test_start_failing_keeps_the_run_queued_and_the_next_dispatch_starts_it(
    state_machine: str, admission_table: str
) -> None:
    results = [trigger.handler(upload(f"run-{i}"), None) for i in range(3)]
    boto3.client("stepfunctions").stop_execution(executionArn=results[0]["execution_arn"])
    queued_name = results[2]["execution_name"]
    sfn = boto3.client("stepfunctions")
    CLIENTS.set("stepfunctions", sfn)
    with Stubber(sfn) as stub:
        stub.add_response("list_executions", {"executions": []})
        stub.add_client_error("start_execution", "ServiceUnavailable", http_status_code=503)
        outcome = admission.Dispatcher(admission_table, state_machine, 2).dispatch(ended=results[0]["execution_name"])
    assert outcome.started == [] and outcome.error and "TransientServiceError" in outcome.error
    assert [q.execution_name for q in admission.queued(admission_table)] == [queued_name]
    CLIENTS.reset()
    again = admission.Dispatcher(admission_table, state_machine, 2).dispatch(ended=results[0]["execution_name"])
    assert again.started == [queued_name] and admission.queued(admission_table) == []


def test_the_dispatcher_handler_fails_loudly_when_a_start_fails(state_machine: str) -> None:
    results = [trigger.handler(upload(f"run-{i}"), None) for i in range(3)]
    sfn = boto3.client("stepfunctions")
    CLIENTS.set("stepfunctions", sfn)
    with Stubber(sfn) as stub:
        stub.add_response("list_executions", {"executions": []})
        stub.add_client_error("start_execution", "ThrottlingException", http_status_code=400)
        event = {"detail": {"stateMachineArn": state_machine, "name": results[0]["execution_name"], "status": "FAILED"}}
        with pytest.raises(RuntimeError, match="could not start a queued run"):
            dispatcher.handler(event, None)


def _queue(state_machine: str, count: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`count` runs queued behind two started ones, both stopped and past their grace: two slots free. The queued
    names in order."""
    results = [trigger.handler(upload(f"run-{i}"), None) for i in range(count + 2)]
    for result in results[:2]:
        boto3.client("stepfunctions").stop_execution(executionArn=result["execution_arn"])
    clock = admission.time.time() + admission.GRACE_SECONDS + 1
    monkeypatch.setattr(admission.time, "time", lambda: clock)
    return names(results[2:])


class Refusing:
    """The moto Step Functions client, but StartExecution of the named executions fails with the given error code
    (HTTP 400, or 503 for a server fault); records every StartExecution name tried."""

    def __init__(self, refusals: dict[str, str]) -> None:
        self.real = boto3.client("stepfunctions")
        self.refusals = refusals
        self.tried: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def start_execution(self, **kwargs: Any) -> Any:
        self.tried.append(kwargs["name"])
        code = self.refusals.get(kwargs["name"])
        if code:
            status = 503 if code == "ServiceUnavailable" else 400
            error = {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}}
            raise ClientError(error, "StartExecution")  # type: ignore[arg-type]
        return self.real.start_execution(**kwargs)


def refusing(refusals: dict[str, str]) -> Refusing:
    client = Refusing(refusals)
    CLIENTS.set("stepfunctions", client)
    return client


@pytest.mark.parametrize("code", ["ValidationException", "InvalidExecutionInput", "InvalidName"])
def test_a_run_refused_for_good_leaves_the_queue_and_the_next_starts(
    state_machine: str, admission_table: str, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    poisoned, second, third = _queue(state_machine, 3, monkeypatch)
    sfn = refusing({poisoned: code})
    outcome = admission.Dispatcher(admission_table, state_machine, 2).dispatch()
    assert outcome.error is None
    assert outcome.failed == [{"execution_name": poisoned, "run_name": "run-2", "error": f"{code}: no"}]
    assert outcome.started == [second, third]  # the two free slots went to the runs behind it
    assert admission.queued(admission_table) == []
    assert [f["execution_name"] for f in admission.failed(admission_table)] == [poisoned]
    assert admission.failed(admission_table)[0]["error"] == f"{code}: no"
    marker = boto3.client("dynamodb").get_item(TableName=admission_table, Key=admission._run_key(poisoned))["Item"]
    assert marker["state"] == {"S": "FAILED_TO_START"} and marker["error"] == {"S": f"{code}: no"}
    # Not retried: the next round tries nothing more.
    sfn.tried.clear()
    assert admission.Dispatcher(admission_table, state_machine, 2).dispatch().failed == [] and sfn.tried == []


def test_a_poisoned_head_with_one_slot_free_does_not_block_the_run_behind_it(
    state_machine: str, admission_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    poisoned, second, third = _queue(state_machine, 3, monkeypatch)
    sfn = refusing({poisoned: "ValidationException"})
    outcome = admission.Dispatcher(admission_table, state_machine, 1).dispatch()
    assert names(outcome.failed) == [poisoned] and outcome.started == [second]
    assert sfn.tried == [poisoned, second]  # the one slot is used once, by the run behind the refused one
    assert [q.execution_name for q in admission.queued(admission_table)] == [third]


def test_every_run_refused_empties_the_queue_and_starts_nothing(
    state_machine: str, admission_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = _queue(state_machine, 3, monkeypatch)
    refusing(dict.fromkeys(order, "ValidationException"))
    outcome = admission.Dispatcher(admission_table, state_machine, 2).dispatch()
    assert names(outcome.failed) == order and outcome.started == [] and outcome.waiting == 0
    assert [f["execution_name"] for f in admission.failed(admission_table)] == order


@pytest.mark.parametrize(
    "code",
    [
        "AccessDeniedException",
        "StateMachineDoesNotExist",
        "StateMachineDeleting",
        "InvalidArn",
        "KmsAccessDeniedException",
        "KmsInvalidStateException",
    ],
)
def test_a_refusal_that_would_meet_every_run_keeps_the_queue_and_fails_the_invocation(
    state_machine: str, admission_table: str, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    """Mid-deploy or before IAM has propagated, every run would be refused alike: none leaves the queue, and the
    dispatcher fails so its error alarm fires; once the cause passes, the same runs start in order."""
    assert code in admission.REFUSED_FOR_EVERY_RUN
    order = _queue(state_machine, 3, monkeypatch)
    sfn = refusing(dict.fromkeys(order, code))
    outcome = admission.Dispatcher(admission_table, state_machine, 2).dispatch()
    assert sfn.tried == [order[0]]  # the round ended at the refused head: nothing behind it was tried
    assert outcome.failed == [] and outcome.started == [] and code in str(outcome.error)
    assert [q.execution_name for q in admission.queued(admission_table)] == order
    assert admission.failed(admission_table) == []
    marker = boto3.client("dynamodb").get_item(TableName=admission_table, Key=admission._run_key(order[0]))["Item"]
    assert marker["state"] == {"S": "QUEUED"}
    with pytest.raises(RuntimeError, match=f"could not start a queued run: .*{code}"):
        dispatcher.handler({"detail": {}}, None)
    assert [q.execution_name for q in admission.queued(admission_table)] == order
    refusing({})
    assert admission.Dispatcher(admission_table, state_machine, 2).dispatch().started == order[:2]


@pytest.mark.parametrize(
    "code",
    ["ThrottlingException", "ServiceUnavailable", "KmsThrottlingException", "ExecutionLimitExceeded"],
)
def test_a_transient_start_failure_keeps_the_queue_order(
    state_machine: str, admission_table: str, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    order = _queue(state_machine, 3, monkeypatch)
    sfn = refusing({order[0]: code})
    outcome = admission.Dispatcher(admission_table, state_machine, 2).dispatch()
    assert sfn.tried == [order[0]]  # the round ended at the refused head: nothing behind it was tried
    assert outcome.failed == [] and outcome.started == [] and "TransientServiceError" in str(outcome.error)
    assert [q.execution_name for q in admission.queued(admission_table)] == order
    assert admission.failed(admission_table) == []
    refusing({})
    assert admission.Dispatcher(admission_table, state_machine, 2).dispatch().started == order[:2]


def test_a_refused_run_whose_move_fails_stays_queued(
    state_machine: str, admission_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The move out of the queue is one transaction: when it fails the run stays first, and the next round, meeting
    the same refusal, moves it."""
    order = _queue(state_machine, 2, monkeypatch)
    refusing({order[0]: "ValidationException"})
    dispatch = admission.Dispatcher(admission_table, state_machine, 2)

    def failing(entry: admission.Queued, err: Exception) -> None:
        raise admission.TransientServiceError("ServiceUnavailable")

    monkeypatch.setattr(dispatch, "_fail", failing)
    outcome = dispatch.dispatch()
    assert outcome.failed == [] and outcome.started == [] and outcome.error
    assert [q.execution_name for q in admission.queued(admission_table)] == order
    assert admission.failed(admission_table) == []
    again = admission.Dispatcher(admission_table, state_machine, 2).dispatch()
    assert names(again.failed) == [order[0]] and again.started == [order[1]]


def test_the_dispatcher_handler_reports_a_run_that_failed_to_start(
    state_machine: str,
    admission_table: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    poisoned, second = _queue(state_machine, 2, monkeypatch)
    refusing({poisoned: "ValidationException"})
    capsys.readouterr()
    with caplog.at_level("ERROR"):
        result = dispatcher.handler({"detail": {}}, None)  # does not raise: nothing is left to retry
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert [d.get("RunsFailedToStart") for d in emf] == [[1.0]]
    assert names(result["failed"]) == [poisoned] and result["started"] == [second]
    errors = [r for r in caplog.records if r.levelname == "ERROR" and r.getMessage() == "queued run failed to start"]
    assert [getattr(r, "execution_name", None) for r in errors] == [poisoned]


def test_the_trigger_reports_its_own_run_refused_for_good(
    state_machine: str, admission_table: str, caplog: pytest.LogCaptureFixture
) -> None:
    event = upload("run-0")
    obj = event["detail"]["object"]
    name = contracts.execution_name("run-0", obj["key"], obj["etag"])
    refusing({name: "ValidationException"})
    with caplog.at_level("ERROR"):
        result = trigger.handler(event, None)
    assert result == {
        "started": False,
        "reason": "failed to start",
        "execution_name": name,
        "error": "ValidationException: no",
    }
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == ["queued run failed to start"]
    assert admission.queued(admission_table) == [] and running(state_machine) == []
    # The control: the next upload, not refused, starts in the free slot.
    assert trigger.handler(upload("run-1"), None)["started"] is True


def test_a_run_that_failed_to_start_queues_again_when_uploaded_again(
    state_machine: str, admission_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    poisoned, second = _queue(state_machine, 2, monkeypatch)
    refusing({poisoned: "ValidationException"})
    admission.Dispatcher(admission_table, state_machine, 1).dispatch()
    assert admission.enqueue(admission_table, poisoned, {"source": {"run_name": "run-2"}}) is True
    assert admission.enqueue(admission_table, second, {"source": {"run_name": "run-3"}}) is False  # started: no
    assert [q.execution_name for q in admission.queued(admission_table)] == [poisoned]
    # What `finetune runs` lists: the run only as queued, its FAILED_TO_START entry gone with the re-queue.
    assert admission.failed(admission_table) == []
    marker = boto3.client("dynamodb").get_item(TableName=admission_table, Key=admission._run_key(poisoned))["Item"]
    assert marker["state"] == {"S": "QUEUED"}
    assert marker["arrival"]["S"] == admission.queued(admission_table)[0].arrival  # the new entry's key
    # Queued again, it is a duplicate like any queued run; refused again, it is listed once more.
    assert admission.enqueue(admission_table, poisoned, {"source": {"run_name": "run-2"}}) is False
    refusing({poisoned: "ValidationException"})
    assert names(admission.Dispatcher(admission_table, state_machine, 2).dispatch().failed) == [poisoned]
    assert [f["execution_name"] for f in admission.failed(admission_table)] == [poisoned]
    assert admission.queued(admission_table) == []


def test_a_requeue_racing_another_change_of_the_marker_is_a_duplicate(
    state_machine: str, admission_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-queue's transaction re-checks the FAILED_TO_START marker it read: when another enqueue queued the run
    meanwhile, this one queues nothing and deletes nothing."""
    poisoned, _ = _queue(state_machine, 2, monkeypatch)
    refusing({poisoned: "ValidationException"})
    admission.Dispatcher(admission_table, state_machine, 1).dispatch()
    real = boto3.client("dynamodb")
    stale = real.query(
        TableName=admission_table,
        KeyConditionExpression="pk = :pk AND sk = :sk",
        ExpressionAttributeValues={":pk": {"S": f"RUN#{poisoned}"}, ":sk": {"S": "RUN"}},
        ConsistentRead=True,
    )
    assert admission.enqueue(admission_table, poisoned, {"source": {"run_name": "run-2"}}) is True

    class StaleRead:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def query(self, **kwargs: Any) -> Any:
            return stale if kwargs["ExpressionAttributeValues"].get(":sk") == {"S": "RUN"} else real.query(**kwargs)

    CLIENTS.set("dynamodb", StaleRead())
    assert admission.enqueue(admission_table, poisoned, {"source": {"run_name": "run-2"}}) is False
    CLIENTS.reset()
    assert [q.execution_name for q in admission.queued(admission_table)] == [poisoned]


def test_two_dispatchers_racing_start_one_run_per_slot(state_machine: str, admission_table: str) -> None:
    """The second dispatcher finds the lease taken mid-round and leaves a request; the holder runs again."""
    results = [trigger.handler(upload(f"run-{i}"), None) for i in range(5)]
    first, second = (r["execution_name"] for r in results[:2])
    for name in (first, second):
        boto3.client("stepfunctions").stop_execution(executionArn=admission.execution_arn_of(state_machine, name))
    one = admission.Dispatcher(admission_table, state_machine, 2, owner="one")
    two = admission.Dispatcher(admission_table, state_machine, 2, owner="two")
    seen: list[admission.Outcome] = []
    original = one._running

    def racing() -> set[str]:
        if not seen:
            seen.append(two.dispatch(ended=second))  # arrives while `one` holds the lease
        return original()

    one._running = racing  # type: ignore[method-assign]
    outcome = one.dispatch(ended=first)
    assert seen[0].lease is False and seen[0].started == []
    assert len(running(state_machine)) == 2  # never more than the two slots
    assert outcome.started == names(results[2:4])
    assert [q.execution_name for q in admission.queued(admission_table)] == [results[4]["execution_name"]]


def test_a_second_dispatcher_waits_while_the_lease_is_held(state_machine: str, admission_table: str) -> None:
    trigger.handler(upload("run-0"), None)
    holder = admission.Dispatcher(admission_table, state_machine, 2, owner="holder")
    assert holder._acquire() is not None
    assert admission.Dispatcher(admission_table, state_machine, 2, owner="other")._acquire() is None
    later = admission.Dispatcher(admission_table, state_machine, 2, owner="later", now=lambda: 10**10)
    assert later._acquire() is not None  # an expired lease (a holder that died) is taken over


def test_the_same_upload_twice_queues_and_starts_once(state_machine: str, admission_table: str) -> None:
    event = upload("same")
    first, second = trigger.handler(event, None), trigger.handler(event, None)
    assert first["started"] is True and second == {
        "started": False,
        "reason": "duplicate",
        "execution_name": first["execution_name"],
    }
    assert running(state_machine) == [first["execution_name"]]


def test_the_schedule_and_other_machines_events_name_no_ended_execution(state_machine: str) -> None:
    assert dispatcher.ended_execution({"detail": {}}, state_machine) is None
    other = {"detail": {"stateMachineArn": state_machine + "x", "name": "n", "status": "FAILED"}}
    assert dispatcher.ended_execution(other, state_machine) is None
    running_event = {"detail": {"stateMachineArn": state_machine, "name": "n", "status": "RUNNING"}}
    assert dispatcher.ended_execution(running_event, state_machine) is None
