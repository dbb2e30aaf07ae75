"""A quarter's metrics for all partners, computed once, and each partner's slice of them.

A batch of decks computes :func:`quarter_metrics` once (the family's preparation) and each
deck takes its partner's rows with :func:`partner_slice`, instead of querying the database per
partner: :class:`QuarterMetrics` builds the lookups slicing needs once and every slice reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from ..errors import UnknownEntityError
from ..periods import Quarter
from .data import TREND_QUARTERS, as_quarter, load_inputs
from .metrics import (DEFAULT_REFERENCE_CYCLE_DAYS, certification_list, latest_dates, partner_metrics,
                      pipeline_by_stage, portal_trend, revenue_trend, tier_benchmarks, win_rate_by_stage)

__all__ = ["PartnerSlice", "QuarterMetrics", "partner_slice", "quarter_metrics", "records"]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a small frame as dicts of Python values (what ``to_dict("records")`` gives,
    without its per-row overhead)."""
    columns = list(frame.columns)
    return [dict(zip(columns, values)) for values in zip(*(frame[c].tolist() for c in columns))]


@dataclass
class QuarterMetrics:
    """Everything every deck of a quarter needs, for all partners: compute once, slice per partner."""

    quarter: Quarter
    reference_cycle_days: int
    metrics: pd.DataFrame
    previous: pd.DataFrame
    benchmarks: pd.DataFrame
    revenue_trend: pd.DataFrame
    portal_trend: pd.DataFrame
    pipeline_by_stage: pd.DataFrame
    win_rate_by_stage: pd.DataFrame
    certifications: pd.DataFrame
    latest: pd.DataFrame = field(default_factory=pd.DataFrame)  # latest input dates, for data notes
    # Lookups that slicing builds once and every partner's slice reuses (a batch slices
    # thousands of times): row positions per partner per frame, each tier's active partners.
    _lookups: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def rows_of(self, name: str, partner_id: str) -> pd.DataFrame:
        """The rows of frame ``name`` (an attribute) that belong to ``partner_id``."""
        frame: pd.DataFrame = getattr(self, name)
        if frame.empty:
            return frame
        positions = self._lookups.get(name)
        if positions is None:
            positions = self._lookups[name] = frame.groupby("partner_id", sort=False).indices
        mine = positions.get(partner_id)
        if mine is None:
            return frame.iloc[0:0].reset_index(drop=True)
        if mine[-1] - mine[0] + 1 == len(mine):  # the rows are together: a range, not a take
            return frame.iloc[mine[0]:mine[-1] + 1].reset_index(drop=True)
        return frame.iloc[mine].reset_index(drop=True)

    def row_of(self, name: str, partner_id: str) -> dict[str, Any] | None:
        """The first row of frame ``name`` that belongs to ``partner_id``, as a dict of Python
        values (what ``rows.iloc[0].to_dict()`` gives), or None. Every partner's row is built
        once, column by column, for all partners together, instead of one mixed-type row
        Series per deck."""
        rows = self._lookups.get(("row", name))
        if rows is None:
            rows = self._lookups[("row", name)] = {}
            for record in records(getattr(self, name)):
                rows.setdefault(record["partner_id"], record)
        row = rows.get(partner_id)
        return dict(row) if row is not None else None

    def tier_benchmarks(self, tier: Any) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
        """The benchmark rows of ``tier``, as a frame and by metric (built once per tier)."""
        cached = self._lookups.setdefault("benchmarks", {})
        if tier not in cached:
            b = self.benchmarks
            frame = b[b["tier"] == tier].reset_index(drop=True) if not b.empty else b
            cached[tier] = (frame, {r["metric"]: r for r in records(frame)})
        return cached[tier]

    def tier_peers(self, tier: Any) -> tuple[pd.DataFrame, dict[str, list[Decimal]]]:
        """The active partners of ``tier`` and a (lazily filled) cache of their sorted values."""
        tiers = self._lookups.setdefault("tiers", {})
        if tier not in tiers:
            m = self.metrics
            tiers[tier] = (m[(m["tier"] == tier) & (m["status"] == "active")].reset_index(drop=True), {})
        return tiers[tier]


def quarter_metrics(conn: Connection, quarter: Quarter | str,
                    reference_cycle_days: int = DEFAULT_REFERENCE_CYCLE_DAYS) -> QuarterMetrics:
    """All partners' metrics of ``quarter`` and of the quarter before, benchmarks and trends."""
    quarter = as_quarter(quarter)
    inputs = load_inputs(conn, quarter)
    current = partner_metrics(inputs, quarter, reference_cycle_days)
    previous = partner_metrics(inputs, quarter - 1, reference_cycle_days)
    return QuarterMetrics(
        quarter=quarter, reference_cycle_days=reference_cycle_days, metrics=current, previous=previous,
        benchmarks=tier_benchmarks(current),
        revenue_trend=revenue_trend(inputs.deals, inputs.targets, quarter, partner_ids=inputs.partners["partner_id"]),
        portal_trend=portal_trend(inputs.portal, quarter),
        pipeline_by_stage=pipeline_by_stage(inputs.deals, quarter),
        win_rate_by_stage=win_rate_by_stage(inputs.deals, quarter),
        certifications=certification_list(inputs.certifications, quarter),
        latest=latest_dates(inputs),
    )


@dataclass
class PartnerSlice:
    """One partner's rows of a :class:`QuarterMetrics`."""

    quarter: Quarter
    reference_cycle_days: int
    row: dict[str, Any]
    previous: dict[str, Any]
    benchmarks: pd.DataFrame  # the partner's tier only
    tier_metrics: pd.DataFrame  # active partners of the same tier (for ranks)
    revenue_trend: pd.DataFrame
    portal_trend: pd.DataFrame
    pipeline_by_stage: pd.DataFrame
    win_rate_by_stage: pd.DataFrame
    certifications: pd.DataFrame
    latest: dict[str, Any]
    # metric -> its row of benchmarks (p25, median, p75; shared by the tier's slices)
    benchmark_rows: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)
    # metric -> the sorted values of tier_metrics (shared by the tier's slices; filled by use)
    tier_values: dict[str, list[Decimal]] = field(default_factory=dict, repr=False, compare=False)

    def sorted_tier_values(self, key: str) -> list[Decimal]:
        """The values of ``key`` among the tier's active partners that have one, ascending."""
        if key not in self.tier_values:
            column = self.tier_metrics[key] if key in self.tier_metrics else ()
            self.tier_values[key] = sorted(Decimal(v) for v in column if v is not None and v == v)
        return self.tier_values[key]


def partner_slice(all_partners: QuarterMetrics, partner_id: str) -> PartnerSlice:
    """The rows of ``partner_id``; UnknownEntityError names a few known ids if it is absent."""
    m = all_partners.metrics
    row = all_partners.row_of("metrics", partner_id)
    if row is None:
        known = ", ".join(m["partner_id"].head(5))
        raise UnknownEntityError("partner", partner_id, f"Known partners include {known}; load the partner "
                                                        "(reportlib load qbr FOLDER) or check the id.")
    previous = all_partners.row_of("previous", partner_id)
    tier = row["tier"]

    def mine(name: str) -> pd.DataFrame:
        return all_partners.rows_of(name, partner_id)

    trend = mine("revenue_trend")
    quarters = [str(all_partners.quarter - i) for i in reversed(range(TREND_QUARTERS))]
    # A quarter without portal rows has no value (n/a, as in the health score), not 0 logins.
    portal = mine("portal_trend").set_index("quarter").reindex(quarters)
    portal["logins_per_month"] = portal["logins_per_month"].astype(object).map(lambda v: None if v is None or v != v else v)
    portal = portal.drop(columns="partner_id").reset_index()
    latest = all_partners.latest.loc[partner_id].to_dict() if partner_id in all_partners.latest.index else {}
    peers, values = all_partners.tier_peers(tier)
    benchmarks, benchmark_rows = all_partners.tier_benchmarks(tier)
    return PartnerSlice(
        quarter=all_partners.quarter, reference_cycle_days=all_partners.reference_cycle_days,
        row=row, previous=previous or {},
        benchmarks=benchmarks, benchmark_rows=benchmark_rows, tier_metrics=peers, tier_values=values,
        revenue_trend=trend, portal_trend=portal,
        pipeline_by_stage=mine("pipeline_by_stage"),
        win_rate_by_stage=mine("win_rate_by_stage"),
        certifications=mine("certifications"), latest=latest)
