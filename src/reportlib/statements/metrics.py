"""Statement figures: plain functions over a connection or DataFrames that return DataFrames.

Every report shares the same conditions, a :class:`Selection`: a partner, a half-open period
``[start, end)``, an account type (``partner``, ``customer`` or ``both``) and optionally one
account. A partner only ever sees accounts it manages (its own and its customers').

Money is exact: amounts are ``Decimal`` throughout, summed exactly, and only rounded when
displayed (two decimals, half-up, by the renderers' formats). Signs: top-ups and accruals add
to the balance, usage subtracts, adjustments add their signed amount.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal, Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import query_frame
from ..errors import InvariantError, UnknownEntityError
from ..periods import Month
from .data import accounts, credit_transactions, discounts, revenue_lines

__all__ = [
    "Selection",
    "StatementPack",
    "credit_topups",
    "credit_usage",
    "daily_balance",
    "discount_report",
    "partner_account",
    "revenue_by_account",
    "revenue_by_service",
    "revenue_detailed",
    "selected_accounts",
    "statement_pack",
    "topup_totals",
    "total_credit",
    "usage_by_account",
    "usage_by_service",
]

ZERO = Decimal(0)
AccountType = Literal["partner", "customer", "both"]


@dataclass(frozen=True)
class Selection:
    """The conditions every report shares: whose accounts, which period, which kind."""

    partner: str
    start: date
    end: date  # exclusive
    account_type: AccountType = "both"
    account: str | None = None

    @classmethod
    def month(cls, partner: str, month: Month | str, **kwargs) -> "Selection":
        month = Month.parse(month) if isinstance(month, str) else month
        return cls(partner, month.start, month.end, **kwargs)

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time())

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time())


def _sum(values) -> Decimal:
    return sum((v for v in values if v is not None), ZERO)


def partner_account(conn: Connection, partner: str) -> dict:
    """The partner's own account row; UnknownEntityError if there is no such partner."""
    row = conn.execute(sa.select(accounts).where(accounts.c.account_id == partner)).mappings().first()
    if row is None or row["account_type"] != "partner":
        known = conn.execute(sa.select(accounts.c.account_id).where(accounts.c.account_type == "partner")
                             .order_by(accounts.c.account_id).limit(5)).scalars().all()
        hint = f"Partner accounts include {', '.join(known)}." if known else "No billing data is loaded."
        raise UnknownEntityError("partner account", partner, hint)
    return dict(row)


def _scope(sel: Selection):
    """SQL condition: the accounts of the selection, never outside the partner's own."""
    condition = accounts.c.partner_id == sel.partner
    if sel.account_type != "both":
        condition &= accounts.c.account_type == sel.account_type
    if sel.account is not None:
        condition &= accounts.c.account_id == sel.account
    return condition


def selected_accounts(conn: Connection, sel: Selection) -> pd.DataFrame:
    """Accounts of the selection: account_id, name, account_type, status (partner first)."""
    partner_account(conn, sel.partner)
    if sel.account is not None:
        owner = conn.execute(sa.select(accounts.c.partner_id).where(accounts.c.account_id == sel.account)).scalar()
        if owner != sel.partner:
            raise UnknownEntityError("account", sel.account, f"Partner {sel.partner} manages no such account.")
    stmt = (sa.select(accounts.c.account_id, accounts.c.name, accounts.c.account_type, accounts.c.status)
            .where(_scope(sel))
            .order_by(accounts.c.account_type.desc(), accounts.c.account_id))
    return query_frame(conn, stmt)


def _transactions(conn: Connection, sel: Selection, kind: str) -> pd.DataFrame:
    t = credit_transactions
    stmt = (sa.select(t.c.transaction_id, t.c.account_id, accounts.c.name.label("account_name"), t.c.occurred_at,
                      t.c.service, t.c.amount, t.c.reference)
            .join(accounts, accounts.c.account_id == t.c.account_id)
            .where(_scope(sel), t.c.kind == kind, t.c.occurred_at >= sel.start_at, t.c.occurred_at < sel.end_at)
            .order_by(t.c.occurred_at, t.c.transaction_id))
    return query_frame(conn, stmt)


def credit_topups(conn: Connection, sel: Selection) -> pd.DataFrame:
    """Each top-up in the period: transaction_id, account_id, account_name, occurred_at, service, amount, reference."""
    selected_accounts(conn, sel)
    return _transactions(conn, sel, "topup")


def credit_usage(conn: Connection, sel: Selection) -> pd.DataFrame:
    """Each usage transaction in the period (amount positive = credit used)."""
    selected_accounts(conn, sel)
    return _transactions(conn, sel, "usage")


def _totals(frame: pd.DataFrame, by: Sequence[str], count_name: str, amount_name: str) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame({**{b: pd.Series(dtype=object) for b in by}, count_name: pd.Series(dtype="int64"),
                             amount_name: pd.Series(dtype=object)})
    grouped = frame.groupby(list(by), sort=True, dropna=False)["amount"]
    out = grouped.agg([("count", "size"), ("total", _sum)]).reset_index()
    return out.rename(columns={"count": count_name, "total": amount_name})


def topup_totals(topups: pd.DataFrame) -> pd.DataFrame:
    """Per account: account_id, account_name, topups (count), topped_up (money)."""
    return _totals(topups, ["account_id", "account_name"], "topups", "topped_up")


def usage_by_account(usage: pd.DataFrame) -> pd.DataFrame:
    """Per account: account_id, account_name, transactions, used (money)."""
    return _totals(usage, ["account_id", "account_name"], "transactions", "used")


def usage_by_service(usage: pd.DataFrame) -> pd.DataFrame:
    """Per service: service, transactions, used (money)."""
    frame = usage.assign(service=usage["service"].fillna("(none)")) if not usage.empty else usage
    return _totals(frame, ["service"], "transactions", "used")


def _signed():
    t = credit_transactions
    return sa.case((t.c.kind == "usage", -t.c.amount), else_=t.c.amount)


def total_credit(conn: Connection, sel: Selection) -> pd.DataFrame:
    """Per account: opening, topped_up, used, accrued, adjustments, closing (money).

    Opening is the balance of every transaction before the period; closing is computed the
    same way at the period's end, independently, and must equal
    ``opening + topped_up + accrued + adjustments − used`` (else InvariantError).
    """
    chosen = selected_accounts(conn, sel)
    t = credit_transactions

    def flow(kind: str, label: str):
        in_period = (t.c.kind == kind) & (t.c.occurred_at >= sel.start_at) & (t.c.occurred_at < sel.end_at)
        return sa.func.sum(sa.case((in_period, t.c.amount), else_=None)).label(label)

    signed = _signed()
    stmt = (sa.select(t.c.account_id,
                      sa.func.sum(sa.case((t.c.occurred_at < sel.start_at, signed), else_=None)).label("opening"),
                      flow("topup", "topped_up"), flow("usage", "used"), flow("accrual", "accrued"),
                      flow("adjustment", "adjustments"),
                      sa.func.sum(sa.case((t.c.occurred_at < sel.end_at, signed), else_=None)).label("closing"))
            .join(accounts, accounts.c.account_id == t.c.account_id)
            .where(_scope(sel))
            .group_by(t.c.account_id))
    sums = {row.account_id: row for row in conn.execute(stmt)}
    records = []
    for account in chosen.itertuples(index=False):
        row = sums.get(account.account_id)
        values = {k: (getattr(row, k) if row is not None else None) or ZERO
                  for k in ("opening", "topped_up", "used", "accrued", "adjustments", "closing")}
        expected = values["opening"] + values["topped_up"] + values["accrued"] + values["adjustments"] - values["used"]
        if expected != values["closing"]:
            raise InvariantError(
                f"Total credit of account {account.account_id} does not reconcile for {sel.start}..{sel.end}: "
                f"closing balance {values['closing']} but opening {values['opening']} + topped up "
                f"{values['topped_up']} + accrued {values['accrued']} + adjustments {values['adjustments']} "
                f"- used {values['used']} = {expected}. A transaction has a kind outside "
                "topup/usage/accrual/adjustment; fix the data and load it again.")
        records.append(dict(account_id=account.account_id, account_name=account.name,
                            account_type=account.account_type, **values))
    columns = ["account_id", "account_name", "account_type", "opening", "topped_up", "used", "accrued",
               "adjustments", "closing"]
    return pd.DataFrame(records, columns=columns)


def discount_report(conn: Connection, sel: Selection, statuses: Sequence[str] | None = None) -> pd.DataFrame:
    """Discounts of the selected accounts valid at any time in the period, optionally by status.

    With ``account_type="partner"`` this is the partner's own discounts; with ``customer``
    its customers' discounts per service account.
    """
    selected_accounts(conn, sel)
    d = discounts
    condition = _scope(sel) & (d.c.valid_from < sel.end) & ((d.c.valid_to.is_(None)) | (d.c.valid_to >= sel.start))
    if statuses:
        condition &= d.c.status.in_(list(statuses))
    stmt = (sa.select(d.c.discount_id, d.c.account_id, accounts.c.name.label("account_name"),
                      accounts.c.account_type, d.c.service, d.c.kind, d.c.value, d.c.valid_from, d.c.valid_to,
                      d.c.status)
            .join(accounts, accounts.c.account_id == d.c.account_id)
            .where(condition)
            .order_by(accounts.c.account_type.desc(), d.c.account_id, d.c.service, d.c.discount_id))
    return query_frame(conn, stmt)


def revenue_detailed(conn: Connection, sel: Selection) -> pd.DataFrame:
    """Every revenue line of the selection in the period; InvariantError if net != gross − discount."""
    selected_accounts(conn, sel)
    r = revenue_lines
    stmt = (sa.select(r.c.line_id, r.c.account_id, accounts.c.name.label("account_name"), r.c.service, r.c.date,
                      r.c.quantity, r.c.unit_price, r.c.gross, r.c.discount, r.c.net)
            .join(accounts, accounts.c.account_id == r.c.account_id)
            .where(_scope(sel), r.c.date >= sel.start, r.c.date < sel.end)
            .order_by(r.c.date, r.c.account_id, r.c.service, r.c.line_id))
    lines = query_frame(conn, stmt)
    broken = [row.line_id for row in lines.itertuples(index=False) if row.net != row.gross - row.discount]
    if broken:
        raise InvariantError(f"{len(broken)} revenue line(s) break net = gross - discount: "
                             f"{', '.join(broken[:10])}. Fix the data and load it again.")
    return lines


def _revenue_totals(lines: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    if lines.empty:
        return pd.DataFrame({**{b: pd.Series(dtype=object) for b in by}, "lines": pd.Series(dtype="int64"),
                             **{m: pd.Series(dtype=object) for m in ("gross", "discount", "net")}})
    grouped = lines.groupby(by, sort=True)
    out = grouped.agg(lines=("line_id", "size"), gross=("gross", _sum), discount=("discount", _sum),
                      net=("net", _sum)).reset_index()
    for measure in ("gross", "discount", "net"):
        if _sum(out[measure]) != _sum(lines[measure]):  # pragma: no cover - guards the aggregation itself
            raise InvariantError(f"Revenue totals by {', '.join(by)} do not add up to the lines' {measure}.")
    return out


def revenue_by_service(lines: pd.DataFrame) -> pd.DataFrame:
    """Per service: service, lines, gross, discount, net (money)."""
    return _revenue_totals(lines, ["service"])


def revenue_by_account(lines: pd.DataFrame) -> pd.DataFrame:
    """Per account: account_id, account_name, lines, gross, discount, net (money)."""
    return _revenue_totals(lines, ["account_id", "account_name"])


def daily_balance(conn: Connection, sel: Selection) -> pd.DataFrame:
    """Total credit balance of the selection at the end of each day of the period: date, balance."""
    selected_accounts(conn, sel)
    t = credit_transactions
    signed = _signed()
    opening = conn.execute(sa.select(sa.func.sum(signed)).join(accounts, accounts.c.account_id == t.c.account_id)
                           .where(_scope(sel), t.c.occurred_at < sel.start_at)).scalar() or ZERO
    rows = conn.execute(sa.select(t.c.occurred_at, signed.label("amount"))
                        .join(accounts, accounts.c.account_id == t.c.account_id)
                        .where(_scope(sel), t.c.occurred_at >= sel.start_at, t.c.occurred_at < sel.end_at)).all()
    per_day: dict[date, Decimal] = {}
    for occurred_at, amount in rows:
        per_day[occurred_at.date()] = per_day.get(occurred_at.date(), ZERO) + amount
    balance, records = opening, []
    day = sel.start
    while day < sel.end:
        balance += per_day.get(day, ZERO)
        records.append({"date": day, "balance": balance})
        day += timedelta(days=1)
    return pd.DataFrame(records, columns=["date", "balance"])


@dataclass
class StatementPack:
    """Everything a partner's monthly statement shows, computed once."""

    partner: dict
    month: Month
    accounts: pd.DataFrame
    topups: pd.DataFrame
    topup_totals: pd.DataFrame
    usage: pd.DataFrame
    usage_by_account: pd.DataFrame
    usage_by_service: pd.DataFrame
    total_credit: pd.DataFrame
    discounts: pd.DataFrame
    revenue: pd.DataFrame
    revenue_by_service: pd.DataFrame
    revenue_by_account: pd.DataFrame
    balance: pd.DataFrame
    headline: dict[str, Decimal | int] = field(default_factory=dict)


def statement_pack(conn: Connection, partner: str, month: Month | str) -> StatementPack:
    """The monthly statement of ``partner``: all seven reports over all accounts it manages."""
    month = Month.parse(month) if isinstance(month, str) else month
    sel = Selection.month(partner, month)
    info = partner_account(conn, partner)
    topups, usage, revenue = credit_topups(conn, sel), credit_usage(conn, sel), revenue_detailed(conn, sel)
    credit = total_credit(conn, sel)
    pack = StatementPack(
        partner=info, month=month, accounts=selected_accounts(conn, sel),
        topups=topups, topup_totals=topup_totals(topups),
        usage=usage, usage_by_account=usage_by_account(usage), usage_by_service=usage_by_service(usage),
        total_credit=credit, discounts=discount_report(conn, sel),
        revenue=revenue, revenue_by_service=revenue_by_service(revenue), revenue_by_account=revenue_by_account(revenue),
        balance=daily_balance(conn, sel),
    )
    pack.headline = {
        "accounts": len(pack.accounts),
        "opening": _sum(credit["opening"]),
        "topped_up": _sum(credit["topped_up"]),
        "used": _sum(credit["used"]),
        "accrued": _sum(credit["accrued"]),
        "adjustments": _sum(credit["adjustments"]),
        "closing": _sum(credit["closing"]),
        "gross": _sum(revenue["gross"]),
        "discount": _sum(revenue["discount"]),
        "net": _sum(revenue["net"]),
    }
    return pack
