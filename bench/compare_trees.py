"""Two checkouts of reportlib side by side: the same commands, alternating, under the same load.

For "no loss of speed" after a restructure: check out the earlier commit beside this one,
give each tree its venv and default demo database (``make venv data``), then

    python bench/compare_trees.py --before ../before --after . --repeat 3

Each repetition runs every command once in each tree, the order swapped every repetition,
so both trees see the machine's load alike. Prints a Markdown table of medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Commands both layouts understand (family names, run and batch flags are unchanged since the
# one-shape restructure).
CASES = [
    ("batch statement -p month 2026-10", ["batch", "statement", "-p", "month", "2026-10"]),
    ("batch qbr -p quarter 2026Q3 --limit 16", ["batch", "qbr", "-p", "quarter", "2026Q3", "--limit", "16"]),
    ("batch amendment (regenerate, every plan)", ["batch", "amendment"]),
    ("run qbr -p partner P001 -p quarter 2026Q3", ["run", "qbr", "-p", "partner", "P001", "-p", "quarter", "2026Q3"]),
    ("run dashboard -p month 2026-10", ["run", "dashboard", "-p", "month", "2026-10"]),
    ("run statement -p partner P001 -p month 2026-10",
     ["run", "statement", "-p", "partner", "P001", "-p", "month", "2026-10"]),
    ("run qbr-portfolio -p quarter 2026Q3", ["run", "qbr-portfolio", "-p", "quarter", "2026Q3"]),
]


def timed(tree: Path, args: list[str], workers: int) -> float:
    """Seconds of one whole ``reportlib`` process run in ``tree``, into a fresh outputs folder."""
    extra = ["--workers", str(workers), "--quiet"] if args[0] == "batch" else []
    with tempfile.TemporaryDirectory(prefix="compare-") as out:
        env = dict(os.environ, REPORTLIB_HOME=str(tree))
        env.pop("REPORTLIB_DB", None)
        command = [str(tree / ".venv" / "bin" / "reportlib"), *args, *extra, "--force", "--out", out,
                   "--db", f"sqlite:///{tree / 'data' / 'reportlib.sqlite'}"]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"{tree}: reportlib {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the earlier checkout (with .venv and data/)")
    parser.add_argument("--after", type=Path, required=True, help="the later checkout (with .venv and data/)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (medians are reported)")
    parser.add_argument("--workers", type=int, default=2, help="batch workers")
    args = parser.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    times: dict[tuple[str, str], list[float]] = {(case, side): [] for case, _ in CASES for side in trees}
    loads = []
    for rep in range(args.repeat):
        for case, command in CASES:
            for side in (("before", "after") if rep % 2 == 0 else ("after", "before")):
                times[case, side].append(timed(trees[side], command, args.workers))
                loads.append(os.getloadavg()[0])
                print(f"repetition {rep + 1}: {side:6} {times[case, side][-1]:7.2f} s  {case}", file=sys.stderr)
    print(f"Medians of {args.repeat}; load average during the run {min(loads):.1f}–{max(loads):.1f}.\n")
    print("| command | before s | after s | after / before |")
    print("| --- | ---: | ---: | ---: |")
    for case, _ in CASES:
        before, after = statistics.median(times[case, "before"]), statistics.median(times[case, "after"])
        print(f"| `reportlib {case}` | {before:.2f} | {after:.2f} | {after / before:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
