"""Partner quarterly business reviews: health score, benchmarks, insights, one deck per partner.

``data`` holds the domain (tables, CSV contract) and reads a quarter's inputs; ``metrics`` computes
every figure for all partners of a quarter in one pass, ``health`` the health score;
``slices`` computes a quarter once and slices it per partner; ``review`` turns one partner's
slice into KPIs, insights and a coaching plan; ``pptx`` renders the deck, ``html`` the HTML
pieces, ``xlsx`` the portfolio workbook; ``family`` tells the runner how to run
``notebooks/qbr.ipynb`` and ``notebooks/qbr_portfolio.ipynb``; ``commands`` is ``reportlib qbr``.
"""

from ..lazy import lazy_exports as _lazy_exports

# name -> the module that defines it. Imported when first used (PEP 562): the runner imports
# ``reportlib.qbr.family`` to plan a run without pandas, Altair or openpyxl, which only the
# notebook's kernel needs; ``from reportlib import qbr`` then ``qbr.partner_review`` works as before.
_EXPORTS = {
    "QbrInputs": ".data", "load_inputs": ".data",
    "QbrBatchParams": ".family", "QbrParams": ".family", "QbrPortfolioParams": ".family",
    "COMPONENTS": ".health", "health_score": ".health",
    "DEFAULT_REFERENCE_CYCLE_DAYS": ".metrics", "partner_metrics": ".metrics", "tier_benchmarks": ".metrics",
    "SLIDE_TITLES": ".pptx", "build_deck": ".pptx", "write_deck": ".pptx",
    "KPIS": ".review", "PartnerReview": ".review", "partner_review": ".review", "portfolio": ".review",
    "shown": ".review",
    "PartnerSlice": ".slices", "QuarterMetrics": ".slices", "partner_slice": ".slices", "quarter_metrics": ".slices",
    "write_portfolio_xlsx": ".xlsx",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
