"""The compressed clock the rehearsal hands the handlers through PIPELINE_DEFAULTS."""

from __future__ import annotations

import json

from finetune.rehearsal.runner import (
    DEPLOYMENT_MAX_WAIT_MINUTES,
    POLL_SECONDS,
    THROUGHPUT_MAX_WAIT_MINUTES,
    rehearsal_defaults,
)


def test_every_poll_and_both_waits_are_compressed() -> None:
    deployed = {
        "poll": {"job_seconds": 60, "throughput_seconds": 60, "deployment_seconds": 30},
        "throughput": {"model_units": 1, "max_wait_minutes": 60},
        "serving": {"setting": "auto", "max_wait_minutes": 60},
    }
    defaults = json.loads(rehearsal_defaults(json.dumps(deployed)))
    assert defaults["poll"] == dict.fromkeys(("job_seconds", "throughput_seconds", "deployment_seconds"), POLL_SECONDS)
    assert defaults["throughput"] == {"model_units": 1, "max_wait_minutes": THROUGHPUT_MAX_WAIT_MINUTES}
    assert defaults["serving"] == {"setting": "auto", "max_wait_minutes": DEPLOYMENT_MAX_WAIT_MINUTES}


def test_defaults_without_serving_get_none() -> None:
    defaults = json.loads(rehearsal_defaults(json.dumps({"throughput": {"max_wait_minutes": 60}})))
    assert "serving" not in defaults
    assert defaults["poll"] == {"job_seconds": POLL_SECONDS, "throughput_seconds": POLL_SECONDS}
