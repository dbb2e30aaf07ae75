"""The rate desk's workbooks: a verification (summary, changes, errors, warnings) and its review report."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from ..render.table import Col, Sheet
from ..render.xlsx import write_workbook
from .data import RATE_SCALE
from .metrics import largest_changes, review_by_plan
from .verify import VerifyResult

__all__ = ["CHANGE_COLUMNS", "LARGEST_COLUMNS", "PLAN_COLUMNS", "write_review_xlsx", "write_verify_xlsx"]

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

CHANGE_COLUMNS = [
    Col("deck_row", "Deck row", "int"), Col("change_type", "Change type"), Col("result", "Result"),
    Col("error", "Error"), Col("code_deck", "Code deck"), Col("rate_plan", "Rate plan"), Col("area", "Area"),
    Col("area_new", "Area new"), Col("code", "Code", "code"), Col("codes", "Codes in area", "int"),
    Col("active_rate_id", "Active rate id", "int"), Col("active_rate", "Active rate", "decimal", places=8),
    Col("active_increment", "Active increment"), Col("active_since", "Active since", "datetime"),
    Col("active_locked", "Locked", "bool"), Col("future_rate_id", "Future rate id", "int"),
    Col("future_rate", "Future rate", "decimal", places=8), Col("future_increment", "Future increment"),
    Col("future_from", "Future from", "datetime"), Col("future_locked", "Future locked", "bool"), Col("rate_new", "Rate new", "decimal", places=8),
    Col("increment_new", "Increment new"), Col("rate_diff", "Rate diff", "decimal", places=8),
    Col("diff_pct", "Diff %", "percent"), Col("active_from", "Active from (this change)", "datetime"),
    Col("active_till", "Active till", "datetime"), Col("policy_5g_current", "5G policy current"),
    Col("policy_5g_future", "5G policy future"), Col("policy_5g_new", "5G policy new"),
    Col("policy_ext_current", "Ext policy current"), Col("policy_ext_future", "Ext policy future"),
    Col("policy_ext_new", "Ext policy new"),
    *(Col(f"custom_{n}_{when}", f"Custom {n} {when}") for n in (1, 2, 3) for when in ("current", "future", "new")),
]


def write_verify_xlsx(result: VerifyResult, path: str | Path, verification_id: int | None = None,
                      edits: int = 0) -> Path:
    """Write ``result`` to ``path`` (atomically): Summary, Changes, Errors and Warnings sheets.

    The Changes sheet is the verify table (:mod:`reportlib.ratedesk.edits`): each row carries
    ``verification_id`` and its number, so that its editable columns can be read back with
    ``rates verify --edits``; ``edits`` is how many edits the table already holds.
    """
    from .edits import verify_columns, verify_table
    from .verifications import describe_options

    summary = [{"result": k, "rows": v} for k, v in result.counts().items()]
    preamble = [("Verification", verification_id if verification_id is not None else "not recorded"),
                ("Edits in the verify step", edits),
                ("Verified at (UTC)", result.verified_at), *describe_options(result.options),
                ("Deck rows", len(result.rows)), ("Errors", len(result.errors)), ("Batch digest", result.digest[:16])]
    sheets = [
        Sheet("Summary", summary, [Col("result", "Result"), Col("rows", "Rows", "int")],
              heading="Change deck verification", preamble=preamble),
        Sheet("Changes", verify_table(result, verification_id), verify_columns()),
        Sheet("Errors", [{"error": e} for e in result.errors], [Col("error", "Error (names the deck row)")]),
        Sheet("Warnings", [{"warning": w} for w in result.warnings], [Col("warning", "Warning")]),
    ]
    return write_workbook(path, sheets)


def write_review_xlsx(changes: pd.DataFrame, errors: Sequence[str], warnings: Sequence[str], path: str | Path, *,
                      title: str = "Change deck review", options: Sequence[tuple[str, str]] = ()) -> Path:
    """The review report of a verification (``changes``: its frame) as a workbook at ``path`` (atomically).

    ``options`` are the verify options as label and value (what apply will use), shown on top.
    """
    error_col = [Col("error", "Error (names the change deck row)")]
    return write_workbook(path, [
        Sheet("By plan", review_by_plan(changes), PLAN_COLUMNS, heading=title,
              preamble=[*options, ("Changes", len(changes)), ("Errors", len(errors)), ("Warnings", len(warnings))]),
        Sheet("Largest changes", largest_changes(changes), LARGEST_COLUMNS),
        Sheet("Errors", [{"error": e} for e in errors], error_col),
        Sheet("Warnings", [{"error": w} for w in warnings], [Col("error", "Warning")]),
    ])
