"""Partner quarterly business reviews: health score, benchmarks, insights, one deck per partner.

``data`` holds the domain (tables, CSV contract) and reads a quarter's inputs; ``metrics`` computes
every figure for all partners of a quarter in one pass, ``health`` the health score;
``slices`` computes a quarter once and slices it per partner; ``review`` turns one partner's
slice into KPIs, insights and a coaching plan; ``pptx`` renders the deck, ``html`` the HTML
pieces, ``xlsx`` the portfolio workbook; ``family`` tells the runner how to run
``notebooks/qbr.ipynb`` and ``notebooks/qbr_portfolio.ipynb``; ``commands`` is ``reportlib qbr``.
"""

from .data import QbrInputs, load_inputs
from .family import QbrBatchParams, QbrParams, QbrPortfolioParams
from .health import COMPONENTS, health_score
from .metrics import DEFAULT_REFERENCE_CYCLE_DAYS, partner_metrics, tier_benchmarks
from .pptx import SLIDE_TITLES, build_deck, write_deck
from .review import KPIS, PartnerReview, partner_review, portfolio, shown
from .slices import PartnerSlice, QuarterMetrics, partner_slice, quarter_metrics
from .xlsx import write_portfolio_xlsx

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
