#!/usr/bin/env python3
"""Convert TAT-QA JSON files into the pipeline's JSON Lines, in the record format of the chosen base model.

TAT-QA (https://nextplusplus.github.io/TAT-QA/, CC BY 4.0) pairs a table and paragraphs from a financial report with
questions. Each question becomes one record: the user turn holds the table, the paragraphs in order and the
question; the assistant turn holds the answer (spans joined with ", ", numbers with their scale). Questions without
an answer are skipped and counted. The format follows ``--base-model`` (default: the pipeline's default base model,
Llama 3.1 70B Instruct: prompt/completion; Nova and Llama 3.2: Converse; Claude 3 Haiku: Claude messages). Usage::

    python examples/tatqa/convert.py tatqa_dataset_dev.json -o tatqa.jsonl
    finetune validate tatqa.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from finetune.atomic import OutputIsInput, atomic_write, refuse_input_as_output
from pipeline_core.models import CATALOGUE, DEFAULT_BASE_MODEL_ID, DataFormat, UnsupportedModelError, get_base_model

SYSTEM_PROMPT = (
    "You answer questions about a company's financial report. Use the table and the text. Reply with the answer "
    "only, with its unit or scale when it has one."
)
# More than any base model's record quota (pipeline_core.models: 20,000 at most); the whole TAT-QA set is ~16,500.
MAX_RECORDS = 100_000
# The TAT-QA files are 2-35 MB each; inputs are parsed whole, so their total is bounded.
MAX_INPUT_BYTES = 256 * 1024 * 1024
# Each document is an object with these keys, of these types (the TAT-QA dataset's layout).
_DOCUMENT_KEYS: dict[str, type] = {"table": dict, "paragraphs": list, "questions": list}
_EXPECTED = 'a JSON list of documents, each an object with "table", "paragraphs" and "questions"'
# How TAT-QA's `scale` reads after a number; a percentage keeps its sign attached.
_SCALE_SUFFIX = {"": "", "thousand": " thousand", "million": " million", "billion": " billion", "percent": "%"}
# One number as a table cell writes it: currency symbol, sign or accounting parentheses (spaces allowed inside),
# thousands separators, decimals, percent: "$ (3.5)", "(265 )", "\u2212298", "$1,914.2", "14.29%".
_NUMERIC_SPAN = re.compile(
    r"[$\u20ac\u00a3\u00a5]?\s*\(?\s*[$\u20ac\u00a3\u00a5]?\s*[-+\u2212]?\s*\d[\d,]*(?:\.\d+)?\s*\)?\s*%?"
)


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
        # TAT-QA's scale applies to every number of the answer ("$4,905, $3,049" in thousands), so each numeric
        # span carries it; a span that names its own scale ("$19.1 million") or holds words is kept as written.
        return ", ".join(part + suffix if scale and _is_numeric_span(part, scale) else part for part in parts)
    if isinstance(answer, bool) or answer is None:
        return None
    if isinstance(answer, int | float):
        return format_number(answer) + suffix
    text = str(answer).strip()
    return text or None


def _is_numeric_span(text: str, scale: str) -> bool:
    """A span that is one number as TAT-QA's cells write them, and does not already show a percent scale."""
    return bool(_NUMERIC_SPAN.fullmatch(text)) and not (scale == "percent" and text.endswith("%"))


def table_text(rows: Sequence[Sequence[Any]]) -> str:
    """The table as pipe-separated rows, blank cells kept so columns line up."""
    return "\n".join("| " + " | ".join(" ".join(str(cell).split()) for cell in row) + " |" for row in rows)


def prompt_text(document: Mapping[str, Any], question: Mapping[str, Any]) -> str:
    paragraphs = sorted(document.get("paragraphs", []), key=lambda p: int(p.get("order", 0)))
    text = "\n".join(str(p["text"]).strip() for p in paragraphs if str(p.get("text", "")).strip())
    table = table_text(document.get("table", {}).get("table", []))
    return f"Table:\n{table}\n\nText:\n{text}\n\nQuestion: {str(question['question']).strip()}"


def record(prompt: str, answer: str, data_format: DataFormat) -> dict[str, Any]:
    """One training record in ``data_format`` (the shapes pipeline_core.dataset validates)."""
    if data_format is DataFormat.PROMPT_COMPLETION:
        # No system field in this format: the instructions open the prompt.
        return {"prompt": f"{SYSTEM_PROMPT}\n\n{prompt}", "completion": answer}
    if data_format is DataFormat.CONVERSE:
        return {
            "schemaVersion": DataFormat.CONVERSE.value,
            "system": [{"text": SYSTEM_PROMPT}],
            "messages": [
                {"role": "user", "content": [{"text": prompt}]},
                {"role": "assistant", "content": [{"text": answer}]},
            ],
        }
    return {
        "system": SYSTEM_PROMPT,
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
    }


def convert(
    documents: Iterable[Mapping[str, Any]],
    skipped: Counter[str] | None = None,
    data_format: DataFormat = DataFormat.CLAUDE_MESSAGES,
) -> Iterator[dict[str, Any]]:
    """One record per answerable question, in document and question order."""
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
            yield record(prompt_text(document, question), answer, data_format)


def _shape_problem(data: Any) -> str | None:
    """What makes a parsed file not TAT-QA, or None: a list of documents, each with its table, paragraphs, questions."""
    if not isinstance(data, list):
        return f"the top level is a JSON {type(data).__name__}"
    if not data:
        return "the list is empty"
    for number, document in enumerate(data, start=1):
        if not isinstance(document, dict):
            return f"document {number} is a JSON {type(document).__name__}"
        missing = [key for key, kind in _DOCUMENT_KEYS.items() if not isinstance(document.get(key), kind)]
        if missing:
            return f"document {number} has no {' / '.join(repr(key) for key in missing)}"
    return None


def _read(path: Path, budget: int) -> Any:
    """The parsed file; ConvertError if it cannot be read or is larger than ``budget`` bytes."""
    try:
        with path.open("rb") as handle:
            data = handle.read(budget + 1)  # never more than the budget, whatever the file's size
    except OSError as exc:
        raise ConvertError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > budget:
        raise ConvertError(f"{path}: the inputs are larger than {MAX_INPUT_BYTES:,} bytes in all; convert fewer")
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ConvertError(f"cannot read {path}: not JSON ({detail})") from None


class ConvertError(Exception):
    """A one-line reason the conversion cannot go on, naming the file."""


def _convert(args: argparse.Namespace) -> int:
    try:
        refuse_input_as_output([args.output], args.inputs)
    except OutputIsInput as exc:
        raise ConvertError(f"-o {exc}") from None
    documents = 0
    records: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    budget = MAX_INPUT_BYTES
    for path in args.inputs:
        data = _read(path, budget)
        budget -= path.stat().st_size
        not_tatqa = f"{path} is not a TAT-QA file (expected {_EXPECTED})"
        problem = _shape_problem(data)
        if problem:
            raise ConvertError(f"{not_tatqa}: {problem}")
        try:  # the files are a few MB: convert each whole, so a malformed one is named before anything is written
            records.extend(convert(data, skipped, args.data_format))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ConvertError(f"{not_tatqa}: {type(exc).__name__}: {exc}") from None
        documents += len(data)
    if args.max_records is not None:
        records = records[: args.max_records]
    details = ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items())) or "none"
    if not records:
        # The unlabelled TAT-QA test file has questions but no answers: an empty output would train nothing.
        print(f"convert: no question with an answer in {documents} documents (skipped: {details}); "
              f"nothing written to {args.output}", file=sys.stderr)  # fmt: skip
        return 1
    try:
        with atomic_write(args.output) as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise ConvertError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(
        f"convert: {documents} documents -> {len(records)} records in {args.output} (skipped: {details})",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Convert TAT-QA JSON files to the pipeline's JSON Lines.",
        epilog="Exit codes: 0 written, 1 no question had an answer, 2 unreadable, not a TAT-QA file or a bad "
        "option, 130 interrupted.",
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="TAT-QA JSON files (a list of documents each)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the JSON Lines file to write")
    parser.add_argument(
        "--max-records", type=int, help=f"stop after this many records, 1-{MAX_RECORDS:,} (default: all)"
    )
    parser.add_argument(
        "--base-model",
        default=DEFAULT_BASE_MODEL_ID,
        metavar="ID",
        help=f"write the record format of this base model (default {DEFAULT_BASE_MODEL_ID}); one of: "
        + ", ".join(sorted(CATALOGUE)),
    )
    args = parser.parse_args(argv)
    try:
        args.data_format = get_base_model(args.base_model).data_format
    except UnsupportedModelError as exc:
        print(f"convert: --base-model: {exc}", file=sys.stderr)
        return 2
    if args.max_records is not None and not 1 <= args.max_records <= MAX_RECORDS:
        print(f"convert: --max-records must be from 1 to {MAX_RECORDS:,}, got {args.max_records}", file=sys.stderr)
        return 2
    try:
        return _convert(args)
    except ConvertError as exc:
        print(f"convert: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"convert: interrupted; {args.output} was not written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
