"""The dashboard family as the runner sees it: a month or an ISO week, and how caution counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.engine import Connection

from ..families import Family
from ..params import ReportParams
from ..periods import IsoWeek, Month
from .metrics import Period

__all__ = ["DashboardBatchParams", "DashboardParams", "FAMILY", "MAX_BATCH_MONTHS"]

MAX_BATCH_MONTHS = 120
CautionAs = Literal["separate", "invalid", "valid"]


@dataclass(frozen=True)
class DashboardParams(ReportParams):
    """One tech dashboard: exactly one of ``month`` or ``week``."""

    family = "dashboard"
    month: Month | None = field(default=None, metadata={"help": "a month, e.g. 2026-10"})
    week: IsoWeek | None = field(default=None, metadata={"help": "an ISO week, e.g. 2026-W43"})
    caution_as: CautionAs = field(default="separate", metadata={"help": "count caution leads as separate, "
                                                                        "invalid or valid"})

    def check(self) -> list[str]:
        if (self.month is None) == (self.week is None):
            return ["give exactly one of 'month' (YYYY-MM) or 'week' (YYYY-Www)"]
        return []

    @property
    def period(self) -> Period:
        return self.month if self.month is not None else self.week


@dataclass(frozen=True)
class DashboardBatchParams(ReportParams):
    """Dashboards of one month, one week, or every month from ``from_month`` to ``to_month``."""

    family = "dashboard"
    month: Month | None = field(default=None, metadata={"help": "one month, e.g. 2026-10"})
    week: IsoWeek | None = field(default=None, metadata={"help": "one ISO week, e.g. 2026-W43"})
    from_month: Month | None = field(default=None, metadata={"help": "first month of a range, e.g. 2026-01"})
    to_month: Month | None = field(default=None, metadata={"help": "last month of a range (inclusive)"})
    caution_as: CautionAs = field(default="separate", metadata={"help": "count caution leads as separate, "
                                                                        "invalid or valid"})

    def check(self) -> list[str]:
        ranged = self.from_month is not None or self.to_month is not None
        chosen = sum([self.month is not None, self.week is not None, ranged])
        if chosen != 1:
            return ["give exactly one of 'month', 'week', or 'from_month' with 'to_month'"]
        if ranged and (self.from_month is None or self.to_month is None):
            return ["a range needs both 'from_month' and 'to_month'"]
        if ranged and self.to_month < self.from_month:
            return [f"'to_month' {self.to_month} is before 'from_month' {self.from_month}"]
        if ranged and len(self.months()) > MAX_BATCH_MONTHS:
            return [f"a range holds at most {MAX_BATCH_MONTHS} months"]
        return []

    def months(self) -> list[Month]:
        months, month = [], self.from_month
        while month <= self.to_month and len(months) <= MAX_BATCH_MONTHS:
            months.append(month)
            month = month + 1
        return months


def _period(params: DashboardParams) -> str:
    return str(params.period)


def _stem(_conn: Connection, params: DashboardParams) -> str:
    suffix = "" if params.caution_as == "separate" else f" caution-as-{params.caution_as}"
    return f"dashboard {params.period}{suffix}"


def _entities(_conn: Connection, params: DashboardBatchParams) -> list[dict]:
    if params.week is not None:
        return [{"week": str(params.week), "caution_as": params.caution_as}]
    months = [params.month] if params.month is not None else params.months()
    return [{"month": str(m), "caution_as": params.caution_as} for m in months]


FAMILY = Family(
    name="dashboard",
    folder="dashboard",
    notebook="dashboard.ipynb",
    params=DashboardParams,
    batch_params=DashboardBatchParams,
    domain="leads",
    period=_period,
    stem=_stem,
    entities=_entities,
    pdfs=(".html",),
    description="Tech dashboard of lead volume and invalidation per month or ISO week (HTML + XLSX).",
)
