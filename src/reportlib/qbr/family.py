"""The QBR families as the runner sees them: one deck per partner, one portfolio per quarter.

- ``qbr``: one run per active partner × quarter (``notebooks/qbr.ipynb``): PPTX deck + HTML.
- ``qbr-portfolio``: one run per quarter (``notebooks/qbr_portfolio.ipynb``): the executive
  portfolio of all active partners, XLSX + HTML, in the same ``outputs/qbr/<quarter>/`` folder.

``make qbr QUARTER=2026Q3`` runs both batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import UnknownEntityError
from ..families import Family
from ..files import id_stem
from ..params import ReportParams
from ..periods import Quarter
from ..prepared import save_prepared
from .data import partners
from .health import DEFAULT_REFERENCE_CYCLE_DAYS

__all__ = ["FAMILY", "PORTFOLIO_FAMILY", "QbrBatchParams", "QbrParams", "QbrPortfolioParams", "active_partners",
           "partner_row"]

_CYCLE_HELP = "reference sales cycle of the health score's efficiency term, in days"


@dataclass(frozen=True)
class QbrParams(ReportParams):
    """One partner's quarterly business review deck."""

    family = "qbr"
    partner: str = field(metadata={"help": "partner id, e.g. P001"})
    quarter: Quarter = field(metadata={"help": "quarter under review, e.g. 2026Q3"})
    reference_cycle_days: int = field(default=DEFAULT_REFERENCE_CYCLE_DAYS, metadata={"help": _CYCLE_HELP})

    def check(self) -> list[str]:
        return _check_cycle(self.reference_cycle_days)


@dataclass(frozen=True)
class QbrBatchParams(ReportParams):
    """The decks of every active partner for a quarter."""

    family = "qbr"
    quarter: Quarter = field(metadata={"help": "quarter under review, e.g. 2026Q3"})
    reference_cycle_days: int = field(default=DEFAULT_REFERENCE_CYCLE_DAYS, metadata={"help": _CYCLE_HELP})

    def check(self) -> list[str]:
        return _check_cycle(self.reference_cycle_days)


@dataclass(frozen=True)
class QbrPortfolioParams(QbrBatchParams):
    """The portfolio view (all active partners, worst health first) of a quarter."""

    family = "qbr-portfolio"


def _check_cycle(days: int) -> list[str]:
    return [] if days > 0 else [f"parameter 'reference_cycle_days' must be a positive number of days, not {days}"]


def active_partners(conn: Connection) -> list[str]:
    """Ids of the partners whose status is active (inactive partners get no deck)."""
    stmt = sa.select(partners.c.partner_id).where(partners.c.status == "active").order_by(partners.c.partner_id)
    return list(conn.execute(stmt).scalars())


def partner_row(conn: Connection, partner_id: str) -> dict:
    """The partner's row; UnknownEntityError when there is no such partner."""
    row = conn.execute(sa.select(partners).where(partners.c.partner_id == partner_id)).mappings().first()
    if row is None:
        raise UnknownEntityError("partner", partner_id, "Check the id, or load the QBR data "
                                                        "(reportlib load qbr FOLDER, or reportlib demo).")
    return dict(row)


def _stem(conn: Connection, params: QbrParams) -> str:
    row = partner_row(conn, params.partner)
    return id_stem(row["partner_id"], row["name"])


def _stems(conn: Connection, many: list[QbrParams]) -> list[str]:
    """:func:`_stem` of many runs with one query (an unknown partner raises as there)."""
    names = dict(conn.execute(sa.select(partners.c.partner_id, partners.c.name)).all())
    return [id_stem(p.partner, names[p.partner]) if p.partner in names else _stem(conn, p) for p in many]


def _entities(conn: Connection, params: QbrBatchParams) -> list[dict]:
    return [{"partner": pid, "quarter": str(params.quarter), "reference_cycle_days": params.reference_cycle_days}
            for pid in active_partners(conn)]


def _prepare(conn: Connection, params: QbrBatchParams, _runs: list[dict], folder: Path) -> dict[str, Any]:
    """Every partner's metrics of the quarter, once for the whole batch (each deck reads its slice)."""
    from .slices import quarter_metrics  # pandas: the batch's, not the planning's

    path = save_prepared(quarter_metrics(conn, params.quarter, params.reference_cycle_days),
                         folder / "quarter-metrics.pkl", family="qbr", batch=params.to_notebook())
    return {"prepared": str(path)}


def _portfolio_entities(conn: Connection, params: QbrPortfolioParams) -> list[dict]:
    return [params.to_notebook()] if active_partners(conn) else []


FAMILY = Family(
    name="qbr",
    folder="qbr",
    notebook="qbr.ipynb",
    params=QbrParams,
    batch_params=QbrBatchParams,
    domain="qbr",
    period=lambda p: str(p.quarter),
    stem=_stem,
    stems=_stems,
    entities=_entities,
    prepare=_prepare,
    pdfs=(".pptx",),
    description="Quarterly business review deck per active partner per quarter (PPTX + HTML).",
)

PORTFOLIO_FAMILY = Family(
    name="qbr-portfolio",
    folder="qbr",
    notebook="qbr_portfolio.ipynb",
    params=QbrPortfolioParams,
    batch_params=QbrPortfolioParams,
    domain="qbr",
    period=lambda p: str(p.quarter),
    stem=lambda _conn, p: f"portfolio {p.quarter}",
    entities=_portfolio_entities,
    pdfs=(".html",),
    description="Portfolio of all active partners for a quarter, worst health first (XLSX + HTML).",
)
