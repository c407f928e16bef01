"""bench/bench_score.py: its SQuAD v1.1 baseline computes what SQuAD does, on the data finetune score reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pipeline_core.metrics import normalize_answer, token_f1
from tests.load_script import load_script

BENCH = Path(__file__).resolve().parents[3] / "bench" / "bench_score.py"


def _bench() -> ModuleType:
    return load_script("bench_score", BENCH)


def test_the_baseline_scores_the_worked_example_as_squad_does() -> None:
    bench = _bench()
    prediction, reference = "The cat sits on the mat in the sun", "The cat sits on the soft mat under the warm sun"
    assert bench.squad_f1_score(prediction, reference) == pytest.approx(5 / 7)
    assert bench.squad_exact_match_score("The Cat!", "cat") is True
    assert bench.squad_metric_max_over_ground_truths(bench.squad_f1_score, "cat", ["dog", "cat"]) == 1.0
    assert bench.squad_f1_score("a", "the") == 0.0  # SQuAD: no common token, even when both normalise to nothing


def test_both_sides_read_the_same_examples_and_agree(tmp_path: Path) -> None:
    bench = _bench()
    jsonl, dataset_file, prediction_file = bench.generate(tmp_path, 300)
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    dataset = json.loads(dataset_file.read_text())["data"]
    predictions = json.loads(prediction_file.read_text())
    qas = dataset[0]["paragraphs"][0]["qas"]
    assert len(lines) == len(qas) == len(predictions) == 300
    for line, qa in zip(lines, qas, strict=True):
        assert predictions[qa["id"]] == line["prediction"]
        assert [a["text"] for a in qa["answers"]] == line["references"]
    # Per example, token_f1 is SQuAD's F1 x 100, except that an answer and a reference that both normalise to
    # nothing score 100 where SQuAD gives 0 (docs/metrics.md).
    differ = 0
    for line in lines:
        squad = 100.0 * bench.squad_metric_max_over_ground_truths(
            bench.squad_f1_score, line["prediction"], line["references"]
        )
        both_empty = not normalize_answer(line["prediction"]) and any(
            not normalize_answer(r) for r in line["references"]
        )
        assert token_f1(line["prediction"], line["references"]) == pytest.approx(100.0 if both_empty else squad)
        differ += both_empty
    ours = sum(token_f1(line["prediction"], line["references"]) for line in lines) / 300
    assert bench.squad_evaluate(dataset, predictions)["f1"] == pytest.approx(ours - 100.0 * differ / 300)


def test_runs_alternate_and_the_ratio_is_of_medians(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _bench()
    calls: list[str] = []
    seconds = {"baseline": iter([4.0, 2.0, 3.0]), "score": iter([1.0, 9.0, 1.5])}

    def timed(command: list[str]) -> tuple[float, str]:
        side = "baseline" if "--squad-baseline" in command else "score"
        calls.append(side)
        output = {"exact_match": 1.0, "f1": 2.0} if side == "baseline" else {"token_f1": {"mean": 2.0}}
        return next(seconds[side]), json.dumps(output)

    monkeypatch.setattr(bench, "_timed", timed)
    assert bench.main(["--lines", "5", "--repeat", "3", "--metric", "tatqa_f1"]) == 0
    assert calls == ["baseline", "score", "score", "baseline", "baseline", "score"]
    out = capsys.readouterr().out
    assert "ratio finetune score / baseline: 0.50" in out  # median 1.5 / median 3.0
    assert "metrics=tatqa_f1" in out


def test_the_baseline_runs_as_its_own_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench()
    _, dataset_file, prediction_file = bench.generate(tmp_path, 20)
    seconds, output = bench._timed(
        [sys.executable, str(BENCH), "--squad-baseline", str(dataset_file), str(prediction_file)]
    )
    assert seconds > 0
    assert set(json.loads(output)) == {"exact_match", "f1"}
