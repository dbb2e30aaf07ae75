"""PDF: an HTML report printed by headless Chromium, offline, written atomically."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import ConfigError
from ..files import atomic_path

__all__ = ["chromium", "print_pdf"]

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Seconds of the page's own time (its scripts draw the charts) before it is printed, and of ours
# before a browser that hangs is given up.
_PAGE_BUDGET_MS = 10_000
_TIMEOUT_S = 120


def chromium() -> str | None:
    """The headless Chromium to print with: ``$REPORTLIB_CHROMIUM``, else the first found on PATH."""
    named = os.environ.get("REPORTLIB_CHROMIUM")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    return next((path for path in map(shutil.which, _BROWSERS) if path), None)


def print_pdf(html: str | Path, pdf: str | Path) -> Path:
    """Print the page ``html`` to ``pdf`` (A4/Letter as the browser's default, no header or footer).

    The browser gets no network (a report is self-contained), its own throw-away profile, and a
    time budget for the page's scripts; the PDF appears whole or not at all.
    """
    browser = chromium()
    if browser is None:
        raise ConfigError("--to pdf prints the HTML report with headless Chromium, which is not installed here "
                          f"(looked for {', '.join(_BROWSERS)} on PATH and $REPORTLIB_CHROMIUM); install it "
                          "(Debian: apt-get install chromium) or use --to html.")
    html, pdf = Path(html).resolve(), Path(pdf)
    with tempfile.TemporaryDirectory(prefix="rl-chromium-") as profile, atomic_path(pdf) as tmp:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                   "--disable-background-networking", "--disable-component-update", "--disable-quic",
                   f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                   f"--virtual-time-budget={_PAGE_BUDGET_MS}", "--no-pdf-header-footer",
                   f"--print-to-pdf={tmp}", html.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ConfigError(f"Chromium ({browser}) did not print {html.name} within {_TIMEOUT_S} s.") from None
        if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            said = (done.stderr or "").strip().splitlines()
            raise ConfigError(f"Chromium ({browser}) could not print {html.name} to PDF "
                              f"(exit {done.returncode}): {said[-1] if said else 'no message'}.")
    return pdf
