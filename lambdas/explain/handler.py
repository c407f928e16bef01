"""Lambda handler for "Explain failure": a failed run's error as the one sentence its notification carries.

Receives the workflow's whole state document (``{"state": $}``): a failure can end the run from any stage, and a
field missing from a Task's parameters would fail the execution with an uncatchable States.Runtime error before
anyone is told. Returns ``{reason, report}`` (``pipeline_core.explain``). It calls no AWS API and has no grant
beyond its own log group; it logs the error's name only, never the cause (which may quote a dataset).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline_aws.logs import bind, log, setup_logging
from pipeline_aws.observability import instrumented
from pipeline_core.explain import failure_notice

LOGGER = setup_logging("explain")


@instrumented
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    state = event.get("state")
    state = state if isinstance(state, Mapping) else {}
    # The run's name is in the execution input ($.source); the execution's in the run spec, once Resolve run wrote it.
    source, run = state.get("source"), state.get("run")
    bind(
        run=source.get("run_name") if isinstance(source, Mapping) else None,
        execution=run.get("execution_name") if isinstance(run, Mapping) else None,
    )
    notice = failure_notice(state)
    error = state.get("error")
    log(
        LOGGER,
        "failure explained",
        error=error.get("Error") if isinstance(error, Mapping) else None,
        cleanup_failed="cleanup_error" in state,
        report=notice["report"],
    )
    return notice
