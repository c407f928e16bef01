"""Benchmark admission control: many uploads at once complete under the run limit and Bedrock's quotas.

Two load runs in one process (``finetune.rehearsal.load.run_load``: the synthesized state machine in moto's
interpreter, the real handlers in-process, the Bedrock stand-in with a concurrent-job quota), each in a fresh local
cloud: first ONE upload, whose makespan is one run's duration; then ``--uploads`` datasets uploaded within a few
seconds. Reported from the second:

- **terminal** = uploads whose execution reached a terminal state; required: all of them;
- **peak executions / jobs / throughputs** = the most executions RUNNING at once (sampled), and the most
  customization jobs running and Provisioned Throughputs (or deployments) existing at once (the stand-in's own
  record); required: at most the run slots (``admission.maxConcurrentRuns``, lowered by the job and model-unit
  limits: ``pipeline_core.admission.run_slots``), the stand-in's job quota and its model-unit quota;
- **left** = throughputs and deployments the stand-in still holds at the end; required: 0;
- **makespan** = first upload -> last execution's end; **ideal** = uploads / concurrency x one run's duration,
  concurrency being the run slots the settings allow; **ratio** = makespan / ideal (reported: the queue's cost
  over perfectly packed slots, on a machine where the concurrent runs also share the CPU).

Exit 0 when every requirement holds, 1 when one fails, 2 when a load run could not be measured. Usage:

    .venv/bin/python bench/bench_load.py [--uploads 10] [--max-runs 2] [--job-quota 2] [--model-units 2]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from finetune.rehearsal.load import LoadOptions, LoadResult, load_settings, run_load  # noqa: E402
from finetune.rehearsal.progress import Progress  # noqa: E402
from pipeline_core.admission import run_slots  # noqa: E402

MODEL_UNITS_PER_RUN = 1  # cdk.json's provisionedThroughput.modelUnits


@dataclass(frozen=True)
class Measurement:
    """The figures of one load run against its limits, and the single run it is compared with."""

    uploads: int
    terminal: int
    promoted: int
    max_running: int
    peak_jobs: int
    peak_serving: int
    left: int
    makespan_s: float
    single_s: float
    upload_span_s: float
    run_limit: int
    job_limit: int
    serving_limit: int

    @property
    def concurrency(self) -> int:
        return run_slots(self.run_limit, self.job_limit, self.serving_limit, MODEL_UNITS_PER_RUN)

    @property
    def ideal_s(self) -> float:
        return self.uploads / self.concurrency * self.single_s

    @property
    def ratio(self) -> float:
        return self.makespan_s / self.ideal_s if self.ideal_s > 0 else float("inf")

    def requirements(self) -> list[tuple[str, bool, str]]:
        """(requirement, met, what was measured), in the order printed."""
        slots, jobs, units = self.concurrency, self.job_limit, self.serving_limit
        return [
            ("every upload reaches a terminal state", self.terminal == self.uploads,
             f"{self.terminal} of {self.uploads}"),
            ("executions at once <= run slots", self.max_running <= slots, f"{self.max_running} <= {slots}"),
            ("jobs at once <= job quota", self.peak_jobs <= jobs, f"{self.peak_jobs} <= {jobs}"),
            ("throughputs at once <= model-unit quota", self.peak_serving * MODEL_UNITS_PER_RUN <= units,
             f"{self.peak_serving} <= {units}"),
            ("throughputs left at the end = 0", self.left == 0, str(self.left)),
        ]  # fmt: skip

    @property
    def passed(self) -> bool:
        return all(met for _, met, _ in self.requirements())


class BenchError(RuntimeError):
    """A load run could not be measured."""


def measurement(
    load: LoadResult, single: LoadResult, run_limit: int, job_limit: int, serving_limit: int
) -> Measurement:
    return Measurement(
        uploads=load.uploads,
        terminal=load.terminal,
        promoted=load.outcomes.get("SUCCEEDED", 0),
        max_running=load.max_running,
        peak_jobs=load.peak_jobs,
        peak_serving=load.peak_serving,
        left=load.throughputs_left + load.deployments_left,
        makespan_s=load.makespan_s,
        single_s=single.makespan_s,
        upload_span_s=load.upload_span_s,
        run_limit=run_limit,
        job_limit=job_limit,
        serving_limit=serving_limit,
    )


def measure(
    uploads: int, run_limit: int, job_limit: int, serving_limit: int, *, timeout_seconds: float = 1800.0,
    verbose: bool = False,
) -> Measurement:  # fmt: skip
    """One upload, then ``uploads`` at once, each in a fresh local cloud of the same synthesized app."""
    from finetune.rehearsal.runner import synthesize

    progress = Progress(sys.stderr if verbose else io.StringIO())
    app = synthesize(load_settings(run_limit, job_limit, serving_limit))
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        for count in (1, uploads):
            options = LoadOptions(
                uploads=count,
                job_quota=job_limit,
                model_unit_quota=serving_limit,
                timeout_seconds=timeout_seconds,
                output_dir=Path(tmp) / str(count),
                quiet=not verbose,
            )
            results.append(run_load(options, app=app, progress=progress))
    single, load = results
    if single.terminal != 1 or single.makespan_s <= 0:
        raise BenchError(f"the single run did not end within {timeout_seconds:g} s: {single.statuses}")
    return measurement(load, single, run_limit, job_limit, serving_limit)


def summary_line(m: Measurement) -> str:
    """The one line the README quotes."""
    return (
        f"{m.terminal} of {m.uploads} uploads terminal ({m.promoted} promoted); at most {m.max_running} executions, "
        f"{m.peak_jobs} jobs and {m.peak_serving} throughputs at once (limits {m.concurrency}, {m.job_limit}, "
        f"{m.serving_limit}); {m.left} throughputs left; makespan {m.makespan_s:.1f} s vs ideal {m.ideal_s:.1f} s "
        f"({m.uploads} / {m.concurrency} x {m.single_s:.1f} s): ratio {m.ratio:.2f}"
    )


def render(m: Measurement) -> str:
    lines = ["| requirement | measured | verdict |", "|---|---|---|"]
    for name, met, measured in m.requirements():
        lines.append(f"| {name} | {measured} | {'PASS' if met else 'FAIL'} |")
    lines.append(f"| makespan / ideal (reported) | {m.ratio:.2f} | - |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--uploads", type=int, default=10, help="datasets uploaded at once (%(default)s)")
    parser.add_argument("--max-runs", type=int, default=2, help="admission.maxConcurrentRuns (%(default)s)")
    parser.add_argument(
        "--job-quota", type=int, default=2, help="the stand-in's job quota and maxConcurrentJobs (%(default)s)"
    )
    parser.add_argument(
        "--model-units", type=int, default=2, help="the stand-in's model-unit quota and maxModelUnits (%(default)s)"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up on a load run after N s")
    parser.add_argument("--verbose", action="store_true", help="print each run's start and end")
    args = parser.parse_args(argv)
    if min(args.uploads, args.max_runs, args.job_quota, args.model_units) < 1:
        parser.error("--uploads, --max-runs, --job-quota and --model-units must be at least 1")
    try:
        m = measure(args.uploads, args.max_runs, args.job_quota, args.model_units, timeout_seconds=args.timeout,
                    verbose=args.verbose)  # fmt: skip
    except BenchError as error:
        print(f"bench_load: {error}", file=sys.stderr)
        return 2
    print(summary_line(m))
    print()
    print(render(m))
    print()
    print(f"- uploads took {m.upload_span_s:.1f} s; one run alone took {m.single_s:.1f} s (measured first)")
    print(
        "- concurrency = run slots = min(maxConcurrentRuns, maxConcurrentJobs, maxModelUnits / units) = "
        f"{m.concurrency}"
    )
    return 0 if m.passed else 1


if __name__ == "__main__":
    sys.exit(main())
