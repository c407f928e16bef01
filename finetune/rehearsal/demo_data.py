"""A synthetic demo dataset for the rehearsal: finance table + text question answering in the style of TAT-QA.

Each example shows a small two-year financial table and a paragraph about a fictional company, then asks one
question whose answer is computed from them: a difference, a percentage change, a sum, an average, a span from the
table or a span from the text. Records are in the Claude 3 Haiku messages format
(``{"system", "messages": [user, assistant]}``), deterministic from a seed, and pass ``finetune validate``.
The companies and figures are invented; nothing is copied from TAT-QA.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_COUNT = 300
DEFAULT_SEED = 7

SYSTEM_PROMPT = (
    "You answer questions about a company's financial report. Use the table and the text. Reply with the answer "
    "only: a number in the table's units (a percentage with one decimal and a % sign), or the exact words."
)

#: The question kinds, in the order they rotate; each answer is computed from the example's own table or text.
KINDS = ("difference", "percent-change", "sum", "average", "table-span", "text-span")

_PREFIXES = (
    "Alder", "Birch", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper", "Kestrel",
    "Lumen", "Maple", "Nimbus", "Onyx", "Pioneer", "Quartz", "Riverton", "Summit", "Tidewater", "Upland", "Vantage",
    "Willow", "Zenith",
)  # fmt: skip
_SUFFIXES = ("Holdings", "Industries", "Systems", "Group", "Logistics", "Foods", "Energy", "Software", "Materials")
_CITIES = (
    "Denver", "Austin", "Portland", "Raleigh", "Omaha", "Tucson", "Boise", "Madison", "Richmond", "Spokane",
    "Albany", "Fresno", "Tulsa", "Lincoln", "Durham", "Reno",
)  # fmt: skip
_SEGMENTS = (
    "industrial services", "consumer products", "cloud subscriptions", "specialty chemicals", "regional freight",
    "packaged foods", "renewable power", "medical devices", "retail banking", "building materials",
)  # fmt: skip
_ROWS = (
    "Revenue", "Cost of revenue", "Gross profit", "Operating expenses", "Research and development",
    "Selling and marketing", "Operating income", "Net income", "Cash and equivalents", "Total debt",
)  # fmt: skip
_UNITS = ("thousands", "millions")


@dataclass(frozen=True)
class DemoExample:
    """One generated question with the data it was computed from (kept for tests and for the answer key)."""

    kind: str
    company: str
    years: tuple[int, int]  # (current, prior)
    unit: str
    rows: tuple[tuple[str, int, int], ...]  # (label, current value, prior value)
    paragraph: str
    question: str
    answer: str

    def table_text(self) -> str:
        current, prior = self.years
        lines = [f"| (in {self.unit}) | {current} | {prior} |", "|---|---|---|"]
        lines += [f"| {label} | {now:,} | {before:,} |" for label, now, before in self.rows]
        return "\n".join(lines)

    def prompt(self) -> str:
        return f"Table:\n{self.table_text()}\n\nText:\n{self.paragraph}\n\nQuestion: {self.question}"

    def to_record(self) -> dict[str, Any]:
        """The Claude 3 Haiku training record."""
        return {
            "system": SYSTEM_PROMPT,
            "messages": [{"role": "user", "content": self.prompt()}, {"role": "assistant", "content": self.answer}],
        }


def format_number(value: float) -> str:
    """Thousands separators; one decimal place only when the value is not whole."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def percent_change(current: float, prior: float) -> str:
    return f"{(current - prior) / prior * 100:.1f}%"


def _example(rng: random.Random, index: int, kind: str) -> DemoExample:
    company = f"{rng.choice(_PREFIXES)} {rng.choice(_SUFFIXES)}"
    current = rng.randint(2012, 2024)
    years = (current, current - 1)
    unit = rng.choice(_UNITS)
    labels = rng.sample(_ROWS, 4)
    rows = tuple((label, rng.randint(1_000, 99_000), rng.randint(1_000, 99_000)) for label in labels)
    city, segment = rng.choice(_CITIES), rng.choice(_SEGMENTS)
    employees = rng.randint(120, 9_800)
    # The report number makes every prompt unique, so the validator's duplicate and leakage rules stay quiet.
    paragraph = (
        f"{company} (report {index + 1:04d}) is headquartered in {city} and employs about {employees:,} people. "
        f"Its largest business segment is {segment}. Amounts in the table are in {unit} of US dollars."
    )
    label, now, before = rows[0]
    if kind == "difference":
        question, answer = f"What was the change in {label} from {years[1]} to {years[0]}?", format_number(now - before)
    elif kind == "percent-change":
        question = f"What was the percentage change in {label} from {years[1]} to {years[0]}?"
        answer = percent_change(now, before)
    elif kind == "sum":
        other = rows[1][0]
        question = f"What was the total of {label} and {other} in {years[0]}?"
        answer = format_number(now + rows[1][1])
    elif kind == "average":
        question, answer = (
            f"What was the average {label} for {years[1]} and {years[0]}?",
            format_number((now + before) / 2),
        )
    elif kind == "table-span":
        question = f"In which year was {label} higher, {years[0]} or {years[1]}?"
        if now == before:
            now += 1
            rows = ((label, now, before), *rows[1:])
        answer = str(years[0] if now > before else years[1])
    elif kind == "text-span":
        question, answer = rng.choice(
            [
                (f"Where is {company} headquartered?", city),
                (f"What is the largest business segment of {company}?", segment),
            ]
        )
    else:
        raise ValueError(f"unknown question kind {kind!r}; known: {', '.join(KINDS)}")
    return DemoExample(kind, company, years, unit, rows, paragraph, question, answer)


def generate(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> list[DemoExample]:
    """``count`` examples, the same for the same seed; question kinds rotate so each is well represented."""
    if count < 1:
        raise ValueError("count must be at least 1")
    rng = random.Random(seed)
    return [_example(rng, index, KINDS[index % len(KINDS)]) for index in range(count)]


def records(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> Iterator[dict[str, Any]]:
    for example in generate(count, seed):
        yield example.to_record()


def to_jsonl(rows: Sequence[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def write(path: Path, count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> int:
    """Write the dataset as JSON Lines; returns the number of records."""
    rows = list(records(count, seed))
    path.write_bytes(to_jsonl(rows))
    return len(rows)
