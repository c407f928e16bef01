"""`finetune doctor --rehearsal`: the doctor's checks against a simulated account, with no AWS account at all.

The account is moto (STS, S3, KMS) plus the Bedrock stand-in (foundation models, their lifecycle and access,
Provisioned Throughput, and Bedrock's Service Quotas). The app is synthesized and "deployed" there the way the
rehearsal deploys it (finetune/rehearsal/runner.py ``provision``), plus what CloudFormation's custom resources
would do that the doctor looks at (the data bucket's EventBridge notifications). moto's CloudFormation needs
packages this project does not pin, so DescribeStacks is answered from the synthesized templates' outputs, resolved
to the local resources. Faults break the simulated account in the ways the doctor is meant to catch.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from unittest import mock

from finetune.commands.doctor import ClientFactory, DoctorError, client_config
from finetune.doctor_checks import Clients, Target

#: Faults of the doctor's rehearsal, one line each for --help.
DOCTOR_FAULTS: Mapping[str, str] = {
    "base-model-eol": "Bedrock answers that the base model has reached end of life",
    "base-model-legacy": "the base model is LEGACY, with an end-of-life date 90 days ahead",
    "quota-too-low": "no no-commitment model units for custom models (what a new account has)",
    "no-job-quota": "a quota of 0 concurrent model customization jobs",
    "no-access": "the identity is NOT_AUTHORIZED for the models and the account not entitled",
    "agreement-pending": "the models' AWS Marketplace agreement is still PENDING",
    "not-deployed": "the stacks are not deployed yet (a warning: the doctor runs before the first deploy too)",
    "key-disabled": "the pipeline's KMS key is disabled",
    "events-off": "the data bucket no longer sends its events to EventBridge",
}
_STANDIN_FAULTS = {"base-model-eol": "base-model-eol", "base-model-legacy": "base-model-legacy"}
_STACK_COMPLETE = "CREATE_COMPLETE"


def standin_config(target: Target, faults: frozenset[str]) -> Any:
    """The stand-in's simulation for the target Region, date and base model, with the faults that are Bedrock's."""
    from finetune.rehearsal.bedrock_standin import SimulationConfig

    changes: dict[str, Any] = {
        "region": target.region,
        "today": target.today,
        "base_model_id": target.base_model_id,
        "faults": frozenset(_STANDIN_FAULTS[f] for f in faults if f in _STANDIN_FAULTS),
    }
    if "quota-too-low" in faults:
        changes["model_unit_quota"] = 0
    if "no-job-quota" in faults:
        changes["customization_job_quota"] = 0
    if "no-access" in faults:
        changes["authorization_status"] = "NOT_AUTHORIZED"
        changes["entitlement_availability"] = "NOT_AVAILABLE"
    if "agreement-pending" in faults:
        changes["agreement_status"] = "PENDING"
    return dataclasses.replace(SimulationConfig(), **changes)


class LocalStacks:
    """DescribeStacks for the stacks the rehearsal deployed, answered before the request leaves botocore."""

    def __init__(self) -> None:
        self.stacks: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, region: str, name: str, outputs: Mapping[str, str]) -> None:
        self.stacks[(region, name)] = {
            "StackName": name,
            "StackStatus": _STACK_COMPLETE,
            "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in sorted(outputs.items())],
        }

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-call.cloudformation.DescribeStacks", self._describe_stacks)
        return client

    def _describe_stacks(self, params: Mapping[str, Any], context: Mapping[str, Any], **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        region = str(context.get("client_region") or "")
        # before-call sees the serialized request: CloudFormation's query protocol keeps the parameters in "body".
        body = params.get("body")
        name = str(body.get("StackName") or "") if isinstance(body, Mapping) else ""
        stack = self.stacks.get((region, name))
        if stack is None:
            error = {"Code": "ValidationError", "Message": f"Stack with id {name} does not exist"}
            return AWSResponse("", 400, {}, None), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return AWSResponse("", 200, {}, None), {"Stacks": [stack], "ResponseMetadata": {"HTTPStatusCode": 200}}


_BUCKET_KEY = "doctor_rehearsal_bucket"


def _remember_bucket(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_BUCKET_KEY] = params.get("Bucket")


def _add_event_bridge(parsed: dict[str, Any], context: Mapping[str, Any], **_: Any) -> None:
    """moto 5.2.5 stores a bucket's EventBridgeConfiguration but leaves it out of its GetBucketNotificationConfiguration
    answer (moto/s3/responses.py builds only the topic, queue and Lambda lists): add it from moto's own state, so the
    doctor's check reads what the rehearsal deployed."""
    from moto.s3.models import s3_backends

    from finetune.rehearsal.runner import ACCOUNT_ID

    bucket = s3_backends[ACCOUNT_ID]["aws"].get_bucket(str(context.get(_BUCKET_KEY)))
    config = bucket.notification_configuration
    if config is not None and config.event_bridge is not None and "Error" not in parsed:
        parsed["EventBridgeConfiguration"] = dict(config.event_bridge)


def fill_moto_gaps(client: Any) -> Any:
    """The rehearsal's S3 client: moto, plus the one field of its answers the doctor needs and moto omits."""
    events = client.meta.events
    events.register("before-parameter-build.s3.GetBucketNotificationConfiguration", _remember_bucket)
    events.register("after-call.s3.GetBucketNotificationConfiguration", _add_event_bridge)
    return client


def deploy(app: Any, stacks: LocalStacks, faults: frozenset[str]) -> None:
    """Create the app's resources in moto, apply its bucket notifications, record its stacks' outputs."""
    import boto3

    from finetune.rehearsal.runner import provision
    from finetune.rehearsal.template import find_resources

    cloud = provision(app, app.region)
    resolver = cloud.resources.resolver
    s3 = boto3.client("s3", region_name=app.region)
    for stack, template in app.templates.items():
        # CDK turns a bucket's EventBridge setting into a custom resource; CloudFormation would apply it.
        for resource in find_resources(template, "Custom::S3BucketNotifications").values():
            properties = resolver.resolve(resource["Properties"], stack)
            s3.put_bucket_notification_configuration(
                Bucket=properties["BucketName"], NotificationConfiguration=properties["NotificationConfiguration"]
            )
        outputs = {key: resolver.resolve_string(value["Value"], stack) for key, value in template["Outputs"].items()}
        stacks.add(app.region, stack, outputs)
    data_plane = stacks.stacks[(app.region, app.data_plane_stack)]["Outputs"]
    values = {item["OutputKey"]: item["OutputValue"] for item in data_plane}
    if "key-disabled" in faults:
        # moto's DisableKey takes the key id, not the ARN the output holds.
        key_id = values["PipelineKeyArn"].rsplit("/", 1)[-1]
        boto3.client("kms", region_name=app.region).disable_key(KeyId=key_id)
    if "events-off" in faults:
        s3.put_bucket_notification_configuration(Bucket=values["DataBucketName"], NotificationConfiguration={})


def synthesize(pipeline: Mapping[str, Any]) -> Any:
    from finetune.rehearsal.runner import RehearsalError
    from finetune.rehearsal.runner import synthesize as synth

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    try:
        return synth(settings_overrides=pipeline)
    except RehearsalError as err:
        raise DoctorError(f"the rehearsal could not synthesize the app: {err}") from None


@contextmanager
def rehearsal_account(
    target: Target, pipeline: Mapping[str, Any], faults: frozenset[str], *, app: Any = None
) -> Iterator[Clients]:
    """Clients of a simulated account: deployed (unless not-deployed) in cdk.json's Region, broken by ``faults``.

    ``app`` is a synthesized app to reuse (tests synthesize once); by default the settings are synthesized here.
    """
    import boto3

    from finetune.rehearsal.bedrock_standin import BedrockStandIn
    from finetune.rehearsal.moto_support import moto_with_passthrough

    unknown = sorted(faults - DOCTOR_FAULTS.keys())
    if unknown:
        raise DoctorError(f"unknown rehearsal fault(s) {', '.join(unknown)}; choose from {', '.join(DOCTOR_FAULTS)}")
    deployed = "not-deployed" not in faults
    if deployed and app is None:
        app = synthesize(pipeline)
    stacks = LocalStacks()
    with (
        moto_with_passthrough(),
        BedrockStandIn(standin_config(target, faults)) as standin,
        mock.patch.dict(os.environ, standin.env()),
    ):
        if deployed:
            deploy(app, stacks, faults)
        session = boto3.Session(region_name=target.region)
        config = client_config()

        def make(service: str) -> Any:
            client = session.client(service, region_name=target.region, config=config)
            if service == "cloudformation":
                return stacks.attach(client)
            return fill_moto_gaps(client) if service == "s3" else client

        yield ClientFactory(make, {})
