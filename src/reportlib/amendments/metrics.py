"""What a rate amendment says: a plan's full rate sheet as it will stand, and who gets it.

Computing only (no file formats). The sheet is one row per code with the columns of
:data:`SHEET_COLUMNS`; :func:`compare_sheets` is the pure heart of it, comparing a plan's
sheet before a change batch takes effect with the sheet after its last change::

    area, code (text), rate (Decimal), previous_rate (Decimal), change (New / Increase /
    Decrease / Unchanged / Closed), effective_date, end_date (closed codes), increment,
    policy_5g, policy_ext

For a batch, "before" is the moment just before the batch's first change for the plan (or
its code deck) takes effect and "after" the moment of its last; a regeneration without
changes shows the sheet at one moment, every code Unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parseaddr
from typing import Any, Mapping, Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import query_frame
from ..errors import DataError, UnknownEntityError
from ..ratedesk import data as s

__all__ = [
    "Amendment", "CHANGES", "Notice", "SHEET_COLUMNS", "Target", "amendment", "amendment_targets", "batch_window",
    "change_counts", "changes_only", "compare_sheets", "plan_sheet_at", "recipients", "regeneration_targets",
]

CHANGES = ("New", "Increase", "Decrease", "Unchanged", "Closed")
SHEET_COLUMNS = ["area", "code", "rate", "previous_rate", "change", "effective_date", "end_date", "increment",
                 "policy_5g", "policy_ext"]
_JUST_BEFORE = timedelta(microseconds=1)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class Notice:
    """The notice block of an amendment: who, which plan, which batch, from when."""

    customer_id: str
    customer: str
    rate_plan: str
    code_deck: str
    currency: str
    issue_date: datetime
    batch: int | None
    effective_from: datetime
    effective_to: datetime

    def fields(self) -> dict[str, Any]:
        """Values for template placeholders (dates as ISO text)."""
        return {"customer": self.customer, "customer_id": self.customer_id, "rate_plan": self.rate_plan,
                "code_deck": self.code_deck, "currency": self.currency,
                "issue_date": f"{self.issue_date:%Y-%m-%d}", "batch": self.batch if self.batch is not None else "—",
                "effective_from": f"{self.effective_from:%Y-%m-%d}", "effective_to": f"{self.effective_to:%Y-%m-%d}"}


@dataclass
class Amendment:
    """One customer × plan amendment: its notice, its setup row and the full sheet."""

    notice: Notice
    setup: Mapping[str, Any]
    sheet: pd.DataFrame
    manager_email: str | None = None
    recipients: dict[str, list[str]] = field(default_factory=dict)
    recipient_error: str | None = None  # why it cannot be addressed; the documents are still made

    @property
    def changes(self) -> pd.DataFrame:
        return changes_only(self.sheet)


@dataclass(frozen=True)
class Target:
    """One enabled customer × rate plan setup an amendment goes to."""

    customer_id: str
    rate_plan: str


_PLAN_COLUMNS = ["area", "code", "rate", "increment", "rate_from", "rate_till", "code_from", "code_till", "policy_5g",
                 "policy_ext"]


def _plan_query(conn: Connection, rate_plan: str, at: datetime):
    plan = _plan(conn, rate_plan)
    c, r = s.codes.c, s.rates.c
    return (sa.select(c.area, c.code, r.rate, r.increment, r.active_from.label("rate_from"),
                      r.active_till.label("rate_till"), c.active_from.label("code_from"),
                      c.active_till.label("code_till"), r.policy_5g, r.policy_ext)
            .join(s.rates, sa.and_(r.rate_plan == rate_plan, r.area == c.area, r.active_from <= at,
                                   sa.or_(r.active_till.is_(None), r.active_till > at)))
            .where(c.code_deck == plan.code_deck, c.active_from <= at,
                   sa.or_(c.active_till.is_(None), c.active_till > at)))


def plan_sheet_at(conn: Connection, rate_plan: str, at: datetime) -> pd.DataFrame:
    """Every code of the plan's deck in force at ``at`` with the plan's rate for its area then.

    Columns: area, code, rate, increment, rate_from, rate_till, code_from, code_till,
    policy_5g, policy_ext. Codes whose area has no rate in the plan are left out.
    """
    return query_frame(conn, _plan_query(conn, rate_plan, at), _PLAN_COLUMNS)


def _plan_rows(conn: Connection, rate_plan: str, at: datetime) -> list[tuple]:
    """:func:`plan_sheet_at` as plain tuples: a 60,000-code plan skips two DataFrame round trips."""
    return [tuple(row) for row in conn.execute(_plan_query(conn, rate_plan, at))]


def _latest(*values):
    present = [v for v in values if not _missing(v)]
    return max(present) if present else None


def _missing(value) -> bool:
    return value is None or bool(pd.isna(value))


def _tuples(sheet) -> list[tuple]:
    if isinstance(sheet, pd.DataFrame):
        return list(sheet[_PLAN_COLUMNS].itertuples(index=False, name=None))
    return list(sheet)


def compare_sheets(before: pd.DataFrame | Sequence[tuple] | None, after: pd.DataFrame | Sequence[tuple]) -> pd.DataFrame:
    """The amendment sheet: ``after`` row by row against ``before``, matched by code.

    Both have the columns of :func:`plan_sheet_at` (DataFrames, or tuples in that order). A
    code only after is New, only before is Closed (end date: when the code, else its rate,
    ended), in both an Increase, Decrease or Unchanged by exact rate comparison.
    ``before=None`` marks every code Unchanged with no previous rate (a regeneration).
    Sorted by area, then code.
    """
    rows: list[tuple] = []
    previous = {} if before is None else {r[1]: r for r in _tuples(before)}
    seen = set()
    for area, code, rate, increment, rate_from, _, code_from, _, policy_5g, policy_ext in _tuples(after):
        seen.add(code)
        old = previous.get(code)
        if before is None:
            change, old_rate = "Unchanged", None
        elif old is None:
            change, old_rate = "New", None
        else:
            old_rate = old[2]
            change = "Increase" if rate > old_rate else "Decrease" if rate < old_rate else "Unchanged"
        rows.append((area, code, rate, old_rate, change, _latest(rate_from, code_from), None, increment, policy_5g,
                     policy_ext))
    if before is not None:
        for code, (area, _, rate, increment, _, rate_till, _, code_till, _, _) in previous.items():
            if code in seen:
                continue
            # The code's own end; a rate that ended while the code stays (its area lost the plan's rate) otherwise.
            ended = code_till if not _missing(code_till) else rate_till
            ended = None if _missing(ended) else ended
            rows.append((area, code, rate, rate, "Closed", ended, ended, increment, "block", "reject"))
    rows.sort(key=lambda row: (row[0], row[1]))
    frame = pd.DataFrame(rows, columns=SHEET_COLUMNS)
    for column in ("effective_date", "end_date"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def changes_only(sheet: pd.DataFrame) -> pd.DataFrame:
    """The rows of a sheet whose change is not Unchanged."""
    return sheet[sheet["change"] != "Unchanged"].reset_index(drop=True)


def change_counts(sheet: pd.DataFrame) -> dict[str, int]:
    """Rows per change indicator, every indicator present (0 when none)."""
    counts = sheet["change"].value_counts()
    return {change: int(counts.get(change, 0)) for change in CHANGES}


def _plan(conn: Connection, rate_plan: str):
    plan = conn.execute(sa.select(s.rate_plans).where(s.rate_plans.c.rate_plan == rate_plan)).first()
    if plan is None:
        known = sorted(r[0] for r in conn.execute(sa.select(s.rate_plans.c.rate_plan)))
        raise UnknownEntityError("rate plan", rate_plan, f"Known plans: {', '.join(known) or 'none'}.")
    return plan


def _batch_rows(conn: Connection, batch: int):
    b = s.change_batches.c
    if conn.execute(sa.select(b.batch_id).where(b.batch_id == batch)).first() is None:
        last = conn.execute(sa.select(sa.func.max(b.batch_id))).scalar()
        raise UnknownEntityError("change batch", str(batch),
                                 f"The latest batch is {last}." if last else "No change batch has been applied yet.")
    h = s.change_history.c
    return h, sa.and_(h.batch_id == batch, h.active_from.is_not(None))


def batch_window(conn: Connection, batch: int, rate_plan: str) -> tuple[datetime, datetime] | None:
    """First and last effective time of the batch's changes for the plan or its code deck."""
    plan = _plan(conn, rate_plan)
    h, where = _batch_rows(conn, batch)
    row = conn.execute(sa.select(sa.func.min(h.active_from), sa.func.max(h.active_from)).where(
        where, sa.or_(h.rate_plan == rate_plan, sa.and_(h.rate_plan.is_(None), h.code_deck == plan.code_deck)))).first()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


def _enabled(conn: Connection, plans: Sequence[str], customers: Sequence[str] = ()) -> list[Target]:
    rp = s.customer_rp_setup.c
    query = sa.select(rp.customer_id, rp.rate_plan).where(rp.status == "enabled", rp.rate_plan.in_(list(plans)))
    if customers:
        query = query.where(rp.customer_id.in_(list(customers)))
    return [Target(*r) for r in conn.execute(query.order_by(rp.customer_id, rp.rate_plan))]


def amendment_targets(conn: Connection, batch: int) -> list[Target]:
    """Every enabled customer × plan setup whose plan the batch touched (directly or through its code deck)."""
    from ..ratedesk.metrics import batch_plans

    _batch_rows(conn, batch)  # an unknown batch is an error, not an empty list
    return _enabled(conn, batch_plans(conn, batch))


def regeneration_targets(conn: Connection, plans: Sequence[str] = (), groups: Sequence[str] = (),
                         customers: Sequence[str] = ()) -> list[Target]:
    """Enabled setups of the chosen plans, plan groups (union) and, optionally, customers."""
    p = s.rate_plans.c
    chosen = set(plans)
    for plan in chosen:
        _plan(conn, plan)
    if groups:
        found = set()
        for name, text in conn.execute(sa.select(p.rate_plan, p.rate_plan_groups)):
            hit = set(s.parse_groups(text)) & set(groups)
            if hit:
                chosen.add(name)
                found |= hit
        missing = sorted(set(groups) - found)
        if missing:
            raise UnknownEntityError("rate plan group", ", ".join(missing))
    if not plans and not groups:
        chosen = {r[0] for r in conn.execute(sa.select(p.rate_plan))}
    return _enabled(conn, sorted(chosen), customers)


_SPLIT = re.compile(r"[;,\s]+")


def recipients(setup: Mapping[str, Any], manager_email: str | None) -> dict[str, list[str]]:
    """TO / CC / BCC addresses of a setup, plus the account manager where the setup says.

    Lists are separated by ``;``, ``,`` or spaces; duplicates are dropped (first field wins).
    A malformed address is an error naming the customer, plan, field and value.
    """
    where = f"customer {setup['customer_id']} × rate plan {setup['rate_plan']}"
    result: dict[str, list[str]] = {"to": [], "cc": [], "bcc": []}
    seen: set[str] = set()
    problems = []

    def add(kind: str, address: str, column: str) -> None:
        name, addr = parseaddr(address)
        if not addr or "@" not in addr or addr != address.strip() or addr.lower() in seen:
            if addr and addr.lower() in seen:
                return
            problems.append(f"{column} {address!r} is not an e-mail address")
            return
        seen.add(addr.lower())
        result[kind].append(addr)

    for kind in ("to", "cc", "bcc"):
        for address in _SPLIT.split(setup.get(f"{kind}_emails") or ""):
            if address:
                add(kind, address, f"{kind}_emails")
    where_manager = (setup.get("add_account_manager") or "none").lower()
    if where_manager != "none":
        if not manager_email:
            problems.append(f"add_account_manager is {where_manager!r} but the customer has no account_manager_email")
        else:
            add(where_manager, manager_email, "account_manager_email")
    if not result["to"] and not problems:
        problems.append("to_emails is empty: an amendment needs at least one TO address")
    if problems:
        raise DataError(f"Cannot address the amendment of {where}: " + "; ".join(problems) + ".")
    return result


def amendment(conn: Connection, customer_id: str, rate_plan: str, batch: int | None = None,
              at: datetime | None = None, issued: datetime | None = None) -> Amendment:
    """Everything one customer × plan amendment shows, for a batch or (``batch=None``) at ``at``."""
    rp = s.customer_rp_setup.c
    setup = conn.execute(sa.select(s.customer_rp_setup).where(rp.customer_id == customer_id,
                                                              rp.rate_plan == rate_plan)).first()
    if setup is None:
        customer_known = conn.execute(sa.select(s.customers.c.customer_id)
                                      .where(s.customers.c.customer_id == customer_id)).first()
        if customer_known is None:
            raise UnknownEntityError("customer", customer_id)
        raise UnknownEntityError("customer rate plan setup", f"{customer_id} × {rate_plan}",
                                 "The customer has no RP setup row for that plan.")
    customer = conn.execute(sa.select(s.customers).where(s.customers.c.customer_id == customer_id)).one()
    plan = _plan(conn, rate_plan)
    issued = issued or _now()
    if batch is None:
        moment = at or issued
        sheet = compare_sheets(None, _plan_rows(conn, rate_plan, moment))
        first = last = moment
    else:
        window = batch_window(conn, batch, rate_plan)
        if window is None:
            raise DataError(f"Change batch {batch} did not change rate plan {rate_plan!r}; regenerate it without "
                            "a batch instead.")
        first, last = window
        sheet = compare_sheets(_plan_rows(conn, rate_plan, first - _JUST_BEFORE), _plan_rows(conn, rate_plan, last))
    notice = Notice(customer_id, customer.name, rate_plan, plan.code_deck, plan.currency, issued, batch, first, last)
    setup_map = dict(setup._mapping)
    try:
        addressed, problem = recipients(setup_map, customer.account_manager_email), None
    except DataError as exc:
        addressed, problem = {}, str(exc)
    return Amendment(notice, setup_map, sheet, customer.account_manager_email, addressed, problem)
