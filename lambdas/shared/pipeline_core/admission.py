"""Admission control's pure rules: the queue's arrival order, slot arithmetic, and the bounded quota-retry schedule.

Runs wait in a DynamoDB queue (pipeline_aws.admission) and start, oldest first, while fewer executions than the run
limit are running. A creating call that meets a Bedrock quota raises QuotaExceeded, which the workflow retries on
the schedule below for at most `admission.quotaWaitMinutes`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The partition of the waiting runs in the admission table (pipeline_aws.admission); `finetune runs` reads it too.
QUEUE_PK = "QUEUE"
#: The partition of the runs StartExecution refused for good (a non-transient error): out of the queue, listed by
#: `finetune runs` as FAILED_TO_START with the error, kept as long as the run marker.
FAILED_PK = "FAILED_TO_START"

# Queue keys sort by arrival: microseconds since the epoch, zero-padded so that string order is time order, then the
# execution name to break a tie.
_ARRIVAL_DIGITS = 17


def arrival_key(arrived_at_us: int, execution_name: str) -> str:
    if not 0 <= arrived_at_us < 10**_ARRIVAL_DIGITS:
        raise ValueError(f"arrival time {arrived_at_us} out of range")
    return f"{arrived_at_us:0{_ARRIVAL_DIGITS}d}#{execution_name}"


def name_of(arrival: str) -> str:
    return arrival.split("#", 1)[1]


def arrived_at(arrival: str) -> float:
    """Seconds since the epoch at which the run with this queue key arrived."""
    return int(arrival.split("#", 1)[0]) / 1_000_000


def run_slots(max_runs: int, max_jobs: int, max_model_units: int | None, units_per_run: int) -> int:
    """Runs admitted at once: each holds at most one customization job and one throughput of `units_per_run` units,
    so admitting no more than this keeps jobs and model units under their limits too (None: no throughput)."""
    slots = min(max_runs, max_jobs)
    if max_model_units is not None:
        slots = min(slots, max_model_units // units_per_run)
    return slots


def free_slots(limit: int, holding: int) -> int:
    return max(0, limit - holding)


@dataclass(frozen=True)
class QuotaRetry:
    """The Retry entry for QuotaExceeded: backoff from `interval` doubling up to `max_delay`, no jitter, and as many
    attempts as fit in the wait bound, so the waits add up to at most `wait_seconds`."""

    interval_seconds: int
    backoff_rate: float
    max_delay_seconds: int
    max_attempts: int

    def delays(self) -> list[int]:
        return _delays(self.interval_seconds, self.backoff_rate, self.max_delay_seconds, self.max_attempts)

    @property
    def total_seconds(self) -> int:
        return sum(self.delays())


# Step Functions' IntervalSeconds is at least 1 and MaxDelaySeconds at least 1
# (docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html, read 2026-12-01).
QUOTA_FIRST_INTERVAL_SECONDS = 60
QUOTA_MAX_DELAY_SECONDS = 600
QUOTA_BACKOFF_RATE = 2.0


def _delays(interval: int, rate: float, max_delay: int, attempts: int) -> list[int]:
    return [int(min(interval * rate**k, max_delay)) for k in range(attempts)]


def quota_retry(wait_seconds: int) -> QuotaRetry | None:
    """The schedule that waits at most `wait_seconds` in all; None when that allows no retry at all.

    A short bound (the rehearsal's) shrinks the first interval so that it still allows several attempts.
    """
    if wait_seconds <= 0:
        return None
    interval = max(1, min(QUOTA_FIRST_INTERVAL_SECONDS, wait_seconds // 16))
    max_delay = max(interval, min(QUOTA_MAX_DELAY_SECONDS, wait_seconds // 4))
    attempts, total = 0, 0
    while True:
        delay = int(min(interval * QUOTA_BACKOFF_RATE**attempts, max_delay))
        if total + delay > wait_seconds:
            break
        total += delay
        attempts += 1
    if attempts == 0:
        return None
    return QuotaRetry(interval, QUOTA_BACKOFF_RATE, max_delay, attempts)
