"""Many uploads at once through the rehearsal: admission control's queue, slots and Bedrock quotas under load.

`run_load` uploads N datasets within a few seconds into one local cloud (the synthesized state machine in moto,
the real handlers in-process, the Bedrock stand-in with a concurrent-job quota) and follows every run to its end.
Execution ends reach the dispatcher as EventBridge's status-change rule delivers them (`admission.EndRelay`), and
the recovery schedule is invoked every few seconds as its rule would be. It records what admission control
promises: every upload reaches a terminal state, no more executions run than the run limit, no more jobs and
throughputs exist than the quotas allow, and nothing is left billing. bench/bench_load.py reports the figures.
"""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline_core.models import CATALOGUE

from . import demo_data
from .admission import EndRelay
from .bedrock_standin import BedrockStandIn, SimulationConfig
from .progress import Progress
from .runner import (
    ACCOUNT_ID,
    STATUS_POLL_SECONDS,
    SynthesizedApp,
    _s3_event,
    enter_local_aws,
    handler_environment,
    provision,
    run_handlers_locally,
    synthesize,
)

#: How often the rehearsal invokes the dispatcher as the recovery schedule would (every 5 minutes in AWS).
RECOVERY_SECONDS = 5.0
#: The EventBridge event of a scheduled rule (docs.aws.amazon.com/eventbridge/latest/ref/
#: events-ref-scheduled.html, read 2026-12-01).
SCHEDULED_EVENT = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def load_settings(max_runs: int, max_jobs: int, max_model_units: int) -> dict[str, Any]:
    """Settings overrides for a load run: the admission limits, and no throughput kept after promotion (so a
    finished run leaves nothing billing and the count of throughputs left must be 0)."""
    return {
        "admission": {
            "maxConcurrentRuns": max_runs,
            "maxConcurrentJobs": max_jobs,
            "maxModelUnits": max_model_units,
        },
        "provisionedThroughput": {"keepAfterPromotion": False},
    }


@dataclass(frozen=True)
class LoadOptions:
    uploads: int = 10
    #: Demo records per upload (each upload is its own run, inbox/<prefix>-<i>.jsonl).
    records: int = demo_data.minimum_count(100, 0.1, 0.1)
    run_prefix: str = "load"
    #: The stand-in's quotas: concurrent customization jobs and model units across throughputs.
    job_quota: int = 2
    model_unit_quota: int = 2
    candidate_accuracy: float = 1.0
    base_accuracy: float = 0.3
    #: Give up on the runs still going after this long (they are stopped and counted as not terminal).
    timeout_seconds: float = 900.0
    output_dir: Path | None = None
    quiet: bool = True


@dataclass
class LoadResult:
    uploads: int
    #: Execution name -> final status, for every execution the uploads started.
    statuses: dict[str, str]
    #: Runs still queued when the load ended (never started).
    still_queued: int
    #: The most executions seen RUNNING at once (sampled every STATUS_POLL_SECONDS).
    max_running: int
    #: The stand-in's peaks: jobs running, throughputs plus deployments existing, at any one moment.
    peak_jobs: int
    peak_serving: int
    throughputs_left: int
    deployments_left: int
    #: Seconds from the first upload to the last execution's end, and the seconds the uploads took.
    makespan_s: float
    upload_span_s: float
    trigger_results: list[dict[str, Any]] = field(default_factory=list)
    dispatcher_results: list[dict[str, Any]] = field(default_factory=list)
    #: Verdict counts: SUCCEEDED (promoted), and each FAILED error (CandidateRejected, ...).
    outcomes: dict[str, int] = field(default_factory=dict)
    #: ServiceQuotaExceededException answers the stand-in gave (the workflow waited them out).
    quota_refusals: int = 0

    @property
    def terminal(self) -> int:
        return sum(1 for status in self.statuses.values() if status != "RUNNING")


def run_load(options: LoadOptions, app: SynthesizedApp | None = None, progress: Progress | None = None) -> LoadResult:
    """Upload ``options.uploads`` datasets at once and follow every run to its end (or the timeout)."""
    if options.uploads < 1:
        raise ValueError("uploads must be at least 1")
    progress = progress or Progress(io.StringIO() if options.quiet else None)
    app = app or synthesize()
    model = CATALOGUE[app.base_model_id]
    records = list(demo_data.records(options.records, demo_data.DEFAULT_SEED, model.data_format))
    data = demo_data.to_jsonl(records)
    region = app.region
    output_dir = options.output_dir or Path("rehearsal-output") / options.run_prefix
    config = SimulationConfig(
        accuracy={"candidate": options.candidate_accuracy, "base": options.base_accuracy},
        region=region,
        account_id=ACCOUNT_ID,
        base_model_id=model.model_id,
        customization_job_quota=options.job_quota,
        model_unit_quota=options.model_unit_quota,
    )
    with ExitStack() as stack:
        enter_local_aws(stack, region)
        import boto3

        s3 = boto3.client("s3", region_name=region)
        standin = stack.enter_context(BedrockStandIn(config, s3_client=s3))
        standin.learn(records)
        cloud = provision(app, region)
        env = handler_environment(cloud, standin.env())
        run_handlers_locally(stack, cloud, env, output_dir)
        lambda_client = boto3.client("lambda", region_name=region)
        sfn = boto3.client("stepfunctions", region_name=region)
        dispatcher = cloud.functions["dispatcher"].arn
        relay = EndRelay(sfn, lambda_client, dispatcher, cloud.state_machine_arn, region, ACCOUNT_ID)

        # ---- the burst of uploads ---------------------------------------------------------------------------
        started, burst = time.monotonic(), datetime.now(UTC)
        triggers: list[dict[str, Any]] = []
        for number in range(1, options.uploads + 1):
            key = f"inbox/{options.run_prefix}-{number}.jsonl"
            s3.put_object(Bucket=cloud.data_bucket, Key=key, Body=data)
            head = s3.head_object(Bucket=cloud.data_bucket, Key=key)
            event = _s3_event(cloud.data_bucket, key, head, region)
            triggers.append(_invoke(lambda_client, cloud.functions["trigger"].arn, event))
        upload_span = time.monotonic() - started
        progress.step(f"Uploaded {options.uploads} datasets in {upload_span:.1f} s: {_summary(triggers)}")

        # ---- follow every run -------------------------------------------------------------------------------
        names = {str(t["execution_name"]) for t in triggers if t.get("execution_name")}
        deadline = started + options.timeout_seconds
        next_schedule = time.monotonic() + RECOVERY_SECONDS
        max_running = 0
        statuses: dict[str, str] = {}
        scheduled: list[dict[str, Any]] = []
        while True:
            executions = _executions(sfn, cloud.state_machine_arn)
            now = {name: e["status"] for name, e in executions.items() if name in names}
            for name in sorted(set(now) - set(statuses)):
                progress.step(f"{name} started")
            for name in sorted(n for n, status in now.items() if status != "RUNNING" and statuses.get(n) == "RUNNING"):
                progress.step(f"{name} ended {now[name]}")
            statuses = now
            max_running = max(max_running, sum(1 for e in executions.values() if e["status"] == "RUNNING"))
            relay.poll()  # each end reaches the dispatcher, which starts the oldest queued run
            if time.monotonic() >= next_schedule:
                scheduled.append(_invoke(lambda_client, dispatcher, SCHEDULED_EVENT))
                next_schedule = time.monotonic() + RECOVERY_SECONDS
            done = len(statuses) == len(names) and all(status != "RUNNING" for status in statuses.values())
            if done or time.monotonic() > deadline:
                break
            time.sleep(STATUS_POLL_SECONDS)
        for name, status in statuses.items():
            if status == "RUNNING":  # past the timeout: stop it so the stand-in's clock stops with the run
                sfn.stop_execution(executionArn=executions[name]["executionArn"], error="LoadTimeout")
        ends = [e["stopDate"] for name, e in executions.items() if name in names and e.get("stopDate")]
        makespan = (max(ends) - burst).total_seconds() if ends else 0.0
        outcomes = Counter(
            "SUCCEEDED" if e["status"] == "SUCCEEDED" else str(_describe(sfn, e).get("error") or e["status"])
            for name, e in executions.items()
            if name in names and e["status"] != "RUNNING"
        )
        from pipeline_aws.admission import queued

        table = env.get("ADMISSION_TABLE", "")
        waiting = len(queued(table)) if table else 0
        peaks = standin.peaks()
        refusals = sum(n for (_, _, code), n in standin.errors.items() if code == "ServiceQuotaExceededException")
        return LoadResult(
            uploads=options.uploads,
            statuses=statuses,
            still_queued=waiting,
            max_running=max_running,
            peak_jobs=peaks["jobs"],
            peak_serving=peaks["serving"],
            throughputs_left=len(standin.provisioned_throughputs()),
            deployments_left=len(standin.custom_model_deployments()),
            makespan_s=makespan,
            upload_span_s=upload_span,
            trigger_results=triggers,
            dispatcher_results=[*relay.results, *scheduled],
            outcomes=dict(outcomes),
            quota_refusals=refusals,
        )


def _invoke(lambda_client: Any, function_arn: str, event: Mapping[str, Any]) -> dict[str, Any]:
    response = lambda_client.invoke(FunctionName=function_arn, Payload=json.dumps(event))
    payload: dict[str, Any] = json.loads(response["Payload"].read())
    if response.get("FunctionError"):
        return {"error": f"{payload.get('errorType')}: {payload.get('errorMessage')}"}
    return payload


def _executions(sfn: Any, state_machine_arn: str) -> dict[str, dict[str, Any]]:
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
    return {str(e["name"]): e for page in pages for e in page["executions"]}


def _describe(sfn: Any, execution: Mapping[str, Any]) -> dict[str, Any]:
    described: dict[str, Any] = sfn.describe_execution(executionArn=execution["executionArn"])
    return described


def _summary(triggers: list[dict[str, Any]]) -> str:
    counts = Counter(
        "started" if t.get("started") else str(t.get("reason") or ("error" if t.get("error") else "?"))
        for t in triggers
    )
    return ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
