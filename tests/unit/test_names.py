"""Bedrock resource names fit every Bedrock name pattern; a run's names are unique per execution, stable on retry."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_aws.bedrock import client_token, resource_name
from pipeline_core import contracts
from pipeline_core.names import RunNames, bedrock_name

# botocore 1.44.8's bedrock service model: CreateModelCustomizationJob.jobName and customModelName,
# CreateProvisionedModelThroughput.provisionedModelName (each 1-63 characters) and clientRequestToken (1-256).
JOB_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*"
CUSTOM_MODEL_NAME = r"([0-9a-zA-Z][_-]?){1,63}"
PROVISIONED_MODEL_NAME = r"([0-9a-zA-Z][_-]?)+"
TOKEN = r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?"
START = "2026-12-01T10:00:00.123Z"
LATER = "2027-03-15T08:30:00.456Z"


def assert_valid(name: str) -> None:
    assert 1 <= len(name) <= 63, name
    for pattern in (JOB_NAME, CUSTOM_MODEL_NAME, PROVISIONED_MODEL_NAME):
        assert re.fullmatch(pattern, name), (pattern, name)


ADVERSARIAL = [
    "my_run_with_underscores",
    "a.b.c",
    "run---x",
    "-_-leading-and-trailing-_-",
    "__",
    "...",
    "",
    "x",
    "a" * 200,
    "a_" * 100,
    "-" * 200,
    "ümlaut-ñame",
    "r" * 40 + "--x-0123456789abcdef",
]


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_names_fit_every_bedrock_pattern(text: str) -> None:
    assert_valid(bedrock_name(text))
    assert_valid(resource_name(text))
    names = RunNames.for_execution(text, START)
    assert_valid(names.resource_name)
    assert re.fullmatch(TOKEN, client_token("job", names.token_seed))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=250), st.one_of(st.none(), st.text(min_size=1, max_size=40)))
def test_any_text_gives_valid_names(text: str, start: str | None) -> None:
    assert_valid(bedrock_name(text))
    assert_valid(RunNames.for_execution(text, start).resource_name)


def test_underscores_and_dots_become_single_hyphens() -> None:
    assert bedrock_name("my_run.v2__final") == "my-run-v2-final"


def test_shortening_keeps_the_trailing_digest() -> None:
    execution = contracts.execution_name("r" * 40, "key", "etag")
    long = "x" * 30 + "-" + execution
    name = bedrock_name(long)
    assert len(name) == 63 and name.endswith(execution[-16:])


def test_same_execution_name_at_another_start_time_gets_other_names_and_tokens() -> None:
    """Step Functions reuses an execution name 90 days on; the second execution must meet none of the first's."""
    execution = contracts.execution_name("demo", "inbox/demo.jsonl", "etag")
    first, second = RunNames.for_execution(execution, START), RunNames.for_execution(execution, LATER)
    assert first.resource_name != second.resource_name
    assert client_token("job", first.token_seed) != client_token("job", second.token_seed)
    assert client_token("throughput", first.token_seed) != client_token("throughput", second.token_seed)
    assert first.resource_name.startswith(execution + "-")  # a person still recognises the execution


def test_same_inputs_give_the_same_names() -> None:
    execution = contracts.execution_name("demo", "inbox/demo.jsonl", "etag")
    assert RunNames.for_execution(execution, START) == RunNames.for_execution(execution, START)


def test_names_are_the_same_in_another_process() -> None:
    """A retry can run in another Lambda container: no per-process hashing (hash() is salted per process)."""
    code = (
        "from pipeline_core.names import RunNames; from pipeline_aws.bedrock import client_token; "
        f"n = RunNames.for_execution('demo-0123456789abcdef', {START!r}); "
        "print(n.resource_name, client_token('job', n.token_seed))"
    )
    shared = Path(__file__).resolve().parents[2] / "lambdas" / "shared"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(shared), "PYTHONHASHSEED": "12345"},
    ).stdout.split()
    here = RunNames.for_execution("demo-0123456789abcdef", START)
    assert out == [here.resource_name, client_token("job", here.token_seed)]


def test_names_are_pinned() -> None:
    """Changing the derivation renames what executions under way during an upgrade look for: do it on purpose."""
    names = RunNames.for_execution("demo-0123456789abcdef", START)
    assert names == RunNames(
        resource_name="demo-0123456789abcdef-418e17c603d79545",
        token_seed="418e17c603d795459b2bdee3df471d970e417a866cf45feb9b649da9d85d6b37",
    )


@pytest.mark.parametrize(
    ("execution", "name", "job_token"),
    [
        # The names and job tokens the pipeline gave these executions before run specs carried their own.
        (
            "r" * 40 + "--x-fe033f8461b13d45",
            "r" * 40 + "-x-fe033f8461b13d45",
            "job-d1aed4cc77c1d94c5dca87902902ca3afd973080a80af6ad",
        ),
        ("demo-39157659eef5c3bb", "demo-39157659eef5c3bb", "job-eb0bffa85d9f92df3c437283e8862a22afbf4930596bc1bd"),
        ("b" * 60 + "-0123456789abcdef", "b" * 46 + "-0123456789abcdef", None),
    ],
)
def test_a_run_spec_without_names_keeps_the_names_it_started_with(
    execution: str, name: str, job_token: str | None
) -> None:
    """A run resolved before the upgrade must find the job and throughput it created, and re-use their tokens."""
    legacy = RunNames.from_run({"execution_name": execution})
    assert legacy.resource_name == name and legacy.token_seed == execution
    if job_token:
        assert client_token("job", legacy.token_seed) == job_token
    assert RunNames.for_execution(execution, None) == legacy


def test_a_run_spec_with_names_uses_them() -> None:
    names = RunNames.for_execution("demo-0123456789abcdef", START)
    spec = {
        "execution_name": "demo-0123456789abcdef",
        "resource_name": names.resource_name,
        "token_seed": names.token_seed,
    }
    assert RunNames.from_run(spec) == names
