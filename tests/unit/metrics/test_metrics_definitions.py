"""Cases that tell metric definitions apart, pinned to the official SQuAD v1.1 evaluation script.

`token_f1` and `exact_match` promise SQuAD's figures (docs/metrics.md). Several plausible one-line variants agree
with it on easy inputs ("cat cat" vs "cat" scores the same counting tokens as a set or as a multiset), so each case
here is one where the variants differ, and the expected value is what SQuAD v1.1 gives, computed by hand in the
comment and checked against a line-for-line reimplementation of its `normalize_answer` and `f1_score`
(evaluate-v1.1.py, https://rajpurkar.github.io/SQuAD-explorer/, algorithm read 2026-12-01):

    normalize_answer(s) = white_space_fix(remove_articles(remove_punc(lower(s))))
      remove_punc: drop every character of string.punctuation; remove_articles: re.sub(r'\\b(a|an|the)\\b', ' ', .)
    f1_score(pred, gold): common = Counter(pred_tokens) & Counter(gold_tokens); num_same = sum(common.values());
      0 if num_same == 0, else 2PR / (P + R) with P = num_same / len(pred_tokens), R = num_same / len(gold_tokens)
    metric_max_over_ground_truths: the maximum over the references.

v1.1 returns 0..1 and the script multiplies by 100 at the end; ours is 0..100. The one documented difference is
both answers empty after normalisation: v1.1 scores 0 (num_same is 0), SQuAD v2.0's compute_f1 scores 1 ("if either
is no-answer, then F1 is 1 if they agree"), and docs/metrics.md promises 100, SQuAD v2.0's rule.
"""

from __future__ import annotations

import re
import string
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_core.metrics import exact_match, normalize_answer, token_f1


# ---- SQuAD v1.1, reimplemented line for line (the reference the pipeline is compared with) ---------------------
def squad11_normalize_answer(s: str) -> str:
    def remove_articles(text: str) -> str:
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text: str) -> str:
        return " ".join(text.split())

    def remove_punc(text: str) -> str:
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text: str) -> str:
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def squad11_f1_score(prediction: str, ground_truth: str) -> float:
    prediction_tokens = squad11_normalize_answer(prediction).split()
    ground_truth_tokens = squad11_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def squad11_exact_match_score(prediction: str, ground_truth: str) -> bool:
    return squad11_normalize_answer(prediction) == squad11_normalize_answer(ground_truth)


def squad11_f1(prediction: str, ground_truths: list[str]) -> float:
    """metric_max_over_ground_truths(f1_score, ...) on the pipeline's 0-100 scale."""
    return 100.0 * max(squad11_f1_score(prediction, gt) for gt in ground_truths)


def squad20_compute_f1(a_gold: str, a_pred: str) -> float:
    """SQuAD v2.0's compute_f1 (evaluate-v2.0.py), for the one case where the versions differ."""
    gold_toks = squad11_normalize_answer(a_gold).split() if a_gold else []
    pred_toks = squad11_normalize_answer(a_pred).split() if a_pred else []
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return float(gold_toks == pred_toks)
    return squad11_f1_score(a_pred, a_gold)


# ---- cases where a one-line variant differs from SQuAD ------------------------------------------------------------
CASES = [
    # (prediction, references, hand-computed SQuAD v1.1 F1 on 0..100, the variant it tells apart)
    pytest.param(
        "the cat cat sat",
        ["cat sat sat"],
        # P = [cat cat sat], R = [cat sat sat]; multiset common = 1 cat + 1 sat = 2; P = R = 2/3; F1 = 2/3.
        # Tokens as sets ({cat, sat} both): 2/2 and 2/2 -> 100.
        200 / 3,
        id="multiset-not-set-sizes",
    ),
    pytest.param(
        "cat cat",
        ["cat cat"],
        # multiset common = 2 -> P = R = 1 -> 100. Counting each shared token once (|{cat}| = 1) with the list
        # lengths gives P = R = 1/2 -> 50.
        100.0,
        id="multiset-not-set-intersection",
    ),
    pytest.param(
        "cat cat dog",
        ["cat cat"],
        # common = 2 cat; P = 2/3, R = 2/2; F1 = 2 * (2/3) / (5/3) = 4/5 -> 80.
        # Set intersection with list lengths: 1/3, 1/2 -> 40; all on sets ({cat, dog} vs {cat}): 1/2, 1 -> 66.7.
        80.0,
        id="multiset-three-ways",
    ),
    pytest.param(
        "a cat",
        ["cat"],
        # Articles removed: [cat] vs [cat] -> 100. Without removal: [a cat] vs [cat] -> P 1/2, R 1 -> 66.7.
        100.0,
        id="articles-removed",
    ),
    pytest.param(
        "The Cat",
        ["cat"],
        # Lower case first, then "the" is an article -> [cat] -> 100. Articles removed before lower-casing keep
        # "the" -> [the cat] -> 66.7.
        100.0,
        id="lower-case-before-articles",
    ),
    pytest.param(
        "the-cat",
        ["cat"],
        # Punctuation goes before articles: "the-cat" -> "thecat" (no article) -> [thecat] vs [cat] -> 0.
        # Articles first: "the-cat" -> " -cat" -> "cat" -> 100.
        0.0,
        id="punctuation-before-articles",
    ),
    pytest.param(
        "theory of an ant",
        ["theory of ant"],
        # Whole words only: "theory" and "ant" keep their letters; "an" goes -> identical -> 100.
        # Without word boundaries (a|an|the anywhere): [ory of n nt] vs [ory of nt] -> 6/7 -> 85.7.
        100.0,
        id="articles-as-whole-words",
    ),
    pytest.param(
        "cat\u2019s",
        ["cats"],
        # U+2019 is not in string.punctuation, so it stays: [cat\u2019s] vs [cats] -> 0. A Unicode-wide punctuation
        # set would make both "cats" -> 100 and break comparability with published figures.
        0.0,
        id="only-ascii-punctuation",
    ),
    pytest.param(
        "cat's",
        ["cats"],
        # The ASCII apostrophe is removed without a space: "cats" -> 100. Replacing punctuation by a space gives
        # [cat s] vs [cats] -> 0.
        100.0,
        id="punctuation-removed-without-space",
    ),
    pytest.param(
        "paris france",
        ["london", "Paris", "paris, france!"],
        # The best reference counts: "paris, france!" -> [paris france] -> 100 (the first or the mean would not).
        100.0,
        id="best-of-references",
    ),
    pytest.param(
        "cat",
        [""],
        # Reference empty, prediction not: v1.1 0, v2.0 0.
        0.0,
        id="empty-reference",
    ),
    pytest.param(
        "",
        ["cat"],
        0.0,
        id="empty-prediction",
    ),
]


@pytest.mark.parametrize(("prediction", "references", "expected"), CASES)
def test_token_f1_equals_squad_v11_where_definitions_differ(
    prediction: str, references: list[str], expected: float
) -> None:
    """Catches a set instead of a multiset, missing or reordered normalisation steps, a widened punctuation set,
    punctuation replaced by spaces, and the first or mean reference instead of the best."""
    assert squad11_f1(prediction, references) == pytest.approx(expected)  # the reimplementation agrees by hand
    assert token_f1(prediction, references) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("The Eiffel Tower.", "eiffel tower", True),
        ("the-cat", "cat", False),  # "thecat" != "cat"
        ("cat\u2019s", "cats", False),
        ("an apple", "Apple!", True),
    ],
)
def test_exact_match_equals_squad_v11(prediction: str, reference: str, expected: bool) -> None:
    """Catches a normalisation that differs from SQuAD's in exact match (the two share normalize_answer)."""
    assert squad11_exact_match_score(prediction, reference) is expected
    assert exact_match(prediction, [reference]) == (100.0 if expected else 0.0)


@pytest.mark.parametrize("both_empty", [("", ""), ("the", "a"), ("!", "an."), ("The", "")])
def test_both_empty_follows_squad_v2_as_documented(both_empty: tuple[str, str]) -> None:
    """Both empty after normalisation: 100 as docs/metrics.md says (SQuAD v2.0's rule), where v1.1 gives 0.

    Catches the documented rule lost (for example the early return deleted, which falls through to v1.1's 0).
    """
    prediction, reference = both_empty
    assert squad11_f1(prediction, [reference]) == 0.0
    assert squad20_compute_f1(reference, prediction) == 1.0
    assert token_f1(prediction, [reference]) == 100.0


# A vocabulary rich in what the normalisation touches: articles, case, ASCII and non-ASCII punctuation, repeats.
WORDS = st.sampled_from(
    ["a", "an", "the", "The", "A", "cat", "Cat", "cat.", "sat", "mat,", "it's", "\u2019s", "-", "!"]
)
ANSWERS = st.lists(WORDS, max_size=8).map(" ".join)


@given(ANSWERS, st.lists(ANSWERS, min_size=1, max_size=3))
def test_token_f1_equals_squad_v11_on_generated_answers(prediction: str, references: list[str]) -> None:
    """Any answer over that vocabulary scores what SQuAD v1.1 scores, except the documented both-empty case."""
    expected = squad11_f1(prediction, references)
    if not squad11_normalize_answer(prediction) and any(not squad11_normalize_answer(r) for r in references):
        expected = 100.0  # the documented SQuAD v2.0 rule for two empty answers
    assert token_f1(prediction, references) == pytest.approx(expected)
    assert normalize_answer(prediction) == squad11_normalize_answer(prediction)
