"""Failures in the very states that create the job or the throughput still reach cleanup and a notification."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from finetune.rehearsal.runner import RehearsalResult


@pytest.mark.parametrize(
    ("handler", "cleanup"),
    [("train", "Stop training"), ("throughput", "Delete throughput")],
    ids=["start-training-fails", "provision-throughput-fails"],
)
def test_a_crash_in_the_creating_state_is_cleaned_up_and_notified(
    run_rehearsal: Callable[..., RehearsalResult], handler: str, cleanup: str
) -> None:
    result = run_rehearsal(crash_handlers=frozenset({handler}))
    assert result.status == "FAILED"
    assert result.error == "SimulatedHandlerCrash"
    assert cleanup in result.states and "Notify failure" in result.states
    assert [n["message"]["status"] for n in result.notifications] == ["FAILED"]
    assert result.provisioned_throughputs == [] and result.running_jobs == []
