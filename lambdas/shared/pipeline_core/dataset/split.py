"""Deterministic, seeded train/validation/test split of one file that respects the base model's quotas.

Each record gets a 64-bit key: a hash of the seed and its normalised prompt. Records with the same prompt share a key
and so always land on the same side (no leakage between splits). The lowest keys go to test, the next to
validation, the rest to train; the cut points are chosen after a first pass, from the sorted keys, so the counts
are exact (up to ties) and the quotas hold: never more validation records than the model accepts, and training
keeps at least the model's minimum. Only keys are kept (8 bytes a record), never records.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

TRAIN, VALIDATION, TEST = "train", "validation", "test"
_NO_LIMIT = 1 << 64  # greater than every 64-bit key


@dataclass(frozen=True)
class SplitConfig:
    """Requested shares of the records for validation and test (the rest is training), and the seed."""

    validation_share: float = 0.1
    test_share: float = 0.1
    seed: int = 13

    def __post_init__(self) -> None:
        for name in ("validation_share", "test_share"):
            share = getattr(self, name)
            if not 0.0 <= share < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {share}")
        if self.validation_share + self.test_share >= 1.0:
            raise ValueError("validation_share + test_share must be below 1 (training needs records)")


def split_key(seed: int, prompt_digest: bytes) -> int:
    """The 64-bit key that places a record; equal prompts give equal keys."""
    h = hashlib.blake2b(digest_size=8)
    h.update(seed.to_bytes(8, "little", signed=True))
    h.update(prompt_digest)
    return int.from_bytes(h.digest(), "big")


@dataclass(frozen=True)
class SplitPlan:
    """Cut points over the keys: key < test_below is test; key < validation_below is validation; else train."""

    config: SplitConfig
    test_below: int
    validation_below: int
    requested: dict[str, int]
    counts: dict[str, int]

    def assign(self, key: int) -> str:
        if key < self.test_below:
            return TEST
        if key < self.validation_below:
            return VALIDATION
        return TRAIN

    @property
    def adjusted(self) -> bool:
        return self.requested != self.counts


def plan_split(keys: Sequence[int], config: SplitConfig, *, max_validation: int, min_train: int) -> SplitPlan:
    """Choose cut points giving the requested shares within the quotas."""
    n = len(keys)
    want_test = round(n * config.test_share)
    want_validation = round(n * config.validation_share)
    requested = {TRAIN: n - want_test - want_validation, VALIDATION: want_validation, TEST: want_test}
    validation = min(want_validation, max_validation)
    test = want_test
    # Training keeps its minimum: take records back from test first (it is ours), then from validation.
    shortfall = min_train - (n - test - validation)
    if shortfall > 0:
        take = min(shortfall, test)
        test -= take
        validation = max(0, validation - (shortfall - take))
    ordered = sorted(keys)
    test_below = ordered[test] if test < n else _NO_LIMIT
    first_validation = bisect_left(ordered, test_below)  # ties at the cut point stay together, on the far side
    end = first_validation + validation
    validation_below = ordered[end] if end < n else _NO_LIMIT
    last_validation = bisect_left(ordered, validation_below)
    counts = {TRAIN: n - last_validation, VALIDATION: last_validation - first_validation, TEST: first_validation}
    return SplitPlan(config, test_below, validation_below, requested, counts)
