"""Simulated Service Quotas for ServiceCode "bedrock": the two quotas a fine-tuning run depends on.

moto 5.2.5 implements Service Quotas for ServiceCode "vpc" only (``moto/servicequotas/models.py`` answers
NoSuchResource for any other code), so the stand-in serves these calls itself; boto3 reaches it through
``AWS_ENDPOINT_URL_SERVICE_QUOTAS``. The values are the simulation's own limits (``SimulationConfig``), the ones
CreateProvisionedModelThroughput and CreateModelCustomizationJob enforce, so a check and the call it predicts agree.
Shapes: botocore's ``service-quotas`` service model (ServiceQuota).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import CUSTOMIZATION_JOBS_QUOTA_CODE, MODEL_UNITS_QUOTA_CODE, SimulationConfig
from .protocol import ApiError

SERVICE_CODE = "bedrock"
SERVICE_NAME = "Amazon Bedrock"


class ServiceQuotas:
    """GetServiceQuota, ListServiceQuotas and their AWS-default twins for ServiceCode "bedrock"."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config

    def _quotas(self) -> dict[str, tuple[str, float, str]]:
        """Code -> (name, applied value, description)."""
        return {
            # UNCONFIRMED code and name (third-party quota checkers; AWS's pages list no codes).
            MODEL_UNITS_QUOTA_CODE: (
                "Model units no-commitment Provisioned Throughputs across custom models",
                float(self.config.model_unit_quota),
                "Simulated: model units all no-commitment Provisioned Throughputs of custom models may hold together.",
            ),
            # The stand-in's own code: AWS's code for this quota was not found.
            CUSTOMIZATION_JOBS_QUOTA_CODE: (
                "SIMULATED concurrent model customization jobs",
                float(self.config.customization_job_quota),
                "Simulated: customization jobs that may run at once. The quota code is the stand-in's, not AWS's.",
            ),
        }

    def _quota(self, code: str, value: float | None = None) -> dict[str, Any]:
        name, applied, description = self._quotas()[code]
        return {
            "ServiceCode": SERVICE_CODE,
            "ServiceName": SERVICE_NAME,
            "QuotaArn": f"arn:aws:servicequotas:{self.config.region}:{self.config.account_id}:{SERVICE_CODE}/{code}",
            "QuotaCode": code,
            "QuotaName": name,
            "Value": applied if value is None else value,
            "Unit": "None",
            "Adjustable": True,
            "GlobalQuota": False,
            "QuotaAppliedAtLevel": "ACCOUNT",
            "Description": description,
        }

    def _check_service(self, params: Mapping[str, Any]) -> None:
        if params["ServiceCode"] != SERVICE_CODE:
            raise ApiError(
                "NoSuchResourceException",
                f"The stand-in serves Service Quotas for ServiceCode {SERVICE_CODE!r} only, "
                f"not {params['ServiceCode']!r}.",
            )

    def get(self, params: Mapping[str, Any], *, default: bool = False) -> dict[str, Any]:
        """GetServiceQuota (the applied value) or GetAWSDefaultServiceQuota (``default``: AWS's default, 0 MUs)."""
        self._check_service(params)
        code = params["QuotaCode"]
        if code not in self._quotas():
            raise ApiError("NoSuchResourceException", f"The quota {code} does not exist for {SERVICE_CODE}.")
        return {"Quota": self._quota(code, self._default(code) if default else None)}

    def list(self, params: Mapping[str, Any], *, default: bool = False) -> dict[str, Any]:
        """ListServiceQuotas / ListAWSDefaultServiceQuotas, paginated by MaxResults and NextToken."""
        self._check_service(params)
        codes = [code for code in self._quotas() if params.get("QuotaCode") in (None, code)]
        start = 0
        if params.get("NextToken"):
            if not params["NextToken"].isdigit():
                raise ApiError("InvalidPaginationTokenException", "The NextToken is not valid.")
            start = int(params["NextToken"])
        end = start + int(params.get("MaxResults", 100))
        quotas = [self._quota(code, self._default(code) if default else None) for code in codes[start:end]]
        return {"Quotas": quotas, "NextToken": str(end) if end < len(codes) else None}

    @staticmethod
    def _default(code: str) -> float:
        # Third-party sources say a new account holds 0 no-commitment model units (UNCONFIRMED); the jobs default is
        # the stand-in's own.
        return 0.0 if code == MODEL_UNITS_QUOTA_CODE else float(SimulationConfig.customization_job_quota)
