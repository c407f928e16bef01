"""Records of every dataset format become one evaluation example: a Converse-shaped prompt, the last answer."""

from __future__ import annotations

import json

import pytest

from pipeline_core.evaluation import (
    ExampleError,
    ModelCall,
    converse_request,
    detect_format,
    models_to_call,
    parse_example,
    to_example,
)
from pipeline_core.models import DataFormat
from pipeline_core.report import Role


def user(text: str) -> dict[str, object]:
    return {"role": "user", "content": [{"text": text}]}


def assistant(text: str) -> dict[str, object]:
    return {"role": "assistant", "content": [{"text": text}]}


CLAUDE = {
    "system": "Answer briefly.",
    "messages": [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris"}],
}
PROMPT_COMPLETION = {"prompt": "Capital of France?", "completion": "Paris"}
CONVERSE = {
    "schemaVersion": "bedrock-conversation-2024",
    "system": [{"text": "Answer briefly."}],
    "messages": [user("Capital of France?"), assistant("Paris")],
}


@pytest.mark.parametrize(
    ("record", "data_format", "system"),
    [
        (CLAUDE, DataFormat.CLAUDE_MESSAGES, "Answer briefly."),
        (PROMPT_COMPLETION, DataFormat.PROMPT_COMPLETION, None),
        (CONVERSE, DataFormat.CONVERSE, "Answer briefly."),
    ],
)
def test_each_format_gives_prompt_and_reference(
    record: dict[str, object], data_format: DataFormat, system: str | None
) -> None:
    for given in (data_format, None):  # explicit format, and detected from the record
        example = to_example(record, "7", given)
        assert example.id == "7"
        assert example.system == system
        assert example.messages == (user("Capital of France?"),)
        assert example.references == ("Paris",)
    assert detect_format(record) is data_format


def test_multi_turn_keeps_every_turn_before_the_final_answer() -> None:
    record = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
        ]
    }
    example = to_example(record, "1", DataFormat.CLAUDE_MESSAGES)
    assert example.messages == (user("Hi"), assistant("Hello!"), user("2+2?"))
    assert example.references == ("4",)


def test_converse_blocks_are_joined_and_missing_system_is_none() -> None:
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [{"role": "user", "content": [{"text": "a"}, {"text": "b"}]}, assistant("c")],
    }
    example = to_example(record, "1")
    assert example.system is None
    assert example.messages == (user("a\nb"),)
    assert "system" not in example.converse_arguments()


def test_empty_system_is_not_sent() -> None:
    example = to_example({**CLAUDE, "system": ""}, "1")
    assert example.system is None


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ([1, 2], "JSON object"),
        ({"messages": [{"role": "user", "content": "only a question"}]}, "user turn followed"),
        ({"messages": [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]}, "user turn"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "role"),
        ({"prompt": "p"}, "'completion'"),
        (
            {"schemaVersion": "x", "messages": [{"role": "user", "content": [{"image": {}}]}, assistant("a")]},
            "text block",
        ),
        ({"messages": "nope"}, "non-empty list"),
    ],
)
def test_records_that_cannot_be_evaluated_are_refused(record: object, message: str) -> None:
    with pytest.raises(ExampleError, match=message):
        to_example(record, "1")


def test_parse_example_names_the_line_and_accepts_a_byte_order_mark() -> None:
    line = "\ufeff".encode() + json.dumps(PROMPT_COMPLETION).encode()
    assert parse_example(line, 1).references == ("Paris",)
    with pytest.raises(ExampleError, match="line 12: not a JSON record"):
        parse_example(b"{oops", 12)
    with pytest.raises(ExampleError, match="line 3: "):
        parse_example(b'{"prompt": "p"}', 3)


def test_converse_request_is_deterministic_and_carries_the_prompt() -> None:
    example = to_example(CLAUDE, "1")
    request = converse_request(example, "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc", 256)
    assert request == {
        "modelId": "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc",
        "system": [{"text": "Answer briefly."}],
        "messages": [user("Capital of France?")],
        "inferenceConfig": {"maxTokens": 256, "temperature": 0},
    }
    request["messages"][0]["content"].append({"text": "mutated"})
    assert example.messages == (user("Capital of France?"),)  # the request is a copy


def test_models_to_call_orders_roles_and_skips_duplicates() -> None:
    calls = models_to_call("pt-arn", "base-id", ["ref-a", "base-id", "ref-a", "ref-b"])
    assert calls == (
        ModelCall("pt-arn", Role.CANDIDATE),
        ModelCall("base-id", Role.BASE),
        ModelCall("ref-a", Role.REFERENCE),
        ModelCall("ref-b", Role.REFERENCE),
    )
