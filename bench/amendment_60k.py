"""Time and peak memory of one 60,000-code rate amendment: sheet, XLSX (streaming) and billing CSV.

Builds the ``large`` rates demo (an A–Z deck of ~60,000 codes) in a temporary SQLite file
unless ``--db URL --reuse`` names one that holds it, applies a change batch to one A–Z plan
(every area's rate × 1.05, rounded half-up to 6 places), then measures — ``--repeat`` times
(default 3), each in a fresh child process, so that building the demo does not count — the
amendment of one customer × that plan: computing the sheet, writing the XLSX from the full
A–Z template (two sheets: all codes and changes) and writing the billing CSV. Figures are
medians over the repetitions; wall seconds vary with the machine's load, CPU seconds are the
child process's own.

    .venv/bin/python bench/amendment_60k.py [--db URL --reuse] [--plan "AZ Gold USD"] [--repeat 3]
        [--profile xlsx-profile.txt]

Peak memory: the child process's resident memory sampled every 20 ms during each step
(reportlib.amendments.xlsx.peak_rss), and its lifetime peak (ru_maxrss) at the end.
``--profile FILE`` adds one more child run that profiles the XLSX step with pyinstrument
(``pip install -e '.[bench]'``) and writes its call tree to FILE.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

PLAN = "AZ Gold USD"


def prepare(url: str, plan: str, reuse: bool) -> int:
    from reportlib.demo import build_demo
    from reportlib.ratedesk import VerifyOptions, apply_deck, modify_rates, rows_from_rates
    from reportlib.db import engine_for
    from reportlib.ratedesk.apply import BatchAppliedError

    if not reuse:
        clock = time.perf_counter()
        build_demo(url, scale="large", domains=["rates"])
        print(f"large rates demo built in {time.perf_counter() - clock:.1f} s", file=sys.stderr)
    engine = engine_for(url)
    with engine.connect() as conn:
        rows = rows_from_rates(conn, plan)
    rows = modify_rates(rows, "multiply", "1.05")
    rows = modify_rates([replace(r, row=n) for n, r in enumerate(rows, start=1)], "round", digits=6)
    try:
        applied = apply_deck(engine, rows, VerifyOptions(plans=(plan,)), user="bench")
    except BatchAppliedError as done:  # --reuse of a database an earlier bench run prepared
        print(f"using batch {done.batch_id}, applied by an earlier run: {len(rows):,} areas of {plan}", file=sys.stderr)
        return done.batch_id
    print(f"applied batch {applied.batch_id}: {len(rows):,} areas of {plan}", file=sys.stderr)
    return applied.batch_id


def measure(url: str, plan: str, batch: int, folder: str, profile: str | None = None) -> dict:
    import sqlalchemy as sa

    from reportlib.db import engine_for
    from reportlib.ratedesk import data as s
    from reportlib.amendments.metrics import amendment
    from reportlib.amendments.csv import write_billing_csv
    from reportlib.amendments.templates import AMENDMENT_TEMPLATES, CSV_TEMPLATES
    from reportlib.amendments.xlsx import _rss_bytes, peak_rss, write_amendment_xlsx

    engine = engine_for(url)
    with engine.connect() as conn:
        rp = s.customer_rp_setup.c
        customer = conn.execute(sa.select(rp.customer_id).where(rp.rate_plan == plan).limit(1)).scalar()
        if customer is None:
            raise SystemExit(f"no customer has an RP setup for {plan!r}")
        clock, cpu = time.perf_counter(), time.process_time()
        with peak_rss() as sheet_mem:
            doc = amendment(conn, customer, plan, batch)
        sheet_s, sheet_cpu = time.perf_counter() - clock, time.process_time() - cpu
    out = Path(folder)
    before_xlsx = (_rss_bytes() or 0) / 2**20
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    cpu = time.process_time()
    xlsx = write_amendment_xlsx(doc, AMENDMENT_TEMPLATES.get("full-az"), out / "amendment.xlsx")
    xlsx_cpu = time.process_time() - cpu
    if profiler is not None:
        profiler.stop()
        Path(profile).write_text(profiler.output_text(unicode=True, show_all=False))
    clock, cpu = time.perf_counter(), time.process_time()
    with peak_rss() as csv_mem:
        rows = write_billing_csv(doc, CSV_TEMPLATES.get("billing"), out / "billing.csv")
    csv_s, csv_cpu = time.perf_counter() - clock, time.process_time() - cpu
    return {"customer": customer, "codes": len(doc.sheet), "changed": int((doc.sheet["change"] != "Unchanged").sum()),
            "sheet_s": round(sheet_s, 2), "sheet_cpu": round(sheet_cpu, 2), "xlsx_cpu": round(xlsx_cpu, 2),
            "csv_cpu": round(csv_cpu, 2), "rss_before_xlsx_mb": round(before_xlsx, 1), "sheet_peak_mb": sheet_mem["mb"],
            "xlsx_s": xlsx.seconds, "xlsx_peak_mb": xlsx.peak_mb,
            "xlsx_bytes": (out / "amendment.xlsx").stat().st_size,
            "csv_s": round(csv_s, 2), "csv_peak_mb": csv_mem["mb"], "csv_rows": rows,
            "csv_bytes": (out / "billing.csv").stat().st_size,
            "process_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _child(url: str, plan: str, batch: int, folder: str, profile: str | None = None) -> dict:
    command = [sys.executable, __file__, "--db", url, "--plan", plan, "--measure", str(batch), folder]
    child = subprocess.run(command + (["--profile", profile] if profile else []), check=True, capture_output=True,
                           text=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file in a temp folder)")
    parser.add_argument("--reuse", action="store_true", help="the database already holds the large rates demo")
    parser.add_argument("--plan", default=PLAN)
    parser.add_argument("--repeat", type=int, default=3, help="child runs; figures are their medians (default 3)")
    parser.add_argument("--profile", metavar="FILE", help="profile the XLSX step once more (pyinstrument) into FILE")
    parser.add_argument("--measure", nargs=2, metavar=("BATCH", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, not {args.repeat}")
    tmp = tempfile.TemporaryDirectory()
    url = args.db or f"sqlite:///{Path(tmp.name) / 'bench.sqlite'}"
    if args.measure:
        print(json.dumps(measure(url, args.plan, int(args.measure[0]), args.measure[1], args.profile)))
        return 0
    batch = prepare(url, args.plan, args.reuse)
    runs = []
    for n in range(1, args.repeat + 1):
        runs.append(_child(url, args.plan, batch, tmp.name))
        print(f"run {n}/{args.repeat}: XLSX {runs[-1]['xlsx_s']:.2f} s wall, {runs[-1]['xlsx_cpu']:.2f} s CPU, "
              f"peak RSS {runs[-1]['xlsx_peak_mb']:.0f} MB", file=sys.stderr)
    r = {key: statistics.median(run[key] for run in runs) if isinstance(value, (int, float)) else value
         for key, value in runs[0].items()}
    print(f"amendment of {r['customer']} × {args.plan}: {r['codes']:,} codes ({r['changed']:,} changed); "
          f"medians of {len(runs)} runs")
    print(f"  sheet (2 SQL queries + compare): {r['sheet_s']:.2f} s wall, {r['sheet_cpu']:.2f} s CPU, "
          f"peak RSS {r['sheet_peak_mb']:.0f} MB")
    print(f"  XLSX full-az (all codes + changes, streaming): {r['xlsx_s']:.2f} s wall, {r['xlsx_cpu']:.2f} s CPU, "
          f"peak RSS {r['xlsx_peak_mb']:.0f} MB (held {r['rss_before_xlsx_mb']:.0f} MB before), "
          f"{r['xlsx_bytes'] / 2**20:.1f} MiB")
    each = [f"{x['xlsx_s']:.2f} s wall / {x['xlsx_cpu']:.2f} s CPU / {x['xlsx_peak_mb']:.0f} MB" for x in runs]
    print("    each run: " + ", ".join(each))
    print(f"  billing CSV: {r['csv_rows']:,} rows in {r['csv_s']:.2f} s wall, {r['csv_cpu']:.2f} s CPU, "
          f"peak RSS {r['csv_peak_mb']:.0f} MB, {r['csv_bytes'] / 2**20:.1f} MiB")
    print("  (wall time on a shared machine varies with load; CPU time is this process's own)")
    print(f"  child process lifetime peak RSS: {r['process_peak_mb']:.0f} MB")
    if args.profile:
        _child(url, args.plan, batch, tmp.name, str(Path(args.profile).resolve()))
        print(f"  XLSX profile (pyinstrument): {args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
