"""Prints the per-module table of a `make mutate` run from the results mutmut leaves in ./mutants.

mutmut's own summary is one line for every file together; docs/mutation.md reports each module on its own.
Usage: python tools/mutation_summary.py [--survivors] [--root DIR]   (DIR holds the `mutants` folder; default .)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

# mutmut 3's exit-code meanings (mutmut/stats.py, status_by_exit_code).
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 36: "timeout"}
STATUS |= {code: "timeout" for code in (-24, 24, 152, 255)}
COLUMNS = ("killed", "survived", "timeout", "no tests", "not checked")


def status(code: int | None) -> str:
    if code is None:
        return "not checked"
    return STATUS.get(code, "suspicious")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="also list every surviving mutant")
    parser.add_argument("--root", type=Path, default=Path("."), help="the folder holding ./mutants")
    args = parser.parse_args(argv)
    mutants = args.root / "mutants"
    metas = sorted(mutants.rglob("*.py.meta"))
    if not metas:
        print(f"{mutants}: no mutmut results; run `make mutate` first", file=sys.stderr)
        return 1
    print("| module | mutants | " + " | ".join(COLUMNS) + " | killed % |")
    print("|---|---:|" + "---:|" * (len(COLUMNS) + 1))
    survivors: list[str] = []
    for meta in metas:
        codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        counts = Counter(status(code) for code in codes.values())
        survivors += sorted(key for key, code in codes.items() if status(code) == "survived")
        checked = sum(counts.values()) - counts["not checked"]
        share = f"{100 * counts['killed'] / checked:.1f}" if checked else "-"
        module = str(meta.relative_to(mutants))[: -len(".meta")]
        print(f"| {module} | {len(codes)} | " + " | ".join(str(counts[c]) for c in COLUMNS) + f" | {share} |")
    if args.survivors:
        print("\n".join(["", "surviving mutants (`mutmut show <name>`):", *survivors]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
