"""The id GetFoundationModel is asked about, and the whole days a model has left before its end of life."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline_core.end_of_life import (
    ModelLifecycle,
    NotAFoundationModel,
    days_to_end_of_life,
    foundation_model_id,
    is_end_of_life_message,
    within_warning,
)
from pipeline_core.models import CATALOGUE

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", "anthropic.claude-3-haiku-20240307-v1:0"),
        ("meta.llama3-1-70b-instruct-v1:0:128k", "meta.llama3-1-70b-instruct-v1:0"),
        ("meta.llama3-1-70b-instruct-v1:0", "meta.llama3-1-70b-instruct-v1:0"),
        (
            "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0:200k",
            "anthropic.claude-3-haiku-20240307-v1:0",
        ),
        ("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0"),
    ],
)
def test_foundation_model_id_drops_the_context_length_suffix(given: str, expected: str) -> None:
    assert foundation_model_id(given) == expected


def test_every_catalogued_model_maps_to_a_version_id_without_suffix() -> None:
    for model_id in CATALOGUE:
        mapped = foundation_model_id(model_id)
        assert mapped.count(":") == 1 and model_id.startswith(mapped), model_id


def test_a_custom_model_arn_is_not_a_foundation_model() -> None:
    with pytest.raises(NotAFoundationModel):
        foundation_model_id("arn:aws:bedrock:us-west-2:123456789012:custom-model/x.y-v1:0/abcdefabcdef")


@pytest.mark.parametrize(
    ("until", "days"),
    [
        (timedelta(days=61), 61),
        (timedelta(days=60, seconds=1), 60),
        (timedelta(days=60), 60),
        (timedelta(days=60) - timedelta(seconds=1), 59),
        (timedelta(hours=23), 0),
        (timedelta(0), 0),
        (-timedelta(days=400), 0),
    ],
)
def test_whole_days_left_round_down_and_stop_at_zero(until: timedelta, days: int) -> None:
    assert days_to_end_of_life(NOW + until, NOW) == days


@pytest.mark.parametrize(("days", "warn"), [(59, True), (60, True), (61, False), (0, True), (None, False)])
def test_warning_at_and_below_the_threshold_only(days: int | None, warn: bool) -> None:
    assert within_warning(days, 60) is warn


def test_lifecycle_from_model_details() -> None:
    active = ModelLifecycle.from_details("a.b-v1:0", {"modelLifecycle": {"status": "ACTIVE"}})
    assert active.days_left(NOW) is None
    legacy = ModelLifecycle.from_details(
        "a.b-v1:0", {"modelLifecycle": {"status": "LEGACY", "endOfLifeTime": NOW + timedelta(days=45)}}
    )
    assert legacy.status == "LEGACY" and legacy.days_left(NOW) == 45
    # An Active model that already has an end-of-life date counts down too.
    dated = ModelLifecycle.from_details(
        "a.b-v1:0", {"modelLifecycle": {"status": "ACTIVE", "endOfLifeTime": NOW + timedelta(days=200)}}
    )
    assert dated.days_left(NOW) == 200
    assert ModelLifecycle.from_details("a.b-v1:0", {}).days_left(NOW) is None
    assert ModelLifecycle.ended("a.b-v1:0").days_left(NOW) == 0


def test_end_of_life_message() -> None:
    assert is_end_of_life_message("This model version has reached the end of its life. Please refer to ...")
    assert not is_end_of_life_message("Could not resolve the foundation model from the model identifier.")
