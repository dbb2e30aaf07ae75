"""Where a warm QBR run's CPU goes: the runner's side (papermill and nbclient, HTML export, the
rest) and the kernel's, per deck, over N partners in one warm kernel (means after 3 warm-up runs).

    .venv/bin/python bench/qbr_cpu_split.py --db sqlite:///data/reportlib.sqlite --n 40

Kernel CPU is read from the kernel process (psutil, 10 ms ticks: use a few dozen runs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--quarter", default="2026Q3")
    parser.add_argument("--n", type=int, default=40)
    args = parser.parse_args(argv)

    import psutil

    import reportlib
    from reportlib import engines, run
    from reportlib.batch import Job, run_job
    from reportlib.families import get_family

    family = get_family("qbr")
    batch = family.batch_params.parse({"quarter": args.quarter})
    with reportlib.connect(args.db) as conn:
        runs = family.entities(conn, batch)[:args.n + 3]
    spent = {"execute": 0.0, "html": 0.0}

    def timed(name, fn):
        def wrapper(*a, **k):
            clock = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.process_time() - clock
        return wrapper

    engines.WarmEngine.execute = timed("execute", engines.WarmEngine.execute)
    run.write_notebook_html = timed("html", run.write_notebook_html)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rlsplit-") as tmp:
        out = Path(tmp)
        with reportlib.connect(args.db) as conn:
            extra = family.prepare(conn, batch, runs, out)
        notebook = str(run.notebook_path(family))
        for index, raw in enumerate(runs):
            engine = engines.worker_engine("warm")
            pid = engine.kernel_pid
            kernel0 = sum(psutil.Process(pid).cpu_times()[:2]) if pid else None
            spent.update(execute=0.0, html=0.0)
            clock, wall = time.process_time(), time.perf_counter()
            result = run_job(Job("qbr", raw, str(out), args.db, notebook, "warm", True, extra, {}))
            worker, wall = time.process_time() - clock, time.perf_counter() - wall
            if result.status != "ok":
                raise SystemExit(f"{result.stem}: {result.error}")
            if index >= 3 and kernel0 is not None and engine.kernel_pid == pid:
                kernel = sum(psutil.Process(pid).cpu_times()[:2]) - kernel0
                rows.append((wall, worker, spent["execute"], spent["html"], kernel))
        engines.close_worker_engines()
    mean = [statistics.mean(column) for column in zip(*rows)]
    wall, worker, execute, html, kernel = mean
    print(f"{len(rows)} decks: wall {wall:.3f} s; runner CPU {worker:.3f} s (papermill and nbclient {execute:.3f}, "
          f"HTML export {html:.3f}, the rest {worker - execute - html:.3f}); kernel CPU {kernel:.3f} s; "
          f"total {worker + kernel:.3f} CPU-s a deck")
    return 0


if __name__ == "__main__":
    sys.exit(main())
