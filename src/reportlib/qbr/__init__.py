"""Partner quarterly business reviews: health score, benchmarks, insights, one deck per partner.

``metrics`` computes every figure for all partners of a quarter in one pass; ``review`` turns
one partner's slice into KPIs, insights and a coaching plan; ``deck`` renders the PPTX,
``report`` the HTML pieces, ``workbook`` the portfolio XLSX; ``family`` tells the runner how
to run ``notebooks/qbr.ipynb`` and ``notebooks/qbr_portfolio.ipynb``.
"""

from . import data  # noqa: F401  (registers the qbr domain)
from .metrics import (COMPONENTS, DEFAULT_REFERENCE_CYCLE_DAYS, PartnerSlice, QbrInputs, QuarterMetrics,
                      health_score, load_inputs, partner_metrics, partner_slice, quarter_metrics, tier_benchmarks)
from .review import KPIS, PartnerReview, partner_review, portfolio, shown
from .pptx import SLIDE_TITLES, build_deck, write_deck
from .xlsx import write_portfolio_xlsx
from .family import QbrBatchParams, QbrParams, QbrPortfolioParams

__all__ = [
    "COMPONENTS",
    "DEFAULT_REFERENCE_CYCLE_DAYS",
    "KPIS",
    "PartnerReview",
    "PartnerSlice",
    "QbrBatchParams",
    "QbrInputs",
    "QbrParams",
    "QbrPortfolioParams",
    "QuarterMetrics",
    "SLIDE_TITLES",
    "build_deck",
    "health_score",
    "load_inputs",
    "partner_metrics",
    "partner_review",
    "partner_slice",
    "portfolio",
    "quarter_metrics",
    "shown",
    "tier_benchmarks",
    "write_deck",
    "write_portfolio_xlsx",
]
