"""Checks one parsed record against the format of its base model's family and extracts its text as a conversation.

Three families, chosen by `BaseModel.data_format`:
- Claude 3 (`claude-messages`): `{"system"?: str, "messages": [{"role", "content": str}, ...]}`. Rules from the
  Anthropic cookbook for Bedrock fine-tuning (https://platform.claude.com/cookbook/finetuning-finetuning-on-bedrock):
  system optional; at least two messages; first `user`, last `assistant`; roles alternate; no extraneous keys. The
  format itself: https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-prepare.html
- prompt/completion (Titan Text, Cohere, Llama 3.1): `{"prompt": str, "completion": str}` (same PREP page).
- Converse (`bedrock-conversation-2024`; Llama 3.2, Nova): `{"schemaVersion", "system"?: [{"text"}],
  "messages": [{"role", "content": [{"text"}, ...]}]}` (PREP page; Nova rules:
  https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html [NOVA_PREP]; Nova 2
  Lite: https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html [NOVA2_SFT]; both read
  2026-12-01).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pipeline_core.dataset.quality import find_sensitive
from pipeline_core.models import DataFormat

Issue = tuple[str, str]  # (rule id, message)

USER = "user"
ASSISTANT = "assistant"
ROLES = (USER, ASSISTANT)

# Nova: "The terms User:, Bot:, Assistant:, System:, <image>, <video>, and [EOS] are reserved keywords. If a user
# prompt or system prompt starts with any of these keywords, or has these keywords anywhere in their prompts, your
# training job will fail due to data issues." [NOVA_PREP, item 12, read 2026-12-01: the same seven terms]. The page
# writes them in one case; AWS's own validator compares them case-insensitively (validate_invalid_tokens in
# aws-samples/amazon-nova-samples customization/bedrock-finetuning/understanding/dataset_validation/
# nova_ft_dataset_validator.py, read 2026-12-01), so "user:" fails a job too: we match in any letter case.
NOVA_RESERVED_KEYWORDS = ("User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]")
_NOVA_RESERVED_LOWER = tuple(kw.lower() for kw in NOVA_RESERVED_KEYWORDS)
# Claude 3: Anthropic's prompt format marks turns with "\n\nHuman:" and "\n\nAssistant:", and AWS's sample validator
# for Claude 3 Haiku rejects "\nHuman:" and "\nAssistant:" anywhere in the system prompt or a message
# (RESERVED_KEYWORDS in aws-samples/amazon-bedrock-samples custom-models/bedrock-fine-tuning/claude-haiku/
# DataValidation/data_validation.py, read 2026-12-01). Case-sensitive, as there.
CLAUDE_RESERVED_KEYWORDS = ("\nHuman:", "\nAssistant:")
# Nova media [NOVA_PREP item 4, read 2026-12-01]: a dataset is text with images or text with video, never both; a
# record has at most one video. At most 10 images in one message: MAX_NUM_IMAGES, checked per message's content by
# AWS's Nova validator (nova_ft_dataset_validator.py above); the page says only "multiple images". The same validator
# rejects media in assistant turns and any media for Nova Micro, which is a text-only model.
MAX_IMAGES_PER_MESSAGE = 10
MAX_VIDEOS_PER_RECORD = 1

_CLAUDE_KEYS = frozenset({"system", "messages"})
_CLAUDE_MESSAGE_KEYS = frozenset({"role", "content"})
_PROMPT_COMPLETION_KEYS = frozenset({"prompt", "completion"})
_CONVERSE_KEYS = frozenset({"schemaVersion", "system", "messages"})
# Converse content blocks the Nova page documents besides text; other Converse blocks (document...) are
# UNCONFIRMED for fine-tuning and reported as SCHEMA-CONTENT-BLOCK.
_MEDIA_BLOCKS = frozenset({"image", "video"})
# Tool use: Nova 2 Lite SFT does not support it ("Adding tool sections might cause your job to fail", [NOVA2_SFT]),
# and no other Converse model's data-preparation page documents it for fine-tuning.
_TOOL_BLOCKS = frozenset({"toolUse", "toolResult"})
_TOOL_KEYS = frozenset({"toolConfig"})
REASONING_BLOCK = "reasoningContent"


class Dialect(NamedTuple):
    """What a Converse-format model accepts beyond text, and the extra rules it brings (see `dialect`)."""

    nova: bool = False  # Nova rules: reserved keywords, media constraints
    media: bool = False  # image and video blocks in user turns (Nova Lite, Pro, 2 Lite; not Micro)
    reasoning: bool = False  # reasoningContent blocks in assistant turns (Nova 2 Lite)


PLAIN = Dialect()


def dialect(model_id: str) -> Dialect:
    """The Converse dialect of a catalogued model id."""
    if not is_nova(model_id):
        return PLAIN
    # Nova Micro is text-only; Nova 2 Lite adds reasoning content to the Nova format [NOVA2_SFT].
    return Dialect(
        nova=True,
        media=not model_id.startswith("amazon.nova-micro"),
        reasoning=model_id.startswith("amazon.nova-2-lite"),
    )


class Conversation(NamedTuple):
    """The text of a valid record: the system prompt and the turns, the last being the answer.

    A named tuple rather than a frozen dataclass: one is built per record, and a tuple builds in half the time.
    """

    system: str
    turns: tuple[tuple[str, str], ...]  # (role, text)
    images: int = 0
    videos: int = 0
    reasoning_chars: int = 0  # characters of reasoning content (Nova 2 Lite): trained on, so counted as tokens

    @property
    def answer(self) -> str:
        return self.turns[-1][1]

    @property
    def has_media(self) -> bool:
        return bool(self.images or self.videos)

    @property
    def characters(self) -> int:
        return len(self.system) + sum(len(text) for _, text in self.turns) + self.reasoning_chars


# A finding quotes at most this many characters of a value the user wrote where a fixed word belongs (a role, a key).
SHOWN_CHARS = 32
WITHHELD = "(value withheld: it looks like a secret or personal data)"


def shown(value: object) -> str:
    """A user's value for a finding: quoted and cut short, or withheld when it holds a secret or personal data.

    Records that fail the schema never reach the secret/personal-data check, so anything echoed from them is
    checked here: a report must not repeat a secret in full.
    """
    text = value if isinstance(value, str) else repr(value)
    if next(find_sensitive(text), None) is not None:
        return WITHHELD
    cut = text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."
    return repr(cut) if isinstance(value, str) else cut


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )


def _extra_keys(obj: dict[str, Any], allowed: frozenset[str], where: str) -> list[Issue]:
    extra = sorted(k for k in obj if k not in allowed)
    if not extra:
        return []
    keys = ", ".join(map(shown, extra))
    return [("SCHEMA-EXTRA-KEY", f"{where} has unexpected key(s) {keys}; allowed: {sorted(allowed)}")]


def _check_roles(roles: list[str], issues: list[Issue]) -> None:
    """Shared role rules: at least two messages, user first, assistant last, alternating."""
    if len(roles) < 2:
        issues.append(("SCHEMA-TOO-FEW-MESSAGES", f"'messages' has {len(roles)} message(s); at least 2 are required"))
    if not roles or any(r not in ROLES for r in roles):
        return
    if roles[0] != USER:
        issues.append(("SCHEMA-ROLE-ORDER", f"the first message must be 'user', found '{roles[0]}'"))
    if roles[-1] != ASSISTANT:
        issues.append(("SCHEMA-ROLE-ORDER", f"the last message must be 'assistant', found '{roles[-1]}'"))
    for i in range(1, len(roles)):
        if roles[i] == roles[i - 1]:
            issues.append(
                (
                    "SCHEMA-ROLE-ORDER",
                    f"messages[{i - 1}] and messages[{i}] are both '{roles[i]}'; roles must alternate",
                )
            )
            break


def _role(message: dict[str, Any], i: int, issues: list[Issue]) -> str | None:
    if "role" not in message:
        issues.append(("SCHEMA-MISSING-FIELD", f"messages[{i}] has no 'role'"))
        return None
    role = message["role"]
    if role not in ROLES:
        issues.append(("SCHEMA-ROLE-INVALID", f"messages[{i}].role is {shown(role)}; expected 'user' or 'assistant'"))
        return None
    return str(role)


def _message_list(obj: dict[str, Any], issues: list[Issue]) -> list[Any] | None:
    """The record's `messages` array, or None after reporting why it is missing or not an array."""
    messages = obj.get("messages")
    if messages is None:
        issues.append(("SCHEMA-MISSING-FIELD", "the record has no 'messages' list"))
        return None
    if not isinstance(messages, list):
        issues.append(("SCHEMA-FIELD-TYPE", f"'messages' must be an array, found {_type_name(messages)}"))
        return None
    return messages


def _message_head(message: Any, i: int, issues: list[Issue]) -> tuple[str | None, bool] | None:
    """Checks shared by every messages format: an object, no extra keys, a valid role, a content field.

    Returns None when the message is not an object (nothing more can be checked), else (role, has content).
    """
    if not isinstance(message, dict):
        issues.append(("SCHEMA-FIELD-TYPE", f"messages[{i}] must be an object, found {_type_name(message)}"))
        return None
    issues.extend(_extra_keys(message, _CLAUDE_MESSAGE_KEYS, f"messages[{i}]"))
    role = _role(message, i, issues)
    if "content" not in message:
        issues.append(("SCHEMA-MISSING-FIELD", f"messages[{i}] has no 'content'"))
        return role, False
    return role, True


def check_claude(obj: dict[str, Any]) -> tuple[list[Issue], Conversation | None]:
    issues = _extra_keys(obj, _CLAUDE_KEYS, "the record")
    system = obj.get("system", "")
    if not isinstance(system, str):
        issues.append(("SCHEMA-FIELD-TYPE", f"'system' must be a string, found {_type_name(system)}"))
        system = ""
    _claude_reserved(system, "system", issues)
    messages = _message_list(obj, issues)
    if messages is None:
        return issues, None
    turns: list[tuple[str, str]] = []
    roles: list[str] = []
    for i, message in enumerate(messages):
        checked = _message_head(message, i, issues)
        if checked is None:
            continue
        role, has_content = checked
        roles.append(role or "?")
        if not has_content:
            continue
        content = message["content"]
        # The AWS sample validator requires a string; content-block arrays are UNCONFIRMED for Claude 3 Haiku
        # fine-tuning, so we reject them rather than let a multi-hour job fail.
        if not isinstance(content, str):
            issues.append(("SCHEMA-FIELD-TYPE", f"messages[{i}].content must be a string, found {_type_name(content)}"))
            continue
        if not content.strip():
            issues.append(("SCHEMA-EMPTY-CONTENT", f"messages[{i}].content ({role or '?'}) is empty"))
        _claude_reserved(content, f"messages[{i}].content", issues)
        turns.append((role or "?", content))
    _check_roles(roles, issues)
    if issues:
        return issues, None
    return issues, Conversation(system, tuple(turns))


def has_claude_reserved(text: str) -> bool:
    # Both keywords start with a newline: one memchr pass settles the common case of a text without any.
    return "\n" in text and any(kw in text for kw in CLAUDE_RESERVED_KEYWORDS)


def _claude_reserved(text: str, where: str, issues: list[Issue]) -> None:
    if has_claude_reserved(text):
        found = ", ".join(repr(kw) for kw in CLAUDE_RESERVED_KEYWORDS if kw in text)
        issues.append(("SCHEMA-RESERVED-KEYWORD", f"{where} contains {found}, reserved by Anthropic's prompt format"))


def check_prompt_completion(obj: dict[str, Any]) -> tuple[list[Issue], Conversation | None]:
    # Extra keys: the PREP page shows exactly these two keys; whether Bedrock rejects others is UNCONFIRMED.
    issues = _extra_keys(obj, _PROMPT_COMPLETION_KEYS, "the record")
    texts: dict[str, str] = {}
    for key in ("prompt", "completion"):
        if key not in obj:
            issues.append(("SCHEMA-MISSING-FIELD", f"the record has no '{key}'"))
            continue
        value = obj[key]
        if not isinstance(value, str):
            issues.append(("SCHEMA-FIELD-TYPE", f"'{key}' must be a string, found {_type_name(value)}"))
            continue
        if not value.strip():
            issues.append(("SCHEMA-EMPTY-CONTENT", f"'{key}' is empty"))
        texts[key] = value
    if issues:
        return issues, None
    return issues, Conversation("", ((USER, texts["prompt"]), (ASSISTANT, texts["completion"])))


class _Blocks(NamedTuple):
    """What one Converse content (or system) list holds."""

    text: str
    images: int = 0
    videos: int = 0
    reasoning_chars: int = 0


def _media_refused(key: str, where: str, role: str | None, rules: Dialect) -> Issue:
    if not rules.media:
        why = "this Nova model is text-only (Nova Micro takes no images or video)"
    elif role is None:
        why = "the system prompt is text only"
    else:
        why = f"media go in user turns only, not {role or '?'} turns"
    return ("SCHEMA-MEDIA-NOT-ALLOWED", f"{where} has a {key} block: {why}")


def _reasoning_text(value: object, where: str, issues: list[Issue]) -> str | None:
    """The text of a reasoningContent block, {"reasoningText": {"text": "..."}} [NOVA2_SFT], or None if malformed."""
    inner = value.get("reasoningText") if isinstance(value, dict) and len(value) == 1 else None
    text = inner.get("text") if isinstance(inner, dict) else None  # the Converse block may also carry a signature
    if not isinstance(text, str) or not text.strip():
        issues.append(
            ("SCHEMA-REASONING-CONTENT", f'{where} must be {{"reasoningText": {{"text": "..."}}}} with non-empty text')
        )
        return None
    return text


def _blocks_text(blocks: object, where: str, issues: list[Issue], rules: Dialect, role: str | None) -> _Blocks:
    """Join the text of a Converse content/system list (role None for the system list); report malformed blocks."""
    if not isinstance(blocks, list):
        issues.append(("SCHEMA-CONTENT-BLOCK", f"{where} must be an array of blocks, found {_type_name(blocks)}"))
        return _Blocks("")
    texts: list[str] = []
    images = videos = reasoning = 0
    for j, block in enumerate(blocks):
        if not isinstance(block, dict) or len(block) != 1:
            issues.append(
                ("SCHEMA-CONTENT-BLOCK", f"{where}[{j}] must be an object with exactly one key such as 'text'")
            )
            continue
        ((key, value),) = block.items()
        if key == "text":
            if not isinstance(value, str):
                issues.append(("SCHEMA-FIELD-TYPE", f"{where}[{j}].text must be a string, found {_type_name(value)}"))
            else:
                texts.append(value)
        elif rules.nova and key in _MEDIA_BLOCKS:
            if rules.media and role == USER:
                images += key == "image"
                videos += key == "video"
            else:
                issues.append(_media_refused(key, f"{where}[{j}]", role, rules))
        elif key == REASONING_BLOCK and rules.nova:
            # Nova 2 Lite only, and only in assistant turns [NOVA2_SFT]; AWS's Nova validator says the same.
            if not rules.reasoning:
                issues.append(("SCHEMA-REASONING-CONTENT", f"{where}[{j}]: only Nova 2 Lite accepts reasoningContent"))
            elif role != ASSISTANT:
                issues.append(
                    ("SCHEMA-REASONING-CONTENT", f"{where}[{j}]: reasoningContent goes in assistant turns only")
                )
            else:
                thought = _reasoning_text(value, f"{where}[{j}].reasoningContent", issues)
                reasoning += len(thought or "")
        elif key in _TOOL_BLOCKS:
            issues.append(("SCHEMA-TOOL-USE", f"{where}[{j}] is a {key} block; fine-tuning data carries no tool use"))
        else:
            issues.append(("SCHEMA-CONTENT-BLOCK", f"{where}[{j}] has unsupported block type {shown(key)}"))
    return _Blocks("\n".join(texts), images, videos, reasoning)


def check_converse(
    obj: dict[str, Any], *, nova: bool = False, rules: Dialect | None = None
) -> tuple[list[Issue], Conversation | None]:
    """Check a Converse record; `rules` is the model's dialect (`nova=True` alone means Nova Lite's)."""
    if rules is None:
        rules = Dialect(nova=True, media=True) if nova else PLAIN
    tools = sorted(_TOOL_KEYS.intersection(obj))
    issues = _extra_keys({k: v for k, v in obj.items() if k not in _TOOL_KEYS}, _CONVERSE_KEYS, "the record")
    if tools:
        issues.append(("SCHEMA-TOOL-USE", f"the record has {', '.join(map(shown, tools))}; fine-tuning data carries "
                       "no tool use"))  # fmt: skip
    version = obj.get("schemaVersion")
    if not isinstance(version, str):
        # Nova: "schemaVersion can be any string value" [NOVA_PREP]; every AWS example carries it. Whether a record
        # without it fails the job is UNCONFIRMED, hence a warning.
        issues.append(("SCHEMA-VERSION", "'schemaVersion' is missing or not a string"))
    system = ""
    if "system" in obj:
        system = _blocks_text(obj["system"], "system", issues, rules, None).text
    messages = _message_list(obj, issues)
    if messages is None:
        return issues, None
    turns: list[tuple[str, str]] = []
    roles: list[str] = []
    images = videos = reasoning = 0
    for i, message in enumerate(messages):
        checked = _message_head(message, i, issues)
        if checked is None:
            continue
        role, has_content = checked
        roles.append(role or "?")
        if not has_content:
            continue
        where = f"messages[{i}].content"
        blocks = _blocks_text(message["content"], where, issues, rules, role or "")
        if blocks.images > MAX_IMAGES_PER_MESSAGE:
            issues.append(
                (
                    "SCHEMA-MEDIA-TOO-MANY",
                    f"{where} has {blocks.images} images; at most {MAX_IMAGES_PER_MESSAGE} per message",
                )
            )
        images, videos, reasoning = images + blocks.images, videos + blocks.videos, reasoning + blocks.reasoning_chars
        # Content that is not a block list at all was reported as such; "no text" would only repeat it.
        has_other = blocks.images or blocks.videos or blocks.reasoning_chars
        if not blocks.text.strip() and not has_other and isinstance(message["content"], list):
            issues.append(("SCHEMA-EMPTY-CONTENT", f"messages[{i}].content ({role or '?'}) has no text"))
        if rules.nova and role == USER:
            _reserved(blocks.text, f"messages[{i}]", issues)
        turns.append((role or "?", blocks.text))
    if rules.nova:
        _reserved(system, "system", issues)
    if videos > MAX_VIDEOS_PER_RECORD:
        issues.append(("SCHEMA-MEDIA-TOO-MANY", f"the record has {videos} videos; at most {MAX_VIDEOS_PER_RECORD}"))
    if images and videos:
        issues.append(
            ("SCHEMA-MEDIA-MIXED", f"the record has {images} image(s) and {videos} video(s); use one media kind")
        )
    _check_roles(roles, issues)
    if any(rule_id != "SCHEMA-VERSION" for rule_id, _ in issues):
        return issues, None
    return issues, Conversation(system, tuple(turns), images, videos, reasoning)


def _reserved(text: str, where: str, issues: list[Issue]) -> None:
    folded = text.lower()
    found = [kw for kw, low in zip(NOVA_RESERVED_KEYWORDS, _NOVA_RESERVED_LOWER, strict=True) if low in folded]
    if found:
        issues.append(
            (
                "SCHEMA-RESERVED-KEYWORD",
                f"{where} contains reserved keyword(s) {', '.join(found)} (matched in any letter case)",
            )
        )


def is_nova(model_id: str) -> bool:
    """Nova-only rules (reserved keywords, media blocks) apply to the amazon.nova-* family."""
    return model_id.startswith("amazon.nova")


def clean_claude(obj: dict[str, Any]) -> Conversation | None:
    """The conversation of a Claude record that passes every check, or None if `check_claude` must look closer.

    Most records are clean: this answers them with a handful of type and key tests. Anything unusual (None) goes
    through `check_claude`, which owns every message; a record accepted here gets no issue there either.
    """
    if not _CLAUDE_KEYS.issuperset(obj):
        return None
    system = obj.get("system", "")
    messages = obj.get("messages")
    if type(system) is not str or type(messages) is not list or len(messages) < 2:
        return None
    if "\n" in system and has_claude_reserved(system):
        return None
    turns: list[tuple[str, str]] = []
    expected = USER
    for message in messages:
        # Exactly two keys, one of them a role equal to the expected one and a non-blank string content: so the
        # keys are exactly role and content, the roles alternate from user, and no content is empty.
        if type(message) is not dict or len(message) != 2:
            return None
        role = message.get("role")
        content = message.get("content")
        # Blank content: empty or all whitespace. isspace() stops at the first other character, where
        # `not content.strip()` (the same test: both use Unicode whitespace) would copy the whole text.
        if role != expected or type(content) is not str or not content or content.isspace():
            return None
        if "\n" in content and has_claude_reserved(content):
            return None
        turns.append((expected, content))
        expected = ASSISTANT if expected == USER else USER
    if expected != USER:  # the last turn was the user's
        return None
    return Conversation(system, tuple(turns))


def check_record(
    obj: object, data_format: DataFormat, *, nova: bool = False, rules: Dialect | None = None
) -> tuple[list[Issue], Conversation | None]:
    """Check one parsed JSON value; return the issues and, when the record is usable, its conversation.

    `rules` is the Converse dialect of the base model (`dialect(model_id)`); `nova=True` alone means Nova Lite's.
    """
    if not isinstance(obj, dict):
        return [("SCHEMA-NOT-OBJECT", f"the record is a JSON {_type_name(obj)}, not an object")], None
    if data_format is DataFormat.CLAUDE_MESSAGES:
        conversation = clean_claude(obj)
        if conversation is not None:
            return [], conversation
        return check_claude(obj)
    if data_format is DataFormat.PROMPT_COMPLETION:
        return check_prompt_completion(obj)
    return check_converse(obj, nova=nova, rules=rules)
