"""The seven portal reports: conditions from a form, tables for the page, the same rows as XLSX.

The page and the export come from the same place: the page shows the sheets that
``reportlib.statements.REPORTS[name].sheets`` computes, and "Export report" writes them with
``write_report_xlsx``, the function behind ``reportlib report``. Every figure on the page is
formatted by :func:`shown`, the project's formatting of a column's kind, which is what the
file's number format displays; it is the one place to switch when the formatting moves.

Who may ask for what: a partner user's reports are always about its own partner account (a
``partner`` naming another one, or an ``account`` it does not manage, is "not found", as for
something that does not exist); analysts and admins choose any partner.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping, Sequence

from markupsafe import Markup, escape
from sqlalchemy.engine import Connection

from ..db import data_fingerprint
from ..errors import UnknownEntityError
from ..files import slugify
from ..periods import Month
from ..render.html import format_value
from ..render.table import Col
from ..statements import REPORTS, Selection, partner_account, selected_accounts, write_report_xlsx
from .users import User

__all__ = ["ACCOUNT_TYPES", "Conditions", "ConditionsError", "KeptReports", "NotFound", "ReportCache", "STATUSES",
           "Table", "default_period", "export_bytes", "export_report", "managed_accounts", "parse_conditions",
           "partner_accounts", "partner_name", "report_choices", "report_tables", "shown"]

# The seed's order on the form; any report registered later follows.
ORDER = ("credit-topups", "credit-usage", "total-credit", "discounts", "revenue-detailed", "revenue-by-service",
         "revenue-by-account")
ACCOUNT_TYPES = (("both", "Partner and customers"), ("partner", "Partner account"), ("customer", "Customer accounts"))
STATUSES = ("active", "inactive", "expired", "scheduled")
MAX_DAYS = 3 * 366  # longer ranges are exports, not pages: refuse with a message naming the limit
SHOWN_ROWS = 2000  # a sheet longer than this shows its first rows and says the file has them all
DOMAIN = "billing"  # the data every portal report reads (its fingerprint says when it changed)


class NotFound(Exception):
    """Something the user may not see, or that does not exist: the portal answers 404 for both."""


class ConditionsError(Exception):
    """Conditions that cannot work (a date that is not a date, to before from); lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def shown(col: Col, value: Any) -> str:
    """A figure as the page shows it: the project's formatting of the column's kind
    (:mod:`reportlib.render.figures`, half up on the exact value), which is what the exported
    workbook's number format displays."""
    return format_value(col, value)


def report_choices() -> list[tuple[str, str]]:
    """(name, title) of every portal report, in the seed's order."""
    names = REPORTS.names()
    ordered = [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]
    return [(name, REPORTS.get(name).title) for name in ordered]


@dataclass(frozen=True)
class Conditions:
    """A report and its conditions, checked against what the user may see."""

    report: str
    partner: str
    start: date
    end: date  # inclusive, as the form shows it
    account_type: str = "both"
    account: str | None = None
    statuses: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return REPORTS.get(self.report).title

    def selection(self) -> Selection:
        return Selection(self.partner, self.start, self.end + timedelta(days=1), account_type=self.account_type,
                         account=self.account)

    def query(self) -> list[tuple[str, str]]:
        """The conditions as URL query pairs (the page's export link, the form's values)."""
        pairs = [("report", self.report), ("partner", self.partner), ("from", self.start.isoformat()),
                 ("to", self.end.isoformat()), ("account_type", self.account_type)]
        if self.account:
            pairs.append(("account", self.account))
        pairs += [("status", s) for s in self.statuses]
        return pairs

    def file_name(self) -> str:
        parts = [self.report, self.partner, self.start.isoformat(), self.end.isoformat()]
        if self.account:
            parts.insert(2, self.account)
        return slugify(*parts) + ".xlsx"


def default_period(today: date | None = None) -> tuple[date, date]:
    """The last whole month before ``today``: what a partner most often looks at."""
    month = Month.parse(f"{(today or date.today()):%Y-%m}") - 1
    return month.start, month.last_day


def _values(params: Mapping[str, Any], name: str) -> list[str]:
    if hasattr(params, "getlist"):
        return [v for v in params.getlist(name) if isinstance(v, str)]
    value = params.get(name)
    if value is None:
        return []
    return [v for v in (value if isinstance(value, (list, tuple)) else [value]) if isinstance(v, str)]


def _one(params: Mapping[str, Any], name: str) -> str | None:
    values = [v.strip() for v in _values(params, name) if v.strip()]
    return values[-1] if values else None


def parse_conditions(conn: Connection, user: User, params: Mapping[str, Any],
                     kept: "KeptReports | None" = None) -> Conditions:
    """The conditions of a report page or export for ``user``.

    NotFound when they name a report that does not exist, a partner the user may not see or
    that does not exist, or an account the partner does not manage; ConditionsError listing
    every problem with the dates, account type or status. ``kept`` looks the partner up among
    the kept reports' partners.
    """
    report = _one(params, "report") or ""
    if report not in REPORTS.names():
        raise NotFound(report)
    partner = _one(params, "partner")
    if not user.sees_everything:
        if partner is not None and partner != user.partner:
            raise NotFound(partner)
        partner = user.partner
    if not partner:
        raise ConditionsError(["choose a partner"])
    try:
        kept.partner_name(partner) if kept is not None else partner_account(conn, partner)
    except UnknownEntityError:
        raise NotFound(partner) from None
    problems = []
    default_start, default_end = default_period()
    month = _one(params, "month")
    start = end = None
    try:
        if month:
            period = Month.parse(month)
            start, end = period.start, period.last_day
        else:
            start = date.fromisoformat(_one(params, "from") or default_start.isoformat())
            end = date.fromisoformat(_one(params, "to") or default_end.isoformat())
    except ValueError as exc:
        problems.append(f"the period is not a date: {exc} (use YYYY-MM-DD, or month YYYY-MM)")
    if start and end:
        if end < start:
            problems.append(f"'to' ({end}) is before 'from' ({start})")
        elif (end - start).days > MAX_DAYS:
            problems.append(f"the period is {(end - start).days + 1} days; the portal shows at most {MAX_DAYS} "
                            "(use reportlib report for longer ones)")
    account_type = _one(params, "account_type") or "both"
    if account_type not in dict(ACCOUNT_TYPES):
        problems.append(f"account type {account_type!r} is not one of {', '.join(dict(ACCOUNT_TYPES))}")
    statuses = tuple(dict.fromkeys(_values(params, "status")))
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        problems.append(f"discount status {', '.join(map(repr, unknown))} is not one of {', '.join(STATUSES)}")
    if problems:
        raise ConditionsError(problems)
    account = _one(params, "account")
    if account in ("", "all"):
        account = None
    conditions = Conditions(report, partner, start, end, account_type, account,
                            statuses if report == "discounts" else ())
    if account is not None:
        try:
            selected_accounts(conn, conditions.selection())
        except UnknownEntityError:
            raise NotFound(account) from None
    return conditions


def partner_accounts(conn: Connection) -> list[tuple[str, str]]:
    """(account id, name) of every partner account, for an analyst's choice of partner."""
    import sqlalchemy as sa

    from ..statements.data import accounts

    stmt = (sa.select(accounts.c.account_id, accounts.c.name).where(accounts.c.account_type == "partner")
            .order_by(accounts.c.account_id))
    return [(row.account_id, row.name) for row in conn.execute(stmt)]


def partner_name(conn: Connection, partner: str) -> str:
    return partner_account(conn, partner)["name"]


def managed_accounts(conn: Connection, partner: str) -> list[tuple[str, str, str]]:
    """(account id, name, type) of every account ``partner`` manages, its own first."""
    today = date.today()
    frame = selected_accounts(conn, Selection(partner, today, today))
    return [(r.account_id, r.name, r.account_type) for r in frame.itertuples(index=False)]


@dataclass
class Table:
    """One sheet of a report as the page shows it: headers, formatted cells, which row is a total."""

    title: str
    headers: list[tuple[str, bool]]  # (header, numeric)
    rows: list[list[str]]
    count: int  # rows in the file's sheet (the page may show fewer)
    total: list[str] | None = None  # the sheet's Total row, formatted
    conditions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def lines(self) -> int:
        """Rows of the sheet other than its Total row."""
        return self.count - (1 if self.total else 0)

    @property
    def truncated(self) -> bool:
        return len(self.rows) + (1 if self.total else 0) < self.count

    @cached_property
    def html(self) -> Markup:
        """The table as HTML, every cell escaped; made once (a kept report is shown many times)."""
        numeric = [n for _, n in self.headers]

        def row(cells: list[str], tag: str = "td") -> str:
            return "<tr>" + "".join(f'<{tag} class="num">{escape(c)}</{tag}>' if n else f"<{tag}>{escape(c)}</{tag}>"
                                    for c, n in zip(cells, numeric)) + "</tr>"

        parts = [f'<table class="report" data-sheet="{escape(self.title)}"><thead>',
                 row([h for h, _ in self.headers], "th"), "</thead><tbody>", *map(row, self.rows), "</tbody>"]
        if self.total:
            parts += ['<tfoot>', row(self.total).replace("<tr>", '<tr class="total">', 1), "</tfoot>"]
        parts.append("</table>")
        return Markup("".join(parts))


def _table(title: str, frame, columns: Sequence[Col]) -> Table:
    records = list(frame.itertuples(index=False, name=None))
    keys = list(frame.columns)
    rows, total = [], None
    for index, record in enumerate(records):
        values = dict(zip(keys, record))
        cells = [shown(col, values.get(col.key)) for col in columns]
        if index == len(records) - 1 and "Total" in (values.get(col.key) for col in columns):
            total = cells
        elif len(rows) < SHOWN_ROWS:
            rows.append(cells)
    return Table(title, [(col.title, col.figure is not None) for col in columns], rows, len(records), total)


def report_tables(conn: Connection, conditions: Conditions) -> list[Table]:
    """The report's sheets for the page, computed by the same function the export writes."""
    spec = REPORTS.get(conditions.report)
    return [_table(title, frame, columns)
            for title, frame, columns in spec.sheets(conn, conditions.selection(), conditions.statuses or None)]


def export_report(conn: Connection, conditions: Conditions, path: str | Path) -> Path:
    """Write the report's XLSX to ``path`` with the renderer of ``reportlib report``."""
    return write_report_xlsx(conn, conditions.report, conditions.selection(), path,
                             statuses=list(conditions.statuses) or None)


def export_bytes(conn: Connection, conditions: Conditions) -> bytes:
    """The report's XLSX file (:func:`export_report`) as bytes."""
    with tempfile.TemporaryDirectory(prefix="reportlib-portal-") as folder:
        return export_report(conn, conditions, Path(folder) / conditions.file_name()).read_bytes()


class ReportCache:
    """A report's page tables and its export, kept while the data they come from is unchanged.

    A partner looks at a report, then exports it, or comes back to it: both are made once.
    An entry is keyed by the conditions and the billing data's fingerprint (which every load
    changes), and kept at most ``seconds`` (the export's "Generated" time stays recent) among
    the ``entries`` last used. Reports of more than ``max_rows`` rows are not kept.
    """

    def __init__(self, entries: int = 256, seconds: float = 300, max_rows: int = 5000):
        self.entries, self.seconds, self.max_rows = entries, seconds, max_rows
        self._entries: OrderedDict[tuple, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def _get(self, key: tuple) -> Any:
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None and time.monotonic() - kept[0] < self.seconds:
                self._entries.move_to_end(key)
                self.hits += 1
                return kept[1]
            self.misses += 1
            return None

    def _put(self, key: tuple, value: Any) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.entries:
                self._entries.popitem(last=False)

    def view(self, conn: Connection) -> "KeptReports":
        """The kept reports of the data ``conn`` sees now (its fingerprint is read once)."""
        return KeptReports(self, conn, data_fingerprint(conn, DOMAIN))


@dataclass
class KeptReports:
    """:class:`ReportCache` for one request: the data's fingerprint read once, then kept results."""

    cache: ReportCache
    conn: Connection
    fingerprint: str | None

    def _kept(self, key: tuple, make, keep=lambda value: True) -> Any:
        key = (*key, self.fingerprint)
        value = self.cache._get(key)
        if value is None:
            value = make()
            if keep(value):
                self.cache._put(key, value)
        return value

    def tables(self, conditions: Conditions) -> list[Table]:
        """:func:`report_tables`, kept."""
        return self._kept(("tables", conditions), lambda: report_tables(self.conn, conditions),
                          lambda tables: sum(t.count for t in tables) <= self.cache.max_rows)

    def workbook(self, conditions: Conditions) -> bytes:
        """:func:`export_bytes`, kept."""
        return self._kept(("xlsx", conditions), lambda: export_bytes(self.conn, conditions),
                          lambda content: len(content) <= self.cache.max_rows * 100)

    def accounts(self, partner: str) -> list[tuple[str, str, str]]:
        """:func:`managed_accounts`, kept."""
        return self._kept(("accounts", partner), lambda: managed_accounts(self.conn, partner))

    def partner_name(self, partner: str) -> str:
        """:func:`partner_name`, kept."""
        return self._kept(("name", partner), lambda: partner_name(self.conn, partner))
