"""A parameter grid over any notebook: ``reportlib batch PATH.ipynb --grid`` against papermill.

The notebook imports pandas and Altair and draws one chart from its parameters; the grid has
``--rows`` runs (10 regions x months). Measured side by side in one process, alternately (each
repetition runs the three in a rotated order), as wall-clock time of whole command lines:

- ``reportlib batch chart.ipynb OUT --grid grid.csv --workers W`` over every row;
- the ``papermill`` CLI, one process after another, over the first ``--papermill-n`` rows;
- the ``papermill`` CLI two at a time (``xargs -P 2``) over the first ``--xargs-n`` rows.

The papermill figures are per run (a run of the loop costs the same whatever the grid's size),
so a loop over a subset gives the per-run figure the whole grid would; the table says how many
runs each figure is from. Medians of ``--repeat`` repetitions.

    python bench/notebook_grid.py [--rows 100] [--repeat 3] [--papermill-n 10] [--xargs-n 20]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

BIN = Path(sys.executable).parent
REGIONS = ("north", "south", "east", "west", "centre", "coast", "hills", "lakes", "plains", "islands")

PARAMETERS = "region = 'north'  # which region's sales\nmonth = 1  # month number, 1-12\nseed = 7"
CELLS = (
    "import numpy as np\nimport pandas as pd\nimport altair as alt",
    "rng = np.random.default_rng([seed, month, len(region)])\n"
    "sales = pd.DataFrame({'day': pd.date_range(f'2026-{month:02d}-01', periods=28, freq='D'),\n"
    "                      'sales': rng.gamma(4.0, 250.0, 28).round(2)})\n"
    "sales['rolling'] = sales['sales'].rolling(7, min_periods=1).mean()\n"
    "sales.describe()",
    "alt.Chart(sales, title=f'{region.title()} sales, month {month}').mark_bar().encode(\n"
    "    x='day:T', y='sales:Q', tooltip=['day:T', 'sales:Q', 'rolling:Q'])",
)


def write_notebook(folder: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(code) for code in CELLS)]
    path = folder / "chart.ipynb"
    nbformat.write(nb, path)
    return path


def grid_rows(rows: int) -> list[dict[str, object]]:
    return [{"region": REGIONS[i % len(REGIONS)], "month": i // len(REGIONS) % 12 + 1, "seed": i // 120}
            for i in range(rows)]


def write_grid(folder: Path, rows: list[dict[str, object]]) -> Path:
    path = folder / "grid.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(command: list[str], cwd: Path) -> float:
    clock = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - clock
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])}... failed ({done.returncode}): {done.stderr[-1500:]}")
    return seconds


def papermill_args(notebook: Path, out: Path, i: int, row: dict[str, object]) -> list[str]:
    args = [str(notebook), str(out / f"pm-{i}.ipynb"), "--no-progress-bar", "--log-level", "WARNING"]
    for key, value in row.items():
        args += ["-p", key, str(value)]
    return args


def measure(rows: int = 100, repeat: int = 3, papermill_n: int = 10, xargs_n: int = 20, workers: int = 2,
            log=print) -> list[str]:
    """The comparison, as the lines of a Markdown section."""
    grid = grid_rows(rows)
    papermill_n, xargs_n = min(papermill_n, rows), min(xargs_n, rows)
    per_run: dict[str, list[float]] = {"reportlib": [], "loop": [], "xargs": []}
    totals: list[float] = []
    with tempfile.TemporaryDirectory(prefix="rl-bench-grid-") as tmp:
        work = Path(tmp)
        notebook = write_notebook(work)
        grid_file = write_grid(work, grid)

        def ours(n: int) -> None:
            out = work / f"reportlib-{n}"
            seconds = run([str(BIN / "reportlib"), "batch", str(notebook), str(out), "--grid", str(grid_file),
                           "--name", "{region}-{month}-{seed}", "--workers", str(workers), "--force", "--quiet"],
                          work)
            produced = len(list(out.glob("*-*.ipynb")))
            if produced != rows:
                raise RuntimeError(f"reportlib batch wrote {produced} notebooks for {rows} rows")
            totals.append(seconds)
            per_run["reportlib"].append(seconds / rows)
            log(f"  reportlib batch, {rows} runs: {seconds:.1f} s")

        def loop(n: int) -> None:
            out = work / f"loop-{n}"
            out.mkdir()
            clock = time.perf_counter()
            for i, row in enumerate(grid[:papermill_n]):
                run([str(BIN / "papermill"), *papermill_args(notebook, out, i, row)], work)
            seconds = time.perf_counter() - clock
            per_run["loop"].append(seconds / papermill_n)
            log(f"  papermill loop, {papermill_n} runs: {seconds:.1f} s")

        def two_at_a_time(n: int) -> None:
            out = work / f"xargs-{n}"
            out.mkdir()
            lines = work / f"xargs-{n}.txt"
            # One line of arguments per run; xargs -L 1 starts one papermill per line, two at a time.
            lines.write_text("".join(" ".join(_quoted(a) for a in papermill_args(notebook, out, i, row)) + "\n"
                                     for i, row in enumerate(grid[:xargs_n])))
            seconds = run(["xargs", "-P", "2", "-L", "1", "-a", str(lines), str(BIN / "papermill")], work)
            if len(list(out.glob("pm-*.ipynb"))) != xargs_n:
                raise RuntimeError("papermill under xargs did not write every notebook")
            per_run["xargs"].append(seconds / xargs_n)
            log(f"  papermill, xargs -P 2, {xargs_n} runs: {seconds:.1f} s")

        order = [ours, loop, two_at_a_time]
        for n in range(repeat):
            log(f"notebook grid: repetition {n + 1} of {repeat}")
            for measure_one in order[n % 3:] + order[:n % 3]:  # rotated: none always runs first
                measure_one(n)
    ours_s = statistics.median(per_run["reportlib"])
    loop_s, xargs_s = statistics.median(per_run["loop"]), statistics.median(per_run["xargs"])
    load = os.getloadavg()
    return [
        f"## A {rows}-row grid over a notebook (pandas + Altair, one chart): `bench/notebook_grid.py`", "",
        f"Medians of {repeat} repetitions, run alternately; load average at the end {load[0]:.2f} / {load[1]:.2f}. "
        f"The papermill figures are per run, measured over the first {papermill_n} (loop) and {xargs_n} "
        f"(`xargs -P 2`) rows of the grid, so the {rows}-row time is that per-run time × {rows}.", "",
        "| how | runs measured | s / run | whole grid, s | reportlib batch is |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| `reportlib batch chart.ipynb --grid grid.csv --workers {workers}` | {rows} | {ours_s:.3f} | "
        f"{statistics.median(totals):.1f} | |",
        f"| `papermill` CLI, one after another | {papermill_n} | {loop_s:.3f} | {loop_s * rows:.0f} | "
        f"**{loop_s / ours_s:.1f}×** faster |",
        f"| `papermill` CLI, `xargs -P 2` | {xargs_n} | {xargs_s:.3f} | {xargs_s * rows:.0f} | "
        f"**{xargs_s / ours_s:.1f}×** faster |",
        "", "Every repetition, s / run: " + "; ".join(f"{k} " + ", ".join(f"{v:.3f}" for v in values)
                                                      for k, values in per_run.items()),
    ]


def _quoted(arg: str) -> str:
    """An argument as xargs reads it from a line (quotes and backslashes escaped)."""
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100, help="runs in the grid")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (medians are reported)")
    parser.add_argument("--papermill-n", type=int, default=10, help="rows the papermill loop runs per repetition")
    parser.add_argument("--xargs-n", type=int, default=20, help="rows papermill runs two at a time per repetition")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    print("\n".join(measure(args.rows, args.repeat, args.papermill_n, args.xargs_n, args.workers, log)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
