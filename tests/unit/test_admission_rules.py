"""Admission's pure rules: arrival order, run slots, the bounded quota-retry schedule, and the quota messages."""

from __future__ import annotations

import pytest

from pipeline_core.admission import arrival_key, arrived_at, free_slots, name_of, quota_retry, run_slots
from pipeline_core.quotas import CREATE_QUOTAS, CUSTOM_MODEL_UNITS_CODE, CUSTOMIZATION_JOBS_CODE, quota_message


def test_arrival_keys_sort_by_time_then_name() -> None:
    keys = [arrival_key(10, "b"), arrival_key(9, "z"), arrival_key(10, "a"), arrival_key(100, "a")]
    assert [name_of(k) for k in sorted(keys)] == ["z", "a", "b", "a"]
    assert sorted(keys)[-1] == arrival_key(100, "a")
    with pytest.raises(ValueError):
        arrival_key(-1, "x")


def test_the_arrival_time_is_read_back_from_the_key() -> None:
    assert arrived_at(arrival_key(1_700_000_000_250_000, "run-a#b")) == 1_700_000_000.25
    assert arrived_at(arrival_key(0, "x")) == 0


@pytest.mark.parametrize(
    ("runs", "jobs", "units", "per_run", "slots"),
    [(2, 2, 2, 1, 2), (3, 2, 2, 1, 2), (2, 3, 1, 1, 1), (4, 4, 4, 2, 2), (4, 4, 5, 2, 2), (3, 3, None, 5, 3)],
)
def test_run_slots_is_the_tightest_limit(runs: int, jobs: int, units: int | None, per_run: int, slots: int) -> None:
    assert run_slots(runs, jobs, units, per_run) == slots


def test_free_slots_never_negative() -> None:
    assert [free_slots(2, n) for n in (0, 1, 2, 3)] == [2, 1, 0, 0]


def test_the_default_hour_waits_at_most_an_hour() -> None:
    retry = quota_retry(3600)
    assert retry is not None
    assert retry.delays() == [60, 120, 240, 480, 600, 600, 600, 600]
    assert retry.total_seconds == 3300 <= 3600


@pytest.mark.parametrize("bound", [1, 60, 600, 3600, 7200, 43200])
def test_the_waits_fit_the_bound_and_one_more_would_not(bound: int) -> None:
    retry = quota_retry(bound)
    assert retry is not None and retry.total_seconds <= bound
    nxt = min(retry.interval_seconds * retry.backoff_rate**retry.max_attempts, retry.max_delay_seconds)
    assert retry.total_seconds + nxt > bound


@pytest.mark.parametrize("bound", [3600, 7200, 43200])
def test_the_schedule_at_below_and_above_its_bound(bound: int) -> None:
    """From an hour on the waits are fixed (60 s doubling to 600 s): a bound equal to their total keeps every
    attempt, one second less drops the last one, and one more attempt would wait past the bound."""
    retry = quota_retry(bound)
    assert retry is not None and retry.total_seconds <= bound
    exact = quota_retry(retry.total_seconds)  # a bound equal to the total keeps every attempt (at)
    assert exact is not None and exact.total_seconds == retry.total_seconds
    below = quota_retry(retry.total_seconds - 1)  # one second less loses the last attempt (below)
    assert below is not None and below.max_attempts == retry.max_attempts - 1
    nxt = min(retry.interval_seconds * retry.backoff_rate**retry.max_attempts, retry.max_delay_seconds)
    assert retry.total_seconds + nxt > bound  # one more attempt would wait past the bound (above)


def test_no_wait_means_no_retry() -> None:
    assert quota_retry(0) is None
    tiny = quota_retry(1)
    assert tiny is not None and tiny.delays() == [1]


def test_messages_name_the_quota_its_code_the_wait_and_the_setting() -> None:
    job = quota_message("CreateModelCustomizationJob", "ServiceQuotaExceededException", "too many", "us-west-2", 60)
    assert CUSTOMIZATION_JOBS_CODE in job and "60 minutes" in job and "maxConcurrentJobs" in job
    assert (
        f"us-west-2.console.aws.amazon.com/servicequotas/home/services/bedrock/quotas/{CUSTOMIZATION_JOBS_CODE}" in job
    )
    pt = quota_message("CreateProvisionedModelThroughput", "ThrottlingException", "slow down", "us-east-1", 0)
    assert CUSTOM_MODEL_UNITS_CODE in pt and "was not retried" in pt and "maxModelUnits" in pt
    deployment = quota_message("CreateCustomModelDeployment", "TooManyRequestsException", "x", "us-east-1", 5)
    assert CREATE_QUOTAS["CreateCustomModelDeployment"].name in deployment
