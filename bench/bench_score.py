"""Benchmark `finetune score` against the SQuAD v1.1 evaluation algorithm on the same generated answers.

Both sides run as whole processes (interpreter start, reading, scoring, printing), alternating, and the median of
`--repeat` runs each is compared: ratio = finetune score / baseline (target <= 1.0 at 100,000 lines).

The baseline is a reimplementation of the official SQuAD v1.1 script's algorithm (evaluate-v1.1.py, which is not
on this machine): its normalize_answer, f1_score and exact_match_score, the maximum over ground truths, and the
mean of each over all questions, reading its dataset and prediction JSON files. It is not the official file.
Usage:

    .venv/bin/python bench/bench_score.py [--lines 100000] [--repeat 5] [--metric token_f1 ...]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_VOCABULARY = (
    "revenue net income operating cost fiscal year increase decrease total assets liabilities equity cash flow "
    "the a an of in for from to by with company segment share dividend tax expense interest margin growth"
)
WORDS = _VOCABULARY.split()


# ---- the baseline: SQuAD v1.1's evaluation algorithm, reimplemented -------------------------------------------
def squad_normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace (SQuAD v1.1's order)."""

    def remove_articles(text: str) -> str:
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text: str) -> str:
        return " ".join(text.split())

    def remove_punc(text: str) -> str:
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def squad_f1_score(prediction: str, ground_truth: str) -> float:
    prediction_tokens = squad_normalize_answer(prediction).split()
    ground_truth_tokens = squad_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def squad_exact_match_score(prediction: str, ground_truth: str) -> bool:
    return squad_normalize_answer(prediction) == squad_normalize_answer(ground_truth)


def squad_metric_max_over_ground_truths(
    metric_fn: Callable[[str, str], float], prediction: str, ground_truths: Sequence[str]
) -> float:
    return max(metric_fn(prediction, ground_truth) for ground_truth in ground_truths)


def squad_evaluate(dataset: list[dict[str, Any]], predictions: dict[str, str]) -> dict[str, float]:
    f1 = exact_match = total = 0.0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    continue
                ground_truths = [answer["text"] for answer in qa["answers"]]
                prediction = predictions[qa["id"]]
                exact_match += squad_metric_max_over_ground_truths(squad_exact_match_score, prediction, ground_truths)
                f1 += squad_metric_max_over_ground_truths(squad_f1_score, prediction, ground_truths)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def squad_main(dataset_file: Path, prediction_file: Path) -> None:
    with dataset_file.open(encoding="utf-8") as handle:
        dataset = json.load(handle)["data"]
    with prediction_file.open(encoding="utf-8") as handle:
        predictions = json.load(handle)
    print(json.dumps(squad_evaluate(dataset, predictions)))


# ---- the data -------------------------------------------------------------------------------------------------
def _answer(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 6))]
    if rng.random() < 0.4:
        words.insert(rng.randrange(len(words) + 1), f"${rng.randint(1, 99_999):,}")
    return " ".join(words).capitalize() + ("." if rng.random() < 0.3 else "")


def _prediction(rng: random.Random, reference: str) -> str:
    roll = rng.random()
    if roll < 0.4:
        return reference  # right
    words = reference.split()
    if roll < 0.8:  # partly right: drop, add or change a word
        words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS))
        if len(words) > 2:
            words.pop(rng.randrange(len(words)))
        return " ".join(words)
    return _answer(rng)  # wrong


def generate(directory: Path, lines: int, seed: int = 11) -> tuple[Path, Path, Path]:
    """The same examples three ways: finetune score's JSON Lines, and SQuAD's dataset and prediction files."""
    rng = random.Random(seed)
    jsonl, dataset_file, prediction_file = directory / "score.jsonl", directory / "dev.json", directory / "pred.json"
    qas: list[dict[str, Any]] = []
    predictions: dict[str, str] = {}
    with jsonl.open("w", encoding="utf-8") as out:
        for i in range(lines):
            references = [_answer(rng) for _ in range(rng.choice((1, 1, 2, 3)))]
            prediction = _prediction(rng, references[0])
            out.write(json.dumps({"prediction": prediction, "references": references}) + "\n")
            qas.append(
                {"id": f"q{i}", "question": "?", "answers": [{"text": r, "answer_start": 0} for r in references]}
            )
            predictions[f"q{i}"] = prediction
    dataset = {"version": "1.1", "data": [{"title": "bench", "paragraphs": [{"context": "", "qas": qas}]}]}
    dataset_file.write_text(json.dumps(dataset), encoding="utf-8")
    prediction_file.write_text(json.dumps(predictions), encoding="utf-8")
    return jsonl, dataset_file, prediction_file


# ---- the measurement ------------------------------------------------------------------------------------------
def _timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each side; the median counts")
    parser.add_argument("--metric", action="append", default=[], help="passed to finetune score (repeatable)")
    parser.add_argument(
        "--squad-baseline", nargs=2, type=Path, metavar=("DATASET", "PREDICTIONS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.squad_baseline:
        squad_main(*args.squad_baseline)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        jsonl, dataset_file, prediction_file = generate(Path(tmp), args.lines)
        baseline = [sys.executable, str(Path(__file__).resolve()), "--squad-baseline", str(dataset_file),
                    str(prediction_file)]  # fmt: skip
        score = [sys.executable, "-m", "finetune.cli", "score", str(jsonl), "--json"]
        for name in args.metric:
            score += ["--metric", name]
        times: dict[str, list[float]] = {"baseline": [], "score": []}
        outputs: dict[str, str] = {}
        for run in range(args.repeat):
            # Alternate which side goes first, so neither always runs on a warmer page cache or a cooler CPU.
            order = [("baseline", baseline), ("score", score)]
            for name, command in order if run % 2 == 0 else order[::-1]:
                seconds, outputs[name] = _timed(command)
                times[name].append(seconds)
    squad, ours = json.loads(outputs["baseline"]), json.loads(outputs["score"])
    base_s, score_s = statistics.median(times["baseline"]), statistics.median(times["score"])
    metrics = ", ".join(args.metric) or "default"
    print(f"lines={args.lines:,} repeat={args.repeat} metrics={metrics}")
    print(f"SQuAD v1.1 algorithm (reimplementation): {base_s:.2f} s (median; runs {_runs(times['baseline'])})  {squad}")
    print(f"finetune score: {score_s:.2f} s (median; runs {_runs(times['score'])})  {ours}")
    print(f"ratio finetune score / baseline: {score_s / base_s:.2f}")
    return 0


def _runs(seconds: list[float]) -> str:
    return " ".join(f"{s:.2f}" for s in seconds)


if __name__ == "__main__":
    sys.exit(main())
