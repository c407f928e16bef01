"""The stand-in's foundation-model calls: lifecycle from the catalogue on the simulated date, its two faults,
availability, inference profiles, and CreateModelCustomizationJob following the same lifecycle."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from standin_fixtures import client, error_of, job_request, job_status, wait_until

from finetune.rehearsal.bedrock_standin import BedrockStandIn, SimulationConfig
from finetune.rehearsal.standin.control_plane import ControlPlane
from finetune.rehearsal.standin.foundation_models import END_OF_LIFE_MESSAGE, FoundationModels, branded_name
from finetune.rehearsal.standin.protocol import ApiError, service_model, validate
from pipeline_core.models import CATALOGUE, DEFAULT_BASE_MODEL_ID, LifecycleStatus

TODAY = dt.date(2026, 12, 1)
LLAMA_70B = DEFAULT_BASE_MODEL_ID  # meta.llama3-1-70b-instruct-v1:0:128k, Active in us-west-2
LLAMA_70B_FM = "meta.llama3-1-70b-instruct-v1:0"
LLAMA_8B_FM = "meta.llama3-1-8b-instruct-v1:0"
HAIKU_FM = "anthropic.claude-3-haiku-20240307-v1:0"  # end of life in us-west-2 on 2026-09-10
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"


def _bedrock(make_standin: Any, **config: Any) -> tuple[BedrockStandIn, Any]:
    standin = make_standin(**{"today": TODAY, **config})
    return standin, client(standin, "bedrock", region=config.get("region", "us-west-2"))


def test_an_active_model_answers_under_both_of_its_ids(make_standin: Any) -> None:
    _, bedrock = _bedrock(make_standin)
    for identifier in (LLAMA_70B_FM, LLAMA_70B, f"arn:aws:bedrock:us-west-2::foundation-model/{LLAMA_70B_FM}"):
        details = bedrock.get_foundation_model(modelIdentifier=identifier)["modelDetails"]
        assert details["modelLifecycle"]["status"] == "ACTIVE"
        assert "endOfLifeTime" not in details["modelLifecycle"]
        assert details["customizationsSupported"] == ["FINE_TUNING"]
        assert details["providerName"] == "Meta"
    plain = bedrock.get_foundation_model(modelIdentifier=LLAMA_70B_FM)["modelDetails"]
    variant = bedrock.get_foundation_model(modelIdentifier=LLAMA_70B)["modelDetails"]
    assert (plain["modelId"], plain["inferenceTypesSupported"]) == (LLAMA_70B_FM, ["ON_DEMAND"])
    assert (variant["modelId"], variant["inferenceTypesSupported"]) == (LLAMA_70B, ["PROVISIONED"])
    assert plain["modelArn"] == f"arn:aws:bedrock:us-west-2::foundation-model/{LLAMA_70B_FM}"


@pytest.mark.parametrize(
    ("today", "status"),
    [(dt.date(2026, 9, 9), "LEGACY"), (dt.date(2026, 9, 10), "END_OF_LIFE"), (dt.date(2026, 9, 11), "END_OF_LIFE")],
    ids=["day-before", "end-of-life-day", "day-after"],
)
def test_the_documented_end_of_life_date_decides_on_the_simulated_date(
    make_standin: Any, today: dt.date, status: str
) -> None:
    _, bedrock = _bedrock(make_standin, today=today)
    if status == "LEGACY":
        lifecycle = bedrock.get_foundation_model(modelIdentifier=HAIKU_FM)["modelDetails"]["modelLifecycle"]
        assert lifecycle["status"] == "LEGACY"
        assert lifecycle["endOfLifeTime"] == dt.datetime(2026, 9, 10, tzinfo=dt.UTC)
        return
    code, http_status, message = error_of(lambda: bedrock.get_foundation_model(modelIdentifier=HAIKU_FM))
    assert (code, http_status) == ("ResourceNotFoundException", 404)
    assert message.startswith(END_OF_LIFE_MESSAGE)
    code, _, _ = error_of(lambda: bedrock.get_foundation_model_availability(modelId=HAIKU_FM))
    assert code == "ResourceNotFoundException"


def test_unconfirmed_end_of_life_models_are_end_of_life_here(make_standin: Any) -> None:
    """Llama 3.2 (us-west-2) and Titan Text Express (us-east-1) are documented end-of-life, though unconfirmed."""
    _, west = _bedrock(make_standin)
    assert error_of(lambda: west.get_foundation_model(modelIdentifier="meta.llama3-2-1b-instruct-v1:0"))[0] == (
        "ResourceNotFoundException"
    )
    _, east = _bedrock(make_standin, region="us-east-1")
    assert error_of(lambda: east.get_foundation_model(modelIdentifier="amazon.titan-text-express-v1"))[0] == (
        "ResourceNotFoundException"
    )
    assert east.get_foundation_model(modelIdentifier="amazon.nova-lite-v1:0")["modelDetails"]["modelLifecycle"] == {
        "status": "ACTIVE",
        "startOfLifeTime": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    }


def test_unknown_models_and_models_of_other_regions(make_standin: Any) -> None:
    _, bedrock = _bedrock(make_standin)
    assert error_of(lambda: bedrock.get_foundation_model(modelIdentifier="acme.nothing-v1:0"))[:2] == (
        "ValidationException",
        400,
    )
    # Nova is fine-tuned in us-east-1 only: not a foundation model of this (us-west-2) simulation.
    assert error_of(lambda: bedrock.get_foundation_model(modelIdentifier="amazon.nova-lite-v1:0"))[0] == (
        "ValidationException"
    )
    availability = bedrock.get_foundation_model_availability(modelId="amazon.nova-lite-v1:0")
    assert availability["regionAvailability"] == "NOT_AVAILABLE"
    assert error_of(lambda: bedrock.get_foundation_model_availability(modelId="acme.nothing-v1:0"))[0] == (
        "ValidationException"
    )


def test_base_model_eol_fault_ends_the_base_model_only(make_standin: Any) -> None:
    standin, bedrock = _bedrock(make_standin, faults={"base-model-eol"}, base_model_id=LLAMA_70B)
    for identifier in (LLAMA_70B_FM, LLAMA_70B):
        code, status, message = error_of(lambda i=identifier: bedrock.get_foundation_model(modelIdentifier=i))
        assert (code, status) == ("ResourceNotFoundException", 404) and END_OF_LIFE_MESSAGE in message
    assert bedrock.get_foundation_model(modelIdentifier=LLAMA_8B_FM)["modelDetails"]["modelLifecycle"]["status"] == (
        "ACTIVE"
    )
    code, _, message = error_of(lambda: bedrock.create_model_customization_job(**job_request("too-late")))
    assert code == "ResourceNotFoundException" and END_OF_LIFE_MESSAGE in message
    assert standin.jobs() == []
    state = standin.lifecycle(LLAMA_70B)
    assert state is not None and state.status is LifecycleStatus.END_OF_LIFE
    assert state.describe() == "END_OF_LIFE, end of life 2026-12-01 (fault base-model-eol)"
    listed = {m["modelId"] for m in bedrock.list_foundation_models()["modelSummaries"]}
    assert LLAMA_70B_FM not in listed and LLAMA_8B_FM in listed


@pytest.mark.parametrize("days", [0, 1, 90])
def test_base_model_legacy_fault_reports_legacy_with_an_end_of_life_date(make_standin: Any, days: int) -> None:
    _, bedrock = _bedrock(make_standin, faults={"base-model-legacy"}, legacy_days_left=days)
    lifecycle = bedrock.get_foundation_model(modelIdentifier=LLAMA_70B_FM)["modelDetails"]["modelLifecycle"]
    assert lifecycle["status"] == "LEGACY"
    assert lifecycle["legacyTime"] == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert lifecycle["endOfLifeTime"] == dt.datetime(2026, 12, 1, tzinfo=dt.UTC) + dt.timedelta(days=days)
    # A Legacy model can still be customized in the simulation: the run goes on with a warning.
    arn = bedrock.create_model_customization_job(**job_request("legacy-job"))["jobArn"]
    assert wait_until(job_status(bedrock, arn), {"Completed", "Failed"}) == "Completed"


def test_the_faults_without_a_base_model_act_on_every_catalogued_model(make_standin: Any) -> None:
    _, bedrock = _bedrock(make_standin, faults={"base-model-legacy"})
    for model in (LLAMA_70B_FM, LLAMA_8B_FM):
        details = bedrock.get_foundation_model(modelIdentifier=model)["modelDetails"]
        assert details["modelLifecycle"]["status"] == "LEGACY"


def test_list_foundation_models_filters(make_standin: Any) -> None:
    reference = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    _, bedrock = _bedrock(make_standin, on_demand_models=frozenset({reference, "us.amazon.nova-lite-v1:0"}))
    everything = {m["modelId"] for m in bedrock.list_foundation_models()["modelSummaries"]}
    customizable = {
        m["modelId"] for m in bedrock.list_foundation_models(byCustomizationType="FINE_TUNING")["modelSummaries"]
    }
    alive = {
        variant
        for model in CATALOGUE.values()
        if "us-west-2" in model.regions
        and model.lifecycle_in("us-west-2").status_on(TODAY) is not LifecycleStatus.END_OF_LIFE
        for variant in (model.model_id, model.foundation_model_id)
    }
    assert customizable == alive == {LLAMA_70B, LLAMA_70B_FM, "meta.llama3-1-8b-instruct-v1:0:128k", LLAMA_8B_FM}
    assert everything == alive | {reference}  # profiles are not foundation models
    assert {m["modelId"] for m in bedrock.list_foundation_models(byProvider="anthropic")["modelSummaries"]} == {
        reference
    }
    provisioned = bedrock.list_foundation_models(byInferenceType="PROVISIONED")["modelSummaries"]
    assert {m["modelId"] for m in provisioned} == {LLAMA_70B, "meta.llama3-1-8b-instruct-v1:0:128k"}
    assert bedrock.list_foundation_models(byOutputModality="IMAGE")["modelSummaries"] == []
    reference_details = bedrock.get_foundation_model(modelIdentifier=reference)["modelDetails"]
    assert reference_details["customizationsSupported"] == []


def test_availability_reports_the_configured_access(make_standin: Any) -> None:
    _, bedrock = _bedrock(make_standin)
    answer = bedrock.get_foundation_model_availability(modelId=LLAMA_70B_FM)
    assert {key: answer[key] for key in answer if key != "ResponseMetadata"} == {
        "modelId": LLAMA_70B_FM,
        "agreementAvailability": {"status": "AVAILABLE"},
        "authorizationStatus": "AUTHORIZED",
        "entitlementAvailability": "AVAILABLE",
        "regionAvailability": "AVAILABLE",
    }
    _, denied = _bedrock(make_standin, agreement_status="ERROR", authorization_status="NOT_AUTHORIZED")
    answer = denied.get_foundation_model_availability(modelId=LLAMA_70B_FM)
    assert answer["agreementAvailability"]["status"] == "ERROR" and answer["agreementAvailability"]["errorMessage"]
    assert answer["authorizationStatus"] == "NOT_AUTHORIZED"
    with pytest.raises(ValueError, match="agreement_status must be one of"):
        SimulationConfig(agreement_status="MAYBE")


def test_inference_profiles_of_known_models(make_standin: Any) -> None:
    _, bedrock = _bedrock(make_standin, region="us-east-1")
    for profile in ("us.amazon.nova-2-lite-v1:0", "global.amazon.nova-2-lite-v1:0"):
        answer = bedrock.get_inference_profile(inferenceProfileIdentifier=profile)
        assert (answer["status"], answer["type"], answer["inferenceProfileId"]) == ("ACTIVE", "SYSTEM_DEFINED", profile)
        assert answer["inferenceProfileArn"] == f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{profile}"
        assert all(m["modelArn"].endswith("::foundation-model/amazon.nova-2-lite-v1:0") for m in answer["models"])
    by_arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0"
    assert bedrock.get_inference_profile(inferenceProfileIdentifier=by_arn)["inferenceProfileId"] == (
        "us.amazon.nova-lite-v1:0"
    )
    for missing in ("eu.amazon.nova-2-lite-v1:0", "us.amazon.titan-text-express-v1", "us.acme.nothing-v1:0"):
        code, status, _ = error_of(lambda p=missing: bedrock.get_inference_profile(inferenceProfileIdentifier=p))
        assert (code, status) == ("ResourceNotFoundException", 404), missing


def test_answers_satisfy_botocores_output_shapes_for_every_catalogued_model() -> None:
    """Every catalogued model in each of its Regions, in every lifecycle the simulation can give it."""
    model = service_model("bedrock")
    for faults in (frozenset(), frozenset({"base-model-legacy"})):
        for region in sorted({region for m in CATALOGUE.values() for region in m.regions}):
            models = FoundationModels(SimulationConfig(region=region, today=TODAY, faults=faults))
            for entry in CATALOGUE.values():
                if region not in entry.regions:
                    continue
                alive = True
                for identifier in (entry.model_id, entry.foundation_model_id):
                    try:
                        answer = models.get(identifier)
                    except ApiError as error:
                        assert error.code == "ResourceNotFoundException" and not faults
                        alive = False
                        continue
                    validate(model.operation_model("GetFoundationModel").output_shape, answer)
                    validate(model.operation_model("ListFoundationModels").output_shape, models.list({}))
                    validate(
                        model.operation_model("GetFoundationModelAvailability").output_shape,
                        models.availability(identifier),
                    )
                if alive:
                    profile = models.inference_profile(f"us.{entry.foundation_model_id}")
                    validate(model.operation_model("GetInferenceProfile").output_shape, profile)


def test_branded_names_fit_the_api() -> None:
    assert branded_name("Llama 3.1 70B Instruct") == "Llama 3.1 70B"
    assert branded_name("Titan Text G1 - Express") == "Titan Text Express"
    assert branded_name("Nova 2 Lite") == "Nova 2 Lite"  # short names are kept whole
    assert all(1 <= len(branded_name(m.display_name)) <= 20 for m in CATALOGUE.values())


# ---- CreateModelCustomizationJob follows the catalogue -----------------------------------------------------------
def _plane(region: str, **config: Any) -> ControlPlane:
    return ControlPlane(SimulationConfig(region=region, today=TODAY, **config), None)


def _job(model_id: str, name: str = "job", **hyperparameters: str) -> dict[str, Any]:
    return job_request(name, baseModelIdentifier=model_id, hyperParameters=hyperparameters)


def test_every_catalogued_model_alive_in_its_region_is_accepted() -> None:
    accepted, refused = set(), {}
    for model in CATALOGUE.values():
        for region in model.regions:
            try:
                _plane(region).create_job(_job(model.model_id))
                accepted.add(model.model_id)
            except ApiError as error:
                refused[model.model_id] = error.code
    alive = {
        m.model_id
        for m in CATALOGUE.values()
        for r in m.regions
        if m.lifecycle_in(r).status_on(TODAY) is not LifecycleStatus.END_OF_LIFE
    }
    assert accepted == alive and NOVA_2_LITE in accepted and LLAMA_70B in accepted
    assert set(refused) == set(CATALOGUE) - alive
    assert set(refused.values()) == {"ResourceNotFoundException"}  # end of life, as Bedrock answers


def test_a_model_is_refused_outside_its_regions() -> None:
    with pytest.raises(ApiError) as raised:
        _plane("us-west-2").create_job(_job(NOVA_2_LITE))
    assert raised.value.code == "ValidationException" and "us-east-1" in raised.value.message
    with pytest.raises(ApiError) as raised:
        _plane("us-west-2").create_job(_job("acme.nothing-v1:0:8k"))
    assert raised.value.code == "ValidationException" and "CATALOGUE" in raised.value.message


@pytest.mark.parametrize("model_id", [LLAMA_70B, NOVA_2_LITE])
def test_hyperparameters_are_checked_against_the_catalogue_ranges(model_id: str) -> None:
    model = CATALOGUE[model_id]
    region = model.regions[0]
    for hp in model.hyperparameters:
        step = 1 if hp.integer else (hp.maximum - hp.minimum) / 10 or 1
        for value, ok in (
            (hp.minimum, True),
            (hp.maximum, True),
            (hp.minimum - step, False),
            (hp.maximum + step, False),
        ):
            plane = _plane(region)
            request = _job(model_id, f"{hp.name}-{ok}", **{hp.name: hp.render(value)})
            if ok:
                plane.create_job(request)
                continue
            with pytest.raises(ApiError, match="outside") as raised:
                plane.create_job(request)
            assert raised.value.code == "ValidationException"
        if hp.integer:
            with pytest.raises(ApiError, match="not a valid number"):
                _plane(region).create_job(_job(model_id, **{hp.name: "1.5"}))
    with pytest.raises(ApiError, match="Unknown hyperparameter learningRateMultiplier"):
        _plane(region).create_job(_job(model_id, learningRateMultiplier="1"))


@pytest.mark.parametrize("quota", [0, 1, 2])
def test_concurrent_jobs_are_limited_by_the_simulated_quota(quota: int) -> None:
    plane = _plane("us-west-2", customization_job_quota=quota)
    for index in range(quota):
        plane.create_job(_job(LLAMA_70B, f"job-{index}"))
    with pytest.raises(ApiError) as raised:
        plane.create_job(_job(LLAMA_70B, "one-too-many"))
    assert raised.value.code == "ServiceQuotaExceededException"
    assert len(plane.jobs) == quota


# ---- the runtime follows the same facts -----------------------------------------------------------------------
def test_a_profile_only_model_is_invoked_through_its_profile(make_standin: Any) -> None:
    runtime = client(make_standin(region="us-east-1", today=TODAY), "bedrock-runtime", region="us-east-1")
    messages = [{"role": "user", "content": [{"text": "hello"}]}]
    assert runtime.converse(modelId="us.amazon.nova-2-lite-v1:0", messages=messages)["stopReason"] == "end_turn"
    code, _, message = error_of(lambda: runtime.converse(modelId="amazon.nova-2-lite-v1:0", messages=messages))
    assert code == "ValidationException" and "inference profile" in message
    assert runtime.converse(modelId="amazon.nova-lite-v1:0", messages=messages)["stopReason"] == "end_turn"


def test_an_end_of_life_base_model_cannot_be_invoked(make_standin: Any) -> None:
    standin = make_standin(today=TODAY, faults={"base-model-eol"}, base_model_id=LLAMA_70B)
    runtime = client(standin, "bedrock-runtime")
    messages = [{"role": "user", "content": [{"text": "hello"}]}]
    code, _, message = error_of(lambda: runtime.converse(modelId=LLAMA_70B_FM, messages=messages))
    assert code == "ResourceNotFoundException" and END_OF_LIFE_MESSAGE in message
    assert runtime.converse(modelId=LLAMA_8B_FM, messages=messages)["stopReason"] == "end_turn"
