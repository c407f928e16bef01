"""Evaluate asks the champion (the model in production) as a third model when it is served and compared; Aggregate
puts it in the tables and the gate requires the candidate to beat it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from handler_fixtures import ARTIFACTS
from test_aggregate import BASE, BATCH, EXAMPLES, PT_ARN, event, read, record
from test_evaluate import FakeRuntime, run_batches, s3, spec

from pipeline_core import contracts
from pipeline_core.evaluation import ModelCall, models_to_call
from pipeline_core.report import Role

CHAMPION = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/champion0001"
SERVED = {"model_id": CHAMPION, "kind": "provisionedThroughput", "run_name": "first", "served": True, "note": "served"}
GONE = {**SERVED, "served": False, "note": "the champion (run first) is no longer served"}
OFF = {"enabled": False, "min_improvement_points": 0.0, "max_p_value": 0.05}


def with_champion(run: dict[str, Any], champion: dict[str, Any] | None, gate: dict[str, Any] | None = None) -> None:
    run["evaluation"]["champion"] = champion
    if gate is not None:
        run["evaluation"]["gate"] = {**run["evaluation"]["gate"], "champion": gate}


# ---- Evaluate ------------------------------------------------------------------------------------------------------
def test_a_served_champion_is_asked_every_example_as_the_third_model(s3: Any, policy: Any) -> None:
    run = spec()
    with_champion(run, SERVED)
    fake = FakeRuntime()
    outputs = list(run_batches(s3, run, fake, policy))
    assert [o["calls"] for o in outputs] == [6, 6, 3]  # 5 examples x 3 models
    assert sorted({model for model, _ in fake.attempts}) == sorted({PT_ARN, CHAMPION, BASE})
    body = s3.get_object(
        Bucket=ARTIFACTS, Key=f"{run['artifacts_prefix']}{contracts.EVALUATION_RESULTS}batch-00000.jsonl"
    )
    roles = [json.loads(line)["role"] for line in body["Body"].read().decode().splitlines()]
    assert roles[:3] == ["candidate", "champion", "base"]


@pytest.mark.parametrize(("champion", "gate"), [(None, None), (GONE, None), (SERVED, OFF)])
def test_no_champion_is_asked_when_none_is_served_or_the_comparison_is_off(
    s3: Any, policy: Any, champion: dict[str, Any] | None, gate: dict[str, Any] | None
) -> None:
    run = spec()
    with_champion(run, champion, gate)
    fake = FakeRuntime()
    assert [o["calls"] for o in run_batches(s3, run, fake, policy)] == [4, 4, 2]
    assert CHAMPION not in {model for model, _ in fake.attempts}


def test_a_champion_named_again_as_a_reference_is_asked_once() -> None:
    calls = models_to_call("candidate", "base", ["ref", "champ"], "champ")
    assert calls == (
        ModelCall("candidate", Role.CANDIDATE),
        ModelCall("champ", Role.CHAMPION),
        ModelCall("base", Role.BASE),
        ModelCall("ref", Role.REFERENCE),
    )
    assert models_to_call("candidate", "base", [], "base") == (
        ModelCall("candidate", Role.CANDIDATE),
        ModelCall("base", Role.BASE),
    )


# ---- Aggregate -----------------------------------------------------------------------------------------------------
def write(
    s3: Any, run: dict[str, Any], *, candidate: int, champion: int | None, base: int, champion_failed: int = 0
) -> None:
    """Example i is right when i <= the model's count; the champion fails its first `champion_failed` calls."""
    for index, start in enumerate(range(1, EXAMPLES + 1, BATCH)):
        lines = []
        for i in range(start, min(start + BATCH, EXAMPLES + 1)):
            lines.append(record(i, PT_ARN, "candidate", i <= candidate))
            if champion is not None:
                failed = "ModelErrorException: boom" if i <= champion_failed else None
                lines.append(record(i, CHAMPION, "champion", i <= champion, failed))
            lines.append(record(i, BASE, "base", i <= base))
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        s3.put_object(
            Bucket=ARTIFACTS,
            Key=f"{run['artifacts_prefix']}{contracts.EVALUATION_RESULTS}batch-{index:05d}.jsonl",
            Body=body,
        )


def report_of(s3: Any, output: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(read(s3, output["report_uri"])[0])
    return report


def test_a_candidate_that_beats_base_but_not_the_champion_is_rejected(s3: Any, aggregate: Any) -> None:
    run = spec()
    with_champion(run, SERVED)
    write(s3, run, candidate=30, champion=38, base=10)
    output = aggregate.handler(event(run), s3=s3)
    assert output["verdict"] == "reject"
    assert all("champion" in reason for reason in output["reasons"]), output["reasons"]
    report = report_of(s3, output)
    assert [(m["role"], m["name"]) for m in report["models"]][:3] == [
        ("candidate", "fine-tuned"),
        ("champion", "champion"),
        ("base", report["models"][2]["name"]),
    ]
    assert report["models"][1]["model_arn"] == CHAMPION
    assert {c["other"] for c in report["comparisons"]} >= {"champion", report["models"][2]["name"]}
    assert report["run"]["champion"] == SERVED
    assert output["table_md"].splitlines()[0] == "| Metric | Fine-tuned | Champion | Base | vs champion | vs base |"
    html = read(s3, output["report_html_uri"])[0]
    assert "Champion" in html and "#137333" in html  # the champion's column and its bar in the chart


def test_a_candidate_that_beats_both_is_promoted_with_the_champion_named(s3: Any, aggregate: Any) -> None:
    run = spec()
    with_champion(run, SERVED)
    write(s3, run, candidate=40, champion=20, base=10)
    output = aggregate.handler(event(run), s3=s3)
    assert output["verdict"] == "promote", output["reasons"]
    assert any("improvement over the champion is significant" in r for r in output["reasons"])
    notes = report_of(s3, output)["gate"]["notes"]
    assert notes[0] == (
        "served; the gate compared the candidate with base and with the champion (the model in production)"
    )  # SERVED's note ("served"), then what the gate compared


@pytest.mark.parametrize(
    ("champion", "gate", "note"),
    [
        (None, None, "no model had been promoted when the run started; the gate compared the candidate with base only"),
        (GONE, None, "the champion (run first) is no longer served; the gate compared the candidate with base only"),
        (SERVED, OFF, "(evaluation.champion.enabled = false); the gate compared the candidate with base only"),
    ],
)
def test_without_a_compared_champion_the_report_says_base_only(
    s3: Any, aggregate: Any, champion: dict[str, Any] | None, gate: dict[str, Any] | None, note: str
) -> None:
    run = spec()
    with_champion(run, champion, gate)
    write(s3, run, candidate=38, champion=None, base=10)
    output = aggregate.handler(event(run), s3=s3)
    assert output["verdict"] == "promote", output["reasons"]
    report = report_of(s3, output)
    assert "champion" not in {m["role"] for m in report["models"]}
    assert report["gate"]["notes"][0].endswith(note)
    assert note in read(s3, output["report_md_uri"])[0]


@pytest.mark.parametrize(
    ("champion_failed", "verdict"),
    [
        (EXAMPLES - 10, "promote"),  # 10 paired examples left: exactly the minimum, enough to decide
        (EXAMPLES - 9, "reject"),  # 9: too few
        (EXAMPLES - 11, "promote"),
    ],
)
def test_the_champions_failed_calls_only_leave_examples_unpaired(
    s3: Any, aggregate: Any, champion_failed: int, verdict: str
) -> None:
    """The champion failing calls never counts against the candidate; too few paired examples to decide does."""
    run = spec()
    with_champion(run, SERVED)
    # The candidate answers all 40, the champion only the ones it did not fail (and gets those wrong).
    write(s3, run, candidate=40, champion=0, base=0, champion_failed=champion_failed)
    output = aggregate.handler(event(run), s3=s3)
    assert output["verdict"] == verdict, output["reasons"]
    paired = EXAMPLES - champion_failed
    if verdict == "reject":
        assert output["reasons"] == [
            f"only {paired} examples with answers from both the candidate and the champion; at least 10 are needed "
            "to decide"
        ]
    notes = report_of(s3, output)["gate"]["notes"]
    assert (
        f"comparison with the champion: {paired} of {EXAMPLES} examples paired; left out {champion_failed} that the "
        f"champion failed or did not answer (ModelErrorException \u00d7 {champion_failed})"
    ) in notes


@pytest.fixture
def aggregate() -> Any:
    from test_aggregate import aggregate as module

    return module


@pytest.fixture
def policy() -> Any:
    from pipeline_core.evaluation import RetryPolicy

    return RetryPolicy(max_attempts=2, sleep=lambda seconds: None, random=lambda: 0.5)


__all__ = ["s3"]  # the test set in moto S3 (test_evaluate's fixture)
