"""The checks of `finetune doctor`: a read-only look at an AWS account for what would stop a pipeline run there.

Each check makes only Get*, List* and Describe* calls, through clients wrapped by :func:`read_only`, and returns
one :class:`Check` line: ok, warn (a run can go on, but look) or fail (a run would fail), with what to do. An AWS
call that fails (throttled, access denied, unavailable) becomes a warning naming the error, never a traceback.
No boto3 import: the clients are passed in, so the same checks run against a real account, botocore's Stubber or
the local rehearsal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from finetune.operator import (
    CREDENTIAL_CODES,
    EXPIRED_CREDENTIAL_KINDS,
    OUTPUT_ARTIFACTS_BUCKET,
    OUTPUT_DATA_BUCKET,
    OUTPUT_KEY_ARN,
    OUTPUT_STATE_MACHINE,
    error_code,
    is_aws_error,
)
from pipeline_core.models import CATALOGUE, BaseModel, LifecycleStatus, alternatives, get_base_model
from pipeline_core.quotas import CUSTOM_MODEL_UNITS_CODE, CUSTOM_MODEL_UNITS_NAME, CUSTOMIZATION_JOBS_CODE

# ---- the read-only guarantee -------------------------------------------------------------------------------------
#: Operations whose names start with these only read. The doctor never creates, changes or deletes anything.
READ_ONLY_PREFIXES = ("Get", "List", "Describe")
_GUARD_ID = "finetune-doctor-read-only"


class MutatingCallRefused(RuntimeError):
    """Something asked a doctor client for an operation that could change the account."""


def is_read_only_operation(operation_name: str) -> bool:
    return operation_name.startswith(READ_ONLY_PREFIXES)


def _refuse_mutation(model: Any = None, **_: Any) -> None:
    """botocore ``provide-client-params`` hook: the first event of every call, before any request is built."""
    name = str(getattr(model, "name", "") or "")
    if not is_read_only_operation(name):
        raise MutatingCallRefused(f"finetune doctor only reads: {name or 'this operation'} is not allowed")


class ReadOnlyClient:
    """A boto3 client that exposes only its read operations.

    Two locks: attribute access refuses a mutating method by name, and a hook on the client's own event system
    refuses any operation that is not Get*/List*/Describe* before a request is built, so even code that reaches
    the wrapped client cannot change the account through it.
    """

    __slots__ = ("_client",)

    def __init__(self, client: Any) -> None:
        client.meta.events.register_first("provide-client-params", _refuse_mutation, unique_id=_GUARD_ID)
        object.__setattr__(self, "_client", client)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a read-only client cannot be changed")

    def __getattr__(self, name: str) -> Any:
        client = object.__getattribute__(self, "_client")
        if name in ("meta", "exceptions"):
            return getattr(client, name)
        operation = client.meta.method_to_api_mapping.get(name)
        if operation is None:
            raise AttributeError(f"a read-only client offers only AWS read operations, not {name!r}")
        if not is_read_only_operation(operation):
            raise MutatingCallRefused(f"finetune doctor only reads: {operation} is not allowed")
        return getattr(client, name)


def read_only(client: Any) -> ReadOnlyClient:
    return client if isinstance(client, ReadOnlyClient) else ReadOnlyClient(client)


#: Gives the read-only client of a botocore service name ("bedrock", "service-quotas"...).
Clients = Callable[[str], Any]


# ---- results -----------------------------------------------------------------------------------------------------
class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


_RANK = {Status.OK: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report. ``fix`` says what to do; it is empty for a check that passed."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items()}


CREDENTIALS = "credentials"
EXIT_OK, EXIT_BLOCKED, EXIT_USAGE = 0, 1, 2


def exit_code(checks: Sequence[Check]) -> int:
    """2 when the credentials do not work, 1 when anything would stop a run, else 0 (warnings allowed)."""
    if any(c.name == CREDENTIALS and c.status is Status.FAIL for c in checks):
        return EXIT_USAGE
    return EXIT_BLOCKED if any(c.status is Status.FAIL for c in checks) else EXIT_OK


@dataclass(frozen=True)
class Target:
    """What the doctor checks: the settings of cdk.json (and the flags that override them)."""

    name: str
    region: str
    region_source: str  # where the Region came from, e.g. "cdk.json pipeline.region" or "--region"
    base_model_id: str
    reference_models: tuple[str, ...]
    model_units: int
    data_plane_stack: str
    pipeline_stack: str
    today: date

    @property
    def base_model(self) -> BaseModel:
        return get_base_model(self.base_model_id)


# ---- AWS errors as check lines -----------------------------------------------------------------------------------
_DENIED = re.compile(r"AccessDenied|Unauthorized|Forbidden|NotAuthorized")
_CREDENTIAL_KINDS = EXPIRED_CREDENTIAL_KINDS | {"NoCredentialsError", "PartialCredentialsError"}


def _one_line(text: object, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def describe_error(err: BaseException) -> str:
    """``Code: message`` for a ClientError, ``Kind: text`` for any other botocore error; one line."""
    code = error_code(err)
    if code:
        message = str((getattr(err, "response", {}).get("Error") or {}).get("Message") or "")
        return _one_line(f"{code}: {message}" if message and message != code else code)
    return _one_line(f"{type(err).__name__}: {err}")


def is_credentials_error(err: BaseException) -> bool:
    return type(err).__name__ in _CREDENTIAL_KINDS or error_code(err) in CREDENTIAL_CODES


def _is_throttled(err: BaseException) -> bool:
    code = error_code(err)
    return "Throttl" in code or code in ("TooManyRequestsException", "RequestLimitExceeded", "SlowDown")


def _not_found(err: BaseException) -> bool:
    code = error_code(err)
    return "NotFound" in code or code.startswith("NoSuch") or code == "NoSuchResourceException"


def _unknown_model(err: BaseException) -> bool:
    """Bedrock no longer (or never) knows the model: not found, or an identifier it calls invalid."""
    message = describe_error(err).lower()
    return _not_found(err) or (error_code(err) == "ValidationException" and "identifier is invalid" in message)


def _gone(err: BaseException) -> str:
    """How to say what Bedrock answered about a model it does not know."""
    if "end of its life" in describe_error(err):
        return f"reached end of life (Bedrock: {describe_error(err)})"
    return f"Bedrock does not know this model here (end of life, or not offered): {describe_error(err)}"


def unverified(name: str, err: BaseException, action: str) -> Check:
    """A check whose AWS call did not complete: a warning with the error and what to do about it."""
    detail = f"could not check: {action} failed: {describe_error(err)}"
    if is_credentials_error(err):
        fix = "refresh the credentials (`aws sso login`, new keys) or pass --profile, then run finetune doctor again"
    elif _DENIED.search(error_code(err)):
        fix = f"allow {action} to this identity (read-only), or pass --profile for one that may; then run again"
    elif _is_throttled(err):
        fix = "AWS throttled the call after retries: run finetune doctor again in a minute"
    else:
        fix = "run finetune doctor again; if it persists, check the network, --region and AWS_ENDPOINT_URL*"
    return Check(name, Status.WARN, detail, fix)


def _aws(err: Exception) -> Exception:
    """Re-raise anything that is not an AWS error: a bug (or a failed test assertion) must not hide as a warning."""
    if not is_aws_error(err) or isinstance(err, AssertionError):
        raise err
    return err


# ---- 1. credentials ----------------------------------------------------------------------------------------------
def check_credentials(clients: Clients) -> Check:
    try:
        identity = clients("sts").get_caller_identity()
    except Exception as err:  # _aws re-raises anything but an AWS error
        err = _aws(err)
        if is_credentials_error(err) or type(err).__name__ in ("ProfileNotFound", "NoRegionError"):
            fix = "configure AWS credentials (`aws configure` or `aws sso login`) or pass --profile"
        else:
            fix = "check the network, --region and AWS_ENDPOINT_URL*, then run finetune doctor again"
        return Check(CREDENTIALS, Status.FAIL, f"sts:GetCallerIdentity failed: {describe_error(err)}", fix)
    return Check(CREDENTIALS, Status.OK, f"account {identity.get('Account')} as {identity.get('Arn')}")


# ---- 2. Region ---------------------------------------------------------------------------------------------------
_FINE_TUNING_SOURCE = "docs.aws.amazon.com/bedrock/latest/userguide/custom-model-fine-tuning.html"


def check_region(target: Target) -> Check:
    model = target.base_model
    where = f"{target.region} ({target.region_source})"
    if target.region in model.regions:
        return Check("region", Status.OK, f"{where}: {model.display_name} can be fine-tuned here")
    return Check(
        "region",
        Status.FAIL,
        f"{where}: {model.display_name} cannot be fine-tuned here; it can in {', '.join(model.regions)} "
        f"({_FINE_TUNING_SOURCE})",
        f"set pipeline.region in cdk.json to {' or '.join(model.regions)}, or choose another "
        f"pipeline.baseModelId{' (and drop --region)' if target.region_source == '--region' else ''}",
    )


# ---- 3. models ---------------------------------------------------------------------------------------------------
# Model lifecycle: https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html (read 2026-12-01):
# "You can't create a new Provisioned Throughput for models in the Legacy state"; under the policy for models
# launched on or after 2026-09-07, no new fine-tuning jobs on a Legacy model either.
_LEGACY_NOTE = (
    "AWS creates no new Provisioned Throughput for a Legacy model (and, for models launched on or after "
    "2026-09-07, no new fine-tuning jobs)"
)
# Model access: https://docs.aws.amazon.com/bedrock/latest/userguide/model-access.html (read 2026-12-01): access
# to every Bedrock foundation model is enabled by default for identities with these AWS Marketplace permissions;
# Anthropic models need the one-time first-use form (use-case details) before the first call.
MODEL_ACCESS_DOC = "https://docs.aws.amazon.com/bedrock/latest/userguide/model-access.html"
MARKETPLACE_ACTIONS = "aws-marketplace:Subscribe, aws-marketplace:Unsubscribe and aws-marketplace:ViewSubscriptions"
# Inference-profile ids start with a geography (cross-Region inference) or "global."
_PROFILE_ID = re.compile(r"^(us|us-gov|eu|apac|jp|au|ca|global)\.")
_PROFILE_ARN = re.compile(r"^arn:[^:]+:bedrock:[^:]*:[^:]*:(application-)?inference-profile/")
_FOUNDATION_ARN = ":foundation-model/"


def bedrock_console(region: str) -> str:
    return f"https://{region}.console.aws.amazon.com/bedrock/home?region={region}"


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return None
    return None


def live_lifecycle(details: Mapping[str, Any], today: date) -> tuple[LifecycleStatus | None, date | None]:
    """The status GetFoundationModel reports, with a passed end-of-life date read as end of life; None: unknown."""
    lifecycle = details.get("modelLifecycle") or {}
    end = _as_date(lifecycle.get("endOfLifeTime"))
    status = str(lifecycle.get("status") or "")
    if end is not None and end <= today:
        return LifecycleStatus.END_OF_LIFE, end
    if status in (LifecycleStatus.ACTIVE, LifecycleStatus.LEGACY):
        return LifecycleStatus(status), end
    return None, end


def instead(target: Target) -> str:
    """Catalogued models documented as Active that can be fine-tuned in the Region (or elsewhere)."""
    here = alternatives(target.region, target.today, exclude=target.base_model_id)
    if here:
        listed = ", ".join(f"{m.model_id} ({m.display_name})" for m in here)
        return f"set pipeline.baseModelId in cdk.json to one of: {listed}"
    regions = sorted({region for model in CATALOGUE.values() for region in model.regions})
    elsewhere = [
        f"{m.model_id} in {region}" for region in regions for m in alternatives(region, target.today, exclude="")
    ]
    return "no catalogued model is Active here; set pipeline.region and pipeline.baseModelId to one of: " + ", ".join(
        elsewhere
    )


@dataclass
class _Verdict:
    """Parts of one check line, merged into one status (the worst), one detail and one fix."""

    parts: list[tuple[Status, str, str]]

    def add(self, status: Status, detail: str, fix: str = "") -> None:
        self.parts.append((status, detail, fix))

    def check(self, name: str) -> Check:
        status = max((s for s, _, _ in self.parts), key=_RANK.__getitem__, default=Status.OK)
        detail = "; ".join(d for _, d, _ in self.parts if d)
        fixes = list(dict.fromkeys(f for s, _, f in self.parts if f and s is not Status.OK))
        return Check(name, status, detail, " ".join(fixes))


def _get_foundation_model(clients: Clients, model_id: str) -> Mapping[str, Any]:
    response = clients("bedrock").get_foundation_model(modelIdentifier=model_id)
    details: Mapping[str, Any] = response.get("modelDetails") or {}
    return details


def _lifecycle_part(
    verdict: _Verdict, details: Mapping[str, Any], label: str, target: Target, replace: str
) -> LifecycleStatus | None:
    status, end = live_lifecycle(details, target.today)
    if status is LifecycleStatus.ACTIVE:
        verdict.add(Status.OK, f"{label}: ACTIVE")
    elif status is LifecycleStatus.LEGACY:
        days = f" on {end.isoformat()} ({(end - target.today).days} days left)" if end else " (no date given yet)"
        verdict.add(
            Status.WARN, f"{label}: LEGACY, end of life{days}; {_LEGACY_NOTE}", f"plan the move before then: {replace}"
        )
    elif status is LifecycleStatus.END_OF_LIFE:
        verdict.add(Status.FAIL, f"{label}: reached end of life on {end.isoformat() if end else '?'}", replace)
    else:
        verdict.add(
            Status.WARN,
            f"{label}: Bedrock reported no lifecycle status",
            "check the model card's lifecycle in the Bedrock documentation before a run",
        )
    return status


def check_base_model(clients: Clients, target: Target) -> tuple[Check, bool]:
    """Lifecycle (GetFoundationModel) and fine-tuning support; the flag says whether Bedrock knows the model."""
    model = target.base_model
    name = "base model"
    label = f"{model.display_name} ({model.foundation_model_id}) in {target.region}"
    verdict = _Verdict([])
    try:
        details = _get_foundation_model(clients, model.foundation_model_id)
    except Exception as err:
        err = _aws(err)
        if _unknown_model(err):
            return Check(name, Status.FAIL, f"{label}: {_gone(err)}", instead(target)), False
        return unverified(name, err, "bedrock:GetFoundationModel"), True
    status = _lifecycle_part(verdict, details, label, target, instead(target))
    if status is not LifecycleStatus.END_OF_LIFE:
        _fine_tuning_part(verdict, clients, details, model, target)
    return verdict.check(name), True


def _fine_tuning_part(
    verdict: _Verdict, clients: Clients, details: Mapping[str, Any], model: BaseModel, target: Target
) -> None:
    if "FINE_TUNING" in (details.get("customizationsSupported") or []):
        verdict.add(Status.OK, "supports FINE_TUNING")
        return
    # ListFoundationModels lists a model's context-length variants as models of their own
    # ("meta.llama3-1-70b-instruct-v1:0:128k" beside "meta.llama3-1-70b-instruct-v1:0"), and the variant is the
    # one that carries customizationsSupported: the customization job names it as its base model.
    try:
        listed = clients("bedrock").list_foundation_models(byCustomizationType="FINE_TUNING")
    except Exception as err:
        err = _aws(err)
        warning = unverified("", err, "bedrock:ListFoundationModels")
        verdict.add(Status.WARN, f"fine-tuning support {warning.detail}", warning.fix)
        return
    summaries = {str(m.get("modelId")): m for m in listed.get("modelSummaries") or []}
    match = summaries.get(model.model_id) or summaries.get(model.foundation_model_id)
    if match is None:
        verdict.add(
            Status.FAIL, f"Bedrock lists no FINE_TUNING for {model.model_id} in {target.region}", instead(target)
        )
        return
    variant = str(match.get("modelId"))
    verdict.add(Status.OK, f"supports FINE_TUNING as {variant}")
    if variant != model.foundation_model_id and live_lifecycle(match, target.today)[0] in (
        LifecycleStatus.LEGACY,
        LifecycleStatus.END_OF_LIFE,
    ):
        _lifecycle_part(verdict, match, variant, target, instead(target))


def check_access(clients: Clients, model_id: str, name: str, target: Target, provider: str = "") -> Check:
    """GetFoundationModelAvailability: may this account and identity call the model in this Region?"""
    try:
        answer = clients("bedrock").get_foundation_model_availability(modelId=model_id)
    except Exception as err:
        err = _aws(err)
        return unverified(name, err, "bedrock:GetFoundationModelAvailability")
    return access_verdict(answer, model_id, name, target.region, provider)


def access_verdict(answer: Mapping[str, Any], model_id: str, name: str, region: str, provider: str = "") -> Check:
    """The Check for one GetFoundationModelAvailability answer (every field must say AUTHORIZED/AVAILABLE)."""
    agreement = answer.get("agreementAvailability") or {}
    fields = {
        "authorization": str(answer.get("authorizationStatus") or "missing"),
        "entitlement": str(answer.get("entitlementAvailability") or "missing"),
        "Region": str(answer.get("regionAvailability") or "missing"),
        "agreement": str(agreement.get("status") or "missing"),
    }
    expected = {
        "authorization": "AUTHORIZED",
        "entitlement": "AVAILABLE",
        "Region": "AVAILABLE",
        "agreement": "AVAILABLE",
    }
    wrong = {key: value for key, value in fields.items() if value != expected[key]}
    if not wrong:
        return Check(name, Status.OK, f"{model_id}: authorized; entitlement, Region and agreement AVAILABLE")
    console = bedrock_console(region)
    fixes: list[str] = []
    if "authorization" in wrong:
        fixes.append(
            f"let this identity (and the pipeline's roles) use the model: IAM bedrock:InvokeModel on it and the "
            f"AWS Marketplace actions {MARKETPLACE_ACTIONS} ({MODEL_ACCESS_DOC})"
        )
    if "entitlement" in wrong:
        fixes.append(
            "the account is not subscribed yet: for an identity with the AWS Marketplace actions "
            f"{MARKETPLACE_ACTIONS}, Bedrock subscribes on the first call (allow up to 15 minutes); Marketplace "
            "purchases need a valid payment method"
        )
    anthropic = provider.lower() == "anthropic" or ".anthropic." in f".{model_id}"
    if anthropic and ("entitlement" in wrong or "agreement" in wrong):
        fixes.append(f"Anthropic models need the one-time first-use form (use-case details) first: {console}")
    if "Region" in wrong:
        fixes.append(f"the model is not offered in {region}: choose another Region or model")
    if "agreement" in wrong:
        state = fields["agreement"]
        if state == "PENDING":
            fixes.append("the AWS Marketplace agreement is being set up: run finetune doctor again in a few minutes")
        else:
            message = _one_line(agreement.get("errorMessage") or "", 200)
            fixes.append(
                f"accept the model's offer: open the model in the Bedrock console, {console}"
                + (f" (AWS says: {message})" if message else "")
            )
    detail = f"{model_id}: " + ", ".join(f"{key} {value}" for key, value in wrong.items())
    return Check(name, Status.FAIL, detail, "; ".join(fixes))


def _foundation_id(reference: str) -> str | None:
    """The foundation-model id a reference names (an id, a profile id or a foundation-model ARN); None: other."""
    if reference.startswith("arn:"):
        if _FOUNDATION_ARN in reference:
            return reference.split(_FOUNDATION_ARN, 1)[1]
        return None
    return _PROFILE_ID.sub("", reference, count=1)


def is_inference_profile(reference: str) -> bool:
    return bool(_PROFILE_ID.match(reference) or _PROFILE_ARN.match(reference))


def check_reference(clients: Clients, reference: str, target: Target, name: str = "", replace: str = "") -> list[Check]:
    """A model the evaluation calls on demand: its inference profile (if it is one), lifecycle and access."""
    name = name or f"reference {reference}"
    replace = replace or f"replace {reference} in evaluation.referenceModels (cdk.json) with an Active model or profile"
    verdict = _Verdict([])
    model_id = _foundation_id(reference)
    if is_inference_profile(reference):
        try:
            profile = clients("bedrock").get_inference_profile(inferenceProfileIdentifier=reference)
        except Exception as err:
            err = _aws(err)
            if _not_found(err):
                fix = f"use a profile id that `aws bedrock list-inference-profiles --region {target.region}` lists"
                return [Check(name, Status.FAIL, f"no inference profile {reference} here: {describe_error(err)}", fix)]
            return [unverified(name, err, "bedrock:GetInferenceProfile")]
        state = str(profile.get("status") or "")
        if state == "ACTIVE":
            verdict.add(Status.OK, f"inference profile {reference} ACTIVE")
        else:
            verdict.add(Status.FAIL, f"inference profile {reference} is {state or 'without a status'}", replace)
        model_id = _profile_model(profile, target.region) or model_id
    if model_id is None:
        return [Check(name, Status.WARN, f"{reference} is not a foundation model or inference profile: not checked",
                      "name a foundation model id or an inference profile in evaluation.referenceModels")]  # fmt: skip
    try:
        details = _get_foundation_model(clients, model_id)
    except Exception as err:
        err = _aws(err)
        if not _unknown_model(err):
            return [
                *([verdict.check(name)] if verdict.parts else []),
                unverified(name, err, "bedrock:GetFoundationModel"),
            ]
        verdict.add(Status.FAIL, f"{model_id}: {_gone(err)}", replace)
        return [verdict.check(name)]
    status = _lifecycle_part(verdict, details, model_id, target, replace)
    checks = [verdict.check(name)]
    if status is not LifecycleStatus.END_OF_LIFE:
        provider = str(details.get("providerName") or "")
        checks.append(check_access(clients, model_id, f"{name} access", target, provider))
    return checks


def _profile_model(profile: Mapping[str, Any], region: str) -> str | None:
    """The foundation model a profile routes to, preferring the copy in ``region``."""
    arns = [str(m.get("modelArn") or "") for m in profile.get("models") or []]
    arns = [arn for arn in arns if _FOUNDATION_ARN in arn]
    here = [arn for arn in arns if f":bedrock:{region}:" in arn]
    chosen = (here or arns or [""])[0]
    return chosen.split(_FOUNDATION_ARN, 1)[1] if chosen else None


def check_models(clients: Clients, target: Target) -> list[Check]:
    model = target.base_model
    base, known = check_base_model(clients, target)
    checks = [base]
    if known:
        checks.append(check_access(clients, model.foundation_model_id, "base model access", target, _provider(model)))
    # The evaluation calls the base model on demand by its runtime id, which may be an inference profile.
    if is_inference_profile(model.runtime_model_id):
        checks.extend(
            check_reference(
                clients,
                model.runtime_model_id,
                target,
                "base model profile",
                f"choose another base model: {instead(target)}",
            )[:1]
        )
    for reference in target.reference_models:
        checks.extend(check_reference(clients, reference, target))
    return checks


def _provider(model: BaseModel) -> str:
    return model.model_id.split(".", 1)[0]


# ---- 4. Service Quotas -------------------------------------------------------------------------------------------
# The quota names and codes (and where they come from) are one table, pipeline_core.quotas, which the handlers'
# quota-refusal messages read too. Quotas are found by name first and the codes are only the fallback.
_PER_MODEL_UNITS = "model units per provisioned model for "
_JOB_QUOTA = re.compile(r"customization jobs", re.IGNORECASE)
_JOB_QUOTA_PREFERENCE = ("concurrent", "in progress", "scheduled")
#: Bounds the paging through Bedrock's quotas (hundreds; 100 a page).
MAX_QUOTA_PAGES = 30
# Provisioned Throughputs that hold model units (GetProvisionedModelThroughput status values).
_HOLDING = frozenset({"Creating", "InService", "Updating"})


def quota_link(region: str, code: str) -> str:
    return f"https://{region}.console.aws.amazon.com/servicequotas/home/services/bedrock/quotas/{code}"


class _Quotas:
    """Bedrock's quotas in one Region, listed once (applied values first, AWS defaults for the rest)."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self._lists: dict[str, list[Mapping[str, Any]] | BaseException] = {}

    def _list(self, operation: str) -> list[Mapping[str, Any]] | BaseException:
        if operation not in self._lists:
            try:
                self._lists[operation] = list(self._pages(operation))
            except Exception as err:
                self._lists[operation] = _aws(err)
        return self._lists[operation]

    def _pages(self, operation: str) -> Iterator[Mapping[str, Any]]:
        method = getattr(self.clients("service-quotas"), operation)
        kwargs: dict[str, Any] = {"ServiceCode": "bedrock", "MaxResults": 100}
        for _ in range(MAX_QUOTA_PAGES):
            page = method(**kwargs)
            yield from page.get("Quotas") or []
            if not page.get("NextToken"):
                return
            kwargs["NextToken"] = page["NextToken"]

    def find(self, match: Callable[[str], bool]) -> tuple[Mapping[str, Any] | None, BaseException | None]:
        """The first quota whose name matches, applied value before default; the listing error if none could."""
        error: BaseException | None = None
        for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
            listed = self._list(operation)
            if isinstance(listed, BaseException):
                error = error or listed
                continue
            for quota in listed:
                if match(str(quota.get("QuotaName") or "")):
                    return quota, None
        return None, error

    def by_code(self, code: str) -> tuple[Mapping[str, Any] | None, BaseException | None]:
        """GetServiceQuota, then GetAWSDefaultServiceQuota (a quota never changed may have no applied value)."""
        error: BaseException | None = None
        for operation in ("get_service_quota", "get_aws_default_service_quota"):
            try:
                method = getattr(self.clients("service-quotas"), operation)
                quota: Mapping[str, Any] = method(ServiceCode="bedrock", QuotaCode=code).get("Quota") or {}
                return quota, None
            except Exception as err:
                error = _aws(err)
                if not _not_found(error):
                    break
        return None, error

    def names(self) -> list[str]:
        found: list[str] = []
        for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
            listed = self._list(operation)
            if not isinstance(listed, BaseException):
                found.extend(str(q.get("QuotaName") or "") for q in listed)
        return found


def _value(quota: Mapping[str, Any]) -> float:
    try:
        return float(quota.get("Value") or 0)
    except (TypeError, ValueError):
        return 0.0


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _quota_label(quota: Mapping[str, Any], code: str) -> str:
    return f"{quota.get('QuotaName') or '?'} ({quota.get('QuotaCode') or code})"


def _too_low(name: str, quota: Mapping[str, Any], code: str, need: int, why: str, region: str) -> Check:
    code = str(quota.get("QuotaCode") or code)
    value = _value(quota)
    return Check(
        name,
        Status.FAIL,
        f"{_quota_label(quota, code)} is {_number(value)} in {region}; one run needs {need} ({why})",
        f"request an increase to at least {need}: {quota_link(region, code)} (model units may need AWS Support; "
        "allow a few days)",
    )


def check_quotas(clients: Clients, target: Target) -> list[Check]:
    quotas = _Quotas(clients)
    return [
        _custom_model_units(clients, quotas, target),
        *_per_model_units(quotas, target),
        _customization_jobs(quotas, target),
    ]


def _custom_model_units(clients: Clients, quotas: _Quotas, target: Target) -> Check:
    name = "quota: custom-model units"
    need = target.model_units
    quota, error = quotas.find(lambda text: text.lower() == CUSTOM_MODEL_UNITS_NAME.lower())
    if quota is None:
        quota, error = quotas.by_code(CUSTOM_MODEL_UNITS_CODE)
    if quota is None:
        if error is not None and not _not_found(error):
            return unverified(name, error, "servicequotas:ListServiceQuotas / GetServiceQuota")
        return Check(
            name,
            Status.WARN,
            f"no Bedrock quota named {CUSTOM_MODEL_UNITS_NAME!r} (code {CUSTOM_MODEL_UNITS_CODE}) in {target.region}",
            f"look it up in the Service Quotas console: {quota_link(target.region, CUSTOM_MODEL_UNITS_CODE)}",
        )
    why = "provisionedThroughput.modelUnits"
    if _value(quota) < need:
        return _too_low(name, quota, CUSTOM_MODEL_UNITS_CODE, need, why, target.region)
    label = _quota_label(quota, CUSTOM_MODEL_UNITS_CODE)
    used, holders, problem = _units_in_use(clients)
    if problem is not None:
        return Check(
            name,
            Status.WARN,
            f"{label} is {_number(_value(quota))} (a run needs {need}); units in use unknown: {problem.detail}",
            problem.fix,
        )
    free = _value(quota) - used
    detail = f"{label} is {_number(_value(quota))}, {_number(used)} in use; one run needs {need} ({why})"
    if free < need:
        code = str(quota.get("QuotaCode") or CUSTOM_MODEL_UNITS_CODE)
        return Check(
            name,
            Status.FAIL,
            f"{detail}: held by {', '.join(holders)}",
            "delete a Provisioned Throughput you no longer need (a promoted model keeps its throughput while "
            f"provisionedThroughput.keepAfterPromotion is true), or request more: {quota_link(target.region, code)}",
        )
    return Check(name, Status.OK, detail)


def _units_in_use(clients: Clients) -> tuple[float, list[str], Check | None]:
    """Model units that no-commitment Provisioned Throughputs of custom models hold now."""
    used, holders = 0.0, []
    kwargs: dict[str, Any] = {"maxResults": 100}
    try:
        for _ in range(MAX_QUOTA_PAGES):
            page = clients("bedrock").list_provisioned_model_throughputs(**kwargs)
            for item in page.get("provisionedModelSummaries") or []:
                custom = ":custom-model/" in str(item.get("modelArn") or "")
                if custom and not item.get("commitmentDuration") and item.get("status") in _HOLDING:
                    units = float(item.get("modelUnits") or 0)
                    used += units
                    holders.append(f"{item.get('provisionedModelName')} ({_number(units)})")
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    except Exception as err:
        return 0.0, [], unverified("", _aws(err), "bedrock:ListProvisionedModelThroughputs")
    return used, holders, None


def _per_model_units(quotas: _Quotas, target: Target) -> list[Check]:
    """'Model units per provisioned model for <base model>', when Bedrock has such a quota for the model."""
    model = target.base_model
    wanted = model.display_name.lower()

    def match(text: str) -> bool:
        lowered = text.lower()
        return lowered.startswith(_PER_MODEL_UNITS) and (
            lowered.removeprefix(_PER_MODEL_UNITS).endswith(wanted) or wanted == lowered.removeprefix(_PER_MODEL_UNITS)
        )

    quota, _ = quotas.find(match)
    if quota is None:
        return []  # not every model has one; the account-wide quota above is checked either way
    name = "quota: units per model"
    if _value(quota) < target.model_units:
        return [_too_low(name, quota, "", target.model_units, "provisionedThroughput.modelUnits", target.region)]
    return [Check(name, Status.OK, f"{_quota_label(quota, '')} is {_number(_value(quota))}")]


def _job_quota_rank(text: str) -> int:
    lowered = text.lower()
    for rank, word in enumerate(_JOB_QUOTA_PREFERENCE):
        if word in lowered:
            return rank
    return len(_JOB_QUOTA_PREFERENCE)


def _customization_jobs(quotas: _Quotas, target: Target) -> Check:
    name = "quota: customization jobs"
    candidates = [n for n in quotas.names() if _JOB_QUOTA.search(n) and _job_quota_rank(n) < len(_JOB_QUOTA_PREFERENCE)]
    quota: Mapping[str, Any] | None = None
    error: BaseException | None = None
    if candidates:
        best = min(candidates, key=_job_quota_rank)
        quota, error = quotas.find(lambda text: text == best)
    if quota is None:
        quota, error = quotas.by_code(CUSTOMIZATION_JOBS_CODE)
    if quota is None:
        if error is not None and not _not_found(error):
            return unverified(name, error, "servicequotas:ListServiceQuotas / GetServiceQuota")
        return Check(
            name,
            Status.WARN,
            f"no Bedrock quota for concurrent model customization jobs found in {target.region}",
            f"look it up in the Service Quotas console: {quota_link(target.region, CUSTOMIZATION_JOBS_CODE)}",
        )
    if _value(quota) < 1:
        return _too_low(name, quota, CUSTOMIZATION_JOBS_CODE, 1, "one customization job", target.region)
    return Check(name, Status.OK, f"{_quota_label(quota, CUSTOMIZATION_JOBS_CODE)} is {_number(_value(quota))}")


# ---- 5-7. the deployed stacks, the data bucket's events, the key ------------------------------------------------
EXPECTED_OUTPUTS: dict[str, tuple[str, ...]] = {
    "data plane": (OUTPUT_DATA_BUCKET, OUTPUT_ARTIFACTS_BUCKET, OUTPUT_KEY_ARN),
    "pipeline": (OUTPUT_STATE_MACHINE,),
}
_BROKEN_STATES = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "CREATE_FAILED", "UPDATE_FAILED")


def check_stack(clients: Clients, stack: str, role: str, region: str) -> tuple[Check, dict[str, str]]:
    """DescribeStacks: deployed or not (a warning: the doctor runs before the first deploy too), its outputs."""
    name = f"stack {stack}"
    try:
        response = clients("cloudformation").describe_stacks(StackName=stack)
    except Exception as err:
        err = _aws(err)
        if error_code(err) == "ValidationError" and "does not exist" in str(err):
            fix = "run `make deploy` once the checks above pass (or pass --stack-prefix / --region if it is elsewhere)"
            return Check(name, Status.WARN, f"not deployed in {region}", fix), {}
        return unverified(name, err, "cloudformation:DescribeStacks"), {}
    stacks = response.get("Stacks") or [{}]
    state = str(stacks[0].get("StackStatus") or "")
    outputs = {str(o.get("OutputKey")): str(o.get("OutputValue")) for o in stacks[0].get("Outputs") or []}
    shown = ", ".join(f"{key}={outputs[key]}" for key in EXPECTED_OUTPUTS[role] if key in outputs)
    console = f"https://{region}.console.aws.amazon.com/cloudformation/home?region={region}"
    if state in _BROKEN_STATES or state.endswith("_FAILED"):
        fix = f"read the stack's events ({console}); fix the cause, then run `make deploy` again"
        if state == "ROLLBACK_COMPLETE":
            fix = f"its creation failed: read its events ({console}), delete the stack, then `make deploy` again"
        return Check(name, Status.FAIL, f"{state}", fix), outputs
    if state.endswith("_IN_PROGRESS"):
        return Check(
            name, Status.WARN, f"{state}", "a deployment is under way: run finetune doctor when it ends"
        ), outputs
    missing = [key for key in EXPECTED_OUTPUTS[role] if key not in outputs]
    if missing:
        fix = "redeploy with `make deploy` (the stack is older than this code, or was deployed from another copy)"
        return Check(name, Status.FAIL, f"{state}; no output {', '.join(missing)}", fix), outputs
    if state == "UPDATE_ROLLBACK_COMPLETE":
        fix = f"the last update was rolled back: read the stack's events ({console}) and deploy again"
        return Check(name, Status.WARN, f"{state}; {shown}", fix), outputs
    return Check(name, Status.OK, f"{state}; {shown}"), outputs


def check_event_bridge(clients: Clients, bucket: str) -> Check:
    """Uploads start runs through EventBridge: the data bucket must send its events there."""
    name = "data bucket events"
    try:
        config = clients("s3").get_bucket_notification_configuration(Bucket=bucket)
    except Exception as err:
        err = _aws(err)
        if error_code(err) == "NoSuchBucket":
            fix = "the bucket was deleted outside CloudFormation: run `make deploy` to create it again"
            return Check(name, Status.FAIL, f"{bucket}: {describe_error(err)}", fix)
        return unverified(name, err, "s3:GetBucketNotificationConfiguration")
    if "EventBridgeConfiguration" in config:
        return Check(name, Status.OK, f"{bucket} sends its events to EventBridge")
    return Check(
        name,
        Status.FAIL,
        f"{bucket} does not send its events to EventBridge, so no upload starts a run",
        "run `make deploy` to restore the data plane stack's notification setting (the data bucket's "
        "EventBridge notifications were turned off outside CloudFormation)",
    )


def check_key(clients: Clients, key_arn: str, region: str) -> Check:
    name = "KMS key"
    try:
        metadata = clients("kms").describe_key(KeyId=key_arn).get("KeyMetadata") or {}
    except Exception as err:
        err = _aws(err)
        if _not_found(err):
            return Check(name, Status.FAIL, f"{key_arn}: {describe_error(err)}", "redeploy with `make deploy`")
        return unverified(name, err, "kms:DescribeKey")
    state = str(metadata.get("KeyState") or "")
    if state == "Enabled":
        return Check(name, Status.OK, f"{key_arn} is Enabled")
    fixes = {
        "Disabled": f"enable it: aws kms enable-key --key-id {key_arn} --region {region}",
        "PendingDeletion": f"cancel the deletion, then enable it: aws kms cancel-key-deletion --key-id {key_arn} "
        f"--region {region} && aws kms enable-key --key-id {key_arn} --region {region}",
    }
    fix = fixes.get(state, "the pipeline cannot encrypt or read its data until the key is Enabled; see the KMS console")
    return Check(
        name, Status.FAIL, f"{key_arn} is {state or 'in an unknown state'}: nothing can be read or written", fix
    )


def check_deployment(clients: Clients, target: Target) -> list[Check]:
    checks: list[Check] = []
    data_plane, outputs = check_stack(clients, target.data_plane_stack, "data plane", target.region)
    pipeline, _ = check_stack(clients, target.pipeline_stack, "pipeline", target.region)
    checks += [data_plane, pipeline]
    if outputs.get(OUTPUT_DATA_BUCKET):
        checks.append(check_event_bridge(clients, outputs[OUTPUT_DATA_BUCKET]))
    if outputs.get(OUTPUT_KEY_ARN):
        checks.append(check_key(clients, outputs[OUTPUT_KEY_ARN], target.region))
    return checks


# ---- all of them -------------------------------------------------------------------------------------------------
def run_checks(clients: Clients, target: Target) -> list[Check]:
    """Every check in order; stops after the credentials check when the credentials do not work."""
    checks = [check_credentials(clients)]
    if checks[0].status is Status.FAIL:
        return checks
    checks.append(check_region(target))
    checks += check_models(clients, target)
    checks += check_quotas(clients, target)
    checks += check_deployment(clients, target)
    return checks
