"""Reads one JSON object of configuration with one-line errors that name the key, the value and what is allowed.

Shared by the synth-time settings (`stacks/settings.py`, cdk.json) and the run manifest (`manifest.py`, run.json),
so both report a bad value the same way. Unknown keys are errors: a misspelt key silently falling back to its
default is the most common way a setting "does nothing".
"""

from __future__ import annotations

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
        raise self.error(f"{self.where(key)} = {value!r} is not allowed: expected {expected}", key=self.where(key))

    def get(self, key: str, default: Any) -> Any:
        self.used.add(key)
        return self.raw.get(key, default)

    def present(self, key: str) -> bool:
        return key in self.raw

    def number(self, key: str, default: float, lo: float, hi: float, *, integer: bool = False) -> Any:
        value = self.get(key, default)
        kind = "an integer" if integer else "a number"
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type or not lo <= value <= hi:
            self.fail(key, value, f"{kind} from {lo} to {hi}")
        return int(value) if integer else float(value)

    def optional_number(self, key: str, lo: float, hi: float) -> float | None:
        """A number that may be absent or null (null switches the feature off)."""
        if self.raw.get(key) is None:
            self.used.add(key)
            return None
        return float(self.number(key, 0.0, lo, hi))

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, value, "true or false")
        return value

    def string(self, key: str, default: str | None, pattern: str, described: str) -> Any:
        value = self.get(key, default)
        if value is None and default is None:
            return None
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            self.fail(key, value, described)
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.get(key, default)
        if value not in choices:
            self.fail(key, value, f"one of {', '.join(choices)}")
        return str(value)

    def string_list(self, key: str, default: list[str], max_items: int, described: str) -> list[str]:
        value = self.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or len(value) > max_items:
            self.fail(key, value, described)
        return list(value)

    def child(self, key: str) -> ConfigReader:
        return type(self)(self.get(key, None), self.where(key))

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
