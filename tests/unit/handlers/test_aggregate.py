"""The aggregate handler end to end on moto S3: synthetic batch files in, verdict and three SSE-KMS reports out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from handler_fixtures import ARTIFACTS, load_handler, run_spec

from pipeline_core import contracts
from pipeline_core.evaluation import EvaluationFailed
from pipeline_core.report import SIMULATED_NOTICE

aggregate: ModuleType = load_handler("aggregate")

PT_ARN = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefghijkl"
JOB_ARN = "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/x/abc"
CUSTOM_MODEL_ARN = "arn:aws:bedrock:us-west-2:123456789012:custom-model/x/abc"
BASE = "anthropic.claude-3-haiku-20240307-v1:0"
REFERENCE = "amazon.nova-micro-v1:0"
EXAMPLES = 40
BATCH = 10


def record(i: int, model: str, role: str, correct: bool, error: str | None = None) -> dict[str, Any]:
    reference = f"the answer is {i}"
    if error:
        nothing = dict.fromkeys(("prediction", "latency_ms", "input_tokens", "output_tokens"))
        return {"id": str(i), "model": model, "role": role, "references": [reference], "error": error, **nothing}
    return {
        "id": str(i),
        "model": model,
        "role": role,
        "prediction": reference if correct else "no idea",
        "references": [reference],
        "latency_ms": 200.0 + i,
        "input_tokens": 100,
        "output_tokens": 10,
        "error": None,
    }


def write_results(
    s3: Any,
    run: dict[str, Any],
    *,
    candidate_correct: int,
    base_correct: int,
    candidate_failed: int = 0,
    references: tuple[str, ...] = (),
    examples: int = EXAMPLES,
    candidate: str = PT_ARN,
) -> None:
    """Batch files as the evaluate step writes them: example i is right when i < the model's count."""
    for index, start in enumerate(range(1, examples + 1, BATCH)):
        lines = []
        for i in range(start, min(start + BATCH, examples + 1)):
            failed = "ThrottlingException: slow down" if i <= candidate_failed else None
            lines.append(record(i, candidate, "candidate", i <= candidate_correct, failed))
            lines.append(record(i, BASE, "base", i <= base_correct))
            lines += [record(i, ref, "reference", i % 2 == 0) for ref in references]
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        key = f"{run['artifacts_prefix']}{contracts.EVALUATION_RESULTS}batch-{index:05d}.jsonl"
        s3.put_object(Bucket=ARTIFACTS, Key=key, Body=body)


def event(run: dict[str, Any], examples: int = EXAMPLES) -> dict[str, Any]:
    return {
        "run": run,
        "validation": {"dataset_sha256": "ab" * 32, "test_uri": "s3://x/y"},
        "job": {"job_arn": JOB_ARN, "custom_model_arn": CUSTOM_MODEL_ARN, "status": "Completed"},
        "throughput": {"arn": PT_ARN, "name": "demo", "status": "InService"},
        "plan": {"bucket": ARTIFACTS, "key": "plan.json", "batches": -(-examples // BATCH), "examples": examples},
    }


@pytest.fixture
def s3(kms_key: str, buckets: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv(contracts.ENV_SIMULATION, raising=False)
    return boto3.client("s3")


def read(s3: Any, uri: str) -> tuple[str, dict[str, Any]]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    response = s3.get_object(Bucket=bucket, Key=key)
    return response["Body"].read().decode(), response


def test_promote_when_the_candidate_is_better(s3: Any, kms_key: str) -> None:
    run = run_spec()
    write_results(s3, run, candidate_correct=38, base_correct=20)
    output = aggregate.handler(event(run), s3=s3)
    prefix = f"s3://{ARTIFACTS}/{run['artifacts_prefix']}"
    assert output["verdict"] == "promote"
    assert output["reasons"] and all(isinstance(r, str) for r in output["reasons"])
    assert (output["report_uri"], output["report_md_uri"], output["report_html_uri"]) == (
        prefix + contracts.REPORT_JSON,
        prefix + contracts.REPORT_MD,
        prefix + contracts.REPORT_HTML,
    )
    table = output["table_md"].splitlines()
    assert table[0] == "| Metric | Fine-tuned | Base | vs base |"
    assert [row.split(" | ")[0] for row in table[2:]] == ["| token_f1", "| exact_match"]
    assert len(json.dumps(output)) < 4096  # small enough for the state document

    for uri, content_type in (
        (output["report_uri"], "application/json"),
        (output["report_md_uri"], "text/markdown; charset=utf-8"),
        (output["report_html_uri"], "text/html"),
    ):
        _, response = read(s3, uri)
        assert response["ServerSideEncryption"] == "aws:kms"
        assert response["SSEKMSKeyId"] == kms_key
        assert response["ContentType"] == content_type

    text, _ = read(s3, output["report_uri"])
    report = json.loads(text)
    assert report["simulated"] is False
    assert [(m["name"], m["role"]) for m in report["models"]] == [
        ("fine-tuned", "candidate"),
        ("Claude 3 Haiku", "base"),
    ]
    assert report["models"][0]["metrics"]["token_f1"]["mean"] == pytest.approx(95.0)
    assert report["run"]["dataset_sha256"] == "ab" * 32
    assert report["run"]["job_arn"] == JOB_ARN
    assert report["run"]["model_arns"] == {"fine-tuned": PT_ARN, "Claude 3 Haiku": BASE}
    assert report["run"]["settings"]["custom_model_arn"] == CUSTOM_MODEL_ARN
    assert report["gate"]["thresholds"]["max_failed_share"] == 0.02  # from run.evaluation.gate
    html, _ = read(s3, output["report_html_uri"])
    assert "SIMULATED" not in html


def test_reject_with_the_gate_reason_when_the_candidate_is_worse(s3: Any) -> None:
    run = run_spec()
    write_results(s3, run, candidate_correct=15, base_correct=30)
    output = aggregate.handler(event(run), s3=s3)
    assert output["verdict"] == "reject"
    assert any("is below base" in reason and "required improvement" in reason for reason in output["reasons"])
    report = json.loads(read(s3, output["report_uri"])[0])
    assert report["gate"]["verdict"] == "reject"


def test_failed_calls_count_against_the_candidate(s3: Any) -> None:
    run = run_spec()
    write_results(s3, run, candidate_correct=40, base_correct=10, candidate_failed=4)
    output = aggregate.handler(event(run), s3=s3)
    assert output["verdict"] == "reject"
    assert any("candidate failed 10.0% of calls (4 of 40)" in reason for reason in output["reasons"])


def test_simulated_runs_are_labelled_in_every_report(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contracts.ENV_SIMULATION, "1")
    run = run_spec()
    write_results(s3, run, candidate_correct=38, base_correct=20)
    output = aggregate.handler(event(run), s3=s3)
    assert json.loads(read(s3, output["report_uri"])[0])["simulated"] is True
    assert SIMULATED_NOTICE in read(s3, output["report_md_uri"])[0]
    assert "SIMULATED RUN" in read(s3, output["report_html_uri"])[0]


def test_references_and_prices(s3: Any) -> None:
    run = run_spec()
    run["evaluation"] = {**run["evaluation"], "reference_models": [REFERENCE, BASE], "metric": "exact_match"}
    run["pricing"] = {
        "models": {
            BASE: {"input_per_1k": 0.25, "output_per_1k": 1.25},
            PT_ARN: {"input_per_1k": 9, "output_per_1k": 9},
        },
        "source": "https://aws.amazon.com/bedrock/pricing/",
        "date": "2026-11-25",
    }
    write_results(s3, run, candidate_correct=38, base_correct=20, references=(REFERENCE,))
    output = aggregate.handler(event(run), s3=s3)
    assert (
        output["table_md"].splitlines()[0] == f"| Metric | Fine-tuned | Base | {REFERENCE} | vs base | vs {REFERENCE} |"
    )
    assert len(output["table_md"].splitlines()) == 3  # exact_match alone: no secondary metric
    report = json.loads(read(s3, output["report_uri"])[0])
    models = {m["name"]: m for m in report["models"]}
    assert models[REFERENCE]["role"] == "reference"
    # 100 input tokens x 0.25 + 10 output tokens x 1.25 per 1,000 requests.
    assert models["Claude 3 Haiku"]["cost"]["per_1000_requests_usd"] == pytest.approx(37.5)
    assert models[REFERENCE]["cost"] is None
    assert models["fine-tuned"]["cost"] is None  # Provisioned Throughput is billed by the hour, whatever the table says
    assert report["run"]["settings"]["pricing"] == {
        "source": "https://aws.amazon.com/bedrock/pricing/",
        "date": "2026-11-25",
    }


def test_no_result_files_fails(s3: Any) -> None:
    with pytest.raises(EvaluationFailed, match="no evaluation results") as caught:
        aggregate.handler(event(run_spec()), s3=s3)
    assert type(caught.value).__name__ == contracts.ERROR_EVALUATION


def test_fewer_examples_than_planned_fails(s3: Any) -> None:
    run = run_spec()
    write_results(s3, run, candidate_correct=30, base_correct=20, examples=35)
    with pytest.raises(EvaluationFailed, match="results cover 35 of the 40 planned examples"):
        aggregate.handler(event(run, examples=40), s3=s3)


def test_records_of_an_unknown_model_fail(s3: Any) -> None:
    run = run_spec()
    write_results(s3, run, candidate_correct=30, base_correct=20, references=(REFERENCE,))  # not in the run spec
    with pytest.raises(EvaluationFailed, match="is not one this run evaluated"):
        aggregate.handler(event(run), s3=s3)


def test_a_malformed_record_names_its_file(s3: Any) -> None:
    run = run_spec()
    write_results(s3, run, candidate_correct=30, base_correct=20)
    key = f"{run['artifacts_prefix']}{contracts.EVALUATION_RESULTS}batch-00000.jsonl"
    s3.put_object(Bucket=ARTIFACTS, Key=key, Body=json.dumps(record(1, PT_ARN, "candidate", True) | {"references": []}))
    with pytest.raises(EvaluationFailed, match=r"batch-00000\.jsonl: record '1': references"):
        aggregate.handler(event(run), s3=s3)


# ---- How the candidate was served -----------------------------------------------------------------------------
DEPLOYMENT_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdefghijkl"
NOVA_LITE = "amazon.nova-lite-v1:0"
CREATED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_provisioned_throughput_hours_billed_and_their_cost(s3: Any) -> None:
    """Created 61 minutes before the report: 2 hours x 1 model unit x $23.50; the candidate has no token cost."""
    run = run_spec()
    run["pricing"] = {"models": {}, "model_unit_per_hour": 23.5, "source": "my price list", "date": "2026-11-30"}
    write_results(s3, run, candidate_correct=38, base_correct=20)
    state = event(run)
    state["throughput"] |= {"kind": contracts.SERVING_PROVISIONED, "created_at": CREATED.isoformat()}
    output = aggregate.handler(state, s3=s3, now=CREATED + timedelta(minutes=61))
    report = json.loads(read(s3, output["report_uri"])[0])
    serving = report["run"]["serving"]
    assert serving["description"] == "Provisioned Throughput, 1 model unit"
    assert (serving["hours_billed"], serving["throughput_cost_usd"]) == (2, pytest.approx(47.0))
    assert report["models"][0]["cost"] is None
    markdown = read(s3, output["report_md_uri"])[0]
    assert "- The fine-tuned model was served by Provisioned Throughput, 1 model unit." in markdown
    assert "Hours billed by the time of this report: 2" in markdown and "$47.00" in markdown


def test_on_demand_candidate_is_priced_by_the_custom_model_price(s3: Any) -> None:
    """The deployment ARN is the candidate's model id; its token price comes from pricing.custom_models under the
    run's base model. Catches the candidate left unpriced, or priced from the base model's own on-demand price."""
    run = run_spec() | {"base_model_id": f"{NOVA_LITE}:300k", "runtime_model_id": NOVA_LITE}
    run["pricing"] = {
        "models": {NOVA_LITE: {"input_per_1k": 0.25, "output_per_1k": 1.25}},
        "custom_models": {
            "models": {NOVA_LITE: {"input_per_1k": 0.001, "output_per_1k": 0.004}},
            "source": "https://aws.amazon.com/bedrock/pricing/",
            "date": "2026-12-01",
        },
    }
    write_results(s3, run, candidate_correct=38, base_correct=20, candidate=DEPLOYMENT_ARN)
    for i in range(1, EXAMPLES + 1, BATCH):  # the base model's records carry its runtime id
        key = f"{run['artifacts_prefix']}{contracts.EVALUATION_RESULTS}batch-{(i - 1) // BATCH:05d}.jsonl"
        body = s3.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read().decode().replace(BASE, NOVA_LITE)
        s3.put_object(Bucket=ARTIFACTS, Key=key, Body=body.encode())
    state = event(run)
    state["throughput"] = {
        "kind": contracts.SERVING_ON_DEMAND,
        "arn": DEPLOYMENT_ARN,
        "created_at": CREATED.isoformat(),
    }
    output = aggregate.handler(state, s3=s3, now=CREATED + timedelta(hours=5))
    report = json.loads(read(s3, output["report_uri"])[0])
    models = {m["role"]: m for m in report["models"]}
    # 100 input tokens x $0.001 + 10 output tokens x $0.004 per 1,000 tokens, per 1,000 requests.
    assert models["candidate"]["cost"]["per_1000_requests_usd"] == pytest.approx(0.14)
    assert models["base"]["cost"]["per_1000_requests_usd"] == pytest.approx(37.5)
    assert report["run"]["serving"]["description"] == "on-demand custom model deployment"
    assert report["run"]["serving"]["hours_billed"] is None
    assert report["run"]["model_arns"]["fine-tuned"] == DEPLOYMENT_ARN
    assert "costs nothing while idle" in read(s3, output["report_md_uri"])[0]


def test_a_malformed_serving_kind_fails(s3: Any) -> None:
    run = run_spec()
    write_results(s3, run, candidate_correct=38, base_correct=20)
    state = event(run)
    state["throughput"]["kind"] = "serverless"
    with pytest.raises(EvaluationFailed, match="neither of the two serving modes"):
        aggregate.handler(state, s3=s3)
