"""Free-text answer metrics: SQuAD-style answer normalisation, token-level F1 and exact match.

The normalisation and the bag-of-tokens matching follow the official SQuAD evaluation script
(https://rajpurkar.github.io/SQuAD-explorer/), so our numbers are comparable with published ones.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

# Exactly the SQuAD script's character set (ASCII punctuation); widening it would break comparability.
_DELETE_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower case, drop ASCII punctuation, drop the articles a/an/the, fold whitespace (SQuAD order)."""
    no_punctuation = text.lower().translate(_DELETE_PUNCTUATION)
    no_articles = _ARTICLES.sub(" ", no_punctuation)
    return " ".join(no_articles.split())


def answer_tokens(text: str) -> list[str]:
    """The tokens F1 counts: the normalised answer split on whitespace."""
    return normalize_answer(text).split()


def _f1_against(prediction_tokens: list[str], reference_tokens: list[str]) -> float:
    if not prediction_tokens and not reference_tokens:
        return 100.0  # nothing asked, nothing said: a perfect answer
    if not prediction_tokens or not reference_tokens:
        return 0.0
    # Multiset intersection: a token counts as matched as many times as it appears in both.
    matched = sum((Counter(prediction_tokens) & Counter(reference_tokens)).values())
    if matched == 0:
        return 0.0
    precision = matched / len(prediction_tokens)
    recall = matched / len(reference_tokens)
    return 100.0 * 2.0 * precision * recall / (precision + recall)


def token_f1(prediction: str, references: Sequence[str]) -> float:
    """Bag-of-tokens F1 (0-100) of the prediction against its best-matching reference."""
    prediction_tokens = answer_tokens(prediction)
    return max((_f1_against(prediction_tokens, answer_tokens(ref)) for ref in references), default=0.0)


def exact_match(prediction: str, references: Sequence[str]) -> float:
    """100 when the normalised prediction equals any normalised reference, else 0."""
    normalised = normalize_answer(prediction)
    return 100.0 if any(normalised == normalize_answer(ref) for ref in references) else 0.0
