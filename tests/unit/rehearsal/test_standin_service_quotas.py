"""The stand-in's Service Quotas for ServiceCode "bedrock" (json protocol), through a real boto3 client."""

from __future__ import annotations

from typing import Any

import pytest
from standin_fixtures import client, error_of, in_service_pt, trained_model

from finetune.rehearsal.bedrock_standin import CUSTOMIZATION_JOBS_QUOTA_CODE, MODEL_UNITS_QUOTA_CODE, SimulationConfig
from finetune.rehearsal.standin.protocol import service_model, validate
from finetune.rehearsal.standin.service_quotas import ServiceQuotas


def _quotas(make_standin: Any, **config: Any) -> Any:
    return client(make_standin(**config), "service-quotas")


def test_get_service_quota_reports_the_simulated_limits(make_standin: Any) -> None:
    quotas = _quotas(make_standin, model_unit_quota=3, customization_job_quota=1)
    units = quotas.get_service_quota(ServiceCode="bedrock", QuotaCode=MODEL_UNITS_QUOTA_CODE)["Quota"]
    assert units["Value"] == 3.0
    assert units["QuotaName"] == "Model units no-commitment Provisioned Throughputs across custom models"
    assert units["QuotaArn"] == f"arn:aws:servicequotas:us-west-2:123456789012:bedrock/{MODEL_UNITS_QUOTA_CODE}"
    assert (units["ServiceCode"], units["Adjustable"], units["QuotaAppliedAtLevel"]) == ("bedrock", True, "ACCOUNT")
    jobs = quotas.get_service_quota(ServiceCode="bedrock", QuotaCode=CUSTOMIZATION_JOBS_QUOTA_CODE)["Quota"]
    assert jobs["Value"] == 1.0 and "SIMULATED" in jobs["QuotaName"] and "not AWS's" in jobs["Description"]


def test_a_quota_of_zero_is_what_the_throughput_call_enforces(make_standin: Any) -> None:
    standin = make_standin(model_unit_quota=0)
    quota = client(standin, "service-quotas").get_service_quota(ServiceCode="bedrock", QuotaCode=MODEL_UNITS_QUOTA_CODE)
    assert quota["Quota"]["Value"] == 0.0
    bedrock = client(standin, "bedrock")
    model = trained_model(bedrock)
    code, _, _ = error_of(
        lambda: bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt", modelId=model)
    )
    assert code == "ServiceQuotaExceededException"


def test_one_model_unit_buys_one_throughput(make_standin: Any) -> None:
    standin = make_standin(model_unit_quota=1)
    assert in_service_pt(client(standin, "bedrock"))


def test_list_service_quotas_filters_and_paginates(make_standin: Any) -> None:
    quotas = _quotas(make_standin)
    listed = quotas.list_service_quotas(ServiceCode="bedrock")
    assert [q["QuotaCode"] for q in listed["Quotas"]] == [MODEL_UNITS_QUOTA_CODE, CUSTOMIZATION_JOBS_QUOTA_CODE]
    assert "NextToken" not in listed
    first = quotas.list_service_quotas(ServiceCode="bedrock", MaxResults=1)
    assert [q["QuotaCode"] for q in first["Quotas"]] == [MODEL_UNITS_QUOTA_CODE] and first["NextToken"]
    second = quotas.list_service_quotas(ServiceCode="bedrock", MaxResults=1, NextToken=first["NextToken"])
    assert [q["QuotaCode"] for q in second["Quotas"]] == [CUSTOMIZATION_JOBS_QUOTA_CODE] and "NextToken" not in second
    only = quotas.list_service_quotas(ServiceCode="bedrock", QuotaCode=MODEL_UNITS_QUOTA_CODE)["Quotas"]
    assert [q["QuotaCode"] for q in only] == [MODEL_UNITS_QUOTA_CODE]
    code, _, _ = error_of(lambda: quotas.list_service_quotas(ServiceCode="bedrock", NextToken="abc"))
    assert code == "InvalidPaginationTokenException"


def test_aws_defaults_differ_from_the_applied_values(make_standin: Any) -> None:
    quotas = _quotas(make_standin, model_unit_quota=5)
    default = quotas.get_aws_default_service_quota(ServiceCode="bedrock", QuotaCode=MODEL_UNITS_QUOTA_CODE)["Quota"]
    assert default["Value"] == 0.0  # third-party sources: a new account holds no model units (UNCONFIRMED)
    listed = quotas.list_aws_default_service_quotas(ServiceCode="bedrock")["Quotas"]
    assert {q["QuotaCode"]: q["Value"] for q in listed} == {
        MODEL_UNITS_QUOTA_CODE: 0.0,
        CUSTOMIZATION_JOBS_QUOTA_CODE: float(SimulationConfig.customization_job_quota),
    }


@pytest.mark.parametrize(
    ("service", "quota"), [("bedrock", "L-00000000"), ("vpc", MODEL_UNITS_QUOTA_CODE)], ids=["quota", "service"]
)
def test_unknown_quotas_and_services_answer_no_such_resource(make_standin: Any, service: str, quota: str) -> None:
    quotas = _quotas(make_standin)
    code, status, message = error_of(lambda: quotas.get_service_quota(ServiceCode=service, QuotaCode=quota))
    assert (code, status) == ("NoSuchResourceException", 400)
    assert "simulated" in message


def test_invalid_requests_are_refused_by_the_service_model(make_standin: Any) -> None:
    quotas = client(make_standin(), "service-quotas", validate=False)
    code, _, message = error_of(lambda: quotas.get_service_quota(ServiceCode="bedrock", QuotaCode="9-starts-badly"))
    assert code == "ValidationException" and "QuotaCode" in message


def test_answers_satisfy_botocores_output_shapes() -> None:
    model, quotas = service_model("service-quotas"), ServiceQuotas(SimulationConfig())
    for code in (MODEL_UNITS_QUOTA_CODE, CUSTOMIZATION_JOBS_QUOTA_CODE):
        validate(model.operation_model("GetServiceQuota").output_shape, quotas.get({"ServiceCode": "bedrock",
                                                                                    "QuotaCode": code}))  # fmt: skip
    validate(model.operation_model("ListServiceQuotas").output_shape, quotas.list({"ServiceCode": "bedrock"}))
