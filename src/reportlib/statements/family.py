"""The statement family as the runner sees it: parameters, entities, file names."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..families import Family
from ..files import id_stem
from ..params import ReportParams
from ..periods import Month
from .metrics import partner_account
from .data import accounts

__all__ = ["FAMILY", "StatementBatchParams", "StatementParams", "active_partners"]


@dataclass(frozen=True)
class StatementParams(ReportParams):
    """One partner's monthly statement pack."""

    family = "statement"
    partner: str = field(metadata={"help": "partner account id, e.g. P001"})
    month: Month = field(metadata={"help": "statement month, e.g. 2026-10"})


@dataclass(frozen=True)
class StatementBatchParams(ReportParams):
    """Statement packs of every active partner account for a month."""

    family = "statement"
    month: Month = field(metadata={"help": "statement month, e.g. 2026-10"})


def active_partners(conn: Connection) -> list[str]:
    """Ids of the partner accounts whose status is active."""
    stmt = (sa.select(accounts.c.account_id)
            .where(accounts.c.account_type == "partner", accounts.c.status == "active")
            .order_by(accounts.c.account_id))
    return list(conn.execute(stmt).scalars())


def _stem(conn: Connection, params: StatementParams) -> str:
    partner = partner_account(conn, params.partner)
    return id_stem(partner["account_id"], partner["name"])


def _entities(conn: Connection, params: StatementBatchParams) -> list[dict]:
    return [{"partner": pid, "month": str(params.month)} for pid in active_partners(conn)]


FAMILY = Family(
    name="statement",
    folder="statements",
    notebook="statement.ipynb",
    params=StatementParams,
    batch_params=StatementBatchParams,
    domain="billing",
    period=lambda p: str(p.month),
    stem=_stem,
    entities=_entities,
    pdfs=(".html",),
    description="Credit and revenue statement pack per partner account per month (XLSX + HTML).",
)
