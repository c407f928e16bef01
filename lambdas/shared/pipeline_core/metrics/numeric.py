"""TAT-QA answer metrics: numbers compared as values (sign, scale, percent), other words as TAT-QA's token F1.

Plain SQuAD normalisation deletes `-`, `.` and `%`, so `-17.7%` matches `17.7%` and `061` matches `0.61`, and it
cannot see that `6,577,000,000` is `6,577 million`. Here every number in an answer becomes one token holding its
value, and the remaining words are normalised as SQuAD does. The scoring follows TAT-QA's official metric
(github.com/NExTplusplus/TAT-QA, tatqa_metric.py): a set-of-tokens F1, and all-or-nothing for a numeric answer.
docs/metrics.md lists where this differs from the official script.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from pipeline_core.metrics.text import normalize_answer

# One number with what may surround it: an opening parenthesis (a negative, in accounts), a sign, a currency
# symbol, digits with optional thousands separators and decimals, a closing parenthesis, a percent sign or word,
# and a scale word. It must not start inside a word or another number (`FY2019`, `1.2.3`) nor run into a word
# (`5th`, `10x`); a minus right after a digit (`2018-2019`) is a range, not a sign.
_NUMBER = re.compile(
    r"""
    (?<![\w.])
    (?P<open>\(\s*)?
    (?P<sign>[-+\u2212])?
    (?P<currency>[$\u20ac\u00a3\u00a5])?
    (?P<sign2>[-+\u2212])?
    (?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
    (?!\w)
    (?P<inner_percent>%)?
    (?P<close>\s*\))?
    (?:\s*(?P<percent>%|percent\b))?
    (?:\s*(?P<scale>thousand|million|billion)\b)?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_SCALES = {"thousand": Decimal(1_000), "million": Decimal(1_000_000), "billion": Decimal(1_000_000_000)}
_MINUS = frozenset("-\u2212")
_HUNDRED = Decimal(100)
# A number is at least as precise as two decimals of its own unit (TAT-QA's answers are rounded so).
_MIN_DECIMALS = 2


class Number(NamedTuple):
    """A number read from an answer: its value, and the step it was written to (at least 0.01 of its unit)."""

    value: Decimal
    quantum: Decimal

    @property
    def key(self) -> str:
        """The token this number counts as; `#` cannot start a word token (normalisation deletes punctuation)."""
        return f"#{self.value.normalize()}"

    def matches(self, prediction: Number) -> bool:
        """True when `prediction`, rounded (half up) to this number's step, is this number."""
        steps = (prediction.value / self.quantum).to_integral_value(rounding=ROUND_HALF_UP)
        return steps * self.quantum == self.value


def read_number(match: re.Match[str]) -> Number:
    """The value of one `_NUMBER` match: sign or parentheses, thousands separators, percent and scale applied."""
    digits = match["digits"].replace(",", "")
    decimals = len(digits.partition(".")[2])
    unit = _SCALES[match["scale"].lower()] if match["scale"] else Decimal(1)
    if match["inner_percent"] or match["percent"]:
        unit /= _HUNDRED
    negative = match["sign"] in _MINUS or match["sign2"] in _MINUS or bool(match["open"] and match["close"])
    value = Decimal(digits) * unit
    return Number(-value if negative else value, Decimal(1).scaleb(-max(decimals, _MIN_DECIMALS)) * unit)


class Answer(NamedTuple):
    """An answer split into its numbers and its other (SQuAD-normalised) words."""

    numbers: tuple[Number, ...]
    words: tuple[str, ...]


def read_answer(text: str) -> Answer:
    """Every number in `text` (as a value) and the normalised words left between them."""
    if not _DIGIT.search(text):  # most words-only answers: skip the number scan
        return Answer((), tuple(normalize_answer(text).split()))
    numbers: list[Number] = []
    rest: list[str] = []
    position = 0
    for match in _NUMBER.finditer(text):
        rest.append(text[position : match.start()])
        numbers.append(read_number(match))
        position = match.end()
    rest.append(text[position:])
    return Answer(tuple(numbers), tuple(normalize_answer(" ".join(rest)).split()))


def _tokens(prediction: Answer, reference: Answer) -> tuple[list[str], list[str]]:
    """Both answers as tokens; a predicted number takes the token of the first reference number it rounds to."""
    reference_tokens = [n.key for n in reference.numbers] + list(reference.words)
    predicted_numbers = []
    for number in prediction.numbers:
        match = next((ref for ref in reference.numbers if ref.matches(number)), None)
        predicted_numbers.append((match or number).key)
    return predicted_numbers + list(prediction.words), reference_tokens


def _is_single_number(answer: Answer) -> bool:
    return len(answer.numbers) == 1 and not answer.words


def _scores(prediction: Answer, reference: Answer) -> tuple[float, float]:
    """(exact match, F1), each 0 or 100 / 0..100, of one prediction against one reference."""
    predicted, expected = _tokens(prediction, reference)
    if not predicted and not expected:
        return 100.0, 100.0  # nothing asked, nothing said, as token_f1
    exact = 100.0 if sorted(predicted) == sorted(expected) else 0.0  # the same multiset of tokens
    if _is_single_number(reference):
        return exact, exact  # a number is right or wrong: TAT-QA gives arithmetic and count answers no partial F1
    # TAT-QA (after DROP) compares bags as sets of tokens.
    mine, theirs = set(predicted), set(expected)
    common = len(mine & theirs)
    f1 = 100.0 * 2 * common / (len(mine) + len(theirs)) if common else 0.0
    return exact, f1


def tatqa_f1(prediction: str, references: Sequence[str]) -> float:
    """Numeric-aware F1 (0-100) of the prediction against its best-matching reference."""
    answer = read_answer(prediction)
    return max((_scores(answer, read_answer(ref))[1] for ref in references), default=0.0)


def tatqa_em(prediction: str, references: Sequence[str]) -> float:
    """100 when the prediction has exactly a reference's numbers (as values) and words, in any order, else 0."""
    answer = read_answer(prediction)
    return max((_scores(answer, read_answer(ref))[0] for ref in references), default=0.0)
