"""Reference model ids are checked for shape at synth time, and every shape accepted is one Bedrock accepts."""

from __future__ import annotations

import re

import pytest

from stacks.reference_model_ids import REFERENCE_MODEL_PATTERN, is_reference_model_id

VALID = [
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "amazon.titan-text-express-v1",  # no `:n` version
    "anthropic.claude-3-haiku-20240307-v1:0:200k",  # with a context-length suffix
    "meta.llama3-1-70b-instruct-v1:0",
    "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
    "eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
    "apac.amazon.nova-pro-v1:0",
    "global.anthropic.claude-sonnet-4-20250514-v1:0",
    "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0",
    "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0",
    "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3d4e5f6",
    "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdef123456",
    "arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
]

INVALID = [
    "not a model id !!",
    "",
    "claude",  # no provider
    "Anthropic.Claude-3",  # model ids are lower case
    "anthropic.claude v2",
    "anthropic.claude-3-haiku-20240307-v1:0:200k:extra",  # at most :n and :ctx
    "xx.anthropic.claude-3-5-sonnet-20240620-v1:0",  # not a geography with inference profiles
    "us.",
    "arn:aws:s3:::my-bucket",
    "arn:aws:bedrock:us-west-2:12345:provisioned-model/abcdef123456",  # account id is 12 digits
    "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc",  # provisioned model ids are 12 characters
    "arn:aws:bedrock:us-west-2:123456789012:foundation-model/anthropic.claude-v2",  # foundation models: no account
    "arn:aws:bedrock:us-west-2::custom-model/anthropic.claude-v2/abcdef123456",  # not a reference model
    " anthropic.claude-3-5-sonnet-20240620-v1:0",
]


@pytest.mark.parametrize("model_id", VALID)
def test_documented_shapes_are_accepted(model_id: str) -> None:
    assert is_reference_model_id(model_id)


@pytest.mark.parametrize("model_id", INVALID)
def test_other_strings_are_refused(model_id: str) -> None:
    assert not is_reference_model_id(model_id)


def _converse_model_id_pattern() -> str:
    """ConverseRequest.modelId's pattern in botocore's bedrock-runtime service model (shape ConversationalModelId)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    shape = model.operation_model("Converse").input_shape.members["modelId"]
    assert shape.name == "ConversationalModelId"
    return str(shape.metadata["pattern"])


@pytest.mark.parametrize("model_id", VALID)
def test_every_accepted_shape_is_one_bedrock_accepts(model_id: str) -> None:
    # The service checks the whole value against the pattern, and its length.
    assert re.fullmatch(_converse_model_id_pattern(), model_id), model_id
    assert 1 <= len(model_id) <= 2048


def test_bedrocks_own_pattern_would_not_catch_a_typo_in_a_model_id() -> None:
    """Why the shapes are narrower than the API's: its catch-all alternative takes a misspelt id as a model id."""
    pattern = _converse_model_id_pattern()
    assert re.fullmatch(pattern, "claude") and not is_reference_model_id("claude")
    assert not re.fullmatch(pattern, "not a model id !!")


def test_the_pattern_is_anchored_as_a_whole() -> None:
    # fullmatch over an alternation: a valid id with anything after it must not pass.
    assert re.fullmatch(REFERENCE_MODEL_PATTERN, "meta.llama3-1-70b-instruct-v1:0")
    assert not re.fullmatch(REFERENCE_MODEL_PATTERN, "meta.llama3-1-70b-instruct-v1:0 and more")
