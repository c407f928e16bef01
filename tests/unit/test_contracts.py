"""The names the workflow routes on match the classes handlers raise, and derived names fit AWS's patterns."""

from __future__ import annotations

import re

import pytest

from pipeline_aws import errors
from pipeline_aws.bedrock import client_token, resource_name
from pipeline_core import contracts, manifest

# Patterns from botocore's bedrock and stepfunctions service models.
BEDROCK_NAME = r"([0-9a-zA-Z][_-]?){1,63}"
JOB_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*"
TOKEN = r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?"
EXECUTION_NAME = r"[A-Za-z0-9_-]{1,80}"
TAG = r"[a-zA-Z0-9\s._:/=+@-]*"


@pytest.mark.parametrize(
    ("cls", "name"),
    [
        (errors.TransientServiceError, contracts.ERROR_TRANSIENT),
        (errors.ThroughputNotReady, contracts.ERROR_THROUGHPUT_TIMEOUT),
        (errors.TrainingTimedOut, contracts.ERROR_TRAINING_TIMEOUT),
        (manifest.InvalidManifest, contracts.ERROR_MANIFEST),
    ],
)
def test_error_classes_carry_the_names_the_state_machine_routes_on(cls: type, name: str) -> None:
    assert cls.__name__ == name


@pytest.mark.parametrize(
    "key",
    [
        "inbox/demo.jsonl",
        "inbox/A Very Long Name With Spaces And Stuff That Goes On And On.jsonl",
        "runs/x--y/run.json",
    ],
)
def test_derived_names_fit_every_pattern(key: str) -> None:
    run = contracts.run_name_from_key(key)
    assert run is not None
    execution = contracts.execution_name(run, key, "etag")
    assert re.fullmatch(EXECUTION_NAME, execution)
    name = resource_name(execution)
    assert re.fullmatch(BEDROCK_NAME, name) and re.fullmatch(JOB_NAME, name) and len(name) <= 63
    assert name.endswith(execution[-16:]), "the digest keeps distinct executions distinct"
    assert re.fullmatch(TOKEN, client_token("job", execution))
    assert client_token("job", execution) != client_token("throughput", execution)


def test_tag_keys_fit_bedrock_tag_pattern() -> None:
    for key in (
        contracts.TAG_PIPELINE,
        contracts.TAG_RUN,
        contracts.TAG_EXECUTION,
        contracts.TAG_DATASET_SHA256,
        contracts.TAG_CREATED_AT,
        contracts.TAG_APPROVED,
    ):
        assert re.fullmatch(TAG, key) and 1 <= len(key) <= 128


def test_run_prefix_layout() -> None:
    assert contracts.run_prefix("demo", "demo-abc") == "runs/demo/demo-abc/"
