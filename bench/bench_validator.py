"""Benchmark the dataset validator against a parse-only baseline on a dataset at Bedrock's maximum record count.

Reports, in one run: validator time / parse-only time (json.loads per line, same file, same process; target <= 2.0),
records per second, and peak memory (ru_maxrss of a fresh subprocess per file; target: flat across file sizes and
under 200 MB). `--stages` adds where the validator's time goes: each stage of its per-record work timed alone over
the same file, as a multiple of the parse-only pass.

Whole processes, as a user runs them (each child's wall time, CPU time and peak memory from wait4):
- start-up: `finetune --help` against `python -c "import argparse, json"` on the same interpreter (target <= 3x);
- `--peer CMD`: `finetune validate FILE` against any other validator command on the same generated files, runs
  alternating, medians compared (target <= 1.0x). `{file}` in CMD is replaced by the file, else it is appended.
  AWS's sample validator for Claude 3 Haiku is never vendored: install pydantic outside the project and time a
  wrapper that calls the sample's `validate_data(FILE)` (README, Benchmarks):

    python3 -m venv /tmp/peer && /tmp/peer/bin/pip install pydantic
    .venv/bin/python bench/bench_validator.py --peer "/tmp/peer/bin/python /path/to/run_haiku_validator.py {file}"

Usage:

    .venv/bin/python bench/bench_validator.py [--records 10000] [--chars 4000 16000] [--out bench/output] [--stages]
        [--peer CMD] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

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


def run_validator(path: Path, two_pass: bool = True) -> int:
    from pipeline_core.dataset import DatasetFile, validate
    from pipeline_core.dataset.lines import file_chunks

    def open_chunks() -> Iterator[bytes]:
        with path.open("rb") as f:
            yield from file_chunks(f)

    result = validate([DatasetFile("train", str(path), open_chunks)], base_model_id=HAIKU, two_pass=two_pass)
    return result.report.records("train")


def stages(path: Path, repeat: int) -> dict[str, float]:
    """Seconds of each stage of the validator's per-record work, each timed alone (best of `repeat`)."""
    from pipeline_core.dataset.formats import Conversation, check_record
    from pipeline_core.dataset.lines import LineReader, file_chunks
    from pipeline_core.dataset.quality import (
        _sz,
        conversation_digests,
        ends,
        prompt_sketch,
        record_may_hold_sensitive,
    )
    from pipeline_core.dataset.validator import fast_loads
    from pipeline_core.models import DataFormat, get_base_model

    cpt = get_base_model(HAIKU).quotas.chars_per_token
    lines = path.read_bytes().splitlines()
    objs = [json.loads(line) for line in lines]
    convs = [c for c in (check_record(o, DataFormat.CLAUDE_MESSAGES)[1] for o in objs) if c is not None]

    def read(_: Path, digest: bool = True) -> int:
        with path.open("rb") as f:
            return sum(1 for _ in LineReader(file_chunks(f), digest=digest))

    def texts(c: Conversation) -> tuple[str, ...]:
        return (c.system, *(t for _, t in c.turns))

    parser = "msgspec" if fast_loads is not None else "json (msgspec not installed)"
    engine = "StringZilla" if _sz is not None else "bytes (stringzilla not installed)"
    work: dict[str, Callable[[Path], object]] = {
        "parse-only (the baseline)": parse_only,
        "read lines + SHA-256 of the file": read,
        "  of which: read lines alone (`finetune validate` without --json or --split)": lambda p: read(p, False),
        "decode + json.loads": lambda _: [json.loads(line.decode()) for line in lines],
        f"parse as the validator does ({parser})": lambda _: [(fast_loads or json.loads)(line) for line in lines],
        "schema check + token estimate": lambda _: [
            math.ceil(c.characters / cpt) for o in objs if (c := check_record(o, DataFormat.CLAUDE_MESSAGES)[1])
        ],
        "prompt sketches (first pass of the duplicate checks)": lambda _: [
            prompt_sketch(ends(c.system), c.turns) for c in convs
        ],
        "normalise + BLAKE2b every text (one pass, or a split)": lambda _: [
            conversation_digests(c.system, c.turns) for c in convs
        ],
        f"secret/PII line prefilter ({engine})": lambda _: [
            record_may_hold_sensitive(line, texts(c)) for line, c in zip(lines, convs, strict=True)
        ],
    }
    timed = {name: best_of(fn, path, repeat) for name, fn in work.items()}
    timed["whole validator (two passes for duplicates; no sketch collides here)"] = best_of(run_validator, path, repeat)
    timed["whole validator, duplicates in one pass (every text normalised)"] = best_of(
        lambda p: run_validator(p, two_pass=False), path, repeat
    )
    timed["whole validator, standard library only (the Lambda's route)"] = best_of(pure_route, path, repeat)
    templated = templated_copy(path)
    timed["whole validator, every sketch collides (second pass over every record)"] = best_of(
        run_validator, templated, repeat
    )
    return timed


TEMPLATE = " ".join(WORDS * 4)  # about 400 characters, more than a sketch reads from either end


def templated_copy(path: Path) -> Path:
    """The same records with one long text before and after each question: every prompt shares both ends."""
    out = path.with_name(path.stem + "-templated.jsonl")
    if not out.exists():
        with path.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
            for line in src:
                record = json.loads(line)
                turn = record["messages"][0]
                turn["content"] = f"{TEMPLATE}\n{turn['content']}\n{TEMPLATE}"
                dst.write(json.dumps(record) + "\n")
    return out


def pure_route(path: Path) -> int:
    """run_validator as the Lambda runs it: without msgspec and stringzilla (its asset has neither)."""
    from pipeline_core.dataset import quality, validator

    saved = validator.fast_loads, quality._shape, quality._contains
    validator.fast_loads, quality._shape, quality._contains = None, quality._shape_bytes, bytes.__contains__
    try:
        return run_validator(path)
    finally:
        validator.fast_loads, quality._shape, quality._contains = saved


def best_of(fn: Callable[[Path], object], path: Path, repeat: int) -> float:
    """CPU seconds of the fastest of `repeat` runs: on a shared machine CPU time varies far less than wall time."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn(path)
        times.append(time.process_time() - start)
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


class Usage(NamedTuple):
    """One whole process: wall seconds, CPU seconds (user + system) and peak resident memory, from wait4."""

    wall: float
    cpu: float
    peak_mb: float
    exit_code: int


# The children run as on a user's machine, writing bytecode caches: with PYTHONDONTWRITEBYTECODE set (some shells
# and CI images set it) a module edited since its last cache is compiled again in every timed run, which measures
# the edit, not the tool. The untimed warm-up run of each command writes the caches.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_process(argv: Sequence[str]) -> Usage:
    """Run a command to completion, output discarded, and measure it (stderr is kept for a failure message)."""
    with tempfile.TemporaryFile() as err, open(os.devnull, "wb") as null:
        start = time.perf_counter()
        pid = os.posix_spawnp(
            argv[0],
            list(argv),
            CHILD_ENV,
            file_actions=[(os.POSIX_SPAWN_DUP2, null.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)],
        )
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):  # 1 is a verdict (invalid data); anything else means the command did not run
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
            raise SystemExit(f"{shlex.join(argv)} exited with {code}: {' / '.join(tail)}")
    return Usage(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code)


def finetune_command() -> list[str]:
    """The `finetune` console script of this interpreter's environment (as a user runs it), else `-m finetune.cli`."""
    script = Path(sys.executable).parent / "finetune"
    return [str(script)] if script.exists() else [sys.executable, "-m", "finetune.cli"]


def peer_command(template: str, path: Path) -> list[str]:
    argv = [part.replace("{file}", str(path)) for part in shlex.split(template)]
    return argv if "{file}" in template else [*argv, str(path)]


class Duel(NamedTuple):
    ours: list[Usage]
    theirs: list[Usage]

    @staticmethod
    def median(runs: list[Usage], field: str) -> float:
        return float(statistics.median(float(getattr(u, field)) for u in runs))

    def ratio(self, field: str) -> float:
        return self.median(self.ours, field) / self.median(self.theirs, field)


def duel(ours: Sequence[str], theirs: Sequence[str], runs: int) -> Duel:
    """Both commands `runs` times, alternating which goes first, after one untimed warm-up run of each."""
    run_process(ours), run_process(theirs)  # warm the page cache and the interpreters' .pyc files
    result = Duel([], [])
    for i in range(runs):
        pair = (ours, theirs) if i % 2 == 0 else (theirs, ours)
        for argv in pair:
            (result.ours if argv is ours else result.theirs).append(run_process(argv))
    return result


def print_duel(title: str, ours: Sequence[str], theirs: Sequence[str], result: Duel, runs: int) -> None:
    print(f"\n{title} (median of {runs} alternating runs; CPU = user + system of the process)\n")
    print("| command | wall s | CPU s | peak MB | exit |")
    print("|---|---:|---:|---:|---:|")
    for argv, usages in ((ours, result.ours), (theirs, result.theirs)):
        wall, cpu = Duel.median(usages, "wall"), Duel.median(usages, "cpu")
        peak = max(u.peak_mb for u in usages)
        codes = ",".join(sorted({str(u.exit_code) for u in usages}))
        print(f"| `{shlex.join(argv)}` | {wall:.3f} | {cpu:.3f} | {peak:.0f} | {codes} |")
    print(f"\nRatio (first / second): wall {result.ratio('wall'):.2f}x, CPU {result.ratio('cpu'):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000, help="records per file (Haiku's maximum: 10,000)")
    parser.add_argument("--chars", type=int, nargs="+", default=[4_000, 16_000], help="characters per record")
    parser.add_argument("--out", type=Path, default=Path("bench/output"), help="folder for the generated files")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stages", action="store_true", help="also time each stage of the validator's work alone")
    parser.add_argument("--peer", metavar="CMD", help="another validator to time against `finetune validate` ({file})")
    parser.add_argument("--runs", type=int, default=5, help="whole-process runs of each command (median)")
    parser.add_argument("--skip-in-process", action="store_true", help="only the whole-process comparisons")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for chars in args.chars:
        path = args.out / f"haiku-{args.records}x{chars}.jsonl"
        if not path.exists():
            generate(path, args.records, chars)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    help_cmd = [*finetune_command(), "--help"]
    baseline_cmd = [sys.executable, "-c", "import argparse, json"]
    print_duel("Start-up: `finetune --help` against the bare interpreter importing argparse and json (target <= 3x)",
               help_cmd, baseline_cmd, duel(help_cmd, baseline_cmd, args.runs), args.runs)  # fmt: skip
    if args.peer:
        # Start-up alone: both on a 40-record file (more than the sample's minimum of 32 lines), where the work is nil.
        tiny = args.out / "haiku-40x100.jsonl"
        if not tiny.exists():
            generate(tiny, 40, 100)
        ours = [*finetune_command(), "validate", str(tiny), "--base-model", HAIKU]
        theirs = peer_command(args.peer, tiny)
        print_duel("Start-up: `finetune validate` against the peer on 40 short records", ours, theirs,
                   duel(ours, theirs, args.runs), args.runs)  # fmt: skip
        for chars in args.chars:
            path = args.out / f"haiku-{args.records}x{chars}.jsonl"
            ours = [*finetune_command(), "validate", str(path), "--base-model", HAIKU]
            theirs = peer_command(args.peer, path)
            title = f"`finetune validate` against the peer: {args.records:,} records of {chars:,} characters"
            print_duel(title + " (target <= 1.0x)", ours, theirs, duel(ours, theirs, args.runs), args.runs)
    if args.skip_in_process:
        return
    print()
    rows = []
    stage_rows: list[tuple[int, float, dict[str, float]]] = []
    for chars in args.chars:
        path = args.out / f"haiku-{args.records}x{chars}.jsonl"
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
    print(f"In process, best of {args.repeat}; peak memory = ru_maxrss of a fresh subprocess\n")
    columns = ("records", "chars/record", "file MB", "parse-only CPU s", "validator CPU s", "ratio", "records/s",
               "idle MB", "peak MB")  # fmt: skip
    print(f"| {' | '.join(columns)} |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]:,} | {r[1]:,} | {r[2]:.1f} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.2f} | {r[6]:,.0f} | "
              f"{r[7]:.0f} | {r[8]:.0f} |")  # fmt: skip
    if stage_rows:
        print("\nStages of the validator, each timed alone over the same file (x = multiple of parse-only):\n")
        print("| stage | " + " | ".join(f"{c:,} chars CPU s (x)" for c, _, _ in stage_rows) + " |")
        print("|---|" + "---:|" * len(stage_rows))
        for name in stage_rows[0][2]:
            cells = " | ".join(f"{st[name]:.3f} ({st[name] / base:.2f}x)" for _, base, st in stage_rows)
            print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
