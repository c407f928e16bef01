"""Fixtures for the Bedrock stand-in tests: a running stand-in on fast clocks, and clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from standin_fixtures import client, seeded_s3

from finetune.rehearsal.bedrock_standin import BedrockStandIn, SimulationConfig

FAST = {"job_seconds": 0.2, "pt_seconds": 0.1, "deployment_seconds": 0.1, "stop_seconds": 0.05, "tick_seconds": 0.01}


@pytest.fixture
def make_standin() -> Iterator[Callable[..., BedrockStandIn]]:
    """Start stand-ins with fast clocks (keyword overrides go to SimulationConfig); all are closed afterwards."""
    started: list[BedrockStandIn] = []

    def make(s3: Any = None, **overrides: Any) -> BedrockStandIn:
        standin = BedrockStandIn(SimulationConfig(**{**FAST, **overrides}), s3_client=s3 or seeded_s3())
        started.append(standin.start())
        return standin

    yield make
    for standin in started:
        standin.close()


@pytest.fixture
def standin(make_standin: Callable[..., BedrockStandIn]) -> BedrockStandIn:
    return make_standin()


@pytest.fixture
def bedrock(standin: BedrockStandIn) -> Any:
    return client(standin, "bedrock")


@pytest.fixture
def runtime(standin: BedrockStandIn) -> Any:
    return client(standin, "bedrock-runtime")
