"""Retries a call with exponential backoff and full jitter, bounded both in attempts and in total time.

Full jitter (sleep a uniform random time up to the exponential cap) spreads the retries of many concurrent callers,
which is what throttling needs: https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/.
Sleep, clock and random source are fields, so tests run instantly and deterministically.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

RetryHook = Callable[[int, BaseException, float], None]  # (attempt that failed, its error, the sleep before the next)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. The call is made at most `max_attempts` times, and no sleep is started
    that would end more than `max_elapsed_seconds` after the first attempt began (or after `deadline`)."""

    max_attempts: int = 6
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 20.0
    max_elapsed_seconds: float = 90.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0 < self.base_delay_seconds <= self.max_delay_seconds:
            raise ValueError("delays must satisfy 0 < base_delay_seconds <= max_delay_seconds")
        if self.max_elapsed_seconds < 0:
            raise ValueError("max_elapsed_seconds must not be negative")

    def cap(self, retry: int) -> float:
        """The upper bound of the sleep before retry number `retry` (0 for the first retry)."""
        # min() before the power would overflow for absurd retry counts; 2**60 seconds is cap enough.
        return min(self.max_delay_seconds, self.base_delay_seconds * 2.0 ** min(retry, 60))

    def delay(self, retry: int) -> float:
        """Full jitter: uniform in [0, cap)."""
        return self.random() * self.cap(retry)

    def call(
        self,
        operation: Callable[[], T],
        *,
        retryable: Callable[[BaseException], bool],
        deadline: float | None = None,
        on_retry: RetryHook | None = None,
    ) -> T:
        """Run `operation`, retrying the exceptions `retryable` accepts; the last exception propagates.

        `deadline` is a `clock()` value past which no sleep may end (e.g. the Lambda's remaining time).
        """
        started = self.clock()
        limit = started + self.max_elapsed_seconds
        if deadline is not None:
            limit = min(limit, deadline)
        attempt = 1
        while True:
            try:
                return operation()
            except Exception as exc:
                if attempt >= self.max_attempts or not retryable(exc):
                    raise
                pause = self.delay(attempt - 1)
                if self.clock() + pause > limit:
                    raise
                if on_retry is not None:
                    on_retry(attempt, exc, pause)
                self.sleep(pause)
                attempt += 1
