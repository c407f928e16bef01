"""Reads one JSON object of configuration with one-line errors that name the key, the value and what is allowed.

Shared by the synth-time settings (`stacks/settings.py`, cdk.json) and the run manifest (`manifest.py`, run.json),
so both report a bad value the same way. Unknown keys are errors: a misspelt key silently falling back to its
default is the most common way a setting "does nothing". So is `null`: it is refused unless the key documents
what null means (such as "no threshold"), rather than quietly standing for the default.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NoReturn, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is missing, misspelt or out of range. `key` is the dotted path that failed."""

    def __init__(self, message: str, *, key: str = "") -> None:
        super().__init__(message)
        self.key = key


class ConfigReader:
    """Reads one JSON object, tracking which keys were used so that the rest can be reported as unknown.

    Subclasses choose the exception class (`error`) and the noun used for unknown keys (`noun`).
    """

    error: ClassVar[type[ConfigError]] = ConfigError
    noun: ClassVar[str] = "setting"

    def __init__(self, raw: Any, path: str = "") -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise self.error(f"{path or 'the document'}: expected an object, got {raw!r}", key=path)
        self.raw: Mapping[str, Any] = raw
        self.path = path
        self.used: set[str] = set()

    def where(self, key: str) -> str:
        """The dotted path of `key`, e.g. `pipeline.evaluation.metric`."""
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, value: Any, expected: str) -> NoReturn:
        raise self.error(
            f"{self.where(key)} = {_shown(value)} is not allowed: expected {expected}", key=self.where(key)
        )

    def get(
        self,
        key: str,
        default: Any,
        expected: str = "a value",
        *,
        nullable: bool = False,
        absent: str = "use the default",
    ) -> Any:
        """The value of `key`, or `default` when it is absent. A null is refused unless `nullable`.

        `expected` and `absent` word the refusal: "expected <expected> (remove the key to <absent>)".
        """
        self.used.add(key)
        if key not in self.raw:
            return default
        value = self.raw[key]
        if value is None and not nullable:
            raise self.error(
                f"{self.where(key)} = null is not allowed: expected {expected} (remove the key to {absent})",
                key=self.where(key),
            )
        return value

    def present(self, key: str) -> bool:
        return key in self.raw

    def number(self, key: str, default: float, lo: float, hi: float, *, integer: bool = False) -> Any:
        expected = f"{'an integer' if integer else 'a number'} from {lo} to {hi}"
        value = self.get(key, default, expected)
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type or not lo <= value <= hi:
            self.fail(key, value, expected)
        return int(value) if integer else float(value)

    def optional_number(self, key: str, lo: float, hi: float) -> float | None:
        """A number that may be absent or null: the key documents null as switching its feature off."""
        if self.get(key, None, nullable=True) is None:
            return None
        return float(self.number(key, 0.0, lo, hi))

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default, "true or false")
        if not isinstance(value, bool):
            self.fail(key, value, "true or false")
        return value

    def string(self, key: str, default: str | None, pattern: str, described: str, *, nullable: bool = False) -> Any:
        """A string matching `pattern`; None when absent without a default, or null where `nullable`."""
        absent = "leave it unset" if default is None else "use the default"
        value = self.get(key, default, described, nullable=nullable, absent=absent)
        if value is None:
            return None
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            self.fail(key, value, described)
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        expected = f"one of {', '.join(choices)}"
        value = self.get(key, default, expected)
        if value not in choices:
            self.fail(key, value, expected)
        return str(value)

    def string_list(
        self,
        key: str,
        default: list[str],
        max_items: int,
        described: str,
        *,
        item_pattern: str = r"(?s).+",
        item_described: str = "a non-empty string",
    ) -> list[str]:
        """A list of at most `max_items` strings, each matching `item_pattern`; a bad item is named by its index."""
        value = self.get(key, default, described)
        if not isinstance(value, list) or len(value) > max_items:
            self.fail(key, value, described)
        for index, item in enumerate(value):
            if not isinstance(item, str) or not re.fullmatch(item_pattern, item):
                # The error's key stays the list's own, so a manifest error still finds its line.
                raise self.error(
                    f"{self.where(key)}[{index}] = {_shown(item)} is not allowed: expected {item_described}",
                    key=self.where(key),
                )
        return list(value)

    def child(self, key: str) -> ConfigReader:
        return type(self)(self.get(key, None, "an object"), self.where(key))

    def section(self, key: str, build: Callable[[Any], T]) -> T:
        """Read the object under `key` with `build`, then report any key `build` did not use."""
        child = self.child(key)
        value = build(child)
        child.finish()
        return value

    def finish(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            where = self.where(unknown[0])
            raise self.error(
                f"{where} is not a known {self.noun}; known keys here: {', '.join(sorted(self.used))}", key=where
            )


def _shown(value: Any) -> str:
    """A value as the user wrote it in JSON where Python would spell it differently (null), else its repr."""
    return "null" if value is None else repr(value)


def misspelling_of(key: str, wanted: str) -> bool:
    """Whether `key` looks like a misspelt `wanted`: the same word in other case, or a close match (difflib)."""
    return key != wanted and (key.lower() == wanted.lower() or bool(difflib.get_close_matches(key, [wanted])))
