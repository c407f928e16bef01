"""Lambda handler that starts queued runs when a slot frees: on each end of an execution, and on a schedule.

EventBridge delivers "Step Functions Execution Status Change" events of this pipeline's state machine for
SUCCEEDED, FAILED, TIMED_OUT and ABORTED (docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html,
read 2026-12-01). That delivery is best effort (docs.aws.amazon.com/eventbridge/latest/ref/events-ref-states.html,
read 2026-12-01), so a scheduled invocation does the same work: a slot is a RUNNING execution, and whatever ended
without an event, or without reaching its Catch (stopped, timed out), is found not running and its slot reused.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from pipeline_aws import metrics
from pipeline_aws.admission import Dispatcher
from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.observability import instrumented
from pipeline_core import contracts

LOGGER = setup_logging("dispatcher")
ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


def ended_execution(event: Mapping[str, Any], state_machine_arn: str) -> str | None:
    """The name of the execution an event says has ended; None for the schedule or another machine's event."""
    detail = event.get("detail") if isinstance(event.get("detail"), Mapping) else None
    if not detail or detail.get("stateMachineArn") != state_machine_arn or detail.get("status") not in ENDED:
        return None
    name = detail.get("name")
    return str(name) if name else None


def ended_run(event: Mapping[str, Any]) -> str | None:
    """The run name of the ended execution, from the execution input Step Functions puts in the event
    (``detail.input``, a JSON string: ``{"source": {..., "run_name"}}``; left out only past 248 KB, per
    docs.aws.amazon.com/step-functions/latest/dg/cw-events.html, read 2026-12-01); None when absent or unreadable."""
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return None
    try:
        source = json.loads(str(detail.get("input") or "{}")).get("source")
    except (ValueError, AttributeError):
        return None
    name = source.get("run_name") if isinstance(source, Mapping) else None
    return str(name) if name else None


@instrumented
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    state_machine_arn = os.environ[contracts.ENV_STATE_MACHINE_ARN]
    ended = ended_execution(event, state_machine_arn)
    # A dispatch on an execution's end belongs to that run: its lines and metrics carry the run and execution
    # whose end freed the slot, so filtering on them shows what that end started. The scheduled sweep ends no run
    # and binds nothing; its line names the runs it started.
    if ended:
        bind(run=ended_run(event), execution=ended)
    else:
        bind()
    dispatcher = Dispatcher(
        os.environ[contracts.ENV_ADMISSION_TABLE],
        state_machine_arn,
        int(os.environ[contracts.ENV_MAX_CONCURRENT_RUNS]),
    )
    outcome = dispatcher.dispatch(ended=ended)
    metrics.dispatched(started=len(outcome.started), waiting=outcome.waiting, failed=len(outcome.failed))
    log(LOGGER, "dispatched", ended=ended, **asdict(outcome))
    for refused in outcome.failed:
        # Not retried: the run left the queue (the runs behind it went on) and `finetune runs` lists it as
        # FAILED_TO_START with this error; once the cause is fixed, the same upload queues it again.
        log(LOGGER, "queued run failed to start", level=logging.ERROR, **refused)
    if outcome.error:
        # Raised so the invocation counts as failed (the alarm on errors sees it); the runs stay queued.
        raise RuntimeError(f"could not start a queued run: {outcome.error}")
    return asdict(outcome) | {"ended": ended}
