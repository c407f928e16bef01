"""The stand-in's runtime through real boto3 clients: Converse, InvokeModel, accuracy, latency and throttling."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from standin_fixtures import (
    BASE_RUNTIME_MODEL,
    client,
    converse_text,
    error_of,
    in_service_pt,
    qa_records,
)

from finetune.rehearsal.bedrock_standin import BedrockStandIn

REFERENCE_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def _answers(runtime: Any, model: str, records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(reference, answer) for every record, asked concurrently."""

    def ask(record: dict[str, Any]) -> tuple[str, str]:
        question, reference = record["messages"][0]["content"], record["messages"][1]["content"]
        return reference, converse_text(runtime, model, question)

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(ask, records))


def test_converse_answers_in_the_converse_shape(standin: BedrockStandIn, bedrock: Any, runtime: Any) -> None:
    standin.learn(qa_records(5))
    pt = in_service_pt(bedrock)
    response = runtime.converse(
        modelId=pt,
        system=[{"text": "Answer briefly."}],
        messages=[{"role": "user", "content": [{"text": "What is item number 1?"}]}],
        inferenceConfig={"maxTokens": 200, "temperature": 0},
    )
    text = response["output"]["message"]["content"][0]["text"]
    assert response["output"]["message"]["role"] == "assistant"
    assert text in ("Item 1 is the answer 7.", "simulated wrong answer")
    assert response["stopReason"] == "end_turn"
    usage = response["usage"]
    assert usage["inputTokens"] == -(-len("Answer briefly.What is item number 1?") // 4)
    assert usage["outputTokens"] == -(-len(text) // 4)
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["metrics"]["latencyMs"] >= 0
    assert standin.call_count("Converse", pt) == 1  # the URL-encoded ARN arrives decoded


def test_invoke_model_answers_in_the_anthropic_messages_shape(
    standin: BedrockStandIn, bedrock: Any, runtime: Any
) -> None:
    standin.learn(qa_records(3))
    pt = in_service_pt(bedrock)
    for model in (pt, BASE_RUNTIME_MODEL, f"arn:aws:bedrock:us-west-2::foundation-model/{BASE_RUNTIME_MODEL}"):
        body = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "system": "Answer briefly.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "What is item number 2?"}]}],
        }
        response = runtime.invoke_model(modelId=model, body=json.dumps(body), contentType="application/json")
        document = json.loads(response["body"].read())
        assert response["contentType"] == "application/json"
        assert document["type"] == "message" and document["role"] == "assistant"
        assert document["content"][0]["type"] == "text"
        assert document["content"][0]["text"] in ("Item 2 is the answer 14.", "simulated wrong answer")
        assert document["stop_reason"] == "end_turn"
        assert document["usage"]["output_tokens"] == -(-len(document["content"][0]["text"]) // 4)
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-amzn-bedrock-output-token-count"] == str(document["usage"]["output_tokens"])


def test_accuracy_matches_the_configuration_and_is_deterministic(make_standin: Any) -> None:
    standin = make_standin(
        seed=11,
        accuracy={"candidate": 0.9, "base": 0.7, REFERENCE_MODEL: 0.8},
        rps_per_model_unit=None,
        on_demand_rps=None,
    )
    bedrock, runtime = client(standin, "bedrock"), client(standin, "bedrock-runtime")
    records = qa_records(250)
    assert standin.learn(records) == 250
    pt = in_service_pt(bedrock)
    for model, expected in ((pt, 0.9), (BASE_RUNTIME_MODEL, 0.7), (REFERENCE_MODEL, 0.8)):
        pairs = _answers(runtime, model, records)
        correct = [answer == reference for reference, answer in pairs]
        assert abs(sum(correct) / len(correct) - expected) < 0.08, model  # fixed seed: not flaky
        wrong = [answer for reference, answer in pairs if answer != reference]
        assert all(
            not set(answer.lower().split()) & set(ref.lower().split()) for ref, answer in pairs if answer in wrong
        )
        again = _answers(runtime, model, records[:50])
        assert again == pairs[:50]  # same (seed, model, prompt) -> same answer


def test_learn_accepts_converse_and_prompt_completion_records(standin: BedrockStandIn, runtime: Any) -> None:
    converse_record = {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"text": "Capital of France?"}]},
            {"role": "assistant", "content": [{"text": "Paris"}]},
        ],
    }
    prompt_completion = json.dumps({"prompt": "Two plus two?", "completion": "four"})
    assert standin.learn([converse_record, prompt_completion, {"unrelated": True}]) == 2
    for question, reference in (("Capital of France?", "Paris"), ("Two plus two?", "four")):
        assert converse_text(runtime, BASE_RUNTIME_MODEL, question) in (reference, "simulated wrong answer")


def test_unknown_prompts_and_the_lazy_answer_key(make_standin: Any) -> None:
    standin = make_standin(accuracy={"base": 1.0}, answer_key=lambda prompt: "lazy" if prompt == "ask lazily" else None)
    runtime = client(standin, "bedrock-runtime")
    assert converse_text(runtime, BASE_RUNTIME_MODEL, "never seen") == "I don't know."
    assert converse_text(runtime, BASE_RUNTIME_MODEL, "ask lazily") == "lazy"


def test_max_tokens_truncates_the_answer(make_standin: Any) -> None:
    standin = make_standin(accuracy={"base": 1.0})
    standin.learn([{"prompt": "long", "completion": "word " * 50}])
    runtime = client(standin, "bedrock-runtime")
    response = runtime.converse(
        modelId=BASE_RUNTIME_MODEL,
        messages=[{"role": "user", "content": [{"text": "long"}]}],
        inferenceConfig={"maxTokens": 3},
    )
    assert response["stopReason"] == "max_tokens"
    assert response["usage"]["outputTokens"] == 3


def test_runtime_errors_carry_aws_codes(standin: BedrockStandIn, bedrock: Any, runtime: Any) -> None:
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    assert error_of(lambda: runtime.converse(modelId="vendor.no-such-model-v9", messages=messages))[:2] == (
        "ValidationException",
        400,
    )
    pt = in_service_pt(bedrock)
    custom = bedrock.get_provisioned_model_throughput(provisionedModelId=pt)["modelArn"]
    assert error_of(lambda: runtime.converse(modelId=custom, messages=messages))[0] == "ValidationException"
    bad_body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "messages": [{"role": "user", "content": "x"}]})
    code, _, message = error_of(lambda: runtime.invoke_model(modelId=pt, body=bad_body))
    assert code == "ValidationException" and "max_tokens" in message
    bedrock.delete_provisioned_model_throughput(provisionedModelId=pt)
    assert error_of(lambda: runtime.converse(modelId=pt, messages=messages))[:2] == ("ResourceNotFoundException", 404)


def test_a_creating_throughput_cannot_be_invoked(make_standin: Any) -> None:
    standin = make_standin(pt_seconds=5)
    bedrock, runtime = client(standin, "bedrock"), client(standin, "bedrock-runtime")
    from standin_fixtures import trained_model

    model = trained_model(bedrock)
    pt = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="slow", modelId=model)
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    code = error_of(lambda: runtime.converse(modelId=pt["provisionedModelArn"], messages=messages))[0]
    assert code == "ValidationException"


def test_latency_is_slept_and_reported(make_standin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The configured latency is slept (recorded, not timed: no wall-clock assertion) and reported."""
    from finetune.rehearsal.standin import runtime as runtime_module

    slept: list[float] = []
    real_sleep = runtime_module.time.sleep
    monkeypatch.setattr(runtime_module.time, "sleep", lambda seconds: (slept.append(seconds), real_sleep(seconds)))
    standin = make_standin(latency_ms={"base": 120})
    runtime = client(standin, "bedrock-runtime")
    response = runtime.converse(modelId=BASE_RUNTIME_MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])
    assert 0.12 in slept
    assert response["metrics"]["latencyMs"] >= 120


def test_throughput_limit_throttles_with_429(make_standin: Any) -> None:
    standin = make_standin(on_demand_rps=2)
    runtime = client(standin, "bedrock-runtime")
    converse_text(runtime, BASE_RUNTIME_MODEL, "warm up")  # opens a connection; uses one of the 2 tokens

    def call(index: int) -> str:
        try:
            converse_text(runtime, BASE_RUNTIME_MODEL, f"question {index}")
        except runtime.exceptions.ThrottlingException as error:
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            return "throttled"
        return "ok"

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(call, range(24)))
    elapsed = time.monotonic() - started
    assert outcomes.count("ok") <= 2 + 2 * elapsed + 1  # bucket of 2, refilled at 2 per second
    assert "throttled" in outcomes
    time.sleep(0.6)  # enough for one token
    assert call(99) == "ok"


@pytest.mark.parametrize("calls", [48])
def test_concurrent_calls_are_counted_exactly(make_standin: Any, calls: int) -> None:
    standin = make_standin(on_demand_rps=None, latency_ms={"base": 5})
    standin.learn(qa_records(calls))
    runtime = client(standin, "bedrock-runtime")
    _answers(runtime, BASE_RUNTIME_MODEL, qa_records(calls))
    assert standin.calls[("Converse", BASE_RUNTIME_MODEL)] == calls
