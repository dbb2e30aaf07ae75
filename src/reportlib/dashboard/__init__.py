"""Tech dashboard: lead volume and invalidation per month or ISO week (HTML + XLSX).

``metrics`` counts in SQL and returns DataFrames; ``names`` resolves advertiser and publisher
names; ``html`` gives the page's pieces (headings, interactive charts, tables) that the notebook
puts together section by section; ``xlsx`` the workbook; ``family`` tells the runner how to run
``notebooks/dashboard.ipynb``.
"""

from . import data  # noqa: F401  (registers the leads domain)
from .family import DashboardBatchParams, DashboardParams
from .metrics import (CAUTION_AS, DIMENSIONS, MEASURES, Dashboard, canonical_measures, dashboard,
                      enterprise_movers, failing_jobs, headline, invalidation_rate, measures, period_measures,
                      trend_periods, with_rates)
from .names import (NameResolution, accept_proposals, clean_name, export_aliases, import_aliases, load_aliases,
                    name_key, name_proposals, raw_name_counts, resolve_names, write_proposals)
from .xlsx import dashboard_sheets, write_dashboard_xlsx

__all__ = [
    "CAUTION_AS",
    "DIMENSIONS",
    "Dashboard",
    "DashboardBatchParams",
    "DashboardParams",
    "MEASURES",
    "NameResolution",
    "accept_proposals",
    "canonical_measures",
    "clean_name",
    "dashboard",
    "dashboard_sheets",
    "enterprise_movers",
    "export_aliases",
    "failing_jobs",
    "headline",
    "import_aliases",
    "invalidation_rate",
    "load_aliases",
    "measures",
    "name_key",
    "name_proposals",
    "period_measures",
    "raw_name_counts",
    "resolve_names",
    "trend_periods",
    "with_rates",
    "write_dashboard_xlsx",
    "write_proposals",
]
