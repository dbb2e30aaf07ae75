"""The dashboard's workbook: the same tables as the HTML, one sheet each, typed cells.

Rates are fractions with a percent format on every sheet, counts whole numbers; on the summary,
whose rows are different measures, each cell has its own measure's format
(:class:`~reportlib.render.figures.Figure`), so every figure reads as the HTML shows it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..render import figures
from ..render.figures import Figure
from ..render.table import Col, Sheet
from ..render.xlsx import write_workbook
from .metrics import Dashboard

__all__ = ["COLUMNS", "MEASURE_COLUMNS", "dashboard_sheets", "headline_rows", "names_statement",
           "write_dashboard_xlsx"]

MEASURE_COLUMNS = [Col("total", "Total", "int"), Col("deleted", "Deleted", "int"), Col("valid", "Valid", "int"),
                   Col("invalid", "Invalid", "int"), Col("caution", "Caution", "int"),
                   Col("billable", "Billable", "int"), Col("processed", "Processed", "int"),
                   Col("valid_plus_invalid", "Valid + Invalid", "int"),
                   Col("invalidation_rate", "Invalidation rate", "percent")]
_VERSUS = [Col("previous_total", "Total, previous period", "int"),
           Col("previous_rate", "Invalidation rate, previous period", "percent")]

COLUMNS: dict[str, list[Col]] = {
    "headline": [Col("measure", "Measure"), Col("current", "This period", "int"),
                 Col("previous", "Previous period", "int"),
                 Col("change", "Change (rate: points)", "int"),
                 Col("change_pct", "Change %", "percent")],
    "trend": [Col("period", "Period"), *MEASURE_COLUMNS],
    "trend_by_vertical": [Col("period", "Period"), Col("vertical", "Vertical"), *MEASURE_COLUMNS],
    "trend_by_industry": [Col("period", "Period"), Col("vertical", "Vertical"), Col("industry", "Industry"),
                          *MEASURE_COLUMNS],
    "advertisers": [Col("advertiser", "Advertiser"), Col("raw_names", "Raw names", "int"), *MEASURE_COLUMNS, *_VERSUS],
    "publishers": [Col("publisher", "Publisher"), Col("raw_names", "Raw names", "int"), *MEASURE_COLUMNS, *_VERSUS],
    "channels": [Col("channel", "Channel"), *MEASURE_COLUMNS, *_VERSUS],
    "enterprise_types": [Col("enterprise_type", "Enterprise type"), *MEASURE_COLUMNS, *_VERSUS],
    "countries": [Col("country", "Country"), *MEASURE_COLUMNS, *_VERSUS],
    "enterprises": [Col("enterprise_id", "Enterprise"), Col("name", "Name"), Col("enterprise_type", "Type"),
                    *MEASURE_COLUMNS, *_VERSUS],
    "failing_jobs": [Col("enterprise_type", "Enterprise type"), Col("rank", "Rank", "int"), Col("job", "Job"),
                     Col("runs", "Runs", "int"), Col("failures", "Failures", "int"),
                     Col("failure_rate", "Failure rate", "percent")],
    "movers": [Col("enterprise_id", "Enterprise"), Col("name", "Name"), Col("enterprise_type", "Type"),
               Col("previous_rate", "Rate, previous period", "percent"),
               Col("current_rate", "Rate, this period", "percent"),
               Col("change_points", "Change (points)", "decimal", places=2),
               Col("previous_valid_plus_invalid", "Valid + Invalid, previous", "int"),
               Col("current_valid_plus_invalid", "Valid + Invalid, this period", "int")],
    "names": [Col("kind", "Kind"), Col("canonical_name", "Canonical name"), Col("raw_name", "Raw name"),
              Col("rule", "Resolved by"), Col("leads", "Leads (both periods)", "int")],
}

CAUTION_TEXT = {"separate": "Caution leads are counted separately: neither valid nor invalid, and outside "
                            "the invalidation rate.",
                "invalid": "Caution leads are counted as invalid.",
                "valid": "Caution leads are counted as valid."}


def names_statement(dash: Dashboard, kind: str) -> str:
    """``199 raw advertiser names resolved to 70 advertisers (129 merged ...); 29 similar names proposed ...``."""
    r, count = dash.names[kind], figures.count
    text = (f"{count(r.raw_names)} raw {kind} names resolved to {count(r.canonical_names)} {kind}s "
            f"({count(r.merged)} merged into another name; normalisation rewrote {count(r.merged_by('normalised'))} "
            f"raw names, analyst aliases {count(r.merged_by('alias'))})")
    pending = dash.proposals.get(kind, 0)
    if pending:
        text += f"; {count(pending)} similar names proposed for review, not merged (reportlib dashboard names propose)"
    return text + "."


RATE = figures.PERCENT.at(2)  # invalidation rates: percent, two places, as computed (metrics.RATE_UNIT)


def headline_rows(dash: Dashboard) -> list[dict]:
    """The summary's rows: counts as counts, the invalidation rate as a rate (fraction, % format),
    its change in signed points, each count's change signed and in percent."""
    rows = []
    for r in dash.headline.to_dict("records"):
        rate = r["key"] == "invalidation_rate"
        kind = RATE if rate else figures.COUNT
        change = figures.KINDS["number"].at(2, signed=True) if rate else figures.COUNT.at(signed=True)
        rows.append({"measure": r["measure"], "current": Figure(r["current"], kind),
                     "previous": Figure(r["previous"], kind), "change": Figure(r["change"], change),
                     "change_pct": Figure(r["change_pct"], RATE.at(signed=True))})
    return rows


def dashboard_sheets(dash: Dashboard) -> list[Sheet]:
    """Every table of the dashboard as a sheet, the summary first."""
    names = []
    for kind, resolution in dash.names.items():
        names.append(resolution.mapping.assign(kind=kind))
    name_rows = pd.concat(names, ignore_index=True) if names else pd.DataFrame(columns=[c.key for c in COLUMNS["names"]])
    preamble = [("Period", f"{dash.label}: {dash.period.start.isoformat()} to {dash.period.last_day.isoformat()} (UTC)"),
                ("Compared with", f"{dash.previous} ({dash.previous.start.isoformat()} to {dash.previous.last_day.isoformat()})"),
                ("Caution counted as", f"{dash.caution_as}: {CAUTION_TEXT[dash.caution_as]}"),
                ("Advertiser names", names_statement(dash, "advertiser")),
                ("Publisher names", names_statement(dash, "publisher")),
                ("Generated (UTC)", datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None))]
    unit = "month" if dash.kind == "month" else "week"
    return [
        Sheet("Summary", headline_rows(dash), COLUMNS["headline"], heading=f"Tech dashboard — {dash.label}",
              preamble=preamble),
        Sheet(f"Trend ({len(dash.periods)} {unit}s)", dash.trend, COLUMNS["trend"]),
        Sheet("Trend by vertical", dash.trend_by_vertical, COLUMNS["trend_by_vertical"]),
        Sheet("Trend by industry", dash.trend_by_industry, COLUMNS["trend_by_industry"]),
        Sheet("Advertisers", dash.advertisers, COLUMNS["advertisers"]),
        Sheet("Publishers", dash.publishers, COLUMNS["publishers"]),
        Sheet("Channels", dash.channels, COLUMNS["channels"]),
        Sheet("Enterprise types", dash.enterprise_types, COLUMNS["enterprise_types"]),
        Sheet("Enterprises", dash.enterprises, COLUMNS["enterprises"]),
        Sheet("Countries", dash.countries, COLUMNS["countries"]),
        Sheet("Failing jobs", dash.failing_jobs, COLUMNS["failing_jobs"]),
        Sheet("Biggest movers", dash.movers, COLUMNS["movers"]),
        Sheet("Name resolution", name_rows, COLUMNS["names"]),
    ]


def write_dashboard_xlsx(dash: Dashboard, path: str | Path) -> Path:
    """Write the dashboard's tables to one XLSX file (atomically)."""
    return write_workbook(path, dashboard_sheets(dash))
