"""Smoke test of bench/bench_evaluation.py at a tiny size: one real rehearsal, the table, a positive ratio."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_evaluation.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_evaluation", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_bench_runs_at_a_tiny_size_and_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench()
    code = bench.main(["--examples", "40", "--latency-ms", "5", "--concurrency", "2"])
    out = capsys.readouterr().out
    assert code in (0, 1)  # 0 when the ratio meets the target; a tiny run is dominated by fixed costs
    header = "| run | examples | models | latency (ms) | concurrency | ideal s | measured s | ratio | verdict |"
    assert header in out
    row = next(line for line in out.splitlines() if line.startswith("| 1 | 40 | 2 | 5 | 4 (2 x 2) |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    ideal, measured, ratio = (float(cells[i]) for i in (5, 6, 7))
    assert ideal == pytest.approx(40 * 2 * 0.005 / 4, abs=0.005)
    assert measured > 0 and ratio > 0
    assert cells[8].startswith(("PASS", "FAIL"))
    assert "concurrency = Converse calls allowed in flight at once" in out
    assert "throttled calls: 0" in out
