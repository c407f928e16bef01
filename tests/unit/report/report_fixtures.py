"""A small evaluation built through the aggregator, with means chosen to give round table figures.

A uniquely named module rather than conftest.py, so `import` cannot pick up another folder's conftest.
"""

from __future__ import annotations

import random
from typing import Any

from pipeline_core.metrics import GateThresholds, TokenPrice, get_metric
from pipeline_core.report import Aggregator, EvaluationReport, ModelRoles, RunInfo

CANDIDATE, BASE, REFERENCE = "ft-haiku", "claude-3-haiku", "claude-3-sonnet"
# exact_match on 1000 scored examples: 912, 732 and 830 correct answers give means 91.2, 73.2 and 83.0.
CORRECT = {CANDIDATE: 912, BASE: 732, REFERENCE: 830}
SCRIPT = "<script>alert('x')</script>"


def make_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for model, correct in CORRECT.items():
        for i in range(1000):
            prediction = "yes" if i < correct else "no"
            if model == BASE and i == 733:
                prediction = SCRIPT  # model output is untrusted: the HTML report must escape it
            records.append(
                {
                    "id": f"ex-{i:04d}",
                    "model": model,
                    "prediction": prediction,
                    "references": ["yes"],
                    "latency_ms": 100 + i % 100,
                    "input_tokens": 1000,
                    "output_tokens": 200,
                    "error": None,
                }
            )
        # One example every model failed on: counted as a failed call, never scored.
        records.append(
            {
                "id": "ex-1000",
                "model": model,
                "prediction": None,
                "references": ["yes"],
                "latency_ms": None,
                "input_tokens": None,
                "output_tokens": None,
                "error": "ThrottlingException",
            }
        )
    return records


def build_report(*, simulated: bool, thresholds: GateThresholds | None = None) -> EvaluationReport:
    records = make_records()
    random.Random(0).shuffle(records)  # batches arrive in any order
    aggregator = Aggregator(
        roles=ModelRoles(CANDIDATE, BASE, (REFERENCE,)),
        metrics=[get_metric("token_f1"), get_metric("exact_match")],
        thresholds=thresholds or GateThresholds(metric="exact_match"),
        prices={CANDIDATE: TokenPrice(0.25, 1.25), BASE: TokenPrice(0.25, 1.25)},
        resamples=200,
        seed=3,
    )
    for start in range(0, len(records), 137):
        aggregator.add_batch(records[start : start + 137])
    aggregator.add_batch(records[:137])  # a retried batch must not count twice
    run = RunInfo(
        run_name="support-bot & co",
        dataset_sha256="ab" * 32,
        simulated=simulated,
        job_arn="arn:aws:bedrock:us-west-2:111122223333:model-customization-job/abc",
        model_arns={CANDIDATE: "arn:aws:bedrock:us-west-2:111122223333:provisioned-model/xyz"},
        settings={"epochCount": 2, "learningRateMultiplier": 1.0},
    )
    return aggregator.finish(run)
