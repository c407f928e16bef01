"""The validation report: findings with rule ids, per-split token statistics, the cost estimate, as JSON and as text.

The verdict and the counts come first in both renderings. Findings of one rule past the first
`MAX_FINDINGS_PER_RULE` are counted but not listed, so a report stays small whatever the dataset.
"""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pipeline_core.dataset.rules import RULES, Severity

MAX_FINDINGS_PER_RULE = 100
# The one-line reason a rejected run gives (the workflow's failure Cause, the notification): the rules with the
# most failing lines, at most this many, within this many characters. The report holds the rest.
MAX_REASON_RULES = 3
MAX_REASON_CHARS = 400
SPLITS = ("train", "validation", "test")
REPORT_VERSION = 1


@dataclass(frozen=True)
class Finding:
    """One rule violation, located by file and line (line is None for file- or dataset-level findings)."""

    rule_id: str
    severity: Severity
    file: str
    line: int | None
    message: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
        }

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


class FindingLog:
    """Collects findings, listing at most MAX_FINDINGS_PER_RULE per rule and counting the rest.

    It also counts the lines each rule found something on: one record can break a rule twice (a first message
    that is not the user's and a last one that is not the assistant's), and a person fixes lines, not findings.
    """

    def __init__(self, max_per_rule: int = MAX_FINDINGS_PER_RULE) -> None:
        self._max = max_per_rule
        self.listed: list[Finding] = []
        self.per_rule: Counter[str] = Counter()
        self.lines_per_rule: Counter[str] = Counter()
        self._last_line: dict[str, tuple[str, int]] = {}
        # Where the validator was when each listed finding was added: (file index, line, step within the line). A
        # second pass adds its findings after everything else; `sort_by_position` puts them where one pass would.
        self.position: tuple[float, float, int] = (0, 0, 0)
        self._positions: list[tuple[float, float, int]] = []

    def add(self, rule_id: str, file: str, line: int | None, message: str) -> None:
        rule = RULES[rule_id]
        self.per_rule[rule_id] += 1
        # Findings of one rule arrive in line order within a file, so a repeat is always the previous one.
        if line is not None and self._last_line.get(rule_id) != (file, line):
            self._last_line[rule_id] = (file, line)
            self.lines_per_rule[rule_id] += 1
        if self.per_rule[rule_id] <= self._max:
            self.listed.append(Finding(rule_id, rule.severity, file, line, message, rule.fix))
            self._positions.append(self.position)

    def sort_by_position(self) -> None:
        """Order the listed findings by where they were added (stable: one place keeps its order)."""
        order = sorted(range(len(self.listed)), key=self._positions.__getitem__)
        self.listed = [self.listed[i] for i in order]
        self._positions = [self._positions[i] for i in order]

    def count(self, severity: Severity) -> int:
        return sum(n for rule_id, n in self.per_rule.items() if RULES[rule_id].severity is severity)

    def omitted(self) -> dict[str, int]:
        return {rule_id: n - self._max for rule_id, n in sorted(self.per_rule.items()) if n > self._max}


@dataclass
class TokenStats:
    """Token counts of one split's records (4 bytes per record: bounded by the record quota, not by file size)."""

    tokens: array[int] = field(default_factory=lambda: array("I"))
    size_bytes: int = 0

    def add(self, tokens: int, size: int) -> None:
        self.tokens.append(tokens)
        self.size_bytes += size

    def summary(self) -> dict[str, Any]:
        n = len(self.tokens)
        if not n:
            return {"records": 0, "min_tokens": 0, "mean_tokens": 0.0, "p95_tokens": 0, "max_tokens": 0,
                    "total_tokens": 0, "bytes": self.size_bytes}  # fmt: skip
        ordered = sorted(self.tokens)
        total = sum(ordered)
        return {
            "records": n,
            "min_tokens": ordered[0],
            "mean_tokens": round(total / n, 1),
            "p95_tokens": ordered[max(0, math.ceil(0.95 * n) - 1)],  # nearest-rank percentile
            "max_tokens": ordered[-1],
            "total_tokens": total,
            "bytes": self.size_bytes,
        }


@dataclass(frozen=True)
class FileSummary:
    split: str
    name: str
    bytes: int
    lines: int
    records: int
    sha256: str


@dataclass(frozen=True)
class CostEstimate:
    """Training cost = training tokens x epochs x price per 1,000 tokens (https://aws.amazon.com/bedrock/pricing/)."""

    training_tokens: int
    epochs: int
    price_per_1k_tokens: float

    @property
    def usd(self) -> float:
        return round(self.training_tokens * self.epochs * self.price_per_1k_tokens / 1000.0, 2)


@dataclass(frozen=True)
class Report:
    """Everything one validation run found, ready to render."""

    base_model_id: str
    data_format: str
    chars_per_token: float
    files: tuple[FileSummary, ...]
    stats: dict[str, dict[str, Any]]
    findings: tuple[Finding, ...]
    per_rule: dict[str, int]
    omitted: dict[str, int]
    errors: int
    warnings: int
    infos: int
    cost: CostEstimate | None = None
    split: dict[str, Any] | None = None
    lines_per_rule: dict[str, int] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.errors == 0

    def reason(self) -> str:
        """One short line for a notification: the verdict and the failing rules with the most lines, with counts.

        It never quotes a record: a rule found on lines gets its number of lines; a file- or dataset-level rule
        (no line) gets its first finding's message, which the validator builds from counts and sizes only.
        """
        if self.valid:
            return f"The dataset passed validation ({self.warnings:,} warning(s))"
        first: dict[str, Finding] = {}
        for finding in self.findings:
            first.setdefault(finding.rule_id, finding)
        failing = [r for r in first if RULES[r].severity is Severity.ERROR]
        order = {rule_id: i for i, rule_id in enumerate(failing)}
        failing.sort(key=lambda r: (-self.lines_per_rule.get(r, 0), order[r]))
        parts = []
        for rule_id in failing[:MAX_REASON_RULES]:
            lines = self.lines_per_rule.get(rule_id, 0)
            detail = f"{lines:,} line{'s' if lines != 1 else ''}" if lines else first[rule_id].message
            parts.append(f"{rule_id} ({detail})")
        more = len(failing) - MAX_REASON_RULES
        if more > 0:
            parts.append(f"and {more} more rule{'s' if more != 1 else ''}")
        text = "The dataset failed validation: " + ", ".join(parts)
        if len(text) > MAX_REASON_CHARS:
            text = text[: MAX_REASON_CHARS - 3] + "..."
        return text

    def records(self, split: str) -> int:
        return int(self.stats.get(split, {}).get("records", 0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "counts": {
                "errors": self.errors,
                "warnings": self.warnings,
                "infos": self.infos,
                **{split: self.records(split) for split in SPLITS},
            },
            "report_version": REPORT_VERSION,
            "base_model_id": self.base_model_id,
            "data_format": self.data_format,
            "token_estimate": {
                "method": "ceil(characters of all text fields / chars_per_token); conservative, not a tokenizer",
                "chars_per_token": self.chars_per_token,
            },
            "files": [vars(f) for f in self.files],
            "statistics": self.stats,
            "estimated_training_cost": None
            if self.cost is None
            else {
                "training_tokens": self.cost.training_tokens,
                "epochs": self.cost.epochs,
                "price_per_1k_tokens": self.cost.price_per_1k_tokens,
                "usd": self.cost.usd,
            },
            "split": self.split,
            "findings_per_rule": self.per_rule,
            "findings_omitted": self.omitted,
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def to_text(self) -> str:
        verdict = "VALID" if self.valid else "INVALID"
        counts = ", ".join(f"{self.records(s)} {s}" for s in SPLITS)
        lines = [
            f"Dataset {verdict} for {self.base_model_id} ({self.data_format})",
            f"{self.errors} error(s), {self.warnings} warning(s), {self.infos} info(s); records: {counts}",
            "",
            "Files:",
            *(f"  {f.split:10} {f.name} ({f.bytes:,} bytes, {f.records:,} records)" for f in self.files),
            "",
            f"Tokens (estimated as ceil(characters / {self.chars_per_token:g})):",
            f"  {'split':10} {'records':>8} {'min':>8} {'mean':>10} {'p95':>8} {'max':>8} {'total':>12}",
        ]
        for split in SPLITS:
            s = self.stats.get(split)
            if s and s["records"]:
                lines.append(
                    f"  {split:10} {s['records']:>8,} {s['min_tokens']:>8,} {s['mean_tokens']:>10,.1f} "
                    f"{s['p95_tokens']:>8,} {s['max_tokens']:>8,} {s['total_tokens']:>12,}"
                )
        if self.cost is not None:
            lines.append(
                f"Estimated training cost: ${self.cost.usd:,.2f} = {self.cost.training_tokens:,} tokens x "
                f"{self.cost.epochs} epoch(s) x ${self.cost.price_per_1k_tokens:g} per 1,000 tokens"
            )
        if self.split is not None:
            lines.append(
                f"Split (seed {self.split['seed']}): shares validation {self.split['validation_share']:g}, "
                f"test {self.split['test_share']:g}"
            )
        # Findings grouped by rule, errors first; the fix hint is printed once per rule.
        order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
        rule_ids = sorted(self.per_rule, key=lambda r: (order[RULES[r].severity], r))
        for rule_id in rule_ids:
            rule = RULES[rule_id]
            lines += ["", f"{rule.severity.value.upper()} {rule_id} ({self.per_rule[rule_id]:,}): {rule.found}"]
            lines.append(f"  fix: {rule.fix}")
            lines += [f"  {f.location}: {f.message}" for f in self.findings if f.rule_id == rule_id]
            if rule_id in self.omitted:
                lines.append(f"  ... and {self.omitted[rule_id]:,} more not listed")
        return "\n".join(lines) + "\n"
