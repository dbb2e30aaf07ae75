"""Credit and revenue statements for partner portal accounts.

``metrics`` computes every figure; ``workbook`` renders XLSX; ``family`` tells the runner
how to run ``notebooks/statement.ipynb``.
"""

from . import data  # noqa: F401  (registers the billing domain)
from .metrics import (Selection, StatementPack, credit_topups, credit_usage, daily_balance, discount_report,
                      partner_account, revenue_by_account, revenue_by_service, revenue_detailed,
                      selected_accounts, statement_pack, topup_totals, total_credit, usage_by_account,
                      usage_by_service)
from .xlsx import REPORTS, pack_sheets, write_pack_xlsx, write_report_xlsx
from .family import StatementBatchParams, StatementParams

__all__ = [
    "REPORTS",
    "Selection",
    "StatementBatchParams",
    "StatementPack",
    "StatementParams",
    "credit_topups",
    "credit_usage",
    "daily_balance",
    "discount_report",
    "pack_sheets",
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
    "write_pack_xlsx",
    "write_report_xlsx",
]
