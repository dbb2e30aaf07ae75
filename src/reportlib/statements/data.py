"""The ``billing`` domain: partner portal accounts, credit transactions, discounts, revenue.

CSV contract (header names exactly; extra columns ignored):

| file | columns |
| --- | --- |
| accounts.csv | account_id, name, account_type (partner/customer), partner_id, status |
| credit_transactions.csv | transaction_id, account_id, occurred_at, kind, service, amount, reference |
| discounts.csv | discount_id, account_id, service, kind (percent/fixed), value, valid_from, valid_to, status |
| revenue_lines.csv | line_id, account_id, service, date, quantity, unit_price, gross, discount, net |

``partner_id`` is the partner account that manages a customer and a partner's own id on a
partner row. Credit ``amount`` is positive; ``kind`` gives the sign (usage reduces the
balance) except for adjustments, which may be negative. Revenue lines must satisfy
``net = gross − discount``. Money is stored exactly to 6 decimal places.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

import sqlalchemy as sa

from ..db import Exact, metadata
from ..domains import Domain, Field, FileSpec, Ref, RowCheck, reads
from ..errors import LoadProblem

__all__ = ["ACCOUNT_STATUSES", "DOMAIN", "SERVICES", "accounts", "credit_transactions", "discounts",
           "revenue_lines"]

ACCOUNT_STATUSES = ("active", "suspended", "closed")
TRANSACTION_KINDS = ("topup", "usage", "accrual", "adjustment")
DISCOUNT_STATUSES = ("active", "inactive", "expired", "scheduled")
SERVICES = ("voice", "sms", "data", "numbers", "support")

accounts = sa.Table(
    "billing_accounts", metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("account_type", sa.String(16), nullable=False),
    sa.Column("partner_id", sa.String(64), sa.ForeignKey("billing_accounts.account_id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
)

credit_transactions = sa.Table(
    "billing_credit_transactions", metadata,
    sa.Column("transaction_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("billing_accounts.account_id"), nullable=False),
    sa.Column("occurred_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("service", sa.String(64)),
    sa.Column("amount", Exact(6), nullable=False),
    sa.Column("reference", sa.String(300)),
    sa.Index("ix_billing_tx_account_time", "account_id", "occurred_at"),
)

discounts = sa.Table(
    "billing_discounts", metadata,
    sa.Column("discount_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("billing_accounts.account_id"), nullable=False, index=True),
    sa.Column("service", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("value", Exact(6), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date),
    sa.Column("status", sa.String(16), nullable=False),
)

revenue_lines = sa.Table(
    "billing_revenue_lines", metadata,
    sa.Column("line_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("billing_accounts.account_id"), nullable=False),
    sa.Column("service", sa.String(64), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("quantity", Exact(6), nullable=False),
    sa.Column("unit_price", Exact(6), nullable=False),
    sa.Column("gross", Exact(6), nullable=False),
    sa.Column("discount", Exact(6), nullable=False),
    sa.Column("net", Exact(6), nullable=False),
    sa.Index("ix_billing_rev_account_date", "account_id", "date"),
)


def _amount_sign(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    if row["kind"] != "adjustment" and row["amount"] < 0:
        return [("amount", f"must not be negative for a {row['kind']} (the kind gives the sign; "
                           "only adjustments may be negative)")]
    return []


def _negative_non_adjustments(columns):
    import pyarrow.compute as pc

    return pc.and_(pc.not_equal(columns["kind"], "adjustment"), pc.less(columns["amount"], 0))


def _net_is_gross_minus_discount(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    expected = row["gross"] - row["discount"]
    if row["net"] != expected:
        return [("net", f"must equal gross - discount = {expected}")]
    return []


def _net_differs(columns):
    import pyarrow.compute as pc

    return pc.not_equal(columns["net"], pc.subtract(columns["gross"], columns["discount"]))


def _discount_dates(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    if row["valid_to"] is not None and row["valid_to"] < row["valid_from"]:
        return [("valid_to", f"is before valid_from {row['valid_from']}")]
    return []


def _percent_range(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    if row["kind"] == "percent" and not (Decimal(0) <= row["value"] <= Decimal(100)):
        return [("value", "a percent discount must be between 0 and 100")]
    return []


@reads("accounts.csv")
def _partner_links(data: dict[str, list[dict]]) -> list[LoadProblem]:
    """A partner manages itself; a customer is managed by a partner account."""
    rows = data.get("accounts.csv", [])
    types = {r["account_id"]: r["account_type"] for r in rows}
    problems = []
    for r in rows:
        if r["account_type"] == "partner" and r["partner_id"] != r["account_id"]:
            problems.append(LoadProblem("accounts.csv", r["__row__"], "partner_id", r["partner_id"],
                                        "a partner account's partner_id must be its own account_id"))
        elif r["account_type"] == "customer" and types.get(r["partner_id"]) != "partner":
            problems.append(LoadProblem("accounts.csv", r["__row__"], "partner_id", r["partner_id"],
                                        "a customer must be managed by a partner account"))
    return problems


FILES = (
    FileSpec("accounts.csv", accounts, (
        Field("account_id"),
        Field("name"),
        Field("account_type", "enum", choices=("partner", "customer")),
        Field("partner_id"),
        Field("status", "enum", choices=ACCOUNT_STATUSES),
    ), key=("account_id",), refs=(Ref(("partner_id",), "accounts.csv", ("account_id",), "partner account"),),
        insert_order=lambda row: row["account_type"] != "partner"),
    FileSpec("credit_transactions.csv", credit_transactions, (
        Field("transaction_id"),
        Field("account_id"),
        Field("occurred_at", "datetime"),
        Field("kind", "enum", choices=TRANSACTION_KINDS),
        Field("service", required=False),
        Field("amount", "decimal", scale=6),
        Field("reference", required=False),
    ), key=("transaction_id",), refs=(Ref(("account_id",), "accounts.csv", ("account_id",), "account"),),
        row_checks=(RowCheck(_amount_sign, _negative_non_adjustments),)),
    FileSpec("discounts.csv", discounts, (
        Field("discount_id"),
        Field("account_id"),
        Field("service"),
        Field("kind", "enum", choices=("percent", "fixed")),
        Field("value", "decimal", scale=6, min_value=Decimal(0)),
        Field("valid_from", "date"),
        Field("valid_to", "date", required=False),
        Field("status", "enum", choices=DISCOUNT_STATUSES),
    ), key=("discount_id",), refs=(Ref(("account_id",), "accounts.csv", ("account_id",), "account"),),
        row_checks=(_discount_dates, _percent_range)),
    FileSpec("revenue_lines.csv", revenue_lines, (
        Field("line_id"),
        Field("account_id"),
        Field("service"),
        Field("date", "date"),
        Field("quantity", "decimal", scale=6, min_value=Decimal(0)),
        Field("unit_price", "decimal", scale=6, min_value=Decimal(0)),
        Field("gross", "decimal", scale=6),
        Field("discount", "decimal", scale=6, min_value=Decimal(0)),
        Field("net", "decimal", scale=6),
    ), key=("line_id",), refs=(Ref(("account_id",), "accounts.csv", ("account_id",), "account"),),
        row_checks=(RowCheck(_net_is_gross_minus_discount, _net_differs),)),
)


def _demo(seed: int, scale: str) -> dict[str, list[dict]]:
    from .demo import demo_billing

    return demo_billing(seed, scale)


DOMAIN = Domain(
    "billing", FILES, demo=_demo, checks=(_partner_links,),
    description="Partner portal accounts, credit transactions, discounts and revenue lines.")
