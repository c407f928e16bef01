"""The names the workflow, the Lambda handlers and the command line agree on: S3 layout, env vars, errors, tags.

Changing a value here changes a public contract (an S3 path users read, a tag the janitor trusts, an
error name the state machine routes on), so each lives in exactly one place.
"""

from __future__ import annotations

import hashlib
import re

# ---- Trigger contract: where users upload (data bucket) -------------------------------------------------
INBOX_PREFIX = "inbox/"  # inbox/<name>.jsonl: one file, split automatically
RUNS_PREFIX = "runs/"  # runs/<name>/run.json, written last, names train/validation/test beside it
MANIFEST_NAME = "run.json"
RUN_NAME_PATTERN = r"[a-z0-9][a-z0-9-]{0,39}"

# ---- Output layout (artifacts bucket): runs/<run>/<execution>/... -------------------------------------
VALIDATION_REPORT = "validation/report.json"
VALIDATION_SUMMARY = "validation/report.txt"
DATA_TRAIN = "data/train.jsonl"
DATA_VALIDATION = "data/validation.jsonl"
DATA_TEST = "data/test.jsonl"
TRAINING_OUTPUT = "training/"
EVALUATION_PLAN = "evaluation/plan.json"
EVALUATION_RESULTS = "evaluation/results/"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"

# ---- Environment variables set by the constructs and read by the handlers ------------------------------
ENV_PIPELINE_NAME = "PIPELINE_NAME"
ENV_DATA_BUCKET = "DATA_BUCKET"
ENV_ARTIFACTS_BUCKET = "ARTIFACTS_BUCKET"
ENV_KMS_KEY_ARN = "KMS_KEY_ID"
ENV_STATE_MACHINE_ARN = "STATE_MACHINE_ARN"
ENV_DEFAULTS = "PIPELINE_DEFAULTS"  # JSON of the run defaults resolved from settings at synth time
ENV_CUSTOMIZATION_ROLE_ARN = "CUSTOMIZATION_ROLE_ARN"
ENV_SUBNET_IDS = "SUBNET_IDS"  # comma-separated; empty when the VPC is off
ENV_SECURITY_GROUP_IDS = "SECURITY_GROUP_IDS"
ENV_PROMOTION_PARAMETER = "PROMOTION_PARAMETER"
ENV_TTL_HOURS = "THROUGHPUT_TTL_HOURS"
ENV_METRIC_NAMESPACE = "METRIC_NAMESPACE"
ENV_JOB_POLL_SECONDS = "JOB_POLL_SECONDS"
ENV_THROUGHPUT_POLL_SECONDS = "THROUGHPUT_POLL_SECONDS"
ENV_SIMULATION = "FINETUNE_SIMULATION"  # "1" in the local rehearsal: every report is labelled simulated
ENV_BASE_MODEL_ID = "BASE_MODEL_ID"  # the configured base model (settings baseModelId), for the janitor
ENV_LIFECYCLE_WARNING_DAYS = "LIFECYCLE_WARNING_DAYS"
ENV_ADMISSION_TABLE = "ADMISSION_TABLE"  # the DynamoDB table runs wait in for a slot (trigger, dispatcher)
ENV_MAX_CONCURRENT_RUNS = "MAX_CONCURRENT_RUNS"  # executions admitted at once (settings admission, run_slots)
ENV_QUOTA_WAIT_MINUTES = "QUOTA_WAIT_MINUTES"  # how long a quota refusal is retried (named in the failure message)

# Promote's Lambda timeout (stacks/pipeline_stack.py), which the promotion lock's lease (pipeline_aws.lock) outlasts
# and the approval wait's cleanup margin (pipeline_core.approval) counts per attempt.
PROMOTE_TIMEOUT_SECONDS = 300

# ---- Errors the state machine routes on (raised by handlers; Lambda reports the class name) -----------
ERROR_TRANSIENT = "TransientServiceError"  # throttling / 5xx from an AWS API: retried with backoff
ERROR_MANIFEST = "InvalidManifest"
ERROR_THROUGHPUT_TIMEOUT = "ThroughputNotReady"
ERROR_DEPLOYMENT_TIMEOUT = "DeploymentNotReady"  # an on-demand deployment still Creating: retried until its bound
ERROR_TRAINING_TIMEOUT = "TrainingTimedOut"
ERROR_EVALUATION = "EvaluationFailed"
# A creating call met a Bedrock quota (or was throttled): retried on its own bounded schedule (admission.quotaWait...).
ERROR_QUOTA = "QuotaExceeded"

# ---- How the candidate is served (settings `serving`, run.json `serving`, `$.throughput.kind`) -------------
SERVING_PROVISIONED = "provisionedThroughput"  # Provisioned Throughput: model units billed by the hour
SERVING_ON_DEMAND = "onDemand"  # a custom model deployment: billed per token, nothing while idle

# ---- Tags the pipeline puts on what it creates ----------------------------------------------------------
TAG_PIPELINE = "finetune:pipeline"
TAG_RUN = "finetune:run"
TAG_EXECUTION = "finetune:execution"
TAG_DATASET_SHA256 = "finetune:dataset-sha256"
TAG_CREATED_AT = "finetune:created-at"
TAG_APPROVED = "finetune:approved"
# The tags a run puts on what it creates, and the one Promote adds: IAM limits every Bedrock tag write to these keys.
CREATION_TAG_KEYS = (TAG_PIPELINE, TAG_RUN, TAG_EXECUTION, TAG_DATASET_SHA256, TAG_CREATED_AT)
PROMOTION_TAG_KEYS = (TAG_APPROVED,)

# The promotion parameter's value until the first promotion: the stack creates the parameter (so nobody else can
# create or redirect it first), and SSM values cannot be empty. Every reader treats it as "nothing promoted".
PROMOTION_PLACEHOLDER = "none"

METRIC_NAMESPACE = "BedrockFinetunePipeline"
METRIC_OVERDUE_THROUGHPUTS = "OverdueProvisionedThroughputs"
# Whole days until a base model's end of life, published by the janitor per Pipeline and Model dimension.
METRIC_DAYS_TO_END_OF_LIFE = "DaysToEndOfLife"
DIMENSION_MODEL = "Model"
MODEL_PROMOTED = "promoted"  # the base model of the custom model the promotion parameter names
MODEL_CONFIGURED = "configured"  # the base model new runs train from (settings baseModelId)


def run_prefix(run_name: str, execution_name: str) -> str:
    """The artifacts-bucket prefix that holds everything one execution writes."""
    return f"{RUNS_PREFIX}{run_name}/{execution_name}/"


def execution_name(run_name: str, *fingerprints: str) -> str:
    """A Step Functions execution name derived from the upload, so a repeated event starts nothing new.

    Names are unique per state machine for 90 days and may hold 1-80 characters of [A-Za-z0-9-_]
    (docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
    """
    digest = hashlib.sha256("\n".join(fingerprints).encode()).hexdigest()[:16]
    return f"{run_name[:60]}-{digest}"


def run_name_from_key(key: str) -> str | None:
    """inbox/<name>.jsonl or runs/<name>/run.json -> <name>, normalised; None for any other key."""
    if key.startswith(INBOX_PREFIX) and key.endswith(".jsonl") and key.count("/") == 1:
        stem = key[len(INBOX_PREFIX) : -len(".jsonl")]
    elif key.startswith(RUNS_PREFIX) and key.endswith("/" + MANIFEST_NAME) and key.count("/") == 2:
        stem = key[len(RUNS_PREFIX) : -len("/" + MANIFEST_NAME)]
    else:
        return None
    name = re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")[:40]
    return name or None
