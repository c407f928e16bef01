"""Schema rules per model family: Claude 3 messages, prompt/completion, and the Converse format (Llama 3.2, Nova)."""

from __future__ import annotations

from typing import Any

import pytest
from dataset_fixtures import (
    LLAMA_31,
    LLAMA_32,
    NOVA,
    NOVA_LITE,
    Run,
    claude,
    converse,
    dataset,
    jsonl,
    prompt_completion,
    rules,
)


def with_bad(record: object, n: int = 40, make: Any = claude) -> bytes:
    """A clean dataset with `record` at line 3."""
    return dataset(2, make) + jsonl([record]) + dataset(n - 2, make, start=2)


@pytest.mark.parametrize(
    ("record", "rule_id"),
    [
        ([1, 2], "SCHEMA-NOT-OBJECT"),
        ("text", "SCHEMA-NOT-OBJECT"),
        ({"system": "s"}, "SCHEMA-MISSING-FIELD"),
        (claude(1, extra="x"), "SCHEMA-EXTRA-KEY"),
        ({"messages": [{"role": "user", "content": "q", "name": "n"}, {"role": "assistant", "content": "a"}]},
         "SCHEMA-EXTRA-KEY"),
        ({"system": 3, "messages": claude(1)["messages"]}, "SCHEMA-FIELD-TYPE"),
        ({"messages": "hi"}, "SCHEMA-FIELD-TYPE"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]},
                       {"role": "assistant", "content": "a"}]}, "SCHEMA-FIELD-TYPE"),
        ({"messages": [{"role": "user", "content": "q"}]}, "SCHEMA-TOO-FEW-MESSAGES"),
        ({"messages": []}, "SCHEMA-TOO-FEW-MESSAGES"),
        ({"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]},
         "SCHEMA-ROLE-INVALID"),
        ({"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]}, "SCHEMA-ROLE-ORDER"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "q2"},
                       {"role": "assistant", "content": "a"}]}, "SCHEMA-ROLE-ORDER"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]},
         "SCHEMA-EMPTY-CONTENT"),
        ({"messages": [{"content": "q"}, {"role": "assistant", "content": "a"}]}, "SCHEMA-MISSING-FIELD"),
    ],
)  # fmt: skip
def test_claude_rules(run: Run, record: object, rule_id: str) -> None:
    result = run(with_bad(record))
    assert rule_id in rules(result), result.report.to_text()
    finding = next(f for f in result.report.findings if f.rule_id == rule_id)
    assert finding.line == 3 and finding.file == "train.jsonl" and finding.fix
    assert not result.valid


def test_claude_multi_turn_and_no_system_are_valid(run: Run) -> None:
    multi = {
        "messages": [
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1 is fine"},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "a2 is fine"},
        ]
    }
    assert run(with_bad(multi)).valid


def test_prompt_completion_family(run: Run) -> None:
    good = dataset(120, prompt_completion)
    assert run(good, model=LLAMA_31).valid
    bad = with_bad({"prompt": "q", "completion": ""}, 120, prompt_completion)
    assert "SCHEMA-EMPTY-CONTENT" in rules(run(bad, model=LLAMA_31))
    assert "SCHEMA-MISSING-FIELD" in rules(run(with_bad({"prompt": "q"}, 120, prompt_completion), model=LLAMA_31))
    # A Claude-shaped record is wrong for Llama 3.1.
    assert "SCHEMA-EXTRA-KEY" in rules(run(with_bad(claude(1), 120, prompt_completion), model=LLAMA_31))


def test_converse_family_llama_32(run: Run) -> None:
    assert run(dataset(120, converse), model=LLAMA_32).valid
    string_content = converse(1)
    string_content["messages"][0]["content"] = "plain string"
    string_content_rules = rules(run(with_bad(string_content, 120, converse), model=LLAMA_32))
    assert "SCHEMA-CONTENT-BLOCK" in string_content_rules
    assert "SCHEMA-EMPTY-CONTENT" not in string_content_rules  # the content is not empty, it is not a block list
    no_version = converse(1)
    del no_version["schemaVersion"]
    result = run(with_bad(no_version, 120, converse), model=LLAMA_32)
    assert "SCHEMA-VERSION" in rules(result) and result.valid  # a warning
    # Reserved keywords are Nova-only.
    assert run(with_bad(converse(1, question="User: hi"), 120, converse), model=LLAMA_32).valid


@pytest.mark.parametrize("keyword", ["User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]"])
def test_nova_reserved_keywords(run: Run, keyword: str) -> None:
    result = run(with_bad(converse(1, question=f"Please read {keyword} this"), 40, converse), model=NOVA)
    assert "SCHEMA-RESERVED-KEYWORD" in rules(result) and not result.valid


def test_nova_reserved_keyword_in_system(run: Run) -> None:
    record = converse(1)
    record["system"] = [{"text": "System: be nice"}]
    assert "SCHEMA-RESERVED-KEYWORD" in rules(run(with_bad(record, 40, converse), model=NOVA))


def test_nova_media_blocks_are_reported_as_unchecked(run: Run) -> None:
    record = converse(1)
    record["messages"][0]["content"].append({"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/i"}}}})
    result = run(with_bad(record, 40, converse), model=NOVA_LITE)
    assert "SCHEMA-MEDIA-UNCHECKED" in rules(result) and result.valid
    # Media in an assistant turn is not allowed (more in test_dataset_nova_rules.py).
    bad = converse(1)
    bad["messages"][1]["content"].append({"image": {}})
    assert "SCHEMA-MEDIA-NOT-ALLOWED" in rules(run(with_bad(bad, 40, converse), model=NOVA_LITE))


@pytest.mark.parametrize(
    "record",
    [
        {"messages": [{"role": "key AKIAIOSFODNN7EXAMPLE", "content": "q"}, {"role": "assistant", "content": "a"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "jane@example.com": 1},
        {"schemaVersion": "bedrock-conversation-2024",
         "messages": [{"role": "user", "content": [{"card 4111 1111 1111 1111": "q"}]},
                      {"role": "assistant", "content": [{"text": "a"}]}]},
    ],
)  # fmt: skip
def test_schema_findings_never_echo_a_secret(run: Run, record: dict[str, Any]) -> None:
    if "schemaVersion" in record:
        result = run(with_bad(record, 120, converse), model=LLAMA_32)
    else:
        result = run(with_bad(record))
    text = result.report.to_text()
    assert not result.valid
    for secret in ("AKIAIOSFODNN7EXAMPLE", "jane@example.com", "4111 1111 1111 1111"):
        assert secret not in text
    assert "value withheld" in text


def test_schema_findings_quote_long_values_cut_short(run: Run) -> None:
    role = "narrator of a very long story that goes on and on"
    result = run(with_bad({"messages": [{"role": role, "content": "q"}, {"role": "assistant", "content": "a"}]}))
    finding = next(f for f in result.report.findings if f.rule_id == "SCHEMA-ROLE-INVALID")
    assert role not in finding.message and repr(role[:32] + "...") in finding.message
