"""XLSX backends side by side on one 60,000-code rate amendment: reportlib's streaming writer,
openpyxl's write-only mode and XlsxWriter's ``constant_memory`` mode (same two sheets, same
typed cells: text codes, 8-decimal rates, dates, formulas neutralised).

Each backend runs ``--repeat`` times (default 3) in a fresh child process; the figures are
medians of CPU seconds, wall seconds and the child's peak resident memory while writing.
Needs the bench extra (``pip install -e '.[bench]'``) and a database holding the ``large``
rates demo with a change batch, e.g. the one ``bench/amendment_60k.py --db URL`` leaves::

    .venv/bin/python bench/xlsx_backends.py --db sqlite:///data/bench-large.sqlite
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BACKENDS = ("reportlib", "openpyxl", "xlsxwriter")


def _amendment(url: str, plan: str):
    import sqlalchemy as sa

    from reportlib.db import engine_for
    from reportlib.ratedesk import data as s
    from reportlib.amendments.metrics import amendment

    with engine_for(url).connect() as conn:
        batch = conn.execute(sa.select(sa.func.max(s.change_batches.c.batch_id))).scalar()
        rp = s.customer_rp_setup.c
        customer = conn.execute(sa.select(rp.customer_id).where(rp.rate_plan == plan).limit(1)).scalar()
        if batch is None or customer is None:
            raise SystemExit(f"the database has no change batch or no customer of {plan!r}: run amendment_60k.py first")
        return amendment(conn, customer, plan, batch)


def _openpyxl(path: Path, sheets) -> None:
    """openpyxl write-only, one WriteOnlyCell per formatted or text cell (reportlib before the streaming writer)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    from reportlib.render.table import cell_value

    book = Workbook(write_only=True)
    for title, sheet in sheets:
        ws = book.create_sheet(title)
        ws.freeze_panes = "A2"
        ws.append([c.title for c in sheet.columns])
        formats = [c.number_format for c in sheet.columns]
        for record in sheet.rows.itertuples(index=False):
            cells = []
            for col, fmt in zip(sheet.columns, formats):
                value = cell_value(col, getattr(record, col.key))
                cell = WriteOnlyCell(ws, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"
                elif fmt and value is not None:
                    cell.number_format = fmt
                cells.append(cell)
            ws.append(cells)
    book.save(path)


def _xlsxwriter(path: Path, sheets) -> None:
    """XlsxWriter in constant_memory mode, one write_* call per cell with the column's format."""
    import xlsxwriter

    from reportlib.render.table import cell_value

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    bold = book.add_format({"bold": True})
    for title, sheet in sheets:
        ws = book.add_worksheet(title)
        ws.freeze_panes(1, 0)
        formats = [book.add_format({"num_format": c.number_format}) if c.number_format else None for c in sheet.columns]
        for index, col in enumerate(sheet.columns):
            ws.write_string(0, index, col.title, bold)
        for row, record in enumerate(sheet.rows.itertuples(index=False), start=1):
            for index, (col, fmt) in enumerate(zip(sheet.columns, formats)):
                value = cell_value(col, getattr(record, col.key))
                if value is None:
                    continue
                if isinstance(value, str):
                    ws.write_string(row, index, value)
                elif col.kind in ("date", "datetime"):
                    ws.write_datetime(row, index, value, fmt)
                else:
                    ws.write_number(row, index, value, fmt)
        ws.autofilter(0, 0, len(sheet.rows), len(sheet.columns) - 1)
    book.close()


def measure(url: str, plan: str, backend: str, folder: str) -> dict:
    from reportlib.amendments.templates import AMENDMENT_TEMPLATES
    from reportlib.amendments.xlsx import amendment_sheets, peak_rss
    from reportlib.render.xlsx import write_workbook

    doc = _amendment(url, plan)
    sheets = amendment_sheets(doc, AMENDMENT_TEMPLATES.get("full-az"))
    path = Path(folder) / f"{backend}.xlsx"
    clock, cpu = time.perf_counter(), time.process_time()
    with peak_rss() as memory:
        if backend == "reportlib":
            write_workbook(path, sheets)
        elif backend == "openpyxl":
            _openpyxl(path, [(s.title, s) for s in sheets])
        else:
            _xlsxwriter(path, [(s.title, s) for s in sheets])
    return {"wall": time.perf_counter() - clock, "cpu": time.process_time() - cpu, "mb": memory["mb"],
            "cells": sum(len(s.rows) * len(s.columns) for s in sheets), "bytes": path.stat().st_size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="database URL holding the large rates demo and a change batch")
    parser.add_argument("--plan", default="AZ Gold USD")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default=",".join(BACKENDS), help=f"comma-separated, of {', '.join(BACKENDS)}")
    parser.add_argument("--measure", metavar="BACKEND", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.measure:
            print(json.dumps(measure(args.db, args.plan, args.measure, folder)))
            return 0
        print(f"{'backend':<11} {'CPU s':>7} {'wall s':>7} {'peak MB':>8} {'MiB':>5}   (medians of {args.repeat})")
        for backend in args.backends.split(","):
            if backend not in BACKENDS:
                parser.error(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
            runs = [json.loads(subprocess.run([sys.executable, __file__, "--db", args.db, "--plan", args.plan,
                                               "--measure", backend], check=True, capture_output=True,
                                              text=True).stdout.strip().splitlines()[-1]) for _ in range(args.repeat)]
            median = {k: statistics.median(r[k] for r in runs) for k in ("cpu", "wall", "mb", "bytes")}
            print(f"{backend:<11} {median['cpu']:>7.2f} {median['wall']:>7.2f} {median['mb']:>8.0f} "
                  f"{median['bytes'] / 2**20:>5.1f}   ({runs[0]['cells']:,} cells)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
