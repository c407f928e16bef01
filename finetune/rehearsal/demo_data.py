"""A synthetic demo dataset for the rehearsal: finance table + text question answering in the style of TAT-QA.

Each example shows a small two-year financial table and a paragraph about a fictional company, then asks one
question whose answer is computed from them: a difference, a percentage change, a sum, an average, a span from the
table or a span from the text. Records are written in the configured base model's data format
(``pipeline_core.models.DataFormat``: Claude messages, prompt/completion or Converse), are deterministic from a seed,
and pass ``finetune validate`` for that model. The companies and figures are invented; nothing is copied from TAT-QA.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_core.models import DataFormat

# 1,000 records leave a 100-example test set (testShare 0.1). With the default simulated accuracies (0.9 vs 0.7) the
# quality gate's paired test (p <= 0.05) then passes for about 9 seeds in 10; with 300 records (30 examples) it passed
# for about 1 in 3, so whether the demo promoted depended on the base model's name, which feeds the simulation's draws.
DEFAULT_COUNT = 1000
#: The documented schema version of Converse-format records (Nova, Llama 3.2/3.3).
CONVERSE_SCHEMA = "bedrock-conversation-2024"
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

    def to_record(self, data_format: DataFormat = DataFormat.CLAUDE_MESSAGES) -> dict[str, Any]:
        """The training record in ``data_format``.

        Prompt/completion has no system field, so the instructions open the prompt; the evaluation then sends the
        prompt as the user turn, which is what the simulated models' answer key is indexed by.
        """
        if data_format is DataFormat.PROMPT_COMPLETION:
            return {"prompt": f"{SYSTEM_PROMPT}\n\n{self.prompt()}", "completion": self.answer}
        if data_format is DataFormat.CONVERSE:
            return {
                "schemaVersion": CONVERSE_SCHEMA,
                "system": [{"text": SYSTEM_PROMPT}],
                "messages": [
                    {"role": "user", "content": [{"text": self.prompt()}]},
                    {"role": "assistant", "content": [{"text": self.answer}]},
                ],
            }
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


def records(
    count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED, data_format: DataFormat = DataFormat.CLAUDE_MESSAGES
) -> Iterator[dict[str, Any]]:
    for example in generate(count, seed):
        yield example.to_record(data_format)


def to_jsonl(rows: Sequence[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def minimum_count(min_training_records: int, validation_share: float, test_share: float) -> int:
    """The fewest records whose training split still holds ``min_training_records`` once the validation and test
    shares are taken out (a share of a split is rounded up, as the pipeline's split does, to stay on the safe side)."""
    count = min_training_records
    while count - math.ceil(count * validation_share) - math.ceil(count * test_share) < min_training_records:
        count += 1
    return count


def write(
    path: Path,
    count: int = DEFAULT_COUNT,
    seed: int = DEFAULT_SEED,
    data_format: DataFormat = DataFormat.CLAUDE_MESSAGES,
) -> int:
    """Write the dataset as JSON Lines; returns the number of records."""
    rows = list(records(count, seed, data_format))
    path.write_bytes(to_jsonl(rows))
    return len(rows)
