"""The Bedrock quotas a run can meet, by name and code: one table for `finetune doctor` and the handlers' messages.

Quota codes are UNCONFIRMED in AWS's documentation (read 2026-12-01); they come from third-party code: the
no-commitment model units across custom models are L-BE77399C (a quota checker and a test fixture that says
it is 0 by default and adjustable in us-west-2), "(Model customization) Scheduled customization jobs" is
L-0406044C (a quota catalogue dump). So `finetune doctor` finds quotas by name first and the codes are only the
fallback. AWS's evaluation guide names the two Provisioned Throughput quotas to check: "Model units no-commitment
Provisioned Throughputs across custom models" and "Model units per provisioned model for [model]"
(docs.aws.amazon.com/bedrock/latest/userguide/evaluation-kb.html, read 2026-12-01).
"""

from __future__ import annotations

from dataclasses import dataclass

CUSTOM_MODEL_UNITS_NAME = "Model units no-commitment Provisioned Throughputs across custom models"
CUSTOM_MODEL_UNITS_CODE = "L-BE77399C"  # third-party source; UNCONFIRMED
CUSTOMIZATION_JOBS_NAME = "Concurrent model customization jobs"
CUSTOMIZATION_JOBS_CODE = "L-0406044C"  # third-party source; UNCONFIRMED
# No code for on-demand custom model deployments was found (UNCONFIRMED); the message points to the console list.
CUSTOM_MODEL_DEPLOYMENTS_NAME = "Custom model deployments"


@dataclass(frozen=True)
class Quota:
    """A Bedrock quota a creating call can exceed, and the setting that keeps the pipeline under it."""

    name: str
    code: str | None
    setting: str

    def link(self, region: str) -> str:
        """The Service Quotas console page of the quota (the service's list when its code is unknown)."""
        base = f"https://{region}.console.aws.amazon.com/servicequotas/home/services/bedrock/quotas"
        return f"{base}/{self.code}" if self.code else base

    def label(self) -> str:
        return f"{self.name!r} ({self.code}, code UNCONFIRMED)" if self.code else f"{self.name!r}"


#: What each creating call of a run is limited by, keyed by the Bedrock operation.
CREATE_QUOTAS: dict[str, Quota] = {
    "CreateModelCustomizationJob": Quota(
        CUSTOMIZATION_JOBS_NAME, CUSTOMIZATION_JOBS_CODE, "pipeline.admission.maxConcurrentJobs"
    ),
    "CreateProvisionedModelThroughput": Quota(
        CUSTOM_MODEL_UNITS_NAME, CUSTOM_MODEL_UNITS_CODE, "pipeline.admission.maxModelUnits"
    ),
    "CreateCustomModelDeployment": Quota(CUSTOM_MODEL_DEPLOYMENTS_NAME, None, "pipeline.admission.maxConcurrentRuns"),
}

#: The error codes a creating call answers when the account is at a quota or is being throttled (botocore's
#: bedrock model lists ServiceQuotaExceededException and ThrottlingException for all three creating calls; some
#: SDK paths report TooManyRequestsException). They are waited out, up to admission.quotaWaitMinutes.
QUOTA_ERROR_CODES = frozenset({"ServiceQuotaExceededException", "ThrottlingException", "TooManyRequestsException"})


def quota_message(operation: str, code: str, detail: str, region: str, wait_minutes: float) -> str:
    """One line naming the quota, its code, how long the pipeline waited and what to change."""
    quota = CREATE_QUOTAS[operation]
    waited = (
        f"the workflow retried for up to {wait_minutes:g} minutes (pipeline.admission.quotaWaitMinutes)"
        if wait_minutes > 0
        else "pipeline.admission.quotaWaitMinutes is 0, so it was not retried"
    )
    return (
        f"Bedrock refused {operation} with {code}: {detail}. Quota: {quota.label()}; {waited}. Request an "
        f"increase at {quota.link(region)}, or lower {quota.setting} so fewer runs hold it at once"
    )
