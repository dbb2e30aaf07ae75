"""``reportlib load`` of the large leads demo, side by side with the databases' own CSV import.

In one run on this machine: ``reportlib load leads`` into a fresh SQLite file against
``sqlite3 .import`` of the same files (into new plain tables, as the database does it without
any check; and into the domain's own tables, secondary indexes built after the fill, as
``reportlib load`` does), and on PostgreSQL (``--pg URL``) against ``psql \\copy`` into the
domain's tables. Also a copy of the files with 100,000 bad rows, which a load must refuse.
Seconds, rows/s and peak MB (largest resident size of the process tree).

    python bench/load_bench.py [--pg postgresql+psycopg://...] [--repeat 3]

``bench/bench.py --only load`` runs this part alone and writes it to bench/results/<date>.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import BIN, ROOT, PeakMemory  # noqa: E402

BAD_ROWS = 100_000


def run(command: list[str], env: dict | None = None, expect: int = 0) -> tuple[float, float]:
    """Seconds and peak MB of ``command``'s process tree; raises if its exit code is not ``expect``."""
    clock = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = PeakMemory(process.pid, interval=0.05)
    _, err = process.communicate()
    seconds, mb = time.perf_counter() - clock, peak.stop()
    if process.returncode != expect:
        raise RuntimeError(f"{' '.join(command[:4])}... exited {process.returncode}:\n{err.decode()[-2000:]}")
    return seconds, mb


def leads_csv(folder: Path, log) -> Path:
    """The large leads demo as CSV (written once; about 264 MB)."""
    target = folder / "leads"
    if not (target / "lead_jobs.csv").is_file():
        log("writing the large leads demo as CSV (once)")
        from reportlib.demo import export_csv
        from reportlib.domains import get_domain

        domain = get_domain("leads")
        export_csv(domain, domain.demo(7, "large"), target)
    return target


def bad_copy(good: Path, work: Path) -> Path:
    """The same files with every 16th lead's status unknown: 100,000 bad rows (and their count)."""
    bad = work / "leads-bad"
    shutil.copytree(good, bad)
    with (good / "leads.csv").open(encoding="utf-8", newline="") as source, \
            (bad / "leads.csv").open("w", encoding="utf-8", newline="") as target:
        target.write(source.readline())
        spoiled = 0
        for number, line in enumerate(source):
            if number % 16 == 0 and spoiled < BAD_ROWS:
                line = line.replace(",valid,", ",maybe,").replace(",invalid,", ",maybe,").replace(",caution,", ",maybe,")
                spoiled += 1
            target.write(line)
    return bad


def rows_of(folder: Path) -> int:
    total = 0
    for name in ("enterprises.csv", "leads.csv", "lead_jobs.csv"):
        with (folder / name).open("rb") as handle:
            total += sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b"")) - 1
    return total


def sqlite_import(folder: Path, db: Path, into_schema: bool) -> list[str]:
    files = [("enterprises.csv", "leads_enterprises"), ("leads.csv", "leads_leads"), ("lead_jobs.csv", "leads_lead_jobs")]
    if not into_schema:
        return ["sqlite3", str(db), "-cmd", ".mode csv", *[f".import {folder / f} {t}" for f, t in files]]
    return ["sqlite3", str(db), "-cmd", ".mode csv", "BEGIN;",
            *[f".import --skip 1 {folder / f} {t}" for f, t in files], "COMMIT;"]


def fresh_sqlite(path: Path, with_secondary_indexes: bool = True) -> list[tuple[str, str]]:
    """A new database with every reportlib table; returns the leads' secondary indexes it dropped."""
    subprocess.run([str(BIN / "reportlib"), "init", "--db", f"sqlite:///{path}"], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    if with_secondary_indexes:
        return []
    import sqlite3
    from contextlib import closing

    # Closed before the timed import starts: an open connection to the WAL database is a lock
    # the sqlite3 command may meet.
    with closing(sqlite3.connect(path)) as conn, conn:
        found = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                             "AND tbl_name LIKE 'leads_%'").fetchall()
        for name, _sql in found:
            conn.execute(f'DROP INDEX "{name}"')
    return found


def median(values: list[float]) -> float:
    return statistics.median(values)


def load_section(repeat: int, pg: str | None, log, data: Path | None = None) -> list[str]:
    """The markdown lines of the load bench."""
    data = data or ROOT / "data" / "bench-csv"
    folder = leads_csv(data, log)
    rows = rows_of(folder)
    size = sum((folder / f).stat().st_size for f in ("enterprises.csv", "leads.csv", "lead_jobs.csv")) / 1e6
    lines = ["## Loading the large leads demo (`bench/load_bench.py`)", "",
             f"{rows:,} rows in three CSV files ({size:.0f} MB): 300 enterprises, the leads and their jobs. "
             f"Medians of {repeat} runs, each into a new database (PostgreSQL: the same database, emptied).", "",
             "| what | seconds | rows/s | peak MB | × baseline |", "| --- | ---: | ---: | ---: | ---: |"]
    env = dict(os.environ, REPORTLIB_HOME=str(ROOT))
    with tempfile.TemporaryDirectory(prefix="rlbench-load-") as tmp:
        work = Path(tmp)
        results: dict[str, tuple[float, float]] = {}

        def measure(label: str, prepare, command, expect: int = 0, after=None) -> None:
            times, peak = [], 0.0
            for r in range(repeat):
                log(f"load: {label} ({r + 1}/{repeat})")
                prepare()
                seconds, mb = run(command(), env=env, expect=expect)
                if after is not None:
                    seconds += after()
                times.append(seconds)
                peak = max(peak, mb)
            results[label] = (median(times), peak)

        db = work / "load.sqlite"

        def clear(path: Path = db) -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        if shutil.which("sqlite3"):
            measure("`sqlite3 .import`, new plain tables (no types, keys or indexes)", clear,
                    lambda: sqlite_import(folder, db, into_schema=False))
            dropped: list[tuple[str, str]] = []

            def schema_without_indexes() -> None:
                clear()
                dropped[:] = fresh_sqlite(db, with_secondary_indexes=False)

            def rebuild() -> float:
                clock = time.perf_counter()
                subprocess.run(["sqlite3", str(db), *[sql + ";" for _name, sql in dropped]], check=True)
                return time.perf_counter() - clock

            measure("`sqlite3 .import` into the domain's tables, then its indexes", schema_without_indexes,
                    lambda: sqlite_import(folder, db, into_schema=True), after=rebuild)
        measure("`reportlib load leads` (SQLite)", lambda: (clear(), fresh_sqlite(db)),
                lambda: [str(BIN / "reportlib"), "load", "leads", str(folder), "--db", f"sqlite:///{db}", "--quiet"])
        bad = bad_copy(folder, work)
        measure(f"`reportlib load leads`, {BAD_ROWS:,} bad rows: refused (SQLite)", lambda: (clear(), fresh_sqlite(db)),
                lambda: [str(BIN / "reportlib"), "load", "leads", str(bad), "--db", f"sqlite:///{db}", "--quiet"],
                expect=2)
        base = results.get("`sqlite3 .import`, new plain tables (no types, keys or indexes)", (None,))[0]
        for label, (seconds, mb) in results.items():
            ratio = f"{seconds / base:.2f}×" if base else ""
            lines.append(f"| {label} | {seconds:.1f} | {rows / seconds:,.0f} | {mb:.0f} | {ratio} |")
        if not shutil.which("sqlite3"):
            lines.append("| `sqlite3 .import` | not available: no sqlite3 command on this machine | | | |")
        if pg:
            results.clear()
            lines += _postgres(pg, folder, bad, rows, measure, results, env)
        else:
            lines.append("| PostgreSQL | not measured: give `--pg URL` (or `BENCH_PG=` to make bench) | | | |")
    return lines


def _postgres(pg: str, folder: Path, bad: Path, rows: int, measure, results: dict, env: dict) -> list[str]:
    import sqlalchemy as sa

    from reportlib.dashboard.data import DAY_TABLES, enterprises, lead_jobs, leads
    from reportlib.db import engine_for, init_db

    init_db(pg)
    engine = engine_for(pg)
    libpq = sa.engine.make_url(pg).set(drivername="postgresql").render_as_string(hide_password=False)

    def empty() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE " + ", ".join(t.name for t in (*DAY_TABLES, lead_jobs, leads, enterprises)))

    lines = []
    if shutil.which("psql"):
        copies = [f"\\copy {t.name} FROM '{folder / f}' WITH (FORMAT csv, HEADER true)"
                  for f, t in (("enterprises.csv", enterprises), ("leads.csv", leads), ("lead_jobs.csv", lead_jobs))]
        measure("`psql \\copy` into the domain's tables (PostgreSQL)", empty,
                lambda: ["psql", libpq, "-v", "ON_ERROR_STOP=1", "-q", "-c", "BEGIN", *sum((["-c", c] for c in copies), []),
                         "-c", "COMMIT"])
    measure("`reportlib load leads` (PostgreSQL)", empty,
            lambda: [str(BIN / "reportlib"), "load", "leads", str(folder), "--db", pg, "--quiet"])
    measure(f"`reportlib load leads`, {BAD_ROWS:,} bad rows: refused (PostgreSQL)", empty,
            lambda: [str(BIN / "reportlib"), "load", "leads", str(bad), "--db", pg, "--quiet"], expect=2)
    base = results.get("`psql \\copy` into the domain's tables (PostgreSQL)", (None,))[0]
    for label, (seconds, mb) in results.items():
        ratio = f"{seconds / base:.2f}×" if base else ""
        lines.append(f"| {label} | {seconds:.1f} | {rows / seconds:,.0f} | {mb:.0f} | {ratio} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("REPORTLIB_BENCH_PG_URL"),
                        help="a PostgreSQL URL to measure there too (its leads tables are emptied and refilled)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    print("\n".join(load_section(args.repeat, args.pg, log)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
