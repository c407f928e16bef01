"""The shapes a reference model may be named in: a model id, a cross-Region inference profile id, or an ARN.

Bedrock's own pattern for the model a Converse request names (botocore 1.44.8,
`botocore/data/bedrock-runtime/2023-09-30/service-2.json`, shape `ConversationalModelId` of
`ConverseRequest.modelId`, read 2026-12-01; the API reference is
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html) ends in the alternative
`[a-zA-Z0-9-:.]+`, which accepts nearly any word and so cannot catch a typo at synth time. The shapes below are
its narrower alternatives:

- a model id `[a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.:]?[a-z0-9-]{1,63})`, here `provider.name-version` with an
  optional `:n` and an optional context suffix such as `:200k`;
- `arn:aws(-[^:]+)?:bedrock:<region>::foundation-model/<model id>`;
- `arn:aws(-[^:]+)?:bedrock:<region>:<account>:(inference-profile|application-inference-profile)/[a-zA-Z0-9-:.]+`;
- `arn:aws(-[^:]+)?:bedrock:<region>:<account>:provisioned-model/[a-z0-9]{12}`;

plus a cross-Region inference profile id: a geography prefix and a model id
(https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html, read 2026-12-01). The
prefixes are the ones the stack grants for (`reference_model_arns` in pipeline_stack.py).
"""

from __future__ import annotations

import re

from pipeline_core.models import INFERENCE_PROFILE_GEOGRAPHIES

_MODEL_ID = r"[a-z0-9-]{1,63}\.[a-z0-9-]{1,63}(?::[a-z0-9-]{1,63}){0,2}"
_PROFILE_ID = rf"(?:{'|'.join(INFERENCE_PROFILE_GEOGRAPHIES)})\.{_MODEL_ID}"
_ARN_PREFIX = r"arn:aws(?:-[^:]+)?:bedrock:[a-z0-9-]{1,20}:"
_ARN = (
    rf"{_ARN_PREFIX}(?::foundation-model/{_MODEL_ID}"
    r"|[0-9]{12}:(?:inference-profile|application-inference-profile)/[a-zA-Z0-9-:.]+"
    r"|[0-9]{12}:provisioned-model/[a-z0-9]{12})"
)

REFERENCE_MODEL_PATTERN = rf"{_MODEL_ID}|{_PROFILE_ID}|{_ARN}"
REFERENCE_MODEL_DESCRIBED = (
    "a Bedrock model id (provider.name-version[:n][:ctx], such as anthropic.claude-3-5-sonnet-20240620-v1:0), "
    f"a cross-Region inference profile id ({'./'.join(INFERENCE_PROFILE_GEOGRAPHIES)}. and a model id) or the ARN "
    "of a foundation model, an inference profile or a provisioned model (arn:aws:bedrock:...)"
)


def is_reference_model_id(value: str) -> bool:
    """Whether `value` has one of the shapes above (it says nothing about access or Region)."""
    return re.fullmatch(REFERENCE_MODEL_PATTERN, value) is not None
