"""Benchmark the dataset validator against a parse-only baseline on a dataset at Bedrock's maximum record count.

Reports, in one run: validator time / parse-only time (json.loads per line, same file, same process; target <= 2.0),
records per second, and peak memory (ru_maxrss of a fresh subprocess per file; target: flat across file sizes and
under 200 MB). `--stages` adds where the validator's time goes: each stage of its per-record work timed alone over
the same file, as a multiple of the parse-only pass. Usage:

    .venv/bin/python bench/bench_validator.py [--records 10000] [--chars 4000 16000] [--out bench/output] [--stages]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
_VOCABULARY = "the revenue for fiscal year increased by percent compared with prior period while operating costs fell"
WORDS = _VOCABULARY.split(" ")


def generate(path: Path, records: int, chars: int, seed: int = 7) -> None:
    """Write `records` Claude-format records of about `chars` characters each (answers a tenth of that)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for i in range(records):
            words: list[str] = []
            size = 0
            while size < chars:
                word = rng.choice(WORDS) if rng.random() > 0.1 else str(rng.randint(1, 99_999))
                words.append(word)
                size += len(word) + 1
            cut = len(words) * 9 // 10
            record = {
                "system": "You answer questions about financial tables.",
                "messages": [
                    {"role": "user", "content": f"Question {i}: " + " ".join(words[:cut])},
                    {"role": "assistant", "content": " ".join(words[cut:])},
                ],
            }
            out.write(json.dumps(record) + "\n")


def parse_only(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        for line in f:
            json.loads(line)
            n += 1
    return n


def run_validator(path: Path) -> int:
    from pipeline_core.dataset import DatasetFile, validate
    from pipeline_core.dataset.lines import file_chunks

    def open_chunks() -> Iterator[bytes]:
        with path.open("rb") as f:
            yield from file_chunks(f)

    result = validate([DatasetFile("train", str(path), open_chunks)], base_model_id=HAIKU)
    return result.report.records("train")


def stages(path: Path, repeat: int) -> dict[str, float]:
    """Seconds of each stage of the validator's per-record work, each timed alone (best of `repeat`)."""
    from pipeline_core.dataset.formats import Conversation, check_record
    from pipeline_core.dataset.lines import LineReader, file_chunks
    from pipeline_core.dataset.quality import conversation_digests, digest, normalise, record_may_hold_sensitive
    from pipeline_core.models import DataFormat, get_base_model

    cpt = get_base_model(HAIKU).quotas.chars_per_token
    lines = path.read_bytes().splitlines()
    objs = [json.loads(line) for line in lines]
    convs = [c for c in (check_record(o, DataFormat.CLAUDE_MESSAGES)[1] for o in objs) if c is not None]

    def read(_: Path) -> int:
        with path.open("rb") as f:
            return sum(1 for _ in LineReader(file_chunks(f)))

    def texts(c: Conversation) -> tuple[str, ...]:
        return (c.system, *(t for _, t in c.turns))

    normalised = [normalise(t) for c in convs for t in texts(c)]

    work: dict[str, Callable[[Path], object]] = {
        "parse-only (the baseline)": parse_only,
        "read lines + SHA-256 of the file": read,
        "decode + json.loads": lambda _: [json.loads(line.decode()) for line in lines],
        "schema check + token estimate": lambda _: [
            math.ceil(c.characters / cpt) for o in objs if (c := check_record(o, DataFormat.CLAUDE_MESSAGES)[1])
        ],
        "normalise + BLAKE2b digests": lambda _: [conversation_digests(c.system, c.turns) for c in convs],
        "  of which: normalise alone": lambda _: [normalise(t) for c in convs for t in texts(c)],
        "  of which: BLAKE2b alone": lambda _: [digest(n) for n in normalised],
        "secret/PII line prefilter": lambda _: [
            record_may_hold_sensitive(line, texts(c)) for line, c in zip(lines, convs, strict=True)
        ],
    }
    timed = {name: best_of(fn, path, repeat) for name, fn in work.items()}
    timed["whole validator"] = best_of(run_validator, path, repeat)
    return timed


def best_of(fn: Callable[[Path], object], path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(path)
        times.append(time.perf_counter() - start)
    return min(times)


def peak_rss_mb(path: Path, mode: str) -> float:
    """Peak resident memory of a fresh interpreter running one pass (`mode`: validate | baseline | idle)."""
    out = subprocess.run(
        [sys.executable, __file__, "--worker", mode, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return float(out.strip().splitlines()[-1])


def worker(mode: str, path: Path) -> None:
    import pipeline_core.dataset  # noqa: F401  (imports count in every mode)

    if mode == "validate":
        run_validator(path)
    elif mode == "baseline":
        parse_only(path)
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(kib / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000, help="records per file (Haiku's maximum: 10,000)")
    parser.add_argument("--chars", type=int, nargs="+", default=[4_000, 16_000], help="characters per record")
    parser.add_argument("--out", type=Path, default=Path("bench/output"), help="folder for the generated files")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stages", action="store_true", help="also time each stage of the validator's work alone")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    stage_rows: list[tuple[int, float, dict[str, float]]] = []
    for chars in args.chars:
        path = args.out / f"haiku-{args.records}x{chars}.jsonl"
        if not path.exists():
            generate(path, args.records, chars)
        size_mb = path.stat().st_size / 1e6
        assert run_validator(path) == parse_only(path) == args.records
        baseline = best_of(parse_only, path, args.repeat)
        validator = best_of(run_validator, path, args.repeat)
        rows.append(
            (
                args.records,
                chars,
                size_mb,
                baseline,
                validator,
                validator / baseline,
                args.records / validator,
                peak_rss_mb(path, "idle"),
                peak_rss_mb(path, "validate"),
            )
        )
    if args.stages:  # after the memory runs: a child's ru_maxrss starts from its parent's resident size
        for chars in args.chars:
            timed = stages(args.out / f"haiku-{args.records}x{chars}.jsonl", args.repeat)
            stage_rows.append((chars, timed["parse-only (the baseline)"], timed))
    print(f"Python {sys.version.split()[0]}, best of {args.repeat}; peak memory = ru_maxrss of a fresh subprocess\n")
    print("| records | chars/record | file MB | parse-only s | validator s | ratio | records/s | idle MB | peak MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]:,} | {r[1]:,} | {r[2]:.1f} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.2f} | {r[6]:,.0f} | "
              f"{r[7]:.0f} | {r[8]:.0f} |")  # fmt: skip
    if stage_rows:
        print("\nStages of the validator, each timed alone over the same file (x = multiple of parse-only):\n")
        print("| stage | " + " | ".join(f"{c:,} chars s (x)" for c, _, _ in stage_rows) + " |")
        print("|---|" + "---:|" * len(stage_rows))
        for name in stage_rows[0][2]:
            cells = " | ".join(f"{st[name]:.3f} ({st[name] / base:.2f}x)" for _, base, st in stage_rows)
            print(f"| {name} | {cells} |")
        # A lower bound for any standard-library implementation of these checks: near-exact duplicates need every
        # text case-folded with whitespace and punctuation deleted, and deleting bytes runs at the same speed
        # whichever C primitive does it (bytes.translate, str.translate, decode with errors="ignore").
        floor = " | ".join(
            f"{(st['parse-only (the baseline)'] + st['  of which: normalise alone']) / base:.2f}x"
            for _, base, st in stage_rows
        )
        print(f"\nLower bound: parse-only + normalise alone = {floor} the parse-only pass.")


if __name__ == "__main__":
    main()
