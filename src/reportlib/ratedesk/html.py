"""The review report of a verification as a self-contained HTML page.

The review report is what a rate analyst reads before applying a change deck: rate
increases and decreases per plan, the largest changes, and every error. Its numbers come
from :func:`reportlib.ratedesk.metrics.review_by_plan` and
:func:`~reportlib.ratedesk.metrics.largest_changes`; :func:`reportlib.ratedesk.xlsx.write_review_xlsx`
writes the same report as a workbook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from ..files import atomic_write
from ..render.figures import count
from ..render.html import kpi_cards, table_html
from ..render.text import escape_html
from .metrics import largest_changes, review_by_plan
from .xlsx import LARGEST_COLUMNS, PLAN_COLUMNS

__all__ = ["review_html", "write_review_html"]

def review_html(by_plan: pd.DataFrame, largest: pd.DataFrame, errors: Sequence[str], warnings: Sequence[str],
                title: str, options: Sequence[tuple[str, str]] = ()) -> str:
    """One self-contained HTML page (no script, no network): options, cards, per-plan table, largest, errors."""
    cards = kpi_cards([("Increases", count(by_plan["increases"].sum()), None),
                       ("Decreases", count(by_plan["decreases"].sum()), None),
                       ("Errors", count(len(errors)), "apply refuses the deck" if errors else "ready to apply")])
    shown = ("<dl class='rl-options'>" + "".join(f"<dt>{escape_html(k)}</dt><dd>{escape_html(v)}</dd>"
                                                 for k, v in options) + "</dl>") if options else ""
    parts = [f"<h1>{escape_html(title)}</h1>", shown, cards,
             table_html(by_plan, PLAN_COLUMNS, caption="Increases and decreases by rate plan"),
             table_html(largest, LARGEST_COLUMNS, caption="Largest changes"),
             "<h2>Errors</h2>" + ("<ul>" + "".join(f"<li>{escape_html(e)}</li>" for e in errors) + "</ul>"
                                 if errors else "<p>None.</p>")]
    if warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{escape_html(w)}</li>" for w in warnings) + "</ul>")
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:2px 6px}td.num{text-align:right}caption{font-weight:bold;"
             "text-align:left}.rl-kpis{display:flex;gap:1em}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape_html(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_review_html(changes: pd.DataFrame, errors: Sequence[str], warnings: Sequence[str], path: str | Path, *,
                      title: str = "Change deck review", options: Sequence[tuple[str, str]] = ()) -> Path:
    """The review report of a verification (``changes``: its frame) as one HTML page at ``path`` (atomically)."""
    page = review_html(review_by_plan(changes), largest_changes(changes), errors, warnings, title, options)
    with atomic_write(path) as handle:
        handle.write(page)
    return Path(path)
