"""The validator's fast paths give the same answers as the plain definitions they shortcut.

Normalisation, the conversation digests, the line prefilter for secrets and personal data, and the clean-record path
of the Claude checker each have a cheaper route for the common case; these tests pin them to the slow definitions
(and pin digests and split keys to values computed before the fast paths existed, so splits stay reproducible).
"""

from __future__ import annotations

import json
import string
import sys
from typing import Any

from dataset_fixtures import HAIKU, source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core.dataset import SplitConfig, validate
from pipeline_core.dataset.formats import check_claude, check_record
from pipeline_core.dataset.quality import (
    conversation_digests,
    digest,
    fold,
    needs_scan,
    normalise,
    record_may_hold_sensitive,
)
from pipeline_core.models import DataFormat

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_DELETE = (string.punctuation + string.whitespace).encode("ascii")
GOLDEN_TEXTS = ["Hello,  World!", "Ünïcode  Text — Straße", "KELVIN \u212a and İstanbul", "tabs\tand\nnewlines",
                "lone \ud800 surrogate", ""]  # fmt: skip


def reference_normalise(text: str) -> bytes:
    return fold(text).translate(None, _DELETE)


# Text that exercises every branch: ASCII and non-ASCII letters (some fold to ASCII), digits, each separator the
# shapes use, the word triggers, characters JSON escapes, a lone surrogate.
_PIECES = [*"0123456789" * 3, *"-.+ ()@" * 2, *"AKSIPaks", "\t", "\n", '"', "\\", "/", "ß", "\u212a", "İ", "é",
           "\ufb00", "\u0661", "\u2460", "\uff21", "\ud800", "AKIA", "ASIA", "PRIVATE KEY", "-----BEGIN "]  # fmt: skip
texts = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


@given(st.text() | texts)
@SETTINGS
def test_normalise_matches_case_folding_definition(text: str) -> None:
    assert normalise(text) == reference_normalise(text)


def test_normalise_of_every_ascii_character() -> None:
    every = "".join(map(chr, range(128)))
    assert normalise(every) == reference_normalise(every)
    assert normalise("Hello,  World! 42") == b"helloworld42"


@given(st.lists(st.tuples(st.sampled_from(["user", "assistant"]), st.text() | texts), min_size=1, max_size=4),
       st.text() | texts)  # fmt: skip
@SETTINGS
def test_conversation_digests_match_their_definition(turns: list[tuple[str, str]], system: str) -> None:
    prompt = digest(
        reference_normalise(system), *(role.encode() + b":" + reference_normalise(t) for role, t in turns[:-1])
    )
    assert conversation_digests(system, turns) == (prompt, digest(reference_normalise(turns[-1][1])))


def test_digests_and_split_keys_are_unchanged() -> None:
    """Values computed by the validator before its fast paths: the same file and seed still give the same split."""
    records = [
        {"system": t, "messages": [{"role": "user", "content": f"Q{i}: {t}"},
                                   {"role": "assistant", "content": f"A{i}. {t.upper()}"}]}
        for i, t in enumerate(GOLDEN_TEXTS)
    ]  # fmt: skip
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records * 8)
    result = validate([source("pool", "p.jsonl", data)], base_model_id=HAIKU, split=SplitConfig(0.2, 0.2, 5))
    assert list(result.pool_keys)[:6] == [17756788957590100624, 15855548788691635038, 9406154731880997166,
                                          13409803015081976757, 2239900358358290343, 9254117894150306198]  # fmt: skip
    assert result.report.split is not None
    assert result.report.split["planned"] == {"train": 40, "validation": 8, "test": 0}


def test_case_folding_makes_no_shape_character() -> None:
    """The line prefilter reads unfolded bytes: no non-ASCII character may fold to a digit or a separator."""
    shape_chars = set("0123456789-.+ @")
    for code in range(0x80, sys.maxunicode + 1):
        assert not shape_chars.intersection(chr(code).casefold()), hex(code)


@given(st.lists(texts | st.text(), min_size=1, max_size=3), st.booleans())
@SETTINGS
def test_line_prefilter_never_misses_what_the_text_prefilter_sees(values: list[str], ensure_ascii: bool) -> None:
    record = {"messages": [{"role": "user", "content": v} for v in values]}
    line = json.dumps(record, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
    if any(needs_scan(v) for v in values):
        assert record_may_hold_sensitive(line, values)


def test_line_prefilter_is_false_on_plain_text() -> None:
    line = json.dumps({"messages": [{"role": "user", "content": "In 2024 revenue rose 12.5% to 1,234 units."}]})
    assert not record_may_hold_sensitive(line.encode(), ["In 2024 revenue rose 12.5% to 1,234 units."])


message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", 3]), "content": st.sampled_from(["hi", " ", "", 4])},
    optional={"extra": st.just(1)},
)
near_clean: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"messages": st.lists(message | st.just("x"), max_size=5) | st.just({})},
    optional={"system": st.sampled_from(["sys", 1, None]), "other": st.just(1)},
)


@given(near_clean)
@SETTINGS
def test_clean_claude_path_agrees_with_the_full_check(record: dict[str, Any]) -> None:
    assert check_record(record, DataFormat.CLAUDE_MESSAGES) == check_claude(record)
