"""Simulated Bedrock control plane: customization jobs, custom models, Provisioned Throughput, custom model
deployments (on-demand serving) and tags."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pipeline_core.models import CATALOGUE, BaseModel

from .config import ON_DEMAND_CUSTOMIZED_SINCE, SimulationConfig, on_demand_regions, runtime_model_id, unit_hash
from .foundation_models import FoundationModels
from .protocol import ApiError

IN_PROGRESS, COMPLETED, FAILED, STOPPING, STOPPED = "InProgress", "Completed", "Failed", "Stopping", "Stopped"
CREATING, IN_SERVICE, ACTIVE = "Creating", "InService", "Active"

_S3_URI = re.compile(r"s3://(?P<bucket>[^/]+)/?(?P<key>.*)")
_FOUNDATION_ARN = re.compile(r"arn:aws[^:]*:bedrock:[^:]+::foundation-model/(?P<model>.+)")


class S3Client(Protocol):
    """The two calls the stand-in makes on the injected boto3 S3 client."""

    def get_object(self, *, Bucket: str, Key: str) -> Any: ...

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> Any: ...


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    """Twelve lowercase alphanumerics, the id shape in Bedrock ARNs (``[a-z0-9]{12}``)."""
    return secrets.token_hex(6)


def split_s3_uri(uri: str) -> tuple[str, str]:
    found = _S3_URI.fullmatch(uri)
    if not found:
        raise ValueError(f"not an S3 URI: {uri}")
    return found["bucket"], found["key"]


@dataclasses.dataclass
class Job:
    """A model customization job and everything GetModelCustomizationJob reports about it."""

    job_id: str
    arn: str
    name: str
    token: str | None
    request: dict[str, Any]
    base_model_id: str
    base_model_arn: str
    created: dt.datetime
    deadline: float
    status: str = IN_PROGRESS
    last_modified: dt.datetime | None = None
    end_time: dt.datetime | None = None
    failure_message: str | None = None
    stop_deadline: float | None = None
    output_model_arn: str | None = None
    training_loss: float | None = None
    validation_loss: float | None = None
    finalizing: bool = False
    tags: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class CustomModel:
    arn: str
    name: str
    job: Job
    created: dt.datetime
    tags: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Throughput:
    """A Provisioned Throughput."""

    arn: str
    name: str
    token: str | None
    request: dict[str, Any]
    model: CustomModel
    model_units: int
    created: dt.datetime
    deadline: float
    status: str = CREATING
    last_modified: dt.datetime | None = None
    failure_message: str | None = None
    commitment: str | None = None
    commitment_expiration: dt.datetime | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Deployment:
    """A custom model deployment: a custom model served on demand."""

    arn: str
    name: str
    token: str | None
    request: dict[str, Any]
    model: CustomModel
    created: dt.datetime
    deadline: float
    status: str = CREATING
    last_updated: dt.datetime | None = None
    failure_message: str | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)


class ControlPlane:
    """State and operations of the simulated control plane; every public method is thread-safe."""

    def __init__(
        self, config: SimulationConfig, s3_client: S3Client | None, models: FoundationModels | None = None
    ) -> None:
        self.config = config
        self.s3 = s3_client
        self.foundation_models = models or FoundationModels(config)
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}  # by ARN, in creation order
        self.models: dict[str, CustomModel] = {}  # by ARN
        self.throughputs: dict[str, Throughput] = {}  # by ARN, existing only
        self.deleted_throughputs: list[Throughput] = []
        self.deployments: dict[str, Deployment] = {}  # by ARN, existing only
        self.deleted_deployments: list[Deployment] = []
        #: The most jobs InProgress or Stopping, and the most throughputs and deployments existing, at one moment.
        self.peak_jobs = 0
        self.peak_serving = 0
        #: Creating calls the quota-exceeded fault refused so far, by operation.
        self.quota_refused: dict[str, int] = {}

    # ---- ARNs and lookups -------------------------------------------------------------------------------------
    def _arn(self, resource: str) -> str:
        return f"arn:aws:bedrock:{self.config.region}:{self.config.account_id}:{resource}"

    def _find_job(self, identifier: str) -> Job:
        with self.lock:
            for job in self.jobs.values():
                if identifier in (job.arn, job.name):
                    return job
        raise ApiError("ResourceNotFoundException", f"Model customization job {identifier} not found.")

    def find_model(self, identifier: str) -> CustomModel | None:
        with self.lock:
            for model in self.models.values():
                if identifier in (model.arn, model.name):
                    return model
        return None

    def custom_models_snapshot(self) -> list[CustomModel]:
        with self.lock:
            return list(self.models.values())

    def find_throughput(self, identifier: str) -> Throughput | None:
        with self.lock:
            for throughput in self.throughputs.values():
                if identifier in (throughput.arn, throughput.name):
                    return throughput
        return None

    def find_deployment(self, identifier: str) -> Deployment | None:
        with self.lock:
            for deployment in self.deployments.values():
                if identifier in (deployment.arn, deployment.name):
                    return deployment
        return None

    def _base_model(self, identifier: str) -> str:
        """The customization id of an acceptable base model: catalogued, offered in this Region, not end-of-life."""
        found = _FOUNDATION_ARN.fullmatch(identifier)
        model = found["model"] if found else identifier
        if model not in self.config.customizable_models:
            raise ApiError(
                "ValidationException",
                f"The base model {identifier} does not support customization; the stand-in accepts the catalogued "
                "models (pipeline_core.models.CATALOGUE) by their customization ids.",
            )
        if self.config.region not in CATALOGUE[model].regions:
            raise ApiError(
                "ValidationException",
                f"The base model {identifier} cannot be customized in {self.config.region}; "
                f"its Regions: {', '.join(CATALOGUE[model].regions)}.",
            )
        self.foundation_models.check_customizable(model)  # end of life: ResourceNotFoundException, as Bedrock says
        return model

    # ---- customization jobs ----------------------------------------------------------------------------------
    def create_job(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("clientRequestToken")
        request = {key: value for key, value in params.items() if key != "clientRequestToken"}
        with self.lock:
            if token is not None:
                for job in self.jobs.values():
                    if job.token == token:
                        if job.request != request:
                            raise ApiError(
                                "ConflictException",
                                f"The client request token {token} was already used with different parameters.",
                            )
                        return {"jobArn": job.arn}
            if any(job.name == params["jobName"] for job in self.jobs.values()):
                raise ApiError(
                    "ConflictException", f"A model customization job named {params['jobName']} already exists."
                )
            name = params["customModelName"]
            if self.find_model(name) or any(
                job.request["customModelName"] == name and job.status in (IN_PROGRESS, STOPPING)
                for job in self.jobs.values()
            ):
                raise ApiError("ConflictException", f"A custom model named {name} already exists or is being created.")
            base_model = self._base_model(params["baseModelIdentifier"])
            customization_type = params.get("customizationType", "FINE_TUNING")
            if customization_type != "FINE_TUNING":
                raise ApiError(
                    "ValidationException", f"The stand-in simulates FINE_TUNING only, not {customization_type}."
                )
            _check_hyperparameters(CATALOGUE[base_model], params.get("hyperParameters", {}))
            self._quota_fault("CreateModelCustomizationJob", "customization jobs")
            running = sum(1 for job in self.jobs.values() if job.status in (IN_PROGRESS, STOPPING))
            if running >= self.config.customization_job_quota:
                raise ApiError(
                    "ServiceQuotaExceededException",
                    f"{running} customization job(s) are running; the quota allows "
                    f"{self.config.customization_job_quota} at once.",
                )
            job_id = new_id()
            created = now_utc()
            job = Job(
                job_id=job_id,
                arn=self._arn(f"model-customization-job/{base_model}/{job_id}"),
                name=params["jobName"],
                token=token,
                request=request,
                base_model_id=base_model,
                base_model_arn=f"arn:aws:bedrock:{self.config.region}::foundation-model/{base_model}",
                created=created,
                last_modified=created,
                deadline=time.monotonic() + self.config.job_seconds,
                tags={tag["key"]: tag["value"] for tag in params.get("jobTags", [])},
            )
            self.jobs[job.arn] = job
            self.peak_jobs = max(self.peak_jobs, running + 1)
            return {"jobArn": job.arn}

    def get_job(self, identifier: str) -> dict[str, Any]:
        job = self._find_job(identifier)
        with self.lock:
            return self._describe_job(job)

    def _describe_job(self, job: Job) -> dict[str, Any]:
        request = job.request
        kms_key = request.get("customModelKmsKeyId")
        return {
            "jobArn": job.arn,
            "jobName": job.name,
            "outputModelName": request["customModelName"],
            "outputModelArn": job.output_model_arn,
            "clientRequestToken": job.token,
            "roleArn": request["roleArn"],
            "status": job.status,
            "statusDetails": self._status_details(job),
            "failureMessage": job.failure_message,
            "creationTime": job.created,
            "lastModifiedTime": job.last_modified,
            "endTime": job.end_time,
            "baseModelArn": job.base_model_arn,
            "hyperParameters": request.get("hyperParameters"),
            "trainingDataConfig": request["trainingDataConfig"],
            "validationDataConfig": request.get("validationDataConfig", {"validators": []}),
            "outputDataConfig": request["outputDataConfig"],
            "customizationType": request.get("customizationType", "FINE_TUNING"),
            "outputModelKmsKeyArn": kms_key if kms_key and kms_key.startswith("arn:") else None,
            "trainingMetrics": {"trainingLoss": job.training_loss} if job.training_loss is not None else None,
            "validationMetrics": [{"validationLoss": job.validation_loss}] if job.validation_loss is not None else None,
            "vpcConfig": request.get("vpcConfig"),
        }

    def _status_details(self, job: Job) -> dict[str, Any]:
        # Bedrock reports validation, data processing and training as sub-tasks; here they split the clock 10/20/70.
        fraction = 1.0 - (job.deadline - time.monotonic()) / max(self.config.job_seconds, 1e-9)

        def stage(start: float, end: float) -> str:
            if job.status == COMPLETED or fraction >= end:
                return COMPLETED
            if job.status != IN_PROGRESS:
                return job.status
            return IN_PROGRESS if fraction >= start else "NotStarted"

        spans = {
            "validationDetails": (0.0, 0.1),
            "dataProcessingDetails": (0.1, 0.3),
            "trainingDetails": (0.3, math.inf),
        }
        return {
            name: {"status": stage(*span), "creationTime": job.created, "lastModifiedTime": job.last_modified}
            for name, span in spans.items()
        }

    def list_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            jobs = [
                job
                for job in self.jobs.values()
                if _created_within(job.created, params)
                and params.get("statusEquals") in (None, job.status)
                and params.get("nameContains", "") in job.name
            ]
            summaries = [
                {
                    "jobArn": job.arn,
                    "baseModelArn": job.base_model_arn,
                    "jobName": job.name,
                    "status": job.status,
                    "statusDetails": self._status_details(job),
                    "lastModifiedTime": job.last_modified,
                    "creationTime": job.created,
                    "endTime": job.end_time,
                    "customModelArn": job.output_model_arn,
                    "customModelName": job.request["customModelName"],
                    "customizationType": job.request.get("customizationType", "FINE_TUNING"),
                }
                for job in jobs
            ]
        page, token = _paginate(summaries, params)
        return {"modelCustomizationJobSummaries": page, "nextToken": token}

    def stop_job(self, identifier: str) -> dict[str, Any]:
        job = self._find_job(identifier)
        with self.lock:
            if job.status != IN_PROGRESS:
                raise ApiError(
                    "ConflictException", f"Only an InProgress job can be stopped; {job.name} is {job.status}."
                )
            self._begin_stopping(job)
        return {}

    def _begin_stopping(self, job: Job) -> None:
        job.status = STOPPING
        job.last_modified = now_utc()
        job.stop_deadline = time.monotonic() + self.config.stop_seconds

    # ---- custom models ---------------------------------------------------------------------------------------
    def get_model(self, identifier: str) -> dict[str, Any]:
        model = self.find_model(identifier)
        if model is None:
            raise ApiError("ResourceNotFoundException", f"Custom model {identifier} not found.")
        with self.lock:
            job = self._describe_job(model.job)
            return {
                "modelArn": model.arn,
                "modelName": model.name,
                "jobName": model.job.name,
                "jobArn": model.job.arn,
                "baseModelArn": model.job.base_model_arn,
                "customizationType": job["customizationType"],
                "modelKmsKeyArn": job["outputModelKmsKeyArn"],
                "hyperParameters": job["hyperParameters"],
                "trainingDataConfig": job["trainingDataConfig"],
                "validationDataConfig": job["validationDataConfig"],
                "outputDataConfig": job["outputDataConfig"],
                "trainingMetrics": job["trainingMetrics"],
                "validationMetrics": job["validationMetrics"],
                "creationTime": model.created,
                "modelStatus": "Active",
            }

    def list_models(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            summaries = [
                {
                    "modelArn": model.arn,
                    "modelName": model.name,
                    "creationTime": model.created,
                    "baseModelArn": model.job.base_model_arn,
                    "baseModelName": "",
                    "customizationType": "FINE_TUNING",
                    "ownerAccountId": self.config.account_id,
                    "modelStatus": "Active",
                }
                for model in self.models.values()
                if _created_within(model.created, params)
                and params.get("nameContains", "") in model.name
                and params.get("baseModelArnEquals") in (None, model.job.base_model_arn)
                and params.get("foundationModelArnEquals") in (None, model.job.base_model_arn)
                and params.get("modelStatus") in (None, "Active")
            ]
        page, token = _paginate(summaries, params)
        return {"modelSummaries": page, "nextToken": token}

    def delete_model(self, identifier: str) -> dict[str, Any]:
        with self.lock:
            model = self.find_model(identifier)
            if model is None:
                raise ApiError("ResourceNotFoundException", f"Custom model {identifier} not found.")
            users = [throughput.arn for throughput in self.throughputs.values() if throughput.model is model]
            if users:
                raise ApiError(
                    "ConflictException", f"Custom model {model.name} is used by Provisioned Throughput {users}."
                )
            deployed = [deployment.arn for deployment in self.deployments.values() if deployment.model is model]
            if deployed:
                raise ApiError(
                    "ConflictException", f"Custom model {model.name} is used by custom model deployment {deployed}."
                )
            del self.models[model.arn]
        return {}

    # ---- Provisioned Throughput ------------------------------------------------------------------------------
    def create_throughput(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("clientRequestToken")
        request = {key: value for key, value in params.items() if key != "clientRequestToken"}
        with self.lock:
            if token is not None:
                for throughput in [*self.throughputs.values(), *self.deleted_throughputs]:
                    if throughput.token == token:
                        if throughput.request != request:
                            raise ApiError(
                                "ValidationException",
                                f"The client request token {token} was already used with different parameters.",
                            )
                        return {"provisionedModelArn": throughput.arn}
            model = self.find_model(params["modelId"])
            if model is None:
                if _FOUNDATION_ARN.fullmatch(params["modelId"]) or "." in params["modelId"]:
                    raise ApiError(
                        "ValidationException",
                        "The stand-in provisions throughput for custom models only; give a custom model ARN or name.",
                    )
                raise ApiError("ResourceNotFoundException", f"Custom model {params['modelId']} not found.")
            if self.find_throughput(params["provisionedModelName"]):
                raise ApiError(
                    "ValidationException", f"A Provisioned Throughput named {params['provisionedModelName']} exists."
                )
            self._quota_fault("CreateProvisionedModelThroughput", "model units")
            in_use = sum(throughput.model_units for throughput in self.throughputs.values())
            if in_use + params["modelUnits"] > self.config.model_unit_quota:
                raise ApiError(
                    "ServiceQuotaExceededException",
                    f"Requesting {params['modelUnits']} model units with {in_use} in use exceeds the quota of "
                    f"{self.config.model_unit_quota}.",
                )
            created = now_utc()
            throughput = Throughput(
                arn=self._arn(f"provisioned-model/{new_id()}"),
                name=params["provisionedModelName"],
                token=token,
                request=request,
                model=model,
                model_units=params["modelUnits"],
                created=created,
                last_modified=created,
                deadline=time.monotonic() + self.config.pt_seconds,
                commitment=params.get("commitmentDuration"),
                tags={tag["key"]: tag["value"] for tag in params.get("tags", [])},
            )
            self.throughputs[throughput.arn] = throughput
            self._count_serving()
            return {"provisionedModelArn": throughput.arn}

    def _count_serving(self) -> None:
        self.peak_serving = max(self.peak_serving, len(self.throughputs) + len(self.deployments))

    def _quota_fault(self, operation: str, what: str) -> None:
        """The quota-exceeded fault: refuse the first ``quota_refusals`` calls of a creating operation."""
        if "quota-exceeded" not in self.config.faults:
            return
        refused = self.quota_refused.get(operation, 0)
        if refused < self.config.quota_refusals:
            self.quota_refused[operation] = refused + 1
            raise ApiError(
                "ServiceQuotaExceededException",
                f"Simulated refusal (fault quota-exceeded): the account's quota of {what} is in use by other work.",
            )

    def _require_throughput(self, identifier: str) -> Throughput:
        throughput = self.find_throughput(identifier)
        if throughput is None:
            raise ApiError("ResourceNotFoundException", f"Provisioned model {identifier} not found.")
        return throughput

    def describe_throughput(self, throughput: Throughput) -> dict[str, Any]:
        with self.lock:
            return {
                "modelUnits": throughput.model_units,
                "desiredModelUnits": throughput.model_units,
                "provisionedModelName": throughput.name,
                "provisionedModelArn": throughput.arn,
                "modelArn": throughput.model.arn,
                "desiredModelArn": throughput.model.arn,
                "foundationModelArn": throughput.model.job.base_model_arn,
                "status": throughput.status,
                "creationTime": throughput.created,
                "lastModifiedTime": throughput.last_modified,
                "failureMessage": throughput.failure_message,
                "commitmentDuration": throughput.commitment,
                "commitmentExpirationTime": throughput.commitment_expiration,
            }

    def get_throughput(self, identifier: str) -> dict[str, Any]:
        return self.describe_throughput(self._require_throughput(identifier))

    def list_throughputs(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            summaries = [
                {key: value for key, value in self.describe_throughput(throughput).items() if key != "failureMessage"}
                for throughput in self.throughputs.values()
                if _created_within(throughput.created, params)
                and params.get("statusEquals") in (None, throughput.status)
                and params.get("modelArnEquals") in (None, throughput.model.arn)
                and params.get("nameContains", "") in throughput.name
            ]
        page, token = _paginate(summaries, params)
        return {"provisionedModelSummaries": page, "nextToken": token}

    def delete_throughput(self, identifier: str) -> dict[str, Any]:
        with self.lock:
            throughput = self._require_throughput(identifier)
            del self.throughputs[throughput.arn]
            self.deleted_throughputs.append(throughput)
        return {}

    # ---- custom model deployments (on-demand serving) ---------------------------------------------------------
    def create_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("clientRequestToken")
        request = {key: value for key, value in params.items() if key != "clientRequestToken"}
        with self.lock:
            if token is not None:
                for deployment in [*self.deployments.values(), *self.deleted_deployments]:
                    if deployment.token == token:
                        if deployment.request != request:
                            raise ApiError(
                                "ValidationException",
                                f"The client request token {token} was already used with different parameters.",
                            )
                        return {"customModelDeploymentArn": deployment.arn}
            model = self.models.get(params["modelArn"])
            if model is None:
                raise ApiError("ResourceNotFoundException", f"Custom model {params['modelArn']} not found.")
            name = params["modelDeploymentName"]
            if self.find_deployment(name):
                raise ApiError("ValidationException", f"A custom model deployment named {name} already exists.")
            base = model.job.base_model_id
            regions = on_demand_regions(base)
            if self.config.region not in regions:
                where = f"only in {', '.join(regions)}" if regions else "in no Region"
                raise ApiError(
                    "ValidationException",
                    f"Custom models of {base} cannot be deployed for on-demand inference in {self.config.region}: "
                    f"its base model allows it {where}. Use Provisioned Throughput.",
                )
            if model.job.created.date() < ON_DEMAND_CUSTOMIZED_SINCE:
                raise ApiError(
                    "ValidationException",
                    f"Custom model {model.name} was customized before {ON_DEMAND_CUSTOMIZED_SINCE.isoformat()}; "
                    "only models customized since then can be deployed for on-demand inference.",
                )
            self._quota_fault("CreateCustomModelDeployment", "custom model deployments")
            # Kept at the millisecond the API reports, so createdAfter/createdBefore given a reported createdAt
            # compare as they would against Bedrock's own record.
            created = now_utc()
            created = created.replace(microsecond=created.microsecond // 1000 * 1000)
            deployment = Deployment(
                arn=self._arn(f"custom-model-deployment/{new_id()}"),
                name=name,
                token=token,
                request=request,
                model=model,
                created=created,
                last_updated=created,
                deadline=time.monotonic() + self.config.deployment_seconds,
                tags={tag["key"]: tag["value"] for tag in params.get("tags", [])},
            )
            self.deployments[deployment.arn] = deployment
            self._count_serving()
            return {"customModelDeploymentArn": deployment.arn}

    def _require_deployment(self, identifier: str) -> Deployment:
        deployment = self.find_deployment(identifier)
        if deployment is None:
            raise ApiError("ResourceNotFoundException", f"Custom model deployment {identifier} not found.")
        return deployment

    def describe_deployment(self, deployment: Deployment) -> dict[str, Any]:
        with self.lock:
            return {
                "customModelDeploymentArn": deployment.arn,
                "modelDeploymentName": deployment.name,
                "modelArn": deployment.model.arn,
                "createdAt": deployment.created,
                "status": deployment.status,
                "description": deployment.request.get("description"),
                "failureMessage": deployment.failure_message,
                "lastUpdatedAt": deployment.last_updated,
            }

    def get_deployment(self, identifier: str) -> dict[str, Any]:
        return self.describe_deployment(self._require_deployment(identifier))

    def list_deployments(self, params: dict[str, Any]) -> dict[str, Any]:
        after, before = params.get("createdAfter"), params.get("createdBefore")
        with self.lock:
            summaries = [
                {
                    "customModelDeploymentArn": deployment.arn,
                    "customModelDeploymentName": deployment.name,
                    "modelArn": deployment.model.arn,
                    "createdAt": deployment.created,
                    "status": deployment.status,
                    "lastUpdatedAt": deployment.last_updated,
                    "failureMessage": deployment.failure_message,
                }
                for deployment in self.deployments.values()
                if (after is None or deployment.created > after)
                and (before is None or deployment.created < before)
                and params.get("statusEquals") in (None, deployment.status)
                and params.get("modelArnEquals") in (None, deployment.model.arn)
                and params.get("nameContains", "") in deployment.name
            ]
        page, token = _paginate(summaries, params, key="createdAt")
        return {"modelDeploymentSummaries": page, "nextToken": token}

    def delete_deployment(self, identifier: str) -> dict[str, Any]:
        with self.lock:
            deployment = self._require_deployment(identifier)
            del self.deployments[deployment.arn]
            self.deleted_deployments.append(deployment)
        return {}

    # ---- tags ------------------------------------------------------------------------------------------------
    def _tagged(self, arn: str) -> dict[str, str]:
        with self.lock:
            resource: Job | CustomModel | Throughput | Deployment | None = (
                self.jobs.get(arn) or self.models.get(arn) or self.throughputs.get(arn) or self.deployments.get(arn)
            )
        if resource is None:
            raise ApiError("ResourceNotFoundException", f"Resource {arn} not found.")
        return resource.tags

    def tag(self, arn: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        with self.lock:
            current = self._tagged(arn)
            merged = {**current, **{tag["key"]: tag["value"] for tag in tags}}
            if len(merged) > 200:
                raise ApiError(
                    "TooManyTagsException", f"{arn} would have more than 200 tags.", extra={"resourceName": arn}
                )
            current.update(merged)
        return {}

    def untag(self, arn: str, keys: list[str]) -> dict[str, Any]:
        with self.lock:
            current = self._tagged(arn)
            for key in keys:
                current.pop(key, None)
        return {}

    def list_tags(self, arn: str) -> dict[str, Any]:
        with self.lock:
            return {"tags": [{"key": key, "value": value} for key, value in self._tagged(arn).items()]}

    # ---- the compressed clock --------------------------------------------------------------------------------
    def advance(self) -> None:
        """Move every job, throughput and deployment whose time has come; the S3 work of finishing jobs runs outside
        the lock."""
        moment = time.monotonic()
        due: list[Job] = []
        with self.lock:
            for job in self.jobs.values():
                if job.status == IN_PROGRESS and moment >= job.deadline and not job.finalizing:
                    job.finalizing = True
                    due.append(job)
                elif job.status == STOPPING and job.stop_deadline is not None and moment >= job.stop_deadline:
                    job.status = STOPPED
                    job.last_modified = job.end_time = now_utc()
            for throughput in self.throughputs.values():
                if throughput.status == CREATING and moment >= throughput.deadline:
                    self._settle_throughput(throughput)
            for deployment in self.deployments.values():
                if deployment.status == CREATING and moment >= deployment.deadline:
                    self._settle_deployment(deployment)
        for job in due:
            self._finish_job(job)

    def _settle_throughput(self, throughput: Throughput) -> None:
        faults = self.config.faults
        if "pt-stuck" in faults:
            return
        throughput.last_modified = now_utc()
        if "pt-failed" in faults:
            throughput.status = FAILED
            throughput.failure_message = "Simulated failure (fault pt-failed): capacity could not be provisioned."
            return
        throughput.status = IN_SERVICE
        if throughput.commitment:
            months = 1 if throughput.commitment == "OneMonth" else 6
            throughput.commitment_expiration = throughput.last_modified + dt.timedelta(days=30 * months)

    def _settle_deployment(self, deployment: Deployment) -> None:
        faults = self.config.faults
        if "deployment-stuck" in faults:
            return
        deployment.last_updated = now_utc()
        if "deployment-failed" in faults:
            deployment.status = FAILED
            deployment.failure_message = (
                "Simulated failure (fault deployment-failed): the custom model could not be deployed."
            )
            return
        deployment.status = ACTIVE

    def _finish_job(self, job: Job) -> None:
        faults = self.config.faults
        outcome: Callable[[], None]
        if "job-stopped" in faults:

            def outcome() -> None:
                self._begin_stopping(job)

        elif "job-failed" in faults:

            def outcome() -> None:
                self._fail(job, "Simulated failure (fault job-failed): the training job failed with an internal error.")

        else:
            try:
                training_loss, validation_loss = self._write_artifacts(job)
            except Exception as error:  # any S3 failure fails the job, as an unreadable bucket does in Bedrock
                message = f"Simulated failure: the stand-in could not read or write S3 for this job: {error}"

                def outcome() -> None:
                    self._fail(job, message)

            else:

                def outcome() -> None:
                    self._complete(job, training_loss, validation_loss)

        with self.lock:
            job.finalizing = False
            if job.status == IN_PROGRESS:  # a StopModelCustomizationJob may have arrived meanwhile
                outcome()

    def _fail(self, job: Job, message: str) -> None:
        job.status = FAILED
        job.failure_message = message
        job.last_modified = job.end_time = now_utc()

    def _complete(self, job: Job, training_loss: float, validation_loss: float | None) -> None:
        model_arn = self._arn(f"custom-model/{job.base_model_id}/{new_id()}")
        model = CustomModel(
            arn=model_arn,
            name=job.request["customModelName"],
            job=job,
            created=now_utc(),
            tags={tag["key"]: tag["value"] for tag in job.request.get("customModelTags", [])},
        )
        self.models[model_arn] = model
        job.output_model_arn = model_arn
        job.training_loss = training_loss
        job.validation_loss = validation_loss
        job.status = COMPLETED
        job.last_modified = job.end_time = now_utc()

    def _write_artifacts(self, job: Job) -> tuple[float, float | None]:
        """Write the loss curves where Bedrock writes them; returns the final training and validation losses.

        Layout: docs.aws.amazon.com/bedrock/latest/userguide/model-customization-analyze.html, with the
        ``validation/`` folder that AWS's sample code reads.
        """
        hyper = job.request.get("hyperParameters", {})
        model = CATALOGUE[job.base_model_id]
        epochs = int(float(hyper.get("epochCount", _default(model, "epochCount", 2))))
        batch = int(float(hyper.get("batchSize", _default(model, "batchSize", 1))))
        # The loss curve falls faster with a larger learning rate: the rate relative to the model's default.
        rate_name = next((hp.name for hp in model.hyperparameters if hp.name.startswith("learningRate")
                          and hp.name != "learningRateWarmupSteps"), None)  # fmt: skip
        rate = 1.0
        if rate_name and rate_name in hyper and _default(model, rate_name, 0.0) > 0:
            rate = min(2.0, float(hyper[rate_name]) / _default(model, rate_name, 1.0))
        records = self._count_records(job.request["trainingDataConfig"].get("s3Uri"))
        steps_per_epoch = max(1, math.ceil(records / batch))
        total = epochs * steps_per_epoch
        seed = self.config.seed

        def loss(step: int, noise: bool) -> float:
            wiggle = 0.04 * (unit_hash(seed, job.arn, step) - 0.5) if noise else 0.0
            return round(0.35 + 1.85 * math.exp(-3.0 * rate * step / total) + wiggle, 6)

        training = io.StringIO()
        training.write("step_number,epoch_number,training_loss\n")
        for step in range(1, total + 1):
            training.write(f"{step},{(step - 1) // steps_per_epoch},{loss(step, True)}\n")
        validators = job.request.get("validationDataConfig", {}).get("validators", [])
        validation_rows = [
            (epoch * steps_per_epoch, epoch - 1, round(loss(epoch * steps_per_epoch, False) + 0.06, 6))
            for epoch in range(1, epochs + 1)
        ]
        if self.s3 is not None:
            bucket, prefix = split_s3_uri(job.request["outputDataConfig"]["s3Uri"])
            base = f"{prefix.rstrip('/')}/" if prefix.strip("/") else ""
            folder = f"{base}model-customization-job-{job.job_id}"
            self.s3.put_object(
                Bucket=bucket,
                Key=f"{folder}/training_artifacts/step_wise_training_metrics.csv",
                Body=training.getvalue().encode(),
            )
            if validators:
                rows = "".join(f"{step},{epoch},{value}\n" for step, epoch, value in validation_rows)
                self.s3.put_object(
                    Bucket=bucket,
                    Key=f"{folder}/validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv",
                    Body=("step_number,epoch_number,validation_loss\n" + rows).encode(),
                )
        return loss(total, False), (validation_rows[-1][2] if validators else None)

    def _count_records(self, uri: str | None) -> int:
        if self.s3 is None or not uri:
            return self.config.default_record_count
        bucket, key = split_s3_uri(uri)
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return max(1, sum(1 for line in body.splitlines() if line.strip()))

    # ---- introspection ---------------------------------------------------------------------------------------
    def runtime_base_of(self, throughput: Throughput) -> str:
        return runtime_model_id(throughput.model.job.base_model_id)


def _default(model: BaseModel, name: str, fallback: float) -> float:
    try:
        return model.hyperparameter(name).default
    except KeyError:
        return fallback


def _check_hyperparameters(model: BaseModel, values: Mapping[str, str]) -> None:
    """Each hyperparameter is one of the model's, a number (a whole one where it must be) and in its range.

    Names and ranges: the catalogue's, which cites AWS's per-model hyperparameter pages.
    """
    allowed = {hp.name: hp for hp in model.hyperparameters}
    for name, raw in values.items():
        if name not in allowed:
            raise ApiError(
                "ValidationException",
                f"Unknown hyperparameter {name} for {model.model_id}; allowed: {sorted(allowed)}.",
            )
        hp = allowed[name]
        try:
            value = float(raw)
            if hp.integer and not value.is_integer():
                raise ValueError(raw)
        except ValueError:
            raise ApiError("ValidationException", f"Hyperparameter {name}={raw!r} is not a valid number.") from None
        if not hp.minimum <= value <= hp.maximum:
            raise ApiError(
                "ValidationException", f"Hyperparameter {name}={raw} is outside [{hp.minimum:g}, {hp.maximum:g}]."
            )


def _created_within(created: dt.datetime, params: Mapping[str, Any]) -> bool:
    after, before = params.get("creationTimeAfter"), params.get("creationTimeBefore")
    return (after is None or created > after) and (before is None or created < before)


def _paginate(
    items: list[dict[str, Any]], params: Mapping[str, Any], key: str = "creationTime"
) -> tuple[list[dict[str, Any]], str | None]:
    # Ties (equal timestamps) keep creation order, reversed along with the rest when Descending.
    order = sorted(
        range(len(items)),
        key=lambda index: (items[index][key], index),
        reverse=params.get("sortOrder", "Descending") == "Descending",
    )
    items = [items[index] for index in order]
    start = 0
    if params.get("nextToken"):
        try:
            start = int(params["nextToken"])
        except ValueError:
            raise ApiError("ValidationException", "The nextToken is not valid.") from None
    size = params.get("maxResults", 100)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)
