"""The quarter's portfolio workbook: every active partner, worst health first, and the tier benchmarks.

Health scores are stored exact with a one-decimal format, percentages as fractions with a percent
format, and each tier benchmark with the format of its metric's unit: every cell shows what the
deck and the HTML show for the same figure.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..render.figures import Figure
from ..render.table import Col, Sheet
from ..render.xlsx import write_workbook
from .slices import QuarterMetrics
from .metrics import BENCHMARKED
from .review import LABELS, UNITS

__all__ = ["BENCHMARK_COLUMNS", "METRIC_LABELS", "PORTFOLIO_COLUMNS", "benchmark_rows", "portfolio_sheets",
           "write_portfolio_xlsx"]

PORTFOLIO_COLUMNS = [
    Col("partner_id", "Partner"), Col("name", "Name", width=32), Col("tier", "Tier"), Col("segment", "Segment"),
    Col("region", "Region"), Col("partner_manager", "Partner manager"),
    Col("health_score", "Health score", "decimal", places=1), Col("health_band", "Band"),
    Col("revenue_attainment_pct", LABELS["revenue_attainment_pct"].in_section, "percent", places=1),
    Col("pipeline_coverage_pct", LABELS["pipeline_coverage_pct"].in_section, "percent", places=1),
    Col("previous_health", "Health last quarter", "decimal", places=1),
    Col("health_change", "Change (points)", "decimal", places=1), Col("missing", "Missing components", width=30),
]
BENCHMARK_COLUMNS = [
    Col("tier", "Tier"), Col("metric", "Metric", width=32), Col("partners", "Partners", "int"),
    Col("p25", "25th percentile", "decimal", places=2, width=16), Col("median", "Median", "decimal", places=2, width=16),
    Col("p75", "75th percentile", "decimal", places=2, width=16),
]
# Each benchmarked metric's label and unit, as the deck's tier benchmarks name and show it.
METRIC_LABELS: dict[str, tuple[str, str]] = {key: (LABELS[key].name, LABELS[key].unit) for key in BENCHMARKED}


def benchmark_rows(benchmarks: pd.DataFrame) -> list[dict]:
    """The tier benchmarks for a reader: each metric by its label, each quartile a figure of its unit."""
    rows = []
    for r in benchmarks.to_dict("records"):
        label, unit = METRIC_LABELS.get(r["metric"], (r["metric"], None))
        kind = UNITS.get(unit)
        rows.append({"tier": r["tier"], "metric": label, "partners": r["partners"],
                     **{k: r[k] if kind is None else Figure(r[k], kind) for k in ("p25", "median", "p75")}})
    return rows


def portfolio_sheets(all_partners: QuarterMetrics, portfolio: pd.DataFrame) -> list[Sheet]:
    q = all_partners.quarter
    return [
        Sheet("Portfolio", portfolio, PORTFOLIO_COLUMNS, heading=f"Partner portfolio — {q}",
              preamble=[("Quarter", f"{q} ({q.start.isoformat()} to {q.last_day.isoformat()})"),
                        ("Active partners", len(portfolio)),
                        ("Sorted", "worst health score first; partners without any health input last"),
                        ("Reference cycle (days)", all_partners.reference_cycle_days)]),
        Sheet("Tier benchmarks", benchmark_rows(all_partners.benchmarks), BENCHMARK_COLUMNS,
              heading=f"Tier benchmarks — active partners, {q}"),
    ]


def write_portfolio_xlsx(all_partners: QuarterMetrics, portfolio: pd.DataFrame, path: str | Path) -> Path:
    """Write the portfolio workbook atomically."""
    return write_workbook(path, portfolio_sheets(all_partners, portfolio))
