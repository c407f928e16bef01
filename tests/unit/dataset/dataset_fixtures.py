"""Helpers for the dataset validator tests: small in-memory datasets built per test (nothing read from disk)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pipeline_core.dataset import DatasetFile, SplitConfig, ValidationResult, validate

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
LLAMA_31 = "meta.llama3-1-8b-instruct-v1:0:128k"
LLAMA_32 = "meta.llama3-2-1b-instruct-v1:0:128k"
NOVA = "amazon.nova-micro-v1:0:128k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"


def claude(i: int, question: str | None = None, answer: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "system": "You answer questions about arithmetic.",
        "messages": [
            {"role": "user", "content": question or f"What is {i} plus {i}?"},
            {"role": "assistant", "content": answer or f"{i} plus {i} is {2 * i}."},
        ],
        **extra,
    }


def converse(i: int, question: str | None = None, answer: str | None = None) -> dict[str, Any]:
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You answer questions about arithmetic."}],
        "messages": [
            {"role": "user", "content": [{"text": question or f"What is {i} plus {i}?"}]},
            {"role": "assistant", "content": [{"text": answer or f"{i} plus {i} is {2 * i}."}]},
        ],
    }


def prompt_completion(i: int) -> dict[str, Any]:
    return {"prompt": f"What is {i} plus {i}?", "completion": f"{i} plus {i} is {2 * i}."}


def jsonl(records: Sequence[object]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def dataset(n: int = 40, make: Callable[[int], object] = claude, start: int = 0) -> bytes:
    return jsonl([make(i) for i in range(start, start + n)])


def source(split: str, name: str, data: bytes, chunk: int = 0) -> DatasetFile:
    """A re-openable in-memory file; `chunk` > 0 cuts it into chunks of that size (lines span chunks)."""

    def open_() -> list[bytes]:
        if chunk <= 0:
            return [data]
        return [data[i : i + chunk] for i in range(0, len(data), chunk)]

    return DatasetFile(split, name, open_)


Run = Callable[..., ValidationResult]


@pytest.fixture
def run() -> Run:
    """run(train_bytes, validation=None, test=None, model=HAIKU, split=None, **kwargs) -> ValidationResult."""

    def _run(
        train: bytes,
        validation: bytes | None = None,
        test: bytes | None = None,
        *,
        model: str = HAIKU,
        split: SplitConfig | None = None,
        chunk: int = 0,
        **kwargs: Any,
    ) -> ValidationResult:
        files = [source("pool" if split else "train", "train.jsonl", train, chunk)]
        if validation is not None:
            files.append(source("validation", "validation.jsonl", validation, chunk))
        if test is not None:
            files.append(source("test", "test.jsonl", test, chunk))
        return validate(files, base_model_id=model, split=split, **kwargs)

    return _run


def rules(result: ValidationResult) -> set[str]:
    return set(result.report.per_rule)


def lines_of(result: ValidationResult, rule_id: str) -> list[int | None]:
    return [f.line for f in result.report.findings if f.rule_id == rule_id]
