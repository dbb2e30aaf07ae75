"""Where a QBR deck's time goes in a warm kernel: the notebook's own cells, profiled.

Runs ``notebooks/qbr.ipynb`` the way a batch worker's warm kernel does, for N partners in one
process: the quarter's metrics are prepared once (as ``reportlib batch`` does), then every
code cell runs in an IPython shell with the batch's parameters, so displays go through the
same renderers as in a real kernel. Prints each cell's median
seconds and a pyinstrument profile of all of them (``pip install -e '.[bench]'``).

    .venv/bin/python bench/profile_qbr.py --db sqlite:///data/bench-large.sqlite --n 20
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of the database")
    parser.add_argument("--quarter", default="2026Q3")
    parser.add_argument("--n", type=int, default=20, help="decks to profile (after one warm-up deck)")
    parser.add_argument("--summary", action="store_true", help="print only the markdown summary lines")
    args = parser.parse_args(argv)

    import nbformat
    from IPython.core.interactiveshell import InteractiveShell
    from pyinstrument import Profiler

    import reportlib
    from reportlib.families import get_family

    family = get_family("qbr")
    batch = family.batch_params.parse({"quarter": args.quarter})
    with reportlib.connect(args.db) as conn:
        every = family.entities(conn, batch)
    runs = every[:args.n + 1]
    cells = [c.source for c in nbformat.read(ROOT / "notebooks" / "qbr.ipynb", as_version=4).cells
             if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    shell = InteractiveShell.instance()
    profiler = Profiler()
    seconds: list[list[float]] = []
    cpu_per_deck: list[float] = []
    with tempfile.TemporaryDirectory(prefix="rlprof-") as tmp:
        clock = time.perf_counter()
        with reportlib.connect(args.db) as conn:
            extra = family.prepare(conn, batch, runs, Path(tmp))
        prepare_s = time.perf_counter() - clock
        for index, raw in enumerate(runs):
            shell.reset(new_session=False)
            shell.user_ns.update(dict(raw, db_url=args.db, output_dir=tmp, output_stem=f"deck-{index}", **extra))
            if index:
                profiler.start()
            cpu, times = time.process_time(), []
            for source in cells:
                started = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    outcome = shell.run_cell(source, store_history=False)
                times.append(time.perf_counter() - started)
                outcome.raise_error()
            if index:
                profiler.stop()
                seconds.append(times)
                cpu_per_deck.append(time.process_time() - cpu)
    per_cell = [statistics.median(column) for column in zip(*seconds)]
    summary = [
        f"- QBR deck, inside a warm kernel ({len(seconds)} decks after a warm-up, `bench/profile_qbr.py`): "
        f"median {sum(per_cell):.2f} s wall, {statistics.median(cpu_per_deck):.2f} s CPU per deck; "
        f"per code cell: {', '.join(f'{x:.3f}' for x in per_cell)} s; preparation of "
        f"{len(every):,} partners {prepare_s:.1f} s.",
    ]
    session = profiler.last_session
    if session is not None:
        frames = _top_frames(profiler)
        summary.append("- Where that time goes (pyinstrument, share of the profiled decks): "
                       + "; ".join(f"{name} {share:.0%}" for name, share in frames) + ".")
    if args.summary:
        print("\n".join(summary))
        return 0
    print("\n".join(summary))
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


# What a deck's time is spent on, by the library function that does it.
_BUCKETS = {
    "vegalite_to_svg": "SVG charts (vl-convert)",
    "write_deck": "PPTX deck (reportlib.render.pptx)",
    "partner_review": "review from the prepared metrics",
    "to_dict": "Altair spec building and validation",
    "section_html": "HTML figure tables",
    "fill": "chart specs from the templates",
    "_repr_mimebundle_": "chart displays (Vega-Lite + HTML)",
}


def _top_frames(profiler) -> list[tuple[str, float]]:
    """Seconds under each bucket's function, as shares of the profiled total."""
    root = profiler.last_session.root_frame()
    total = root.time or 1.0
    found: dict[str, float] = {}

    def walk(frame, inside: set[str]) -> None:
        name = frame.function
        bucket = _BUCKETS.get(name)
        if bucket and bucket not in inside:
            found[bucket] = found.get(bucket, 0.0) + frame.time
            inside = inside | {bucket}
        for child in frame.children:
            walk(child, inside)

    walk(root, set())
    return sorted(((k, v / total) for k, v in found.items()), key=lambda kv: -kv[1])


if __name__ == "__main__":
    sys.exit(main())
