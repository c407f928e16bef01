"""The retry policy: full jitter under an exponential cap, bounded attempts, bounded total time, instant in tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline_core.evaluation import RetryPolicy


class Throttled(Exception):
    pass


class FakeTime:
    """A clock that only moves when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def policy(time: FakeTime, rand: float = 1.0, **kwargs: float) -> RetryPolicy:
    return RetryPolicy(sleep=time.sleep, clock=time.clock, random=lambda: rand, **kwargs)  # type: ignore[arg-type]


def failing(times: int, result: str = "ok") -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def operation() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise Throttled("slow down")
        return result

    return operation, calls


def is_throttle(err: BaseException) -> bool:
    return isinstance(err, Throttled)


def test_succeeds_after_retries_with_exponential_caps() -> None:
    time = FakeTime()
    operation, calls = failing(3)
    retries: list[tuple[int, float]] = []
    result = policy(time, base_delay_seconds=0.5, max_delay_seconds=100).call(
        operation, retryable=is_throttle, on_retry=lambda n, err, pause: retries.append((n, pause))
    )
    assert result == "ok"
    assert len(calls) == 4
    assert time.sleeps == [0.5, 1.0, 2.0]  # random() = 1.0 gives the cap itself
    assert retries == [(1, 0.5), (2, 1.0), (3, 2.0)]


def test_attempts_are_bounded_and_the_last_error_propagates() -> None:
    time = FakeTime()
    operation, calls = failing(100)
    with pytest.raises(Throttled):
        policy(time, max_attempts=4, max_elapsed_seconds=10_000).call(operation, retryable=is_throttle)
    assert len(calls) == 4
    assert len(time.sleeps) == 3


def test_total_time_is_bounded() -> None:
    time = FakeTime()
    operation, _ = failing(100)
    with pytest.raises(Throttled):
        policy(time, max_attempts=100, base_delay_seconds=1, max_delay_seconds=8, max_elapsed_seconds=20).call(
            operation, retryable=is_throttle
        )
    assert sum(time.sleeps) <= 20
    assert time.sleeps == [1, 2, 4, 8]  # the next sleep (8) would end at 23 s > 20 s


def test_deadline_stops_retries_earlier_than_the_policy_would() -> None:
    time = FakeTime()
    operation, calls = failing(100)
    with pytest.raises(Throttled):
        policy(time, max_elapsed_seconds=1000).call(operation, retryable=is_throttle, deadline=time.now + 2.5)
    assert time.sleeps == [1.0]  # 1 s then 2 s would end at +3 s, past the deadline
    assert len(calls) == 2


def test_non_retryable_errors_are_not_retried() -> None:
    time = FakeTime()

    def broken() -> str:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        policy(time).call(broken, retryable=is_throttle)
    assert time.sleeps == []


@pytest.mark.parametrize("rand", [0.0, 0.3, 0.999])
def test_full_jitter_stays_between_zero_and_the_cap(rand: float) -> None:
    p = policy(FakeTime(), rand=rand, base_delay_seconds=0.25, max_delay_seconds=5)
    for retry in range(200):  # huge retry numbers must not overflow
        cap = min(5.0, 0.25 * 2 ** min(retry, 60))
        assert p.cap(retry) == cap
        assert 0 <= p.delay(retry) <= cap


def test_default_policy_real_sleep_is_not_used_when_injected() -> None:
    time = FakeTime()
    operation, _ = failing(2)
    assert policy(time).call(operation, retryable=is_throttle) == "ok"
    assert time.sleeps  # the fake slept, the test did not


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"base_delay_seconds": 0},
        {"base_delay_seconds": 5, "max_delay_seconds": 1},
        {"max_elapsed_seconds": -1},
    ],
)
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
