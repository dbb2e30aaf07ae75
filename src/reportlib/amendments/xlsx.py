"""The XLSX rate amendment, written from an amendment template through reportlib.render.xlsx.

Every sheet of the template gets the notice block on top, then its table: codes as text
cells, rates as numbers with 8 decimals, dates as dates. The writer streams the rows, which
writes a 60,000-code plan quickly within a small, flat memory budget (measured in
DEVELOPERS.md, "XLSX writers").
"""

from __future__ import annotations

import os
import resource
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..render.table import Col, Sheet
from ..render.xlsx import write_workbook
from .metrics import Amendment, changes_only
from ..ratedesk.data import RATE_SCALE
from .templates import SHEET_FIELDS, AmendmentTemplate, SheetTemplate

__all__ = ["XlsxStats", "amendment_sheets", "notice_lines", "peak_rss", "sheet_columns", "write_amendment_xlsx"]


@dataclass(frozen=True)
class XlsxStats:
    """How the XLSX generation went: rows of the full sheet, seconds, peak Python memory (MB)."""

    path: Path
    rows: int
    seconds: float
    peak_mb: float


def sheet_columns(template: SheetTemplate) -> list[Col]:
    """The typed columns of a template sheet, in the template's order with its labels."""
    columns = []
    for key, label in template.columns:
        default_label, kind = SHEET_FIELDS[key]
        if kind == "rate":
            columns.append(Col(key, label or default_label, "rate", places=RATE_SCALE, width=16))
        else:
            columns.append(Col(key, label or default_label, kind))
    return columns


def notice_lines(amendment: Amendment, template: AmendmentTemplate) -> list[tuple[str, object]]:
    """The notice block: customer, plan, currency, issue date, batch, effective dates, text."""
    n = amendment.notice
    return [("Customer", n.customer), ("Customer id", n.customer_id), ("Rate plan", n.rate_plan), ("Currency", n.currency),
            ("Issue date", n.issue_date.date()), ("Change batch", n.batch if n.batch is not None else "none"),
            ("Effective from", n.effective_from.date()), ("Effective to", n.effective_to.date()),
            ("Notice", template.notice.format_map(n.fields()))]


def amendment_sheets(amendment: Amendment, template: AmendmentTemplate) -> list[Sheet]:
    """The sheets of the template filled from the amendment."""
    notice = notice_lines(amendment, template)
    changes = None
    sheets = []
    for sheet in template.sheets:
        if sheet.rows == "changes":
            changes = changes_only(amendment.sheet) if changes is None else changes
            rows = changes
        else:
            rows = amendment.sheet
        sheets.append(Sheet(sheet.title, rows, sheet_columns(sheet), heading=template.title, preamble=notice))
    return sheets


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def peak_rss(interval: float = 0.02):
    """Sample the process's resident memory while the block runs; yields a dict with ``mb``.

    On Linux a background thread reads ``/proc/self/statm`` every ``interval`` seconds (cheap,
    unlike tracemalloc, which would double the time of a large workbook); elsewhere the
    process's lifetime peak (``ru_maxrss``) is reported.
    """
    result = {"mb": 0.0}
    if _rss_bytes() is None:
        yield result
        result["mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        return
    peak = [_rss_bytes() or 0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            peak[0] = max(peak[0], _rss_bytes() or 0)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        done.set()
        thread.join()
        peak[0] = max(peak[0], _rss_bytes() or 0)
        result["mb"] = round(peak[0] / 2**20, 1)


def write_amendment_xlsx(amendment: Amendment, template: AmendmentTemplate, path: str | Path) -> XlsxStats:
    """Write the amendment workbook atomically; returns its row count, seconds and peak memory.

    Peak memory is the process's peak resident memory while writing, in MB.
    """
    clock = time.perf_counter()
    with peak_rss() as memory:
        written = write_workbook(path, amendment_sheets(amendment, template))
    seconds = time.perf_counter() - clock
    return XlsxStats(written, len(amendment.sheet), round(seconds, 3), memory["mb"])
