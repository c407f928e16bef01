"""Benchmark the Evaluate stage: throughput through the synthesized workflow against what its concurrency allows.

One rehearsal (``finetune.rehearsal.runner.rehearse``: the synthesized state machine in moto's interpreter, the real
handlers in-process, the simulated Bedrock stand-in) evaluates ``--examples`` test examples against two models
(candidate and base) at a fixed simulated latency per call. Reported, from the same run:

- **concurrency** = Converse calls allowed in flight at once = the Map's MaxConcurrency
  (``$.run.evaluation.concurrency``) x the number of models, since each batch keeps one call per model in flight;
- **ideal s** = examples x models x latency / concurrency;
- **measured s** = the Evaluate stage's wall time from the execution history, MapStateEntered -> MapStateExited of
  the Distributed Map "Evaluate" (the plan and the aggregation are outside it);
- **ratio** = ideal / measured; the target is at least 0.85.

Examples, models and concurrency are read back from the run (the Plan's output, the result records, the resolved
run), not taken from the arguments. The stand-in's rate limits are raised so that throttling does not distort the
figure; the limit used and the throttled-call count are printed. Usage:

    .venv/bin/python bench/bench_evaluation.py [--examples 3572] [--latency-ms 250] [--concurrency 8] [--repeat 1]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from finetune.rehearsal.progress import Progress  # noqa: E402
from finetune.rehearsal.runner import RehearsalOptions, RehearsalResult, rehearse  # noqa: E402
from pipeline_core.models import CATALOGUE, DEFAULT_BASE_MODEL_ID  # noqa: E402

TATQA_TEST_EXAMPLES = 3572  # the TAT-QA test set
TARGET_RATIO = 0.85
EVALUATE_STATE = "Evaluate"  # the Distributed Map (stacks/workflow.py)
PLAN_STATE = "Plan evaluation"
RESOLVE_STATE = "Resolve run"
#: The bench's split: a large test share so a dataset within Bedrock's 10,000-record quota yields the test set.
TEST_SHARE = 0.4
VALIDATION_SHARE = 0.05
BATCH_SIZE = 25  # cdk.json's evaluation.batchSize, stated here so the bench does not drift with it
#: The default base model's quotas on training + validation records (pipeline_core/models.py): the dataset must fit.
MAX_TRAINING_RECORDS = CATALOGUE[DEFAULT_BASE_MODEL_ID].quotas.max_total_records
MIN_TRAINING_RECORDS = CATALOGUE[DEFAULT_BASE_MODEL_ID].quotas.min_records
#: Per model unit and per on-demand model: far above what concurrency / latency can reach, so nothing throttles.
RATE_LIMIT_RPS = 100_000.0


@dataclass(frozen=True)
class Measurement:
    """One run's figures, read back from the execution and the stand-in."""

    examples: int  # planned by "Plan evaluation"
    models: int  # distinct models in the result records
    latency_ms: float
    map_concurrency: int  # the Map's MaxConcurrency ($.run.evaluation.concurrency)
    measured_s: float  # MapStateEntered -> MapStateExited of "Evaluate"
    records: int
    failed_records: int
    throttled_calls: int
    status: str

    @property
    def concurrency(self) -> int:
        """Converse calls allowed in flight: one per model in each of MaxConcurrency batches."""
        return self.map_concurrency * self.models

    @property
    def ideal_s(self) -> float:
        return self.examples * self.models * self.latency_ms / 1000 / self.concurrency

    @property
    def ratio(self) -> float:
        return self.ideal_s / self.measured_s if self.measured_s > 0 else 0.0


class BenchError(RuntimeError):
    """The run did not produce a measurable Evaluate stage."""


def settings_overrides(examples: int, concurrency: int) -> dict[str, Any]:
    return {
        "split": {"testShare": TEST_SHARE, "validationShare": VALIDATION_SHARE},
        "evaluation": {"maxExamples": examples, "concurrency": concurrency, "batchSize": BATCH_SIZE},
    }


def records_for(examples: int) -> int:
    """Generated records whose test split (round(n x TEST_SHARE)) holds at least ``examples``, and whose training
    split still meets the base model's minimum record count."""
    training_share = 1 - TEST_SHARE - VALIDATION_SHARE
    return max(math.ceil(examples / TEST_SHARE), math.ceil(MIN_TRAINING_RECORDS / training_share) + 1)


def _state_events(history: Sequence[Mapping[str, Any]], name: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    entered = exited = None
    for event in history:
        kind = event["type"]
        if kind.endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] == name and entered is None:
            entered = event
        elif kind.endswith("StateExited") and event["stateExitedEventDetails"]["name"] == name:
            exited = event
    if entered is None or exited is None:
        raise BenchError(f"the execution history has no entered and exited events for {name!r}")
    return entered, exited


def _timestamp(event: Mapping[str, Any]) -> datetime:
    value = event["timestamp"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def measurement(result: RehearsalResult, latency_ms: float) -> Measurement:
    """The figures of one rehearsal: the Evaluate span and what it evaluated, from its history and records."""
    history = result.history
    entered, exited = _state_events(history, EVALUATE_STATE)
    if entered["type"] != "MapStateEntered":
        raise BenchError(f"{EVALUATE_STATE!r} is a {entered['type']}, not a Map state")
    _, plan_exit = _state_events(history, PLAN_STATE)
    _, resolve_exit = _state_events(history, RESOLVE_STATE)
    plan = json.loads(plan_exit["stateExitedEventDetails"]["output"])["plan"]
    run = json.loads(resolve_exit["stateExitedEventDetails"]["output"])["run"]
    models = {record["model"] for record in result.evaluation_records}
    throttled = sum(n for (_, _, code), n in result.standin_errors.items() if code == "ThrottlingException")
    return Measurement(
        examples=int(plan["examples"]),
        models=len(models),
        latency_ms=latency_ms,
        map_concurrency=int(run["evaluation"]["concurrency"]),
        measured_s=(_timestamp(exited) - _timestamp(entered)).total_seconds(),
        records=len(result.evaluation_records),
        failed_records=sum(1 for record in result.evaluation_records if record.get("error")),
        throttled_calls=throttled,
        status=result.status,
    )


def measure(
    examples: int, latency_ms: float, concurrency: int, *, timeout_seconds: float = 900.0, verbose: bool = False
) -> Measurement:
    """One rehearsal with the bench's settings; raises BenchError if the Evaluate stage did not run cleanly."""
    with tempfile.TemporaryDirectory(prefix="bench-evaluation-") as tmp:
        options = RehearsalOptions(
            run_name="bench",
            records=records_for(examples),
            settings_overrides=settings_overrides(examples, concurrency),
            latency_ms=latency_ms,
            rps_per_model_unit=RATE_LIMIT_RPS,
            on_demand_rps=RATE_LIMIT_RPS,
            output_dir=Path(tmp),
            timeout_seconds=timeout_seconds,
            quiet=not verbose,
        )
        progress = Progress(sys.stderr if verbose else io.StringIO())
        result = rehearse(options, progress=progress)
    if not result.history:
        raise BenchError(f"the execution did not start ({result.status})")
    found = measurement(result, latency_ms)
    if found.examples != examples:
        raise BenchError(f"planned {found.examples} examples, asked for {examples}: the test split is too small")
    if found.records != found.examples * found.models or found.failed_records:
        raise BenchError(
            f"{found.records} records ({found.failed_records} failed) for {found.examples} examples x "
            f"{found.models} models"
        )
    return found


def render_table(measurements: Sequence[Measurement], target: float = TARGET_RATIO) -> str:
    """The Markdown table, one row per run."""
    lines = [
        "| run | examples | models | latency (ms) | concurrency | ideal s | measured s | ratio | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for number, m in enumerate(measurements, 1):
        verdict = f"{'PASS' if m.ratio >= target else 'FAIL'} (target >= {target:.2f})"
        lines.append(
            f"| {number} | {m.examples:,} | {m.models} | {m.latency_ms:g} | {m.concurrency} "
            f"({m.map_concurrency} x {m.models}) | {m.ideal_s:.2f} | {m.measured_s:.2f} | {m.ratio:.3f} | {verdict} |"
        )
    return "\n".join(lines)


def notes(measurements: Sequence[Measurement]) -> list[str]:
    return [
        "concurrency = Converse calls allowed in flight at once = the Map's MaxConcurrency "
        "($.run.evaluation.concurrency) x models (each batch keeps one call per model in flight)",
        "ideal s = examples x models x latency / concurrency; measured s = MapStateEntered -> MapStateExited "
        f"of the Distributed Map {EVALUATE_STATE!r} in the execution history (same run)",
        f"stand-in rate limits: {RATE_LIMIT_RPS:,.0f} requests/s per model unit and per on-demand model; "
        f"throttled calls: {', '.join(str(m.throttled_calls) for m in measurements)}",
        f"records written: {', '.join(f'{m.records:,} ({m.failed_records} failed)' for m in measurements)}; "
        f"execution status: {', '.join(m.status for m in measurements)}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--examples", type=int, default=TATQA_TEST_EXAMPLES, help="test examples (%(default)s)")
    # 250 ms is below what Claude 3 Haiku takes for a short answer, so the default does not flatter the ratio
    # with idle time; at 50 ms the single-process emulator itself becomes the bottleneck (docs/rehearsal.md).
    parser.add_argument("--latency-ms", type=float, default=250.0, help="simulated latency per call (%(default)s)")
    parser.add_argument("--concurrency", type=int, default=8, help="the Map's MaxConcurrency (%(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the best ratio decides (%(default)s)")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up on one execution after N s")
    parser.add_argument("--verbose", action="store_true", help="print the rehearsal's progress lines")
    args = parser.parse_args(argv)
    if args.examples < 10 or args.latency_ms <= 0 or args.concurrency < 1 or args.repeat < 1:
        parser.error("--examples >= 10, --latency-ms > 0, --concurrency >= 1 and --repeat >= 1 are required")
    if records_for(args.examples) - round(records_for(args.examples) * TEST_SHARE) > MAX_TRAINING_RECORDS:
        parser.error(
            f"--examples {args.examples} needs more than {MAX_TRAINING_RECORDS:,} training + validation records"
        )
    runs = []
    for number in range(args.repeat):
        print(f"run {number + 1} of {args.repeat} ...", file=sys.stderr, flush=True)
        try:
            runs.append(
                measure(
                    args.examples, args.latency_ms, args.concurrency, timeout_seconds=args.timeout, verbose=args.verbose
                )
            )
        except BenchError as error:
            # A failed measurement is a finding, not a crash: one line, exit 2, no traceback.
            print(f"bench_evaluation: run {number + 1}: {error}", file=sys.stderr)
            return 2
    best = max(runs, key=lambda m: m.ratio)
    print(render_table(runs))
    print()
    print(f"best of {len(runs)}:")
    print(render_table([best]))
    print()
    for line in notes(runs):
        print(f"- {line}")
    return 0 if best.ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
