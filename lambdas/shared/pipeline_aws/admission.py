"""The admission queue in DynamoDB and the dispatch that starts queued runs while slots are free.

One table holds three kinds of item (partition key `pk`, sort key `sk`):
- `RUN#<execution name>` / `RUN`: one per upload, written only if absent, so a repeated upload event queues
  nothing new (the idempotent start); `state` QUEUED or STARTED.
- `QUEUE` / `<arrival>#<execution name>`: the waiting runs, read in key order, so the oldest starts first.
  A run StartExecution refuses for its input (a validation error, an invalid name or input) moves to
  `FAILED_TO_START` / `<arrival>#<execution name>` with the error, its marker's `state` FAILED_TO_START, and
  the runs behind it go on: retrying it would fail the same way and hold the whole queue behind it. Throttling,
  5xx and refusals that would meet every run (`REFUSED_FOR_EVERY_RUN`: a missing state machine, a denied role or
  key) end the round with the run still first in line, for the next event or the schedule to retry.
- `LEASE` / `dispatcher`: a lease (owner, expiry) held by whoever dispatches, and `holders`, the executions it
  started, each with its start time. A slot is a RUNNING execution: `holders` only covers the seconds in which a
  new execution may not be listed yet (ListExecutions is eventually consistent), and each is released once
  DescribeExecution says it ended. `dirty` is set by a dispatcher that found the lease taken: the holder runs
  once more before it lets go, so no wake-up is lost.

Conditional writes make it safe for any number of triggers and dispatchers to run at once: only the lease holder
starts executions, and each start is recorded before the next one is counted.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import error_code, is_code, transient_errors
from pipeline_core.admission import FAILED_PK, QUEUE_PK, arrival_key, free_slots, name_of

LEASE_KEY = {"pk": {"S": "LEASE"}, "sk": {"S": "dispatcher"}}
STATE_QUEUED, STATE_STARTED, STATE_FAILED = "QUEUED", "STARTED", "FAILED_TO_START"
# Longer than the trigger's and the dispatcher's Lambda timeout (1 minute), so a lease never expires while its
# holder can still be running.
LEASE_SECONDS = 90
# A just-started execution counts as holding a slot for this long even when ListExecutions does not show it yet.
GRACE_SECONDS = 120
# Step Functions frees an execution name 90 days after it closes (API_StartExecution); the run marker lives as long.
MARKER_DAYS = 90
# How often a dispatcher re-runs because another one found the lease taken; bounds one invocation's work.
MAX_ROUNDS = 5
# StartExecution refusals that say nothing about the run's input: the state machine is missing or being replaced
# (mid-deploy), or the dispatcher's role or the state machine's key is not usable yet (IAM propagation, a disabled
# key) (error shapes from the botocore stepfunctions service model; docs.aws.amazon.com/step-functions/latest/
# apireference/API_StartExecution.html, read 2026-12-01). They keep the run queued and fail the invocation. Only a
# refusal of the input itself (ValidationException, InvalidExecutionInput, InvalidName, ExecutionAlreadyExists with
# another input) moves a run to FAILED_TO_START; throttling and 5xx are transient (pipeline_aws.errors).
REFUSED_FOR_EVERY_RUN = frozenset(
    {
        "AccessDeniedException",
        "StateMachineDoesNotExist",
        "StateMachineDeleting",
        "InvalidArn",
        "KmsAccessDeniedException",
        "KmsInvalidStateException",
    }
)


def _clock() -> float:
    return time.time()


def _run_key(name: str) -> dict[str, Any]:
    return {"pk": {"S": f"RUN#{name}"}, "sk": {"S": "RUN"}}


def _dynamodb() -> Any:
    return CLIENTS.get("dynamodb")


@dataclass(frozen=True)
class Queued:
    """A run waiting for a slot."""

    execution_name: str
    arrival: str
    input: str
    run_name: str
    key: str


@dataclass
class Outcome:
    """What one dispatch did: executions started, runs it could not start (taken out of the queue, each with
    `execution_name`, `run_name` and `error`), runs left waiting, and why it stopped early if it did."""

    started: list[str] = field(default_factory=list)
    already_started: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    waiting: int = 0
    running: int = 0
    released: list[str] = field(default_factory=list)
    lease: bool = True
    error: str | None = None


def enqueue(table: str, name: str, execution_input: Mapping[str, Any], *, now: Callable[[], float] = _clock) -> bool:
    """Queue a run; False when this execution name was queued (or started) before: a duplicate upload event. A run
    that failed to start (FAILED_TO_START) queues again, and its FAILED_TO_START entry goes in the same transaction
    (so `failed` no longer lists it)."""
    arrived = now()
    arrival = arrival_key(int(arrived * 1_000_000), name)
    source = execution_input.get("source") or {}
    expires = int(arrived + MARKER_DAYS * 86_400)
    key = _run_key(name)
    with transient_errors():
        # A Query of the one key (the functions may Query, not GetItem: stacks.admission.QUEUE_ACTIONS).
        found = (
            _dynamodb()
            .query(
                TableName=table,
                KeyConditionExpression="pk = :pk AND sk = :sk",
                ExpressionAttributeValues={":pk": key["pk"], ":sk": key["sk"]},
                ConsistentRead=True,
            )
            .get("Items", [])
        )
    marker = found[0] if found else None
    # The marker's condition re-checks what was read, so a concurrent enqueue or move makes this one a duplicate.
    marker_put: dict[str, Any] = {
        "TableName": table,
        "Item": {
            **key,
            "state": {"S": STATE_QUEUED},
            "arrival": {"S": arrival},
            "expires_at": {"N": str(expires)},
        },
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    retired: list[dict[str, Any]] = []
    if marker is not None:
        if marker.get("state", {}).get("S") != STATE_FAILED:
            return False
        # A run that failed to start may queue again (its cause fixed, the upload repeated). The marker's arrival is
        # the sort key of its FAILED_TO_START entry.
        old_arrival = marker.get("arrival", {}).get("S")
        marker_put["ConditionExpression"] = "#state = :failed"
        marker_put["ExpressionAttributeNames"] = {"#state": "state"}
        marker_put["ExpressionAttributeValues"] = {":failed": {"S": STATE_FAILED}}
        if old_arrival:
            marker_put["ConditionExpression"] += " AND arrival = :old"
            marker_put["ExpressionAttributeValues"][":old"] = {"S": old_arrival}
            retired.append({"Delete": {"TableName": table, "Key": {"pk": {"S": FAILED_PK}, "sk": {"S": old_arrival}}}})
    try:
        with transient_errors():
            _dynamodb().transact_write_items(
                TransactItems=[
                    {"Put": marker_put},
                    *retired,
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {
                                "pk": {"S": QUEUE_PK},
                                "sk": {"S": arrival},
                                "execution_name": {"S": name},
                                "input": {"S": json.dumps(execution_input, sort_keys=True)},
                                "run_name": {"S": str(source.get("run_name", ""))},
                                "key": {"S": str(source.get("key", ""))},
                            },
                        }
                    },
                ]
            )
    except ClientError as err:
        if _cancelled_by_condition(err):
            return False
        raise
    return True


def _cancelled_by_condition(err: ClientError) -> bool:
    if error_code(err) == "ConditionalCheckFailedException":
        return True
    if error_code(err) != "TransactionCanceledException":
        return False
    reasons = err.response.get("CancellationReasons") or []
    if reasons:
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return "ConditionalCheckFailed" in str(err)


def queued(table: str, limit: int | None = None) -> list[Queued]:
    """The waiting runs, oldest first (a strongly consistent read of the one queue partition)."""
    items: list[Queued] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :q",
        "ExpressionAttributeValues": {":q": {"S": QUEUE_PK}},
        "ConsistentRead": True,
        "ScanIndexForward": True,
    }
    while True:
        if limit is not None:
            kwargs["Limit"] = max(1, limit - len(items))
        with transient_errors():
            page = _dynamodb().query(**kwargs)
        for item in page.get("Items", []):
            items.append(
                Queued(
                    execution_name=item["execution_name"]["S"],
                    arrival=item["sk"]["S"],
                    input=item["input"]["S"],
                    run_name=item.get("run_name", {}).get("S", ""),
                    key=item.get("key", {}).get("S", ""),
                )
            )
        if (limit is not None and len(items) >= limit) or not page.get("LastEvaluatedKey"):
            return items[:limit] if limit is not None else items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def position(table: str, name: str) -> tuple[int, int] | None:
    """(1-based position, queue length) of a waiting run; None when it is not waiting."""
    waiting = queued(table)
    for index, entry in enumerate(waiting, start=1):
        if entry.execution_name == name:
            return index, len(waiting)
    return None


class Dispatcher:
    """Starts the oldest queued runs while fewer than `limit` executions of the state machine are running."""

    def __init__(
        self,
        table: str,
        state_machine_arn: str,
        limit: int,
        *,
        now: Callable[[], float] = _clock,
        owner: str | None = None,
    ) -> None:
        self.table = table
        self.state_machine_arn = state_machine_arn
        self.limit = limit
        self.now = now
        self.owner = owner or uuid.uuid4().hex
        self.pending_ends: set[str] = set()

    # ---- the lease ------------------------------------------------------------------------------------------------
    def _acquire(self) -> dict[str, float] | None:
        """Take the lease; the holders it records, or None when another dispatcher holds it."""
        now = self.now()
        try:
            with transient_errors():
                response = _dynamodb().update_item(
                    TableName=self.table,
                    Key=LEASE_KEY,
                    UpdateExpression="SET #owner = :me, lease_until = :until, dirty = :false REMOVE ended",
                    ConditionExpression="attribute_not_exists(pk) OR lease_until < :now OR #owner = :me",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={
                        ":me": {"S": self.owner},
                        ":until": {"N": repr(now + LEASE_SECONDS)},
                        ":now": {"N": repr(now)},
                        ":false": {"BOOL": False},
                    },
                    ReturnValues="ALL_OLD",
                )
        except ClientError as err:
            if is_code(err, "ConditionalCheckFailedException"):
                return None
            raise
        old = response.get("Attributes", {})
        self.pending_ends = set(old.get("ended", {}).get("SS", []))
        return {name: float(value["N"]) for name, value in old.get("holders", {}).get("M", {}).items()}

    def _mark_dirty(self, ended: str | None) -> bool:
        """Ask the lease holder for one more round, passing on the end this dispatcher was told of; False when the
        lease went away meanwhile (so take it)."""
        values: dict[str, Any] = {":true": {"BOOL": True}, ":now": {"N": repr(self.now())}}
        update = "SET dirty = :true"
        if ended:
            update += " ADD ended :ended"
            values[":ended"] = {"SS": [ended]}
        try:
            with transient_errors():
                _dynamodb().update_item(
                    TableName=self.table,
                    Key=LEASE_KEY,
                    UpdateExpression=update,
                    ConditionExpression="attribute_exists(pk) AND lease_until >= :now",
                    ExpressionAttributeValues=values,
                )
        except ClientError as err:
            if is_code(err, "ConditionalCheckFailedException"):
                return False
            raise
        return True

    def _save_holders(self, holders: Mapping[str, float]) -> None:
        with transient_errors():
            _dynamodb().update_item(
                TableName=self.table,
                Key=LEASE_KEY,
                UpdateExpression="SET holders = :h",
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":h": {"M": {name: {"N": repr(at)} for name, at in holders.items()}},
                    ":me": {"S": self.owner},
                },
            )

    def _release(self) -> bool:
        """Let the lease go unless another dispatcher asked for a round meanwhile (then clear that and go again)."""
        values = {":me": {"S": self.owner}, ":true": {"BOOL": True}, ":expired": {"N": "0"}}
        try:
            with transient_errors():
                _dynamodb().update_item(
                    TableName=self.table,
                    Key=LEASE_KEY,
                    UpdateExpression="SET lease_until = :expired",
                    ConditionExpression="#owner = :me AND dirty <> :true",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues=values,
                )
        except ClientError as err:
            if not is_code(err, "ConditionalCheckFailedException"):
                raise
            with transient_errors():
                _dynamodb().update_item(
                    TableName=self.table,
                    Key=LEASE_KEY,
                    UpdateExpression="SET dirty = :false",
                    ConditionExpression="#owner = :me",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={":me": {"S": self.owner}, ":false": {"BOOL": False}},
                )
            return False
        return True

    # ---- slots ----------------------------------------------------------------------------------------------------
    def _running(self) -> set[str]:
        names: set[str] = set()
        kwargs: dict[str, Any] = {"stateMachineArn": self.state_machine_arn, "statusFilter": "RUNNING"}
        while True:
            with transient_errors():
                page = CLIENTS.sfn.list_executions(**kwargs)
            names.update(str(e["name"]) for e in page.get("executions", []))
            if not page.get("nextToken"):
                return names
            kwargs["nextToken"] = page["nextToken"]

    def _still_running(self, name: str, started: float) -> bool:
        if self.now() - started < GRACE_SECONDS:
            return True
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name
        try:
            with transient_errors():
                status = CLIENTS.sfn.describe_execution(executionArn=arn)["status"]
        except ClientError as err:
            if is_code(err, "ExecutionDoesNotExist"):
                return False  # started past its grace and never listed: the start did not happen
            raise
        return bool(status == "RUNNING")

    # ---- dispatch -------------------------------------------------------------------------------------------------
    def dispatch(self, ended: str | None = None) -> Outcome:
        """Start queued runs into free slots; `ended` names an execution an event said has ended."""
        outcome = Outcome()
        for _ in range(MAX_ROUNDS):
            holders = self._acquire()
            if holders is None:
                if self._mark_dirty(ended):
                    outcome.lease = False
                    return outcome
                continue  # the lease went away between the two calls: try to take it
            try:
                self._round(holders, {ended} - {None} | self.pending_ends, outcome)
            finally:
                done = self._release()
            if done:
                return outcome
        return outcome

    def _round(self, holders: dict[str, float], ended: set[str | None], outcome: Outcome) -> None:
        running = self._running() - ended  # the listing may lag the event that said it ended
        for name, started in list(holders.items()):
            if name in ended or (name not in running and not self._still_running(name, started)):
                del holders[name]
                outcome.released.append(name)
        holding = running | set(holders)
        outcome.running = len(holding)
        free = free_slots(self.limit, len(holding))
        try:
            # A run that failed to start left the queue without taking its slot: read again for the next in line.
            # Each pass starts or removes every run it read, so this ends.
            while free:
                waiting = queued(self.table, limit=free)
                if not waiting:
                    break
                for entry in waiting:
                    if self._start(entry, holders, outcome):
                        free -= 1
        except Exception as err:  # throttling, 5xx, a failed write: the run stays queued; the next round retries
            outcome.error = f"{type(err).__name__}: {err}"
        finally:
            self._save_holders(holders)
        outcome.waiting = len(queued(self.table))

    def _start(self, entry: Queued, holders: dict[str, float], outcome: Outcome) -> bool:
        """Start one queued run; False when StartExecution refused it for good (it left the queue, no slot taken).
        A transient failure raises (TransientServiceError) with the run still queued."""
        # Recorded before the call: a dispatcher that dies right after starting still leaves the slot counted
        # (a holder that never started is released once its grace is over and DescribeExecution finds nothing).
        holders[entry.execution_name] = self.now()
        self._save_holders(holders)
        arn = None
        try:
            with transient_errors():
                response = CLIENTS.sfn.start_execution(
                    stateMachineArn=self.state_machine_arn, name=entry.execution_name, input=entry.input
                )
            arn = str(response["executionArn"])
            outcome.started.append(entry.execution_name)
        except (ClientError, ParamValidationError) as err:
            del holders[entry.execution_name]
            if is_code(err, *REFUSED_FOR_EVERY_RUN):
                # The deployment, not this run: moving it out would move every run behind it out the same way.
                # Raised, so the run stays first in line and the invocation fails (the dispatcher's error alarm).
                raise
            # StartExecution with a name in use and another input (a closed execution): this upload had its run.
            if not isinstance(err, ClientError) or not is_code(err, "ExecutionAlreadyExists"):
                # Not transient (transient_errors turned those into TransientServiceError): the same call would
                # fail the same way on every round.
                self._fail(entry, err)
                outcome.failed.append(
                    {"execution_name": entry.execution_name, "run_name": entry.run_name, "error": _describe(err)}
                )
                return False
            outcome.already_started.append(entry.execution_name)
        except Exception:
            del holders[entry.execution_name]
            raise
        self._dequeue(entry, arn)
        return True

    def _fail(self, entry: Queued, err: Exception) -> None:
        """Move a run out of the queue into FAILED_TO_START with its error, in one transaction (a failed write
        leaves it queued, and the next round meets the same refusal and tries again)."""
        now = self.now()
        error = _describe(err)
        with transient_errors():
            _dynamodb().transact_write_items(
                TransactItems=[
                    {"Delete": {"TableName": self.table, "Key": {"pk": {"S": QUEUE_PK}, "sk": {"S": entry.arrival}}}},
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": {"S": FAILED_PK},
                                "sk": {"S": entry.arrival},
                                "execution_name": {"S": entry.execution_name},
                                "run_name": {"S": entry.run_name},
                                "key": {"S": entry.key},
                                "input": {"S": entry.input},
                                "error": {"S": error},
                                "failed_at": {"N": repr(now)},
                                "expires_at": {"N": str(int(now + MARKER_DAYS * 86_400))},
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _run_key(entry.execution_name),
                            "UpdateExpression": "SET #state = :failed, #error = :error, failed_at = :at",
                            "ExpressionAttributeNames": {"#state": "state", "#error": "error"},
                            "ExpressionAttributeValues": {
                                ":failed": {"S": STATE_FAILED},
                                ":error": {"S": error},
                                ":at": {"N": repr(now)},
                            },
                        }
                    },
                ]
            )

    def _dequeue(self, entry: Queued, execution_arn: str | None) -> None:
        started: dict[str, Any] = {":started": {"S": STATE_STARTED}, ":at": {"N": repr(self.now())}}
        update = "SET #state = :started, started_at = :at"
        if execution_arn:
            started[":arn"] = {"S": execution_arn}
            update += ", execution_arn = :arn"
        with transient_errors():
            _dynamodb().transact_write_items(
                TransactItems=[
                    {"Delete": {"TableName": self.table, "Key": {"pk": {"S": QUEUE_PK}, "sk": {"S": entry.arrival}}}},
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _run_key(entry.execution_name),
                            "UpdateExpression": update,
                            "ExpressionAttributeNames": {"#state": "state"},
                            "ExpressionAttributeValues": started,
                        }
                    },
                ]
            )


def _describe(err: Exception) -> str:
    """`Code: message` of a refused call, cut to fit a table item and a log line."""
    if isinstance(err, ClientError):
        message = str(err.response.get("Error", {}).get("Message") or "")
        text = f"{error_code(err)}: {message}" if message else error_code(err)
    else:
        text = f"{type(err).__name__}: {err}"
    return text[:1000]


def failed(table: str) -> list[dict[str, str]]:
    """The runs StartExecution refused for good, oldest first: execution_name, run_name, arrival, error."""
    items: list[dict[str, str]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :f",
        "ExpressionAttributeValues": {":f": {"S": FAILED_PK}},
        "ConsistentRead": True,
    }
    while True:
        with transient_errors():
            page = _dynamodb().query(**kwargs)
        for item in page.get("Items", []):
            items.append(
                {
                    "execution_name": item["execution_name"]["S"],
                    "run_name": item.get("run_name", {}).get("S", ""),
                    "arrival": item["sk"]["S"],
                    "error": item.get("error", {}).get("S", ""),
                }
            )
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def execution_arn_of(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


__all__ = [
    "Dispatcher",
    "Outcome",
    "Queued",
    "enqueue",
    "execution_arn_of",
    "failed",
    "name_of",
    "position",
    "queued",
]
