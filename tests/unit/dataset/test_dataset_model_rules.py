"""Rules a base model's prompt format adds: reserved keywords (Claude 3, Nova), Nova media, Nova 2 Lite reasoning
content and tool use, and Nova 2 Lite's record quota. Each limit is tested at, below and above its value."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from dataset_fixtures import (
    HAIKU,
    LLAMA_32,
    NOVA,
    NOVA_2_LITE,
    NOVA_LITE,
    Run,
    claude,
    converse,
    dataset,
    jsonl,
    lines_of,
    rules,
)

from finetune.cli import main
from pipeline_core.dataset.formats import (
    MAX_IMAGES_PER_MESSAGE,
    MAX_VIDEOS_PER_RECORD,
    Dialect,
    check_claude,
    check_record,
    dialect,
)
from pipeline_core.models import DataFormat, get_base_model

IMAGE = {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://bucket/image.png"}}}}
VIDEO = {"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://bucket/video.mp4"}}}}


def with_record_at(line: int, record: dict[str, Any], n: int = 40, make: Any = claude) -> bytes:
    """`n` clean records with `record` in place of the one on `line` (1-based)."""
    records: list[object] = [make(i) for i in range(n)]
    records[line - 1] = record
    return jsonl(records)


def findings(result: Any, rule_id: str) -> list[Any]:
    return [f for f in result.report.findings if f.rule_id == rule_id]


# --- Claude 3: "\nHuman:" and "\nAssistant:" -------------------------------------------------------------------
@pytest.mark.parametrize("keyword", ["\nHuman:", "\nAssistant:"])
@pytest.mark.parametrize("where", ["system", "user", "assistant"])
def test_claude_reserved_keywords_anywhere_are_errors_with_their_line(run: Run, keyword: str, where: str) -> None:
    record = claude(7)
    text = f"Read this{keyword} and go on"
    if where == "system":
        record["system"] = text
    else:
        record["messages"][0 if where == "user" else 1]["content"] = text
    result = run(with_record_at(5, record))
    assert not result.valid
    assert lines_of(result, "SCHEMA-RESERVED-KEYWORD") == [5]
    assert repr(keyword) in findings(result, "SCHEMA-RESERVED-KEYWORD")[0].message


@pytest.mark.parametrize(
    "text",
    [
        "Human: at the start of the text, with no newline",
        "a line\n Human: indented by a space",
        "a line\nhuman: in lower case",
        "a line\nHuman without the colon",
        "a line\nHumans: plural",
    ],
)
def test_near_misses_of_the_claude_keywords_pass(run: Run, text: str) -> None:
    record = claude(7, question=text)
    result = run(with_record_at(5, record))
    assert "SCHEMA-RESERVED-KEYWORD" not in rules(result) and result.valid


def test_the_fast_path_and_the_full_check_agree_on_reserved_keywords() -> None:
    # check_record answers clean records from a fast path; a reserved keyword must send the record to the full check.
    for record in (claude(1, question="x\nHuman: y"), claude(1, answer="x\nAssistant: y")):
        issues, conversation = check_record(record, DataFormat.CLAUDE_MESSAGES)
        assert conversation is None and issues == check_claude(record)[0]
        assert [rule_id for rule_id, _ in issues] == ["SCHEMA-RESERVED-KEYWORD"]


def test_claude_keywords_do_not_apply_to_other_formats(run: Run) -> None:
    record = converse(3, question="a line\nHuman: hello")
    assert run(with_record_at(2, record, 120, converse), model=LLAMA_32).valid


def test_finetune_validate_exits_1_naming_the_rule_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.jsonl").write_bytes(with_record_at(3, claude(9, question="Summarise:\nHuman: hi")))
    assert main(["validate", "train.jsonl", "--base-model", HAIKU]) == 1
    out = capsys.readouterr().out
    assert "SCHEMA-RESERVED-KEYWORD" in out and "train.jsonl:3" in out
    assert main(["validate", "train.jsonl", "--base-model", HAIKU, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    found = [f for f in report["findings"] if f["rule"] == "SCHEMA-RESERVED-KEYWORD"]
    assert [(f["file"], f["line"], f["severity"]) for f in found] == [("train.jsonl", 3, "error")]


# --- Nova reserved keywords, in any letter case ------------------------------------------------------------------
@pytest.mark.parametrize("written", ["User:", "user:", "USER:", "bOt:", "assistant:", "SYSTEM:", "<IMAGE>", "[eos]"])
def test_nova_reserved_keywords_match_in_any_case(run: Run, written: str) -> None:
    result = run(with_record_at(4, converse(4, question=f"Please read {written} this"), make=converse), model=NOVA)
    assert lines_of(result, "SCHEMA-RESERVED-KEYWORD") == [4] and not result.valid


def test_nova_reserved_keywords_in_the_answer_pass(run: Run) -> None:
    # AWS's Nova page reserves them in user and system prompts.
    result = run(with_record_at(4, converse(4, answer="User: is a word here"), make=converse), model=NOVA)
    assert "SCHEMA-RESERVED-KEYWORD" not in rules(result)


# --- Nova media ----------------------------------------------------------------------------------------------------
def media_record(i: int, user_blocks: list[dict[str, Any]], *, turns: int = 1) -> dict[str, Any]:
    record = converse(i)
    user = record["messages"][0]
    user["content"] = [*user["content"], *copy.deepcopy(user_blocks)]
    record["messages"] = []
    for t in range(turns):
        record["messages"] += [
            copy.deepcopy(user),
            {"role": "assistant", "content": [{"text": f"Answer {i}.{t}"}]},
        ]
    return record


@pytest.mark.parametrize(
    ("images", "valid"),
    [(MAX_IMAGES_PER_MESSAGE - 1, True), (MAX_IMAGES_PER_MESSAGE, True), (MAX_IMAGES_PER_MESSAGE + 1, False)],
)
def test_at_most_10_images_per_message(run: Run, images: int, valid: bool) -> None:
    assert MAX_IMAGES_PER_MESSAGE == 10
    result = run(with_record_at(2, media_record(2, [IMAGE] * images), make=converse), model=NOVA_LITE)
    assert result.valid is valid
    assert lines_of(result, "SCHEMA-MEDIA-TOO-MANY") == ([] if valid else [2])


def test_the_image_limit_is_per_message(run: Run) -> None:
    # AWS's Nova validator counts the images of each message's content: two turns of 10 each pass.
    record = media_record(2, [IMAGE] * MAX_IMAGES_PER_MESSAGE, turns=2)
    assert run(with_record_at(2, record, make=converse), model=NOVA_LITE).valid


@pytest.mark.parametrize(("videos", "valid"), [(0, True), (1, True), (2, False)])
def test_at_most_1_video_per_record(run: Run, videos: int, valid: bool) -> None:
    assert MAX_VIDEOS_PER_RECORD == 1
    result = run(with_record_at(2, media_record(2, [VIDEO] * videos), make=converse), model=NOVA_LITE)
    assert result.valid is valid
    assert lines_of(result, "SCHEMA-MEDIA-TOO-MANY") == ([] if valid else [2])


def test_two_videos_in_two_turns_of_one_record_are_too_many(run: Run) -> None:
    result = run(with_record_at(2, media_record(2, [VIDEO], turns=2), make=converse), model=NOVA_LITE)
    assert lines_of(result, "SCHEMA-MEDIA-TOO-MANY") == [2]


def test_images_and_video_in_one_record_are_mixed(run: Run) -> None:
    result = run(with_record_at(6, media_record(6, [IMAGE, VIDEO]), make=converse), model=NOVA_LITE)
    assert lines_of(result, "SCHEMA-MEDIA-MIXED") == [6] and not result.valid


def test_images_and_video_in_different_records_are_mixed(run: Run) -> None:
    records: list[object] = [converse(i) for i in range(40)]
    records[2] = media_record(2, [IMAGE])
    records[5] = media_record(5, [IMAGE, IMAGE])
    records[9] = media_record(9, [VIDEO])
    result = run(jsonl(records), model=NOVA_LITE)
    assert lines_of(result, "SCHEMA-MEDIA-MIXED") == [10]
    assert "train.jsonl line 3 has images" in findings(result, "SCHEMA-MEDIA-MIXED")[0].message
    # One kind throughout is fine, and so is text alongside it.
    records[9] = media_record(9, [IMAGE])
    assert run(jsonl(records), model=NOVA_LITE).valid


def test_media_kinds_are_compared_across_files(run: Run) -> None:
    train = with_record_at(1, media_record(1, [VIDEO]), make=converse)
    validation = jsonl([media_record(100, [IMAGE])])
    result = run(train, validation, model=NOVA_LITE)
    assert [(f.file, f.line) for f in findings(result, "SCHEMA-MEDIA-MIXED")] == [("validation.jsonl", 1)]


@pytest.mark.parametrize("block", [IMAGE, VIDEO])
def test_nova_micro_takes_no_media(run: Run, block: dict[str, Any]) -> None:
    result = run(with_record_at(3, media_record(3, [block]), make=converse), model=NOVA)
    assert lines_of(result, "SCHEMA-MEDIA-NOT-ALLOWED") == [3]
    assert "text-only" in findings(result, "SCHEMA-MEDIA-NOT-ALLOWED")[0].message


@pytest.mark.parametrize("model", [NOVA_LITE, NOVA_2_LITE])
def test_media_only_in_user_turns(run: Run, model: str) -> None:
    in_answer = converse(3)
    in_answer["messages"][1]["content"].append(copy.deepcopy(IMAGE))
    in_system = converse(4)
    in_system["system"].append(copy.deepcopy(VIDEO))
    records: list[object] = [converse(i) for i in range(300)]
    records[2], records[3] = in_answer, in_system
    result = run(jsonl(records), model=model)
    assert lines_of(result, "SCHEMA-MEDIA-NOT-ALLOWED") == [3, 4]
    messages = [f.message for f in findings(result, "SCHEMA-MEDIA-NOT-ALLOWED")]
    assert "not assistant turns" in messages[0] and "system prompt is text only" in messages[1]


def test_media_blocks_are_not_nova_for_llama(run: Run) -> None:
    result = run(with_record_at(3, media_record(3, [IMAGE]), 120, converse), model=LLAMA_32)
    assert lines_of(result, "SCHEMA-CONTENT-BLOCK") == [3]


# --- Nova 2 Lite: reasoning content, tool use, quotas --------------------------------------------------------------
def reasoning_record(i: int, reasoning: object, role: int = 1) -> dict[str, Any]:
    record = converse(i)
    record["messages"][role]["content"].insert(0, {"reasoningContent": reasoning})
    return record


THOUGHT = {"reasoningText": {"text": "Add the two numbers."}}


def test_reasoning_content_in_an_assistant_turn_is_accepted_and_counted(run: Run) -> None:
    records: list[object] = [reasoning_record(i, THOUGHT) for i in range(200)]
    result = run(jsonl(records), model=NOVA_2_LITE)
    assert result.valid, result.report.to_text()
    plain = run(dataset(200, converse), model=NOVA_2_LITE)
    extra = len("Add the two numbers.") * 200
    # Reasoning tokens are trained on: the estimate counts them (ceil of characters / 3 per record).
    assert result.report.stats["train"]["total_tokens"] > plain.report.stats["train"]["total_tokens"]
    assert result.report.stats["train"]["total_tokens"] <= plain.report.stats["train"]["total_tokens"] + extra


def test_a_signature_beside_the_reasoning_text_is_accepted(run: Run) -> None:
    signed = {"reasoningText": {"text": "Add the two numbers.", "signature": "abc"}}
    assert run(jsonl([reasoning_record(i, signed) for i in range(200)]), model=NOVA_2_LITE).valid


@pytest.mark.parametrize(
    ("model", "reasoning", "role", "says"),
    [
        (NOVA_2_LITE, THOUGHT, 0, "assistant turns only"),
        (NOVA_LITE, THOUGHT, 1, "only Nova 2 Lite"),
        (NOVA_2_LITE, {"reasoningText": {"text": "  "}}, 1, "non-empty text"),
        (NOVA_2_LITE, {"reasoningText": "flat string"}, 1, "non-empty text"),
        (NOVA_2_LITE, {"text": "no reasoningText"}, 1, "non-empty text"),
    ],
)
def test_reasoning_content_rules(run: Run, model: str, reasoning: object, role: int, says: str) -> None:
    records: list[object] = [converse(i) for i in range(300)]
    records[4] = reasoning_record(4, reasoning, role)
    result = run(jsonl(records), model=model)
    assert lines_of(result, "SCHEMA-REASONING-CONTENT") == [5]
    assert says in findings(result, "SCHEMA-REASONING-CONTENT")[0].message


def test_reasoning_blocks_are_unknown_blocks_outside_nova(run: Run) -> None:
    result = run(with_record_at(2, reasoning_record(2, THOUGHT), 120, converse), model=LLAMA_32)
    assert lines_of(result, "SCHEMA-CONTENT-BLOCK") == [2]


@pytest.mark.parametrize("model", [NOVA_2_LITE, NOVA_LITE, LLAMA_32])
def test_tool_use_is_refused(run: Run, model: str) -> None:
    with_config = converse(1)
    with_config["toolConfig"] = {"tools": []}
    with_call = converse(2)
    with_call["messages"][1]["content"].append({"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}})
    with_result = converse(3)
    with_result["messages"][0]["content"].append({"toolResult": {"toolUseId": "t1", "content": [{"text": "4"}]}})
    records: list[object] = [converse(i) for i in range(300)]
    records[0], records[1], records[2] = with_config, with_call, with_result
    result = run(jsonl(records), model=model)
    assert lines_of(result, "SCHEMA-TOOL-USE") == [1, 2, 3]
    assert "SCHEMA-EXTRA-KEY" not in rules(result)


def test_nova_2_lite_needs_200_training_records(run: Run) -> None:
    quotas = get_base_model(NOVA_2_LITE).quotas
    assert (quotas.min_records, quotas.max_train_records) == (200, 20_000)
    assert "QUOTA-MIN-RECORDS" in rules(run(dataset(199, converse), model=NOVA_2_LITE))
    assert run(dataset(200, converse), model=NOVA_2_LITE).valid
    assert run(dataset(201, converse), model=NOVA_2_LITE).valid
    # Nova 1 keeps its minimum of 8.
    assert get_base_model(NOVA_LITE).quotas.min_records == 8


def test_a_keyword_written_with_json_escapes_is_still_found(run: Run) -> None:
    # "\u000a" is a newline and "\u0048" an H once the JSON is read: the rule applies to the text, not the bytes.
    line = (
        b'{"messages": [{"role": "user", "content": "Read this\\u000a\\u0048uman: and go on"},'
        b' {"role": "assistant", "content": "Done."}]}'
    )
    lines = with_record_at(5, claude(5)).splitlines()
    lines[4] = line
    result = run(b"\n".join(lines) + b"\n")
    assert lines_of(result, "SCHEMA-RESERVED-KEYWORD") == [5]


@pytest.mark.parametrize(
    ("model_id", "nova", "media", "reasoning"),
    [
        ("amazon.nova-micro-v1:0:128k", True, False, False),
        ("amazon.nova-lite-v1:0:300k", True, True, False),
        ("amazon.nova-pro-v1:0:300k", True, True, False),
        ("amazon.nova-2-lite-v1:0:256k", True, True, True),
        ("meta.llama3-2-1b-instruct-v1:0:128k", False, False, False),
        (HAIKU, False, False, False),
    ],
)
def test_each_catalogued_model_gets_its_dialect(model_id: str, nova: bool, media: bool, reasoning: bool) -> None:
    get_base_model(model_id)  # catalogued
    assert dialect(model_id) == Dialect(nova=nova, media=media, reasoning=reasoning)
