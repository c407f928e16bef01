"""bench/bench_load.py: one real load run at a tiny size, and the verdict and exit code at each requirement."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.load_script import load_script, record_results

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_load.py"


def _bench() -> ModuleType:
    return load_script("bench_load", BENCH)


def test_bench_runs_three_uploads_through_one_slot_and_prints_its_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three uploads, one run slot (job quota 1): the queue holds two while the first runs, and all three end."""
    bench = _bench()
    measured = record_results(monkeypatch, bench, "measure")
    code = bench.main(["--uploads", "3", "--max-runs", "2", "--job-quota", "1", "--model-units", "2"])
    out = capsys.readouterr().out
    (m,) = measured
    # Durations vary with the machine, so only what follows from the limits is asserted, and that the line, the
    # table and the exit code agree with the one measurement taken.
    assert (m.uploads, m.terminal, m.concurrency, m.left) == (3, 3, 1, 0)
    assert m.max_running == 1 and m.peak_jobs == 1 and m.peak_serving == 1
    assert code == 0 and m.passed
    assert out.splitlines()[0] == bench.summary_line(m)
    assert out.splitlines()[0].startswith("3 of 3 uploads terminal")
    assert f"ratio {m.ratio:.2f}" in out and m.ideal_s == pytest.approx(3 / 1 * m.single_s)
    assert "| throughputs left at the end = 0 | 0 | PASS |" in out


def _passing(bench: ModuleType) -> Any:
    return bench.Measurement(
        uploads=10,
        terminal=10,
        promoted=10,
        max_running=2,
        peak_jobs=2,
        peak_serving=2,
        left=0,
        makespan_s=30.0,
        single_s=5.0,
        upload_span_s=1.0,
        run_limit=2,
        job_limit=2,
        serving_limit=2,
    )


@pytest.mark.parametrize(
    ("change", "code", "failing"),
    [
        ({}, 0, None),  # every figure at its limit
        ({"terminal": 9}, 1, "every upload reaches a terminal state"),
        ({"max_running": 3}, 1, "executions at once <= run slots"),
        ({"max_running": 1}, 0, None),
        ({"peak_jobs": 3}, 1, "jobs at once <= job quota"),
        ({"peak_jobs": 1}, 0, None),
        ({"peak_serving": 3}, 1, "throughputs at once <= model-unit quota"),
        ({"peak_serving": 1}, 0, None),
        ({"left": 1}, 1, "throughputs left at the end = 0"),
        ({"job_limit": 1, "peak_jobs": 1}, 1, "executions at once <= run slots"),  # slots = min(runs, jobs)
        ({"makespan_s": 1000.0}, 0, None),  # the makespan ratio is reported, not required
    ],
)
def test_exit_code_and_verdicts_at_each_requirement(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, Any],
    code: int,
    failing: str | None,
) -> None:
    """Catches a `<=` turned into `<` (at the limit must pass), a requirement dropped, or the table and the exit
    code disagreeing."""
    bench = _bench()
    fixed = dataclasses.replace(_passing(bench), **change)
    monkeypatch.setattr(bench, "measure", lambda *args, **kwargs: fixed)
    assert bench.main([]) == code
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "|---" not in line]
    failed = [row.split("|")[1].strip() for row in rows if row.rstrip().endswith("| FAIL |")]
    assert failed == ([failing] if failing else [])


def test_ideal_and_ratio_follow_uploads_slots_and_one_run() -> None:
    bench = _bench()
    m = _passing(bench)
    assert m.concurrency == 2 and m.ideal_s == 25.0 and m.ratio == 1.2
    assert "makespan 30.0 s vs ideal 25.0 s (10 / 2 x 5.0 s): ratio 1.20" in bench.summary_line(m)


def test_a_single_run_that_does_not_end_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = _bench()

    def measure(*args: Any, **kwargs: Any) -> Any:
        raise bench.BenchError("the single run did not end within 5 s: {}")

    monkeypatch.setattr(bench, "measure", measure)
    assert bench.main(["--uploads", "2"]) == 2
    err = capsys.readouterr().err
    assert err == "bench_load: the single run did not end within 5 s: {}\n"


@pytest.mark.parametrize("flag", ["--uploads", "--max-runs", "--job-quota", "--model-units"])
def test_limits_below_one_are_usage_errors(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _bench().main([flag, "0"])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
