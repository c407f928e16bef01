"""Turns one test-set record, in any of the three dataset formats, into a prompt for the Converse API and its answer.

The test set is the validated snapshot (`data/test.jsonl`), so records are already well formed; the checks here
exist to fail with a line number rather than send a malformed request. The final assistant turn is the reference
answer; every turn before it is the prompt, so a multi-turn record is evaluated on its last answer only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_core.models import DataFormat

USER = "user"
ASSISTANT = "assistant"

ConverseMessage = dict[str, Any]  # {"role": "user"|"assistant", "content": [{"text": str}]}


class ExampleError(ValueError):
    """A test-set record cannot be turned into an evaluation example."""


@dataclass(frozen=True)
class EvaluationExample:
    """One example: what every model is asked, and the answer it is scored against."""

    id: str
    system: str | None
    messages: tuple[ConverseMessage, ...]  # Converse API shape, ending with a user turn
    references: tuple[str, ...]

    def converse_arguments(self) -> dict[str, Any]:
        """The `system` and `messages` arguments of bedrock-runtime Converse for this example."""
        arguments: dict[str, Any] = {"messages": [dict(m, content=list(m["content"])) for m in self.messages]}
        if self.system:
            arguments["system"] = [{"text": self.system}]
        return arguments


def detect_format(record: Mapping[str, Any]) -> DataFormat:
    """Which of the three dataset formats a record is written in, from its keys and content types."""
    if "prompt" in record or "completion" in record:
        return DataFormat.PROMPT_COMPLETION
    if "schemaVersion" in record or isinstance(record.get("system"), list):
        return DataFormat.CONVERSE
    messages = record.get("messages")
    if isinstance(messages, list) and any(isinstance(m, dict) and isinstance(m.get("content"), list) for m in messages):
        return DataFormat.CONVERSE
    return DataFormat.CLAUDE_MESSAGES


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ExampleError(f"{where} must be a string")
    return value


def _blocks_text(blocks: object, where: str) -> str:
    """The text of a Converse content list; any non-text block cannot be sent as a text-only prompt."""
    if not isinstance(blocks, list):
        raise ExampleError(f"{where} must be a list of content blocks")
    texts: list[str] = []
    for j, block in enumerate(blocks):
        if not isinstance(block, dict) or set(block) != {"text"}:
            raise ExampleError(f"{where}[{j}] is not a text block; only text can be evaluated")
        texts.append(_text(block["text"], f"{where}[{j}].text"))
    return "\n".join(texts)


def _turns(messages: object, text_of: Any) -> list[tuple[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise ExampleError("'messages' must be a non-empty list")
    turns: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in (USER, ASSISTANT):
            raise ExampleError(f"messages[{i}] must be an object with role 'user' or 'assistant'")
        turns.append((message["role"], text_of(message.get("content"), f"messages[{i}].content")))
    return turns


def _split_turns(record: Mapping[str, Any], data_format: DataFormat) -> tuple[str | None, list[tuple[str, str]]]:
    if data_format is DataFormat.PROMPT_COMPLETION:
        prompt = _text(record.get("prompt"), "'prompt'")
        return None, [(USER, prompt), (ASSISTANT, _text(record.get("completion"), "'completion'"))]
    if data_format is DataFormat.CONVERSE:
        system = _blocks_text(record["system"], "'system'") if "system" in record else None
        return system, _turns(record.get("messages"), _blocks_text)
    system = _text(record["system"], "'system'") if "system" in record else None
    return system, _turns(record.get("messages"), _text)


def to_example(record: object, example_id: str, data_format: DataFormat | None = None) -> EvaluationExample:
    """Split a decoded record into prompt and reference; `data_format` None means detect it from the record."""
    if not isinstance(record, dict):
        raise ExampleError("the record must be a JSON object")
    system, turns = _split_turns(record, data_format or detect_format(record))
    if len(turns) < 2 or turns[-1][0] != ASSISTANT or turns[-2][0] != USER:
        raise ExampleError("the record must end with a user turn followed by the assistant's answer")
    messages = tuple({"role": role, "content": [{"text": text}]} for role, text in turns[:-1])
    return EvaluationExample(example_id, system or None, messages, (turns[-1][1],))


def example_id(line_number: int) -> str:
    """An example's id is its 1-based line number in the test set, so a report row leads back to the record."""
    return str(line_number)


def parse_example(line: bytes, line_number: int, data_format: DataFormat | None = None) -> EvaluationExample:
    """Decode one JSON line of the test set into an example; ExampleError names the line."""
    try:
        # utf-8-sig: a byte order mark may precede the first record.
        record = json.loads(line.decode("utf-8-sig"))
        return to_example(record, example_id(line_number), data_format)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExampleError(f"line {line_number}: not a JSON record ({exc})") from exc
    except ExampleError as exc:
        raise ExampleError(f"line {line_number}: {exc}") from exc
