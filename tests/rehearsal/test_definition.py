"""The state machine moto runs is the synthesized one, byte for byte, with only its tokens resolved."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from finetune.rehearsal.runner import RehearsalResult, SynthesizedApp
from finetune.rehearsal.template import TemplateResolver, find_resources, placeholder_lookup


def _definition_join(app: SynthesizedApp) -> list[Any]:
    ((machine,),) = [
        list(find_resources(app.templates[app.pipeline_stack], "AWS::StepFunctions::StateMachine").values())
    ]
    separator, parts = machine["Properties"]["DefinitionString"]["Fn::Join"]
    assert separator == ""
    return list(parts)


def test_executed_definition_is_the_resolved_template(
    run_rehearsal: Callable[..., RehearsalResult], rehearsal_app: SynthesizedApp
) -> None:
    result = run_rehearsal(faults={"job-failed"})  # a short run; the definition is the same for every run
    assert result.executed_definition == result.definition
    resolver = result.cloud.resources.resolver
    rendered = resolver.resolve_string(
        {"Fn::Join": ["", _definition_join(rehearsal_app)]}, rehearsal_app.pipeline_stack
    )
    assert rendered == result.executed_definition
    json.loads(result.executed_definition)


def test_resolver_only_substitutes_tokens(rehearsal_app: SynthesizedApp) -> None:
    parts = _definition_join(rehearsal_app)
    resolver = TemplateResolver(rehearsal_app.templates, placeholder_lookup, region="r", account_id="a", partition="p")
    rendered = resolver.resolve_string({"Fn::Join": ["", parts]}, rehearsal_app.pipeline_stack)
    literal = [part for part in parts if isinstance(part, str)]
    tokens = [part for part in parts if not isinstance(part, str)]
    assert tokens, "the definition references the template's resources"
    # Cut the rendering at each token's rendering: what is left must be exactly the literal parts, in order.
    remaining, pieces = rendered, []
    for part in parts:
        text = part if isinstance(part, str) else resolver.resolve_string(part, rehearsal_app.pipeline_stack)
        assert remaining.startswith(text)
        if isinstance(part, str):
            pieces.append(text)
        remaining = remaining[len(text) :]
    assert remaining == "" and pieces == literal
    for token in tokens:
        assert resolver.resolve_string(token, rehearsal_app.pipeline_stack) in rendered
