"""Hand-computed cases for the free-text and label metrics, including the documented worked example."""

from __future__ import annotations

import pytest

from pipeline_core.metrics import accuracy, exact_match, macro_f1, normalize_answer, normalize_label, token_f1

WORKED_PREDICTION = "The cat sits on the mat in the sun"
WORKED_REFERENCE = "The cat sits on the soft mat under the warm sun"


def test_worked_example_from_docs() -> None:
    # pred [cat sits on mat in sun] = 6, ref [cat sits on soft mat under warm sun] = 8, common 5.
    precision, recall = 5 / 6, 5 / 8
    expected = 100 * 2 * precision * recall / (precision + recall)
    assert token_f1(WORKED_PREDICTION, [WORKED_REFERENCE]) == pytest.approx(expected)
    assert round(token_f1(WORKED_PREDICTION, [WORKED_REFERENCE]), 2) == 71.43


def test_normalisation_follows_squad() -> None:
    assert normalize_answer("  The Cat, an  apple & A dog!  ") == "cat apple dog"
    # Articles only as whole words: "theory" and "ant" keep their letters.
    assert normalize_answer("the theory of an ant") == "theory of ant"


@pytest.mark.parametrize(
    ("prediction", "references", "expected"),
    [
        ("", [""], 100.0),  # both empty
        ("the", ["a"], 100.0),  # both empty after normalisation
        ("", ["cat"], 0.0),
        ("cat", [""], 0.0),
        ("dog", ["cat"], 0.0),
        ("cat cat", ["cat"], 100 * 2 * 0.5 * 1 / 1.5),  # multiset: the second "cat" is unmatched
        ("cat dog", ["cat", "cat dog"], 100.0),  # best reference wins
        ("Cat!", ["the cat"], 100.0),
    ],
)
def test_token_f1_cases(prediction: str, references: list[str], expected: float) -> None:
    assert token_f1(prediction, references) == pytest.approx(expected)


def test_exact_match() -> None:
    assert exact_match("The Eiffel Tower.", ["eiffel tower"]) == 100.0
    assert exact_match("Eiffel Tower, Paris", ["eiffel tower"]) == 0.0
    assert exact_match("Paris", ["London", "paris"]) == 100.0


def test_label_normalisation_keeps_multiple_choice_letters() -> None:
    # SQuAD normalisation would delete the article "a"; labels must survive.
    assert normalize_answer("A") == ""
    assert normalize_label(" A) ") == "a"
    assert accuracy("A", ["A"]) == 100.0
    assert accuracy("B", ["A"]) == 0.0
    assert accuracy("Positive.", ["positive"]) == 100.0


def test_macro_f1_hand_computed() -> None:
    golds = ["pos", "pos", "pos", "neg"]
    preds = ["pos", "pos", "neg", "neg"]
    # pos: TP 2, FP 0, FN 1 -> F1 = 4/5; neg: TP 1, FP 1, FN 0 -> F1 = 2/3; macro = (0.8 + 0.6667) / 2.
    assert macro_f1(preds, [[g] for g in golds]) == pytest.approx(100 * (0.8 + 2 / 3) / 2)


def test_macro_f1_out_of_set_prediction_is_a_miss_not_a_class() -> None:
    # "I think it is positive" is a false negative for "pos" but adds no class with F1 0.
    value = macro_f1(["I think it is positive", "neg"], [["pos"], ["neg"]])
    assert value == pytest.approx(100 * (0 + 1) / 2)


def test_macro_f1_perfect_and_imbalanced() -> None:
    assert macro_f1(["a", "b", "b"], [["a"], ["b"], ["b"]]) == 100.0
    # Always answering the majority class: accuracy 2/3 but macro-F1 punishes the ignored class.
    assert macro_f1(["b", "b", "b"], [["a"], ["b"], ["b"]]) == pytest.approx(100 * (0 + 0.8) / 2)
