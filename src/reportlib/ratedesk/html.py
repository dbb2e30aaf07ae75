"""The verify review report (computing + HTML).

The review report is what a rate analyst reads before applying a change deck: rate
increases and decreases per plan, the largest changes, and every error. Its numbers come
from :func:`review_by_plan` and :func:`largest_changes`, plain functions over the verify
result's frame; :func:`write_review` renders them to XLSX and a self-contained HTML page.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..files import atomic_write
from ..render.figures import count
from ..render.html import kpi_cards, table_html
from ..render.text import escape_html
from ..render.table import Col, Sheet
from ..render.xlsx import write_workbook
from .data import RATE_SCALE

__all__ = ["LARGEST_COLUMNS", "PLAN_COLUMNS", "largest_changes", "review_by_plan", "review_html", "write_review"]

PLAN_COLUMNS = [Col("rate_plan", "Rate plan"), Col("changes", "Changes", "int"), Col("increases", "Increases", "int"),
                Col("decreases", "Decreases", "int"), Col("new", "New", "int"), Col("closed", "Closed", "int"),
                Col("unchanged", "Unchanged", "int"), Col("other", "Other (codes, names)", "int"),
                Col("errors", "Errors", "int"), Col("max_increase_pct", "Largest increase %", "percent"),
                Col("max_decrease_pct", "Largest decrease %", "percent")]
LARGEST_COLUMNS = [Col("deck_row", "Deck row", "int"), Col("rate_plan", "Rate plan"), Col("area", "Area"),
                   Col("result", "Result"), Col("old_rate", "Old rate", "rate", places=RATE_SCALE),
                   Col("rate_new", "New rate", "rate", places=RATE_SCALE),
                   Col("rate_diff", "Difference", "rate", places=RATE_SCALE), Col("diff_pct", "Change %", "percent"),
                   Col("active_from", "Effective", "datetime")]
def _pct(value) -> Decimal | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def review_by_plan(changes: pd.DataFrame) -> pd.DataFrame:
    """Per rate plan: changes, increases, decreases, new, closed, unchanged, other, errors.

    ``changes`` is a verify result's frame (columns rate_plan, result, error, diff_pct).
    Largest increase and decrease are percent (0–100) of the old rate, exact decimals.
    Rows without a plan (code and area changes of a deck) are counted under ``(code deck)``.
    """
    rows = []
    frame = changes.assign(rate_plan=changes["rate_plan"].where(changes["rate_plan"].notna(), None))
    for plan, group in frame.groupby(frame["rate_plan"].fillna("(code deck)"), sort=True):
        results = group["result"]
        errors = group["error"].map(bool) if "error" in group else pd.Series(False, index=group.index)
        pcts = [(_pct(p), r) for p, r in zip(group["diff_pct"], results)]
        ups = [p for p, r in pcts if r == "Increase" and p is not None]
        downs = [p for p, r in pcts if r == "Decrease" and p is not None]
        known = {"Increase", "Decrease", "New", "Closed", "Unchanged"}
        rows.append({"rate_plan": plan, "changes": int((~results.isin(["Unchanged"])).sum()),
                     "increases": int((results == "Increase").sum()), "decreases": int((results == "Decrease").sum()),
                     "new": int((results == "New").sum()), "closed": int((results == "Closed").sum()),
                     "unchanged": int((results == "Unchanged").sum()),
                     "other": int((~results.isin(known) & ~errors).sum()), "errors": int(errors.sum()),
                     "max_increase_pct": max(ups) if ups else None, "max_decrease_pct": min(downs) if downs else None})
    return pd.DataFrame(rows, columns=[c.key for c in PLAN_COLUMNS])


def largest_changes(changes: pd.DataFrame, limit: int = 20) -> pd.DataFrame:
    """The ``limit`` rate changes with the largest absolute percent change, largest first."""
    rated = changes[changes["result"].isin(["Increase", "Decrease"])].copy()
    rated["old_rate"] = [a if a is not None and a == a else f for a, f in zip(rated["active_rate"],
                                                                              rated["future_rate"])]
    rated["_size"] = [abs(_pct(p) or Decimal(0)) for p in rated["diff_pct"]]
    rated = rated.sort_values(["_size", "deck_row"], ascending=[False, True], kind="stable").head(limit)
    return rated[[c.key for c in LARGEST_COLUMNS]].reset_index(drop=True)


def _errors_frame(errors: Sequence[str]) -> list[dict]:
    return [{"error": e} for e in errors]


def write_review(changes: pd.DataFrame, errors: Sequence[str], warnings: Sequence[str], *, xlsx: str | Path | None,
                 html: str | Path | None, title: str = "Change deck review",
                 options: Sequence[tuple[str, str]] = ()) -> list[Path]:
    """Write the review report as XLSX and/or HTML (atomically); returns the files written.

    ``options`` are the verify options as label and value (what apply will use), shown on top.
    """
    by_plan, largest = review_by_plan(changes), largest_changes(changes)
    written = []
    if xlsx:
        error_col = [Col("error", "Error (names the change deck row)")]
        written.append(write_workbook(xlsx, [
            Sheet("By plan", by_plan, PLAN_COLUMNS, heading=title,
                  preamble=[*options, ("Changes", len(changes)), ("Errors", len(errors)),
                            ("Warnings", len(warnings))]),
            Sheet("Largest changes", largest, LARGEST_COLUMNS),
            Sheet("Errors", _errors_frame(errors), error_col),
            Sheet("Warnings", [{"error": w} for w in warnings], [Col("error", "Warning")]),
        ]))
    if html:
        written.append(_write_html(html, review_html(by_plan, largest, errors, warnings, title, options)))
    return written


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


def _write_html(path: str | Path, text: str) -> Path:
    with atomic_write(path) as handle:
        handle.write(text)
    return Path(path)
