"""The verify result as an XLSX workbook for review: summary, changes, errors, warnings."""

from __future__ import annotations

from pathlib import Path

from ..render.table import Col, Sheet
from ..render.xlsx import write_workbook
from .verify import VerifyResult

__all__ = ["write_verify_xlsx"]

_CHANGE_COLUMNS = [
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


def write_verify_xlsx(result: VerifyResult, path: str | Path) -> Path:
    """Write ``result`` to ``path`` (atomically): Summary, Changes, Errors and Warnings sheets."""
    summary = [{"result": k, "rows": v} for k, v in result.counts().items()]
    from .verifications import describe_options

    preamble = [("Verified at (UTC)", result.verified_at), *describe_options(result.options),
                ("Deck rows", len(result.rows)), ("Errors", len(result.errors)), ("Batch digest", result.digest[:16])]
    sheets = [
        Sheet("Summary", summary, [Col("result", "Result"), Col("rows", "Rows", "int")],
              heading="Change deck verification", preamble=preamble),
        Sheet("Changes", result.frame(), _CHANGE_COLUMNS),
        Sheet("Errors", [{"error": e} for e in result.errors], [Col("error", "Error (names the deck row)")]),
        Sheet("Warnings", [{"warning": w} for w in result.warnings], [Col("warning", "Warning")]),
    ]
    return write_workbook(path, sheets)
