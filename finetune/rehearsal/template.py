"""Resolves the CloudFormation intrinsics in synthesized templates to local values, so the rehearsal runs them as is.

Supported: ``Ref`` (resources and the pseudo parameters ``AWS::Region``, ``AWS::AccountId``, ``AWS::Partition``,
``AWS::URLSuffix``, ``AWS::StackName``), ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split`` and
``Fn::ImportValue`` (through the ``Export`` names of the other templates' ``Outputs``). Anything else raises
:class:`UnsupportedIntrinsic` rather than guessing. The resolver only substitutes tokens: literal strings are copied
unchanged, which ``tests/rehearsal`` checks on the state machine definition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: lookup(stack name, logical id, attribute or None for Ref) -> the local value.
Lookup = Callable[[str, str, str | None], str]


class UnsupportedIntrinsic(ValueError):
    """A template uses an intrinsic function (or a reference) the resolver cannot turn into a local value."""


class TemplateResolver:
    """Resolves tokens in the templates of one app (stack name -> template) against a lookup of local values."""

    def __init__(
        self,
        templates: Mapping[str, Mapping[str, Any]],
        lookup: Lookup,
        *,
        region: str,
        account_id: str,
        partition: str = "aws",
    ) -> None:
        self.templates = templates
        self.lookup = lookup
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com",
        }
        self._exports: dict[str, tuple[str, Any]] = {}
        for stack, template in templates.items():
            for output in template.get("Outputs", {}).values():
                name = output.get("Export", {}).get("Name")
                if isinstance(name, str):
                    self._exports[name] = (stack, output["Value"])

    def resource(self, stack: str, logical_id: str) -> Mapping[str, Any]:
        try:
            resource: Mapping[str, Any] = self.templates[stack]["Resources"][logical_id]
        except KeyError:
            raise UnsupportedIntrinsic(f"{stack} has no resource {logical_id!r}") from None
        return resource

    def resolve(self, value: Any, stack: str) -> Any:
        """``value`` with every intrinsic inside it replaced; ``stack`` is the template the value comes from."""
        if isinstance(value, list):
            return [self.resolve(item, stack) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" or name.startswith("Fn::"):
                return self._intrinsic(name, argument, stack)
        return {key: self.resolve(item, stack) for key, item in value.items()}

    def resolve_string(self, value: Any, stack: str) -> str:
        resolved = self.resolve(value, stack)
        if not isinstance(resolved, str):
            raise UnsupportedIntrinsic(f"expected a string, got {type(resolved).__name__}: {resolved!r}")
        return resolved

    def _intrinsic(self, name: str, argument: Any, stack: str) -> Any:
        if name == "Ref":
            if argument in self.pseudo:
                return self.pseudo[argument]
            if argument == "AWS::StackName":
                return stack
            self.resource(stack, argument)
            return self.lookup(stack, argument, None)
        if name == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
            self.resource(stack, logical_id)
            return self.lookup(stack, logical_id, attribute)
        if name == "Fn::Join":
            separator, parts = argument
            return str(separator).join(self.resolve_string(part, stack) for part in self.resolve(parts, stack))
        if name == "Fn::Select":
            index, items = argument
            return self.resolve(items, stack)[int(self.resolve(index, stack))]
        if name == "Fn::Split":
            separator, text = argument
            return self.resolve_string(text, stack).split(separator)
        if name == "Fn::ImportValue":
            export = self.resolve_string(argument, stack)
            if export not in self._exports:
                raise UnsupportedIntrinsic(f"no stack exports {export!r}")
            exporter, exported = self._exports[export]
            return self.resolve(exported, exporter)
        raise UnsupportedIntrinsic(f"{name} is not supported by the rehearsal's resolver: {argument!r}")


def find_resources(template: Mapping[str, Any], resource_type: str) -> dict[str, Mapping[str, Any]]:
    """The resources of one type, by logical id."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }


def placeholder_lookup(stack: str, logical_id: str, attribute: str | None) -> str:
    """A lookup that renders each reference as a visible marker (for asserting what is literal text)."""
    return f"<<{stack}.{logical_id}{'.' + attribute if attribute else ''}>>"
