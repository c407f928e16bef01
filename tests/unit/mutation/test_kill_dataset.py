"""Dataset checks that protect trust: how a found secret is masked, which card numbers count, quotas, duplicates.

Written against the mutants `make mutate` found surviving in pipeline_core/dataset (docs/mutation.md); each test
names the one-line bug it catches.
"""

from __future__ import annotations

import pytest

from pipeline_core.dataset.quality import luhn_valid, mask


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("AKIAABCDEFGHIJKLMNOP", "****************MNOP"),  # 20 characters: the last 4 stay
        ("12345678", "******78"),  # 8 characters: a quarter (2) stays
        ("1234567", "******7"),  # 7 // 4 == 1
        ("abc", "***"),  # under 4 characters: nothing stays
        ("", ""),
    ],
)
def test_mask_keeps_at_most_a_quarter_and_never_more_than_four(value: str, masked: str) -> None:
    """Catches `len // 4` made `// 5`, the star count made `len + keep`, `[-keep:]` made `[+keep:]`, and a short
    value being shown whole (`value[-0:]` is the whole string) or padded."""
    assert mask(value) == masked
    assert len(mask(value)) == len(value)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("79927398713", True),  # a doubled 8 (16 -> 7) and a doubled 9 (18 -> 9)
        ("79927398710", False),
        ("5105105105105100", True),  # doubled 5s (10 -> 1)
        ("5105105105105106", False),
        ("4111111111111111", True),
        ("4111111111111112", False),
    ],
)
def test_luhn_reduces_doubled_digits_over_nine(number: str, valid: bool) -> None:
    """Catches the reduction `d -= 9` made `d = 9`, `d += 9` or `d -= 10`, and its `d > 9` made `d > 10`."""
    assert luhn_valid(number) is valid
