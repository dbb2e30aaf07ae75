"""Statement workbooks: the monthly pack and each portal report exported on its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
from sqlalchemy.engine import Connection

from ..render.table import Col, Sheet
from ..render.xlsx import write_workbook
from ..registry import Registry
from . import metrics as m

__all__ = ["COLUMNS", "REPORTS", "Report", "pack_sheets", "write_pack_xlsx", "write_report_xlsx"]

COLUMNS: dict[str, list[Col]] = {
    "accounts": [Col("account_id", "Account"), Col("name", "Name"), Col("account_type", "Type"),
                 Col("status", "Status")],
    "topups": [Col("occurred_at", "Time (UTC)", "datetime"), Col("account_id", "Account"),
               Col("account_name", "Account name"), Col("transaction_id", "Transaction"),
               Col("amount", "Amount", "money"), Col("reference", "Reference")],
    "topup_totals": [Col("account_id", "Account"), Col("account_name", "Account name"),
                     Col("topups", "Top-ups", "int"), Col("topped_up", "Topped up", "money")],
    "usage": [Col("occurred_at", "Time (UTC)", "datetime"), Col("account_id", "Account"),
              Col("account_name", "Account name"), Col("service", "Service"), Col("transaction_id", "Transaction"),
              Col("amount", "Amount", "decimal", places=4), Col("reference", "Reference")],
    "usage_by_account": [Col("account_id", "Account"), Col("account_name", "Account name"),
                         Col("transactions", "Transactions", "int"), Col("used", "Used", "money")],
    "usage_by_service": [Col("service", "Service"), Col("transactions", "Transactions", "int"),
                         Col("used", "Used", "money")],
    "total_credit": [Col("account_id", "Account"), Col("account_name", "Account name"), Col("account_type", "Type"),
                     Col("opening", "Opening balance", "money"), Col("topped_up", "Topped up", "money"),
                     Col("used", "Used", "money"), Col("accrued", "Accrued", "money"),
                     Col("adjustments", "Adjustments", "money"), Col("closing", "Closing balance", "money")],
    "discounts": [Col("account_id", "Account"), Col("account_name", "Account name"), Col("account_type", "Type"),
                  Col("service", "Service"), Col("discount_id", "Discount"), Col("kind", "Kind"),
                  Col("value", "Value", "decimal", places=2), Col("valid_from", "Valid from", "date"),
                  Col("valid_to", "Valid to", "date"), Col("status", "Status")],
    "revenue": [Col("date", "Date", "date"), Col("account_id", "Account"), Col("account_name", "Account name"),
                Col("service", "Service"), Col("line_id", "Line"), Col("quantity", "Quantity", "decimal", places=0),
                Col("unit_price", "Unit price", "rate", places=4), Col("gross", "Gross", "money"),
                Col("discount", "Discount", "money"), Col("net", "Net", "money")],
    "revenue_by_service": [Col("service", "Service"), Col("lines", "Lines", "int"), Col("gross", "Gross", "money"),
                           Col("discount", "Discount", "money"), Col("net", "Net", "money")],
    "revenue_by_account": [Col("account_id", "Account"), Col("account_name", "Account name"),
                           Col("lines", "Lines", "int"), Col("gross", "Gross", "money"),
                           Col("discount", "Discount", "money"), Col("net", "Net", "money")],
}


def _conditions(sel: m.Selection, partner_name: str, statuses: Sequence[str] | None = None) -> list[tuple[str, object]]:
    lines: list[tuple[str, object]] = [("Partner", f"{sel.partner} {partner_name}"),
                                       ("Period", f"{sel.start.isoformat()} to {(sel.end - pd.Timedelta(days=1)).isoformat()}"),
                                       ("Account type", sel.account_type), ("Account", sel.account or "all")]
    if statuses:
        lines.append(("Status", ", ".join(statuses)))
    lines.append(("Generated (UTC)", datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)))
    return lines


def _with_total(frame: pd.DataFrame, label_key: str, sums: Sequence[str]) -> pd.DataFrame:
    """``frame`` with a final Total row (exact sums of ``sums``)."""
    if frame.empty:
        return frame
    total = {c: None for c in frame.columns}
    total[label_key] = "Total"
    for column in sums:
        total[column] = m._sum(frame[column]) if frame[column].dtype == object else int(frame[column].sum())
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


@dataclass(frozen=True)
class Report:
    """One portal report: its title and the sheets it exports for a selection."""

    name: str
    title: str
    sheets: Callable[[Connection, m.Selection, Sequence[str] | None], list[tuple[str, pd.DataFrame, list[Col]]]]


REPORTS: Registry[Report] = Registry("statement report")


def _register(name: str, title: str):
    def wrap(fn):
        REPORTS.register(name, Report(name, title, fn))
        return fn
    return wrap


@_register("credit-topups", "Credits topped up")
def _topups(conn, sel, _statuses):
    topups = m.credit_topups(conn, sel)
    return [("Top-ups", topups, COLUMNS["topups"]),
            ("Totals by account", _with_total(m.topup_totals(topups), "account_id", ["topups", "topped_up"]),
             COLUMNS["topup_totals"])]


@_register("credit-usage", "Credit usage")
def _usage(conn, sel, _statuses):
    usage = m.credit_usage(conn, sel)
    return [("Usage", usage, COLUMNS["usage"]),
            ("By account", _with_total(m.usage_by_account(usage), "account_id", ["transactions", "used"]),
             COLUMNS["usage_by_account"]),
            ("By service", _with_total(m.usage_by_service(usage), "service", ["transactions", "used"]),
             COLUMNS["usage_by_service"])]


@_register("total-credit", "Total credit")
def _total(conn, sel, _statuses):
    credit = m.total_credit(conn, sel)
    sums = ["opening", "topped_up", "used", "accrued", "adjustments", "closing"]
    return [("Total credit", _with_total(credit, "account_id", sums), COLUMNS["total_credit"])]


@_register("discounts", "Discount")
def _discounts(conn, sel, statuses):
    return [("Discounts", m.discount_report(conn, sel, statuses), COLUMNS["discounts"])]


@_register("revenue-detailed", "Revenue — detailed")
def _revenue(conn, sel, _statuses):
    return [("Revenue lines", m.revenue_detailed(conn, sel), COLUMNS["revenue"])]


@_register("revenue-by-service", "Revenue — by service")
def _by_service(conn, sel, _statuses):
    lines = m.revenue_detailed(conn, sel)
    return [("Revenue by service", _with_total(m.revenue_by_service(lines), "service",
                                               ["lines", "gross", "discount", "net"]), COLUMNS["revenue_by_service"])]


@_register("revenue-by-account", "Revenue — by account")
def _by_account(conn, sel, _statuses):
    lines = m.revenue_detailed(conn, sel)
    return [("Revenue by account", _with_total(m.revenue_by_account(lines), "account_id",
                                               ["lines", "gross", "discount", "net"]), COLUMNS["revenue_by_account"])]


def write_report_xlsx(conn: Connection, report: str, sel: m.Selection, path: str | Path,
                      statuses: Sequence[str] | None = None) -> Path:
    """Export one portal report for a selection to an XLSX file (the portal's "Export report")."""
    spec = REPORTS.get(report)
    partner = m.partner_account(conn, sel.partner)
    sheets = []
    for index, (title, frame, columns) in enumerate(spec.sheets(conn, sel, statuses)):
        sheets.append(Sheet(title, frame, columns, heading=spec.title if index == 0 else None,
                            preamble=_conditions(sel, partner["name"], statuses) if index == 0 else ()))
    return write_workbook(path, sheets)


def pack_sheets(pack: m.StatementPack) -> list[Sheet]:
    """The statement pack's sheets: a summary, then one sheet per report."""
    sel = m.Selection.month(pack.partner["account_id"], pack.month)
    h = pack.headline
    summary = pd.DataFrame([
        {"figure": "Opening balance", "value": h["opening"]},
        {"figure": "Topped up", "value": h["topped_up"]},
        {"figure": "Used", "value": h["used"]},
        {"figure": "Accrued", "value": h["accrued"]},
        {"figure": "Adjustments", "value": h["adjustments"]},
        {"figure": "Closing balance", "value": h["closing"]},
        {"figure": "Revenue, gross", "value": h["gross"]},
        {"figure": "Revenue, discount", "value": h["discount"]},
        {"figure": "Revenue, net", "value": h["net"]},
    ])
    credit_sums = ["opening", "topped_up", "used", "accrued", "adjustments", "closing"]
    money = ["gross", "discount", "net"]
    return [
        Sheet("Summary", summary, [Col("figure", "Figure"), Col("value", "Value", "money")],
              heading=f"Credit and revenue statement — {pack.month.label}",
              preamble=[*_conditions(sel, pack.partner["name"]), ("Accounts", h["accounts"])]),
        Sheet("Total credit", _with_total(pack.total_credit, "account_id", credit_sums), COLUMNS["total_credit"]),
        Sheet("Credits topped up", pack.topups, COLUMNS["topups"]),
        Sheet("Credit usage", pack.usage, COLUMNS["usage"]),
        Sheet("Usage by service", _with_total(pack.usage_by_service, "service", ["transactions", "used"]),
              COLUMNS["usage_by_service"]),
        Sheet("Discounts", pack.discounts, COLUMNS["discounts"]),
        Sheet("Revenue detailed", pack.revenue, COLUMNS["revenue"]),
        Sheet("Revenue by service", _with_total(pack.revenue_by_service, "service", ["lines", *money]),
              COLUMNS["revenue_by_service"]),
        Sheet("Revenue by account", _with_total(pack.revenue_by_account, "account_id", ["lines", *money]),
              COLUMNS["revenue_by_account"]),
    ]


def write_pack_xlsx(pack: m.StatementPack, path: str | Path) -> Path:
    """Write the monthly statement pack to one XLSX file."""
    return write_workbook(path, pack_sheets(pack))
