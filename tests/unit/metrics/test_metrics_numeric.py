"""tatqa_f1 and tatqa_em: every worked example of docs/metrics.md, and how numbers are read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline_core.metrics import get_metric, score_examples, tatqa_em, tatqa_f1, token_f1
from pipeline_core.metrics.numeric import read_answer


@pytest.mark.parametrize(
    ("prediction", "reference", "f1", "em", "plain"),
    [
        # The cases plain token F1 gets wrong: (tatqa_f1, tatqa_em, token_f1).
        ("-17.7%", "17.7%", 0.0, 0.0, 100.0),  # a sign flip is wrong
        ("177%", "17.7%", 0.0, 0.0, 100.0),  # a lost decimal point is wrong
        ("061", "0.61", 0.0, 0.0, 100.0),
        ("6,577,000,000", "6,577 million", 100.0, 100.0, 0.0),  # the same value in another scale is right
        ("6.577 billion", "6,577 million", 100.0, 100.0, 50.0),
        ("6.58 billion", "6,577 million", 0.0, 0.0, 0.0),  # less precise than the reference: wrong
        ("14.2857%", "14.29%", 100.0, 100.0, 0.0),  # more precise than the reference: rounds to it
        ("14.3%", "14.29%", 0.0, 0.0, 0.0),
        ("0.1429", "14.29%", 100.0, 100.0, 0.0),  # a percentage is its value / 100
        ("17.7 percent", "17.7%", 100.0, 100.0, 200 / 3),
        ("(17.7%)", "-17.7%", 100.0, 100.0, 100.0),  # parentheses are a negative, as in accounts
        ("$(1,234)", "-1,234", 100.0, 100.0, 100.0),
        ("$4,905 thousand", "4,905,000", 100.0, 100.0, 0.0),  # the currency symbol does not count
        ("11 thousand", "11,000", 100.0, 100.0, 0.0),
        ("10,600", "11 thousand", 0.0, 0.0, 0.0),  # a reference is at least as precise as 0.01 of its unit
        ("The revenue was $1,234 million", "$1,234 million", 0.0, 0.0, 400 / 6),  # a number: all or nothing
        # Several numbers or words: set-of-tokens F1, each number one token.
        ("$3,049 thousand, $4,905 thousand", "$4,905 thousand, $3,049 thousand", 100.0, 100.0, 100.0),
        ("$4,905 thousand", "$4,905 thousand, $3,049 thousand", 200 / 3, 0.0, 200 / 3),
        ("4,905,000 and 3,049,000", "$4,905 thousand, $3,049 thousand", 80.0, 0.0, 0.0),
        ("-4,905 thousand and 3,049 thousand", "$4,905 thousand, $3,049 thousand", 40.0, 0.0, 800 / 9),
        ("cost and revenue", "Revenue, Cost", 80.0, 0.0, 80.0),
        ("the net income", "Net income", 100.0, 100.0, 100.0),
        ("2018-2019", "2018 - 2019", 100.0, 100.0, 0.0),  # a hyphen after a digit is a range, not a minus
        ("", "", 100.0, 100.0, 100.0),
        ("", "5", 0.0, 0.0, 0.0),
    ],
)
def test_worked_examples(prediction: str, reference: str, f1: float, em: float, plain: float) -> None:
    assert tatqa_f1(prediction, [reference]) == pytest.approx(f1)
    assert tatqa_em(prediction, [reference]) == pytest.approx(em)
    assert token_f1(prediction, [reference]) == pytest.approx(plain)


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("-17.7%", ["-0.177"]),
        ("\u221217.7%", ["-0.177"]),  # the Unicode minus sign
        ("+5", ["5"]),
        ("$-5 and -$6", ["-5", "-6"]),
        ("(1,234.5)", ["-1234.5"]),
        ("(see note 5)", ["5"]),  # parentheses around words are not a negative
        ("\u20ac2.5 billion", ["2500000000"]),
        ("3 Million", ["3000000"]),
        (".5", ["0.5"]),
        ("1,2345", ["1", "2345"]),  # not a thousands separator
        ("FY2019 5th 10x", []),  # digits inside a word are part of the word
        ("was 5.", ["5"]),  # a full stop after a number is not a decimal point
    ],
)
def test_numbers_are_read_as_values(text: str, values: list[str]) -> None:
    assert [n.value for n in read_answer(text).numbers] == [Decimal(v) for v in values]


def test_words_are_normalised_as_squad_does() -> None:
    assert read_answer("The Cost, of $5 sales!").words == ("cost", "of", "sales")


def test_best_reference_counts() -> None:
    assert tatqa_f1("-5", ["5", "(5)"]) == 100.0
    assert tatqa_em("5", ["(5)", "x"]) == 0.0
    assert tatqa_f1("5", []) == 0.0


def test_registered_and_summarised_as_a_mean() -> None:
    metric = get_metric("tatqa_f1")
    estimate = score_examples(metric, ["-17.7%", "6,577,000,000"], [["17.7%"], ["6,577 million"]], resamples=100)
    assert estimate.value == 50.0 and estimate.n == 2
    assert get_metric("tatqa_em").score("0.61", ["061"]) == 0.0
