"""The promotion lock: one item in the admission table that only one Promote holds at a time.

Promote reads the promotion record, decides, and overwrites it; SSM PutParameter has no conditional write, so two
promotions at once could both read the same record and the second put would erase what the first replaced (a
throughput tagged approved that nothing would ever delete). The lock makes read-decide-write one step per pipeline.

The item is `LOCK` / `promotion` with `owner` (`<execution name>/<Lambda request id>`, one invocation) and
`expires_at` (epoch seconds): a conditional PutItem takes it when it is absent, expired, or already this very
invocation's. Another invocation of the same execution (a Step Functions retry of Promote, which can start while
the first still runs, e.g. after Lambda.ClientExecutionTimeoutException) waits like anyone else: were it let in,
both would hold the lock and the first one's release would drop it in the middle of the second's promotion. Release
deletes the item only when it still names the exact owner. A Promote that dies holding it blocks others only until
`expires_at` (LEASE_SECONDS, longer than Promote's Lambda timeout, so the holder is gone by then); the table's
time-to-live attribute is the same `expires_at`, so a leftover item is swept too.
Conditional writes: docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
(read 2026-12-01).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import TransientServiceError, is_code, transient_errors
from pipeline_core.contracts import PROMOTE_TIMEOUT_SECONDS

LOCK_KEY = {"pk": {"S": "LOCK"}, "sk": {"S": "promotion"}}
# Promote's Lambda timeout is PROMOTE_TIMEOUT_SECONDS (the stack sets it from the same constant): a holder past its
# lease is dead.
LEASE_SECONDS = PROMOTE_TIMEOUT_SECONDS + 60
POLL_SECONDS = 2.0


def owner_of(execution_name: str, request_id: str) -> str:
    """The lock owner of one Promote invocation: its execution and its Lambda request id."""
    return f"{execution_name}/{request_id}"


def acquire(
    table: str,
    owner: str,
    *,
    wait_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> None:
    """Take the lock for `owner`, waiting up to `wait_seconds` (never longer) while another holds it.

    Raises TransientServiceError when it is still held after the wait (the workflow retries Promote) and on
    throttling, 5xx or a network failure; any other refusal raises its ClientError.
    """
    waited = 0.0
    while True:
        now = clock()
        try:
            with transient_errors():
                CLIENTS.get("dynamodb").put_item(
                    TableName=table,
                    Item={**LOCK_KEY, "owner": {"S": owner}, "expires_at": {"N": str(int(now) + LEASE_SECONDS)}},
                    ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR #owner = :owner",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={":now": {"N": str(int(now))}, ":owner": {"S": owner}},
                )
            return
        except Exception as err:
            if not is_code(err, "ConditionalCheckFailedException"):
                raise
        if waited + POLL_SECONDS > wait_seconds:  # the next poll would pass the wait: stop now
            raise TransientServiceError(
                f"another promotion holds the promotion lock (for at most {LEASE_SECONDS} s); retried"
            )
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS


def release(table: str, owner: str) -> bool:
    """Let go of the lock if exactly `owner` (this invocation) still holds it; False when that could not be done
    (its lease then expires).

    Never raises: the promotion is decided by then, and failing it here would clean up a published throughput.
    """
    try:
        with transient_errors():
            CLIENTS.get("dynamodb").delete_item(
                TableName=table,
                Key=LOCK_KEY,
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
    except Exception:  # the lease expires on its own
        return False
    return True
