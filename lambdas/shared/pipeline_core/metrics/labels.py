"""Classification metrics for answers that are labels: per-example accuracy and corpus-level macro-F1.

Labels get a lighter normalisation than free text: SQuAD's article removal would erase the
multiple-choice label "A", and "Positive." should still count as the label "positive".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

# Trailing punctuation a model tends to add after a bare label ("Positive.", "B)").
_TRAILING = ".,;:!?)]}\"'`"
_LEADING = "([{\"'`"


def normalize_label(text: str) -> str:
    """Case-fold, trim surrounding punctuation, fold whitespace."""
    folded = " ".join(text.casefold().split())
    return folded.strip(_TRAILING).lstrip(_LEADING).strip()


def label_pair(prediction: str, references: Sequence[str]) -> tuple[str, str]:
    """The (gold, predicted) label pair of one example.

    Several references are accepted aliases of one gold label: a prediction equal to any of them is
    correct, and otherwise the first reference is taken as the gold label.
    """
    predicted = normalize_label(prediction)
    golds = [normalize_label(ref) for ref in references]
    if predicted in golds:
        return predicted, predicted
    return (golds[0] if golds else ""), predicted


def accuracy(prediction: str, references: Sequence[str]) -> float:
    """100 when the predicted label equals any reference label, else 0."""
    gold, predicted = label_pair(prediction, references)
    return 100.0 if gold == predicted else 0.0


def macro_f1_from_pairs(pairs: Iterable[tuple[str, str]]) -> float:
    """Unweighted mean over gold classes of each class's F1, times 100.

    The classes are the gold labels seen. A prediction outside that set (a chatty answer instead of a
    label) is a miss for its gold class but does not add a class of its own; otherwise every distinct
    wrong string would become a class with F1 0 and swamp the average.
    """
    return macro_f1_from_counts(Counter(pairs))


def macro_f1_from_counts(counts: Mapping[tuple[str, str], int]) -> float:
    """macro_f1_from_pairs from (gold, predicted) -> count; the bootstrap calls this form, counting in C."""
    classes = {gold for (gold, _), k in counts.items() if k}
    if not classes:
        return 0.0
    true_pos: Counter[str] = Counter()
    false_pos: Counter[str] = Counter()
    false_neg: Counter[str] = Counter()
    for (gold, predicted), k in counts.items():
        if gold == predicted:
            true_pos[gold] += k
        else:
            false_neg[gold] += k
            if predicted in classes:
                false_pos[predicted] += k
    total = 0.0
    for label in classes:
        # F1 = 2TP / (2TP + FP + FN); the denominator is positive because the class occurs as gold.
        total += 2 * true_pos[label] / (2 * true_pos[label] + false_pos[label] + false_neg[label])
    return 100.0 * total / len(classes)


def macro_f1(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus-level macro-F1 (0-100) over a list of predictions and their references."""
    return macro_f1_from_pairs(label_pair(p, r) for p, r in zip(predictions, references, strict=True))
