#!/usr/bin/env python3
"""Convert TAT-QA JSON files into the pipeline's JSON Lines (Claude 3 Haiku messages format).

TAT-QA (https://nextplusplus.github.io/TAT-QA/, CC BY 4.0) pairs a table and paragraphs from a financial report with
questions. Each question becomes one record: the user turn holds the table, the paragraphs in order and the
question; the assistant turn holds the answer (spans joined with ", ", numbers with their scale). Questions without
an answer are skipped and counted. Usage::

    python examples/tatqa/convert.py tatqa_dataset_dev.json -o tatqa.jsonl
    finetune validate tatqa.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

SYSTEM_PROMPT = (
    "You answer questions about a company's financial report. Use the table and the text. Reply with the answer "
    "only, with its unit or scale when it has one."
)
# How TAT-QA's `scale` reads after a number; a percentage keeps its sign attached.
_SCALE_SUFFIX = {"": "", "thousand": " thousand", "million": " million", "billion": " billion", "percent": "%"}


def format_number(value: float) -> str:
    """Up to two decimals, trailing zeros dropped; thousands separators."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def answer_text(question: Mapping[str, Any]) -> str | None:
    """The assistant turn for one TAT-QA question, or None when it has no usable answer."""
    answer = question.get("answer")
    scale = str(question.get("scale") or "")
    suffix = _SCALE_SUFFIX.get(scale, f" {scale}")
    if isinstance(answer, list):
        parts = [str(part).strip() for part in answer if str(part).strip()]
        if not parts:
            return None
        text = ", ".join(parts)
        # Spans copied from a table cell carry their own units; add the scale only to a bare single number.
        if len(parts) == 1 and scale and _is_number(parts[0]):
            text += suffix
        return text
    if isinstance(answer, bool) or answer is None:
        return None
    if isinstance(answer, int | float):
        return format_number(answer) + suffix
    text = str(answer).strip()
    return text or None


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").replace("$", "").strip())
    except ValueError:
        return False
    return True


def table_text(rows: Sequence[Sequence[Any]]) -> str:
    """The table as pipe-separated rows, blank cells kept so columns line up."""
    return "\n".join("| " + " | ".join(" ".join(str(cell).split()) for cell in row) + " |" for row in rows)


def prompt_text(document: Mapping[str, Any], question: Mapping[str, Any]) -> str:
    paragraphs = sorted(document.get("paragraphs", []), key=lambda p: int(p.get("order", 0)))
    text = "\n".join(str(p["text"]).strip() for p in paragraphs if str(p.get("text", "")).strip())
    table = table_text(document.get("table", {}).get("table", []))
    return f"Table:\n{table}\n\nText:\n{text}\n\nQuestion: {str(question['question']).strip()}"


def convert(documents: Iterable[Mapping[str, Any]], skipped: Counter[str] | None = None) -> Iterator[dict[str, Any]]:
    """One Claude messages record per answerable question, in document and question order."""
    skipped = skipped if skipped is not None else Counter()
    for document in documents:
        for question in sorted(document.get("questions", []), key=lambda q: int(q.get("order", 0))):
            if not str(question.get("question", "")).strip():
                skipped["no question"] += 1
                continue
            answer = answer_text(question)
            if answer is None:
                skipped["no answer"] += 1
                continue
            yield {
                "system": SYSTEM_PROMPT,
                "messages": [
                    {"role": "user", "content": prompt_text(document, question)},
                    {"role": "assistant", "content": answer},
                ],
            }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert TAT-QA JSON files to the pipeline's JSON Lines.")
    parser.add_argument("inputs", nargs="+", type=Path, help="TAT-QA JSON files (a list of documents each)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the JSON Lines file to write")
    parser.add_argument("--max-records", type=int, help="stop after this many records")
    args = parser.parse_args(argv)
    documents: list[Mapping[str, Any]] = []
    records: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    for path in args.inputs:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"convert: cannot read {path}: {exc}", file=sys.stderr)
            return 2
        not_tatqa = f"convert: {path} is not a TAT-QA file (expected a JSON list of documents with questions)"
        if not isinstance(data, list) or not all(isinstance(document, dict) for document in data):
            print(not_tatqa, file=sys.stderr)
            return 2
        try:  # the files are a few MB: convert each whole, so a malformed one is named before anything is written
            records.extend(convert(data, skipped))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            print(f"{not_tatqa}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        documents.extend(data)
    if args.max_records is not None:
        records = records[: args.max_records]
    with args.output.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    written = len(records)
    details = ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items())) or "none"
    print(
        f"convert: {len(documents)} documents -> {written} records in {args.output} (skipped: {details})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
