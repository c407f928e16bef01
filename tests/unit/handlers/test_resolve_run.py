"""Resolve run: inbox files take the defaults; manifests are validated against S3 and the Region."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_fixtures import ARTIFACTS, DATA, DEFAULTS, HAIKU, load_handler

from pipeline_aws.clients import CLIENTS
from pipeline_aws.errors import TransientServiceError
from pipeline_core import contracts

resolve_run = load_handler("resolve_run")
EXECUTION = "demo-0123456789abcdef"


class FakeBedrock:
    """Answers GetFoundationModel / GetInferenceProfile from a table; an exception in the table is raised."""

    def __init__(self, models: dict[str, Any] | None = None, profiles: dict[str, Any] | None = None) -> None:
        self.models = models or {}
        self.profiles = profiles or {}
        self.calls: list[str] = []

    @staticmethod
    def _answer(table: dict[str, Any], key: str, default: Any) -> Any:
        answer = table.get(key, default)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get_foundation_model(self, *, modelIdentifier: str) -> dict[str, Any]:
        self.calls.append(modelIdentifier)
        return {"modelDetails": self._answer(self.models, modelIdentifier, details())}

    def get_inference_profile(self, *, inferenceProfileIdentifier: str) -> dict[str, Any]:
        self.calls.append(inferenceProfileIdentifier)
        return self._answer(self.profiles, inferenceProfileIdentifier, {"status": "ACTIVE"})


def details(
    status: str = "ACTIVE", end: datetime | None = None, customizations: tuple[str, ...] = ("FINE_TUNING",)
) -> Any:
    lifecycle: dict[str, Any] = {"status": status}
    if end:
        lifecycle["endOfLifeTime"] = end
    return {"modelLifecycle": lifecycle, "customizationsSupported": list(customizations)}


def aws_error(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.fixture
def fake_bedrock() -> Iterator[FakeBedrock]:
    fake = FakeBedrock()
    CLIENTS.set("bedrock", fake)
    yield fake


@pytest.fixture
def env(buckets: Any, defaults_env: dict[str, Any], fake_bedrock: FakeBedrock) -> Any:
    return buckets


def event(key: str, run_name: str = "demo", version_id: str | None = None) -> dict[str, Any]:
    source = {"bucket": DATA, "key": key, "etag": "e", "version_id": version_id, "run_name": run_name}
    return {"source": source, "execution_name": EXECUTION}


def put(s3: Any, key: str, body: str | bytes) -> str | None:
    response = s3.put_object(Bucket=DATA, Key=key, Body=body.encode() if isinstance(body, str) else body)
    return response.get("VersionId")


def test_inbox_file_is_a_single_source_with_the_defaults(env: Any) -> None:
    put(env, "inbox/demo.jsonl", "{}\n")
    run = resolve_run.handler(event("inbox/demo.jsonl", version_id="v-of-the-upload"), None)
    assert run["source"] == {
        "kind": "single",
        "train_key": "inbox/demo.jsonl",
        "validation_key": None,
        "test_key": None,
        "train_version_id": "v-of-the-upload",  # every later read is pinned to the upload that started the run
        "validation_version_id": None,
        "test_version_id": None,
    }
    assert run["artifacts_prefix"] == contracts.run_prefix("demo", EXECUTION)
    assert run["base_model_id"] == HAIKU and run["runtime_model_id"] == "anthropic.claude-3-haiku-20240307-v1:0"
    assert run["hyperparameters"] == DEFAULTS["hyperparameters"] and run["epochs"] == 2
    assert run["data_bucket"] == DATA and run["artifacts_bucket"] == ARTIFACTS
    assert run["execution_name"] == EXECUTION and run["pipeline_name"] == "finetune"


def test_the_execution_start_time_makes_the_bedrock_names_unique(env: Any) -> None:
    """The same execution name 90 days on (same upload again) must not give the same job, model or tokens."""
    put(env, "inbox/demo.jsonl", "{}\n")
    runs = [
        resolve_run.handler(event("inbox/demo.jsonl") | {"execution_start_time": start}, None)
        for start in ("2026-12-01T10:00:00.000Z", "2027-03-02T10:00:00.000Z", "2026-12-01T10:00:00.000Z")
    ]
    assert runs[0]["execution_start_time"] == "2026-12-01T10:00:00.000Z"
    assert runs[0]["resource_name"] != runs[1]["resource_name"] and runs[0]["token_seed"] != runs[1]["token_seed"]
    assert (runs[2]["resource_name"], runs[2]["token_seed"]) == (runs[0]["resource_name"], runs[0]["token_seed"])
    # An event without it (a state machine defined before the field) keeps the execution name's names.
    legacy = resolve_run.handler(event("inbox/demo.jsonl"), None)
    assert (legacy["resource_name"], legacy["token_seed"]) == (EXECUTION, EXECUTION)


def test_manifest_names_files_beside_it(env: Any) -> None:
    env.put_bucket_versioning(Bucket=DATA, VersioningConfiguration={"Status": "Enabled"})
    versions = {name: put(env, f"runs/Demo/{name}", "{}\n") for name in ("train.jsonl", "val.jsonl", "test.jsonl")}
    manifest = {
        "train": "train.jsonl",
        "validation": "val.jsonl",
        "test": "test.jsonl",
        "hyperparameters": {"epochCount": 4},
        "keepThroughput": False,
    }
    put(env, "runs/Demo/run.json", json.dumps(manifest))
    run = resolve_run.handler(event("runs/Demo/run.json"), None)
    assert run["source"] == {
        "kind": "manifest",
        "train_key": "runs/Demo/train.jsonl",
        "validation_key": "runs/Demo/val.jsonl",
        "test_key": "runs/Demo/test.jsonl",
        "train_version_id": versions["train.jsonl"],
        "validation_version_id": versions["val.jsonl"],
        "test_version_id": versions["test.jsonl"],
    }
    assert all(versions.values())
    assert run["hyperparameters"]["epochCount"] == "4" and run["epochs"] == 4
    assert run["throughput"]["keep_after_promotion"] is False


def test_missing_file_is_named(env: Any) -> None:
    put(env, "runs/demo/run.json", '{"train": "train.jsonl"}')
    with pytest.raises(resolve_run.InvalidManifest) as err:
        resolve_run.handler(event("runs/demo/run.json"), None)
    assert type(err.value).__name__ == contracts.ERROR_MANIFEST
    assert str(err.value) == (
        f"runs/demo/run.json: train file 'train.jsonl' was not found at s3://{DATA}/runs/demo/train.jsonl"
    )


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ('{\n  "train": "t.jsonl",\n  "oops": 1,\n}', "runs/demo/run.json line 4: not valid JSON"),
        ('{\n  "train": "t.jsonl",\n  "epochs": 1\n}', "runs/demo/run.json line 3: epochs is not a known run.json key"),
        (
            '{\n  "train": "t.jsonl",\n  "hyperparameters": {\n    "epochCount": 20\n  }\n}',
            "runs/demo/run.json line 4: hyperparameters.epochCount = 20 is not allowed: "
            "expected an integer from 1 to 10",
        ),
        ('{"train": "t.jsonl", "baseModelId": "amazon.nova-lite-v1:0:300k"}', "cannot be fine-tuned in us-west-2"),
    ],
)
def test_bad_manifests_raise_invalid_manifest_with_one_line(env: Any, manifest: str, expected: str) -> None:
    put(env, "runs/demo/t.jsonl", "{}\n")
    put(env, "runs/demo/run.json", manifest)
    with pytest.raises(resolve_run.InvalidManifest) as err:
        resolve_run.handler(event("runs/demo/run.json"), None)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_event_from_another_bucket_is_refused(env: Any) -> None:
    bad = event("inbox/demo.jsonl")
    bad["source"]["bucket"] = "someone-elses"
    with pytest.raises(ValueError, match="not the pipeline's data bucket"):
        resolve_run.handler(bad, None)


def test_the_manifest_read_is_the_version_that_started_the_run(env: Any) -> None:
    env.put_bucket_versioning(Bucket=DATA, VersioningConfiguration={"Status": "Enabled"})
    for name in ("first.jsonl", "second.jsonl"):
        put(env, f"runs/demo/{name}", "{}\n")
    started = put(env, "runs/demo/run.json", '{"train": "first.jsonl"}')
    put(env, "runs/demo/run.json", '{"train": "second.jsonl"}')  # replaced while the first run was starting
    run = resolve_run.handler(event("runs/demo/run.json", version_id=started), None)
    assert run["source"]["train_key"] == "runs/demo/first.jsonl"


# ---- the lifecycle guard: Bedrock is asked before anything is paid for -------------------------------------------
HAIKU_FM = HAIKU  # asked by its customization id, the variant that reports FINE_TUNING


def test_an_active_base_model_goes_on_without_warnings(env: Any, fake_bedrock: FakeBedrock) -> None:
    put(env, "inbox/demo.jsonl", "{}\n")
    run = resolve_run.handler(event("inbox/demo.jsonl"), None)
    assert run["warnings"] == []
    assert fake_bedrock.calls == [HAIKU], "asked about the variant the job is created with"


def test_an_end_of_life_base_model_stops_the_run_before_training(env: Any, fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.models[HAIKU_FM] = aws_error(
        "ResourceNotFoundException", "This model version has reached the end of its life.", 404
    )
    put(env, "inbox/demo.jsonl", "{}\n")
    with pytest.raises(resolve_run.BaseModelUnavailable) as err:
        resolve_run.handler(event("inbox/demo.jsonl"), None)
    message = str(err.value)
    assert "\n" not in message
    assert f"Claude 3 Haiku ({HAIKU_FM}) is END_OF_LIFE in us-west-2" in message
    assert "reached the end of its life" in message and "no customization job was started" in message
    assert "meta.llama3-1-70b-instruct-v1:0:128k" in message, "names what to choose instead"


def test_a_base_model_without_fine_tuning_stops_the_run(env: Any, fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.models[HAIKU_FM] = details(customizations=("DISTILLATION",))
    put(env, "inbox/demo.jsonl", "{}\n")
    with pytest.raises(resolve_run.BaseModelUnavailable, match=r"cannot be fine-tuned in us-west-2 .*DISTILLATION"):
        resolve_run.handler(event("inbox/demo.jsonl"), None)


def test_a_legacy_base_model_goes_on_with_a_warning_naming_its_end_of_life(env: Any, fake_bedrock: FakeBedrock) -> None:
    # Days are counted from the start of today (UTC), so noon 90 days on is 90 days left at any hour of the run
    # (now + 90 days + 1 hour said 91 in the last hour before midnight).
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = today + timedelta(days=90, hours=12)
    fake_bedrock.models[HAIKU_FM] = details("LEGACY", end)
    put(env, "inbox/demo.jsonl", "{}\n")
    run = resolve_run.handler(event("inbox/demo.jsonl"), None)
    [warning] = run["warnings"]
    assert "is LEGACY in us-west-2" in warning and end.date().isoformat() in warning
    assert "(90 days left)" in warning and "Provisioned Throughput" in warning


def test_a_throttled_lifecycle_lookup_is_retried_by_the_workflow(env: Any, fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.models[HAIKU_FM] = aws_error("ThrottlingException", "slow down", 429)
    put(env, "inbox/demo.jsonl", "{}\n")
    with pytest.raises(TransientServiceError):
        resolve_run.handler(event("inbox/demo.jsonl"), None)


def test_access_denied_on_the_lookup_fails_the_run_before_training(env: Any, fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.models[HAIKU_FM] = aws_error("AccessDeniedException", "not authorized", 403)
    put(env, "inbox/demo.jsonl", "{}\n")
    with pytest.raises(ClientError, match="AccessDeniedException"):
        resolve_run.handler(event("inbox/demo.jsonl"), None)


def manifest_with_references(env: Any, references: list[str]) -> str:
    put(env, "runs/demo/train.jsonl", "{}\n")
    put(env, "runs/demo/run.json", json.dumps({"train": "train.jsonl", "evaluation": {"referenceModels": references}}))
    return "runs/demo/run.json"


@pytest.fixture
def with_references(defaults_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    refs = ["us.anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-3-sonnet-20240229-v1:0"]
    monkeypatch.setenv(
        contracts.ENV_DEFAULTS,
        json.dumps({**DEFAULTS, "evaluation": {**DEFAULTS["evaluation"], "reference_models": refs}}),
    )
    return refs


def test_a_missing_reference_profile_stops_the_run(
    env: Any, fake_bedrock: FakeBedrock, with_references: list[str]
) -> None:
    fake_bedrock.profiles[with_references[0]] = aws_error("ResourceNotFoundException", "no such profile", 404)
    key = manifest_with_references(env, with_references)
    with pytest.raises(resolve_run.ReferenceModelUnavailable) as err:
        resolve_run.handler(event(key), None)
    assert with_references[0] in str(err.value) and "no customization job was started" in str(err.value)


def test_an_end_of_life_reference_stops_and_a_legacy_one_warns(
    env: Any, fake_bedrock: FakeBedrock, with_references: list[str]
) -> None:
    key = manifest_with_references(env, with_references)
    fake_bedrock.models[with_references[1]] = details("LEGACY", datetime(2027, 1, 31, tzinfo=UTC))
    run = resolve_run.handler(event(key), None)
    assert run["warnings"] == [
        f"Reference model {with_references[1]} is LEGACY, end of life 2027-01-31 "
        "(docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html, read 2026-12-01)"
    ]
    fake_bedrock.models[with_references[1]] = aws_error("ResourceNotFoundException", "end of its life", 404)
    with pytest.raises(resolve_run.ReferenceModelUnavailable, match="is not available"):
        resolve_run.handler(event(key), None)
