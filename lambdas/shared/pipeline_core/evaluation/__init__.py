"""Evaluation domain code: test records to Converse prompts, the batch plan, the retry policy and result records.

No boto3 here: the `evaluate` handler does the S3 and Bedrock I/O and passes bytes and responses in.
"""

from pipeline_core.evaluation.examples import (
    EvaluationExample,
    ExampleError,
    detect_format,
    example_id,
    parse_example,
    to_example,
)
from pipeline_core.evaluation.planner import Batch, PlanError, batch_lines, is_blank, plan_batches
from pipeline_core.evaluation.records import (
    ModelCall,
    answered_record,
    converse_request,
    failed_record,
    models_to_call,
)
from pipeline_core.evaluation.retry import RetryPolicy
from pipeline_core.evaluation.spec import DEFAULT_BATCH_SIZE, Champion, EvaluationSpec, PriceTable, SpecError


class EvaluationFailed(Exception):
    """The evaluation cannot produce a trustworthy result; the state machine routes on this class name.

    The name is `pipeline_core.contracts.ERROR_EVALUATION`: Lambda reports an uncaught exception by its class name.
    """


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "Batch",
    "Champion",
    "EvaluationExample",
    "EvaluationFailed",
    "EvaluationSpec",
    "ExampleError",
    "ModelCall",
    "PlanError",
    "PriceTable",
    "RetryPolicy",
    "SpecError",
    "answered_record",
    "batch_lines",
    "converse_request",
    "detect_format",
    "example_id",
    "failed_record",
    "is_blank",
    "models_to_call",
    "parse_example",
    "plan_batches",
    "to_example",
]
