"""The one printer of HTML pages to PDF: headless Chromium over the DevTools protocol.

Every PDF of a page goes through here: ``reportlib run --to pdf`` (any notebook's page) and the
delivery's PDFs of a batch (statement packs, dashboards). A page is printed on A4 with its own
print stylesheet (page breaks between sections), the charts as vectors, a header (what the page
is about on the left, its period on the right) and "Page N of M" in the footer; the browser
gets no network and a profile of its own (:mod:`reportlib.render.chromium`). One browser prints
many pages, a few tabs at a time, and each PDF appears whole or not at all.

    print_pdf("report.html", "report.pdf", left="Northwind (P001)", right="2026-10")
    print_pages([Printout(html, pdf, left, right), ...], progress=...)
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..errors import ConfigError
from ..files import atomic_path
from .chromium import BROWSERS, Browser, BrowserError, chromium_path
from .text import escape_html

__all__ = ["CHARTS_DRAWN", "Printout", "page_templates", "print_pages", "print_pdf", "printing_tabs"]

# The page is ready to print when every browser-drawn chart has drawn (or said why not).
CHARTS_DRAWN = ("Array.from(document.querySelectorAll('.rl-chart')).every("
                "e => e.querySelector('svg, canvas') || e.textContent.trim())")
# Pages printed at once by one browser: Chromium lays out and prints each tab in its own thread,
# so a few tabs use the cores a single one leaves idle.
_MAX_TABS = 4


@dataclass(frozen=True)
class Printout:
    """One page to print: the HTML file, the PDF to write, the header's left and right text."""

    html: Path
    pdf: Path
    left: str = ""
    right: str = ""


def page_templates(left: str, right: str) -> tuple[str, str]:
    """Chromium's header and footer templates: ``left`` and ``right`` on top; page N of M below."""
    style = ("font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; font-size: 8px; color: #555; width: 100%; "
             "margin: 0 0.5in; display: flex; justify-content: space-between;")
    header = (f'<div style="{style}"><span>{escape_html(left)}</span>'
              f"<span>{escape_html(right)}</span></div>")
    footer = (f'<div style="{style}"><span></span><span>Page <span class="pageNumber"></span> of '
              '<span class="totalPages"></span></span></div>')
    return header, footer


def printing_tabs(pages: int) -> int:
    """How many tabs print ``pages`` pages at once: one per core, at most a few."""
    return max(1, min(pages, _MAX_TABS, os.cpu_count() or 1))


def _need_browser() -> None:
    if chromium_path() is None:
        raise ConfigError("Printing a page to PDF needs headless Chromium, which is not installed here (looked for "
                          f"{', '.join(BROWSERS)} on PATH and $REPORTLIB_CHROMIUM); install it (Debian: apt-get "
                          "install chromium) or set REPORTLIB_CHROMIUM to the browser's path.")


def print_pages(printouts: Sequence[Printout], *, tabs: int | None = None, page_timeout: float = 60.0,
                progress: Callable[[Printout], None] | None = None) -> list[str | None]:
    """Print every page with one headless Chromium, ``tabs`` at a time (default
    :func:`printing_tabs`); for each printout, None when its PDF was written, else why not.

    A page has ``page_timeout`` seconds to load and draw its charts.

    A page that fails (a broken page, a browser that hangs on it) fails alone; a browser that
    cannot start raises :class:`~reportlib.errors.ConfigError` / ``BrowserError``.
    """
    if not printouts:
        return []
    _need_browser()
    results: list[str | None] = [None] * len(printouts)
    queue = iter(range(len(printouts)))
    taking = threading.Lock()
    with Browser() as browser:

        def work() -> None:
            page = browser.page()
            try:
                while True:
                    with taking:
                        n = next(queue, None)
                    if n is None:
                        return
                    printout = printouts[n]
                    try:
                        page.open(printout.html.resolve().as_uri(), ready=CHARTS_DRAWN, timeout=page_timeout)
                        data = page.pdf(*page_templates(printout.left, printout.right))
                        with atomic_path(printout.pdf) as tmp:
                            tmp.write_bytes(data)
                    except BrowserError as exc:
                        results[n] = str(exc)
                    if progress:
                        progress(printout)
            finally:
                page.close()

        count = tabs or printing_tabs(len(printouts))
        with ThreadPoolExecutor(count, thread_name_prefix="reportlib-print") as pool:
            for done in [pool.submit(work) for _ in range(count)]:
                done.result()
    return results


def print_pdf(html: str | Path, pdf: str | Path, *, left: str = "", right: str = "") -> Path:
    """Print the page ``html`` to ``pdf`` (A4, header ``left`` / ``right``, page numbers);
    a browser missing or failing raises a :class:`~reportlib.errors.ReportlibError`."""
    html, pdf = Path(html), Path(pdf)
    (why,) = print_pages([Printout(html, pdf, left or html.stem, right)], tabs=1)
    if why is not None:
        raise BrowserError(f"Chromium could not print {html.name} to PDF: {why}")
    return pdf
