"""A local, simulated Amazon Bedrock (control plane, runtime, and Service Quotas for ServiceCode "bedrock") that
unmodified boto3 clients reach over loopback.

Usage::

    with BedrockStandIn(SimulationConfig(seed=7), s3_client=s3) as standin:
        standin.learn(test_records)
        with mock.patch.dict(os.environ, standin.env()):
            ...  # boto3.client("bedrock"), ("bedrock-runtime") and ("service-quotas") now talk to the stand-in

Everything it reports is simulated: no model is trained or invoked. See docs/bedrock-standin.md.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from .standin.config import (
    CUSTOMIZATION_JOBS_QUOTA_CODE,
    FAULTS,
    MODEL_UNITS_QUOTA_CODE,
    SimulationConfig,
)
from .standin.control_plane import IN_PROGRESS, STOPPING, ControlPlane, S3Client
from .standin.foundation_models import FoundationModels, SimulatedLifecycle
from .standin.protocol import EMULATED_OPERATIONS
from .standin.runtime import AnswerKey, Runtime
from .standin.server import Application, StandInHTTPServer
from .standin.service_quotas import ServiceQuotas

__all__ = [
    "CUSTOMIZATION_JOBS_QUOTA_CODE",
    "FAULTS",
    "MODEL_UNITS_QUOTA_CODE",
    "BedrockStandIn",
    "SimulatedLifecycle",
    "SimulationConfig",
]

#: boto3 reads a service's endpoint from AWS_ENDPOINT_URL_<service id, upper case, spaces as underscores>.
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_BEDROCK", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL_SERVICE_QUOTAS")


class BedrockStandIn:
    """The stand-in: a threaded loopback HTTP server plus a background clock; use it as a context manager."""

    def __init__(self, config: SimulationConfig | None = None, *, s3_client: S3Client | None = None) -> None:
        self.config = config or SimulationConfig()
        self._answers = AnswerKey()
        self._models = FoundationModels(self.config)
        self._control = ControlPlane(self.config, s3_client, self._models)
        self._runtime = Runtime(self.config, self._control, self._answers)
        self._app = Application(self._control, self._runtime, self._models, ServiceQuotas(self.config))
        self._server: StandInHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # ---- life cycle ------------------------------------------------------------------------------------------
    def start(self) -> BedrockStandIn:
        """Bind an ephemeral loopback port and start serving and the clock."""
        if self._server is not None:
            raise RuntimeError("the stand-in is already running")
        self._stopping.clear()
        self._server = StandInHTTPServer(self._app)
        self._threads = [
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True),
            threading.Thread(target=self._tick, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def close(self) -> None:
        """Stop serving and the clock; safe to call twice."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> BedrockStandIn:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _tick(self) -> None:
        while not self._stopping.wait(self.config.tick_seconds):
            self._control.advance()

    # ---- wiring ----------------------------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``: the endpoint of ``bedrock``, ``bedrock-runtime`` and ``service-quotas``."""
        if self._server is None:
            raise RuntimeError("the stand-in is not running; use it as a context manager or call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def env(self) -> dict[str, str]:
        """The environment variables that point boto3's ``bedrock``, ``bedrock-runtime`` and ``service-quotas``
        clients here."""
        return dict.fromkeys(ENDPOINT_VARIABLES, self.endpoint_url)

    def learn(self, records: Iterable[Mapping[str, Any] | str]) -> int:
        """Index reference answers from dataset records (Claude messages, Converse or prompt/completion formats).

        The key is the last user message's text, the answer the final assistant message. Returns how many records
        were indexed; records of another shape are skipped.
        """
        return self._answers.learn(records)

    # ---- introspection ---------------------------------------------------------------------------------------
    @property
    def calls(self) -> dict[tuple[str, str], int]:
        """Requests received, by (operation, modelId); modelId is "" for control-plane operations."""
        with self._app.lock:
            return dict(self._app.calls)

    @property
    def errors(self) -> dict[tuple[str, str, str], int]:
        """Error answers given, by (operation, modelId, error code)."""
        with self._app.lock:
            return dict(self._app.errors)

    def call_count(self, operation: str, model: str | None = None) -> int:
        """Requests of one operation, for one modelId or all."""
        return sum(
            count for (name, model_id), count in self.calls.items() if name == operation and model in (None, model_id)
        )

    def lifecycle(self, model_id: str) -> SimulatedLifecycle | None:
        """What the stand-in says of a model's lifecycle (customization or foundation-model id); None if unknown."""
        return self._models.lifecycle(model_id)

    def jobs(self) -> list[dict[str, Any]]:
        """Every customization job, as GetModelCustomizationJob describes it, oldest first."""
        with self._control.lock:
            return [self._control.get_job(arn) for arn in self._control.jobs]

    def running_jobs(self) -> list[dict[str, Any]]:
        """Jobs still InProgress or Stopping."""
        return [job for job in self.jobs() if job["status"] in (IN_PROGRESS, STOPPING)]

    def peaks(self) -> dict[str, int]:
        """The most customization jobs running, and throughputs plus deployments existing, at any one moment."""
        with self._control.lock:
            return {"jobs": self._control.peak_jobs, "serving": self._control.peak_serving}

    def quota_refusals(self) -> dict[str, int]:
        """Creating calls the quota-exceeded fault refused, by operation."""
        with self._control.lock:
            return dict(self._control.quota_refused)

    def provisioned_throughputs(self) -> list[dict[str, Any]]:
        """Existing (not deleted) Provisioned Throughputs, as GetProvisionedModelThroughput describes them."""
        with self._control.lock:
            return [self._control.describe_throughput(item) for item in self._control.throughputs.values()]

    def custom_model_deployments(self) -> list[dict[str, Any]]:
        """Existing (not deleted) custom model deployments, as GetCustomModelDeployment describes them."""
        with self._control.lock:
            return [self._control.describe_deployment(item) for item in self._control.deployments.values()]

    def tags_of(self, arn: str) -> dict[str, str]:
        """The tags of a job, custom model, throughput or deployment (as ListTagsForResource), by ARN."""
        with self._control.lock:
            return {tag["key"]: tag["value"] for tag in self._control.list_tags(arn)["tags"]}

    def custom_models(self) -> list[dict[str, Any]]:
        """Existing custom models, as GetCustomModel describes them."""
        with self._control.lock:
            return [self._control.get_model(arn) for arn in self._control.models]

    def describe(self) -> dict[str, Any]:
        """A labelled summary of the simulation for reports and logs."""
        with self._control.lock:
            counts = {
                "jobs": len(self._control.jobs),
                "customModels": len(self._control.models),
                "provisionedThroughputs": len(self._control.throughputs),
                "deletedProvisionedThroughputs": len(self._control.deleted_throughputs),
                "customModelDeployments": len(self._control.deployments),
                "deletedCustomModelDeployments": len(self._control.deleted_deployments),
            }
        return {
            "simulated": True,
            "summary": "SIMULATED Amazon Bedrock stand-in for the local rehearsal: no model was trained, provisioned "
            "or invoked; answers, losses and timings come from a seeded simulation.",
            "endpointUrl": self.endpoint_url if self._server is not None else None,
            "operations": {service: list(names) for service, names in EMULATED_OPERATIONS.items()},
            "seed": self.config.seed,
            "region": self.config.region,
            "date": self.config.date.isoformat(),
            "accuracy": dict(self.config.accuracy),
            "faults": {name: FAULTS[name] for name in sorted(self.config.faults)},
            "learnedAnswers": len(self._answers),
            "resources": counts,
            "calls": sum(self.calls.values()),
            "errors": sum(self.errors.values()),
        }
