"""The dashboard's page, piece by piece: headline cards, section headings and notes, interactive
Altair charts and tables.

``notebooks/dashboard.ipynb`` puts each section together in a cell of its own: its heading
(:func:`heading`), its charts (each a function here that takes its title) and its table
(:func:`table`). With ``use_offline_charts(interactive=True)`` a displayed chart is Vega-Lite:
JupyterLab draws it, and the exported page draws it in the reader's browser from the Vega bundle
that the export puts into the page once. Chart data are aggregates of the dashboard's tables,
never a lead's own fields.
"""

from __future__ import annotations

from typing import Any, Sequence

import altair as alt
import pandas as pd

from ..render.headline import Headline
from ..render.charts import THEME_COLORS
from ..render.figures import count, number, percent
from ..render.html import kpi_cards, table_html
from ..render.text import escape_html
from .metrics import MEASURE_TITLES, Dashboard
from .xlsx import CAUTION_TEXT, COLUMNS, names_statement

__all__ = ["breakdown_trend_chart", "failing_jobs_chart", "failing_jobs_summary", "heading", "headline",
           "headline_html", "movers_chart", "names_list", "names_statement", "rate_bars", "share_chart", "table",
           "title_html", "trend_chart", "volume_chart"]

TOP = 15
WIDTH = 640
RATE_PLACES = 2  # invalidation and failure rates are computed to two places (metrics.RATE_UNIT)


def _float(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and value != value) else float(value)


def _chart_frame(frame: pd.DataFrame, keys: Sequence[str], values: Sequence[str],
                 texts: dict[str, str] | None = None) -> pd.DataFrame:
    """A chart's data: the key columns as text and the measures as floats (charts only).

    ``texts`` maps a measure to its kind (``count`` or ``rate``): the frame also gets
    ``<measure>_text``, the figure as every output shows it, for tooltips (Vega would format the
    float itself).
    """
    data = pd.DataFrame({k: frame[k].astype(str) for k in keys})
    for column in values:
        data[column] = [_float(v) for v in frame[column]]
    for column, kind in (texts or {}).items():
        data[f"{column}_text"] = [_text(v, kind) for v in frame[column]]
    return data


def _text(value: Any, kind: str) -> str:
    """A count (``1,234``) or an invalidation or failure rate (``19.65 %``) as shown."""
    return count(value) if kind == "count" else percent(value, RATE_PLACES)


def heading(title: str, *notes: str) -> str:
    """A section's heading and its notes (paragraphs of text, escaped); each section starts a
    new page when the report is printed."""
    return f"<h2>{escape_html(title)}</h2>" + "".join(f"<p>{escape_html(note)}</p>" for note in notes)


def table(frame: pd.DataFrame, name: str, limit: int | None = None) -> str:
    """The dashboard table ``name`` (``trend``, ``advertisers``, ``channels``, ... as in the
    workbook) with its columns and figures as the workbook shows them, the first ``limit`` rows."""
    return table_html(frame, COLUMNS[name], limit=limit)


def title_html(dash: Dashboard) -> str:
    """The title, the period, how caution counts and how names merged."""
    p = dash.period
    return (f"<h1>Tech dashboard — {escape_html(dash.label)}</h1>"
            + f"<p>Leads created {p.start.isoformat()} to {p.last_day.isoformat()} (UTC), compared with "
              f"{escape_html(str(dash.previous))}. {escape_html(CAUTION_TEXT[dash.caution_as])} "
              f"(caution_as = {escape_html(dash.caution_as)})</p>"
            + names_list(dash) + "<p>Only aggregates are shown: no lead's own fields.</p>"
            + _empty_warning(dash))


def _empty_warning(dash: Dashboard) -> str:
    total = dash.headline.set_index("key").at["total", "current"]
    if total:
        return ""
    return (f"<p><b>No lead was created in {escape_html(str(dash.period))}.</b> Check the period, or load the "
            "data first (reportlib load leads FOLDER).</p>")


def _change_note(row: dict, previous: str) -> str:
    if row["key"] == "invalidation_rate":
        if row["change"] is None:
            return f"vs {previous}: n/a"
        return (f"vs {previous}: {number(row['change'], RATE_PLACES, signed=True)} points "
                f"(was {percent(row['previous'], RATE_PLACES)})")
    return f"vs {previous}: {percent(row['change_pct'], RATE_PLACES, signed=True)} ({count(row['change'], signed=True)})"


def headline_html(dash: Dashboard) -> str:
    """The headline figures as cards, each with its change against the previous period."""
    cards = []
    for row in dash.headline.to_dict("records"):  # iterrows would turn a missing rate into NaN
        if row["key"] == "invalidation_rate":
            value = percent(row["current"], RATE_PLACES)
        else:
            value = count(row["current"])
        cards.append((row["measure"], value, _change_note(row, str(dash.previous))))
    return heading("Headline figures") + kpi_cards(cards)


def trend_chart(trend: pd.DataFrame, title: str, rate_title: str = "Invalidation rate, %") -> alt.VConcatChart:
    """Volume (stacked valid / invalid / caution / deleted) and, under it, the invalidation rate over
    the periods."""
    parts = _chart_frame(trend, ["period"], ["valid", "invalid", "caution", "deleted", "invalidation_rate"],
                         {"invalidation_rate": "rate"})
    long = parts.melt(id_vars=["period"], value_vars=["valid", "invalid", "caution", "deleted"],
                      var_name="part", value_name="leads")
    long["leads_text"] = [count(v) for v in long["leads"]]
    hover = alt.selection_point(fields=["period"], on="pointerover", nearest=True, empty=False)
    bars = (alt.Chart(long, title=title)
            .mark_bar()
            .encode(x=alt.X("period:N", title=None, sort=None),
                    y=alt.Y("sum(leads):Q", title="Leads"),
                    color=alt.Color("part:N", title=None, sort=["valid", "invalid", "caution", "deleted"],
                                    scale=alt.Scale(domain=["valid", "invalid", "caution", "deleted"],
                                                    range=[THEME_COLORS[2], THEME_COLORS[4], THEME_COLORS[3],
                                                           THEME_COLORS[5]])),
                    opacity=alt.condition(hover, alt.value(1.0), alt.value(0.8)),
                    tooltip=["period", "part", alt.Tooltip("leads_text:N", title="leads")])
            .add_params(hover)
            .properties(width=WIDTH, height=220))
    rate = (alt.Chart(parts, title=rate_title)
            .mark_line(point=True, color=THEME_COLORS[4])
            .encode(x=alt.X("period:N", title=None, sort=None), y=alt.Y("invalidation_rate:Q", title="%"),
                    tooltip=["period", alt.Tooltip("invalidation_rate_text:N", title="rate")])
            .properties(width=WIDTH, height=160))
    return alt.vconcat(bars, rate)


def breakdown_trend_chart(frame: pd.DataFrame, key: str, title: str, top: int = 10) -> alt.Chart:
    """One line per ``key`` over the periods; a drop-down picks the measure, the legend highlights."""
    totals = frame.groupby(key)["total"].sum().sort_values(ascending=False)
    chosen = frame[frame[key].isin(list(totals.index[:top]))]
    measures = ["total", "invalid", "valid_plus_invalid", "invalidation_rate"]
    data = _chart_frame(chosen, ["period", key], measures)
    long = data.melt(id_vars=["period", key], var_name="measure", value_name="value")
    long["value_text"] = [_text(v, "rate" if m == "invalidation_rate" else "count")
                          for v, m in zip(long["value"], long["measure"])]
    long["measure"] = long["measure"].map(MEASURE_TITLES)
    measure = alt.param(name=f"{key}_measure", value=MEASURE_TITLES["total"],
                        bind=alt.binding_select(options=[MEASURE_TITLES[m] for m in
                                                         ("total", "invalid", "valid_plus_invalid", "invalidation_rate")],
                                                name="Measure: "))
    pick = alt.selection_point(fields=[key], bind="legend")
    return (alt.Chart(long, title=title)
            .mark_line(point=True)
            .encode(x=alt.X("period:N", title=None, sort=None), y=alt.Y("value:Q", title=None),
                    color=alt.Color(f"{key}:N", title=key.capitalize()),
                    opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
                    tooltip=["period", f"{key}:N", "measure:N", alt.Tooltip("value_text:N", title="value")])
            .add_params(measure, pick)
            .transform_filter(alt.datum.measure == measure)
            .properties(width=WIDTH, height=260))


def volume_chart(frame: pd.DataFrame, key: str, title: str, top: int = TOP) -> alt.Chart:
    """The biggest ``key`` values by volume (bars), coloured by invalidation rate."""
    data = _chart_frame(frame.head(top), [key], ["total", "previous_total", "invalidation_rate"],
                        {"total": "count", "previous_total": "count", "invalidation_rate": "rate"})
    return (alt.Chart(data, title=title)
            .mark_bar()
            .encode(y=alt.Y(f"{key}:N", sort="-x", title=None), x=alt.X("total:Q", title="Leads"),
                    color=alt.Color("invalidation_rate:Q", title="Invalidation %",
                                    scale=alt.Scale(scheme="orangered")),
                    tooltip=[f"{key}:N", alt.Tooltip("total_text:N", title="total"),
                             alt.Tooltip("previous_total_text:N", title="previous period"),
                             alt.Tooltip("invalidation_rate_text:N", title="rate")])
            .properties(width=WIDTH - 120, height=max(120, 18 * len(data))))


def share_chart(frame: pd.DataFrame, key: str, title: str) -> alt.Chart:
    """Each ``key``'s share of the period's leads, this period and the previous one."""
    data = _chart_frame(frame, [key], ["total", "previous_total"]).melt(
        id_vars=[key], var_name="when", value_name="leads")
    data["when"] = data["when"].map({"total": "this period", "previous_total": "previous period"})
    data["leads_text"] = [count(v) for v in data["leads"]]
    pick = alt.selection_point(fields=[key], bind="legend")
    return (alt.Chart(data, title=title)
            .mark_bar()
            .encode(y=alt.Y("when:N", title=None, sort=["previous period", "this period"]),
                    x=alt.X("sum(leads):Q", stack="normalize", title="Share of leads", axis=alt.Axis(format="%")),
                    color=alt.Color(f"{key}:N", title=None),
                    opacity=alt.condition(pick, alt.value(1.0), alt.value(0.25)),
                    tooltip=[f"{key}:N", "when:N", alt.Tooltip("leads_text:N", title="leads")])
            .add_params(pick)
            .properties(width=WIDTH, height=90))


def rate_bars(frame: pd.DataFrame, key: str, title: str) -> alt.Chart:
    """Invalidation rate per ``key``, this period against the previous one."""
    data = _chart_frame(frame, [key], ["invalidation_rate", "previous_rate"]).melt(
        id_vars=[key], var_name="when", value_name="rate")
    data["when"] = data["when"].map({"invalidation_rate": "this period", "previous_rate": "previous period"})
    data["rate_text"] = [_text(v, "rate") for v in data["rate"]]
    return (alt.Chart(data, title=title)
            .mark_bar()
            .encode(x=alt.X(f"{key}:N", title=None), xOffset=alt.XOffset("when:N", sort=["previous period", "this period"]),
                    y=alt.Y("rate:Q", title="Invalidation rate, %"),
                    color=alt.Color("when:N", title=None, sort=["previous period", "this period"]),
                    tooltip=[f"{key}:N", "when:N", alt.Tooltip("rate_text:N", title="rate")])
            .properties(width=WIDTH - 200, height=220))


def failing_jobs_chart(jobs: pd.DataFrame, title: str) -> alt.Chart:
    """Failure rate of each validation job, one row of bars per enterprise type; click a type to focus."""
    data = _chart_frame(jobs, ["enterprise_type", "job"], ["failure_rate", "failures", "runs"],
                        {"failure_rate": "rate", "failures": "count", "runs": "count"})
    pick = alt.selection_point(fields=["enterprise_type"], bind="legend")
    return (alt.Chart(data, title=title)
            .mark_bar()
            .encode(y=alt.Y("job:N", title=None, sort="-x"), yOffset=alt.YOffset("enterprise_type:N"),
                    x=alt.X("failure_rate:Q", title="Failure rate, %"),
                    color=alt.Color("enterprise_type:N", title="Enterprise type"),
                    opacity=alt.condition(pick, alt.value(1.0), alt.value(0.2)),
                    tooltip=["enterprise_type:N", "job:N", alt.Tooltip("failures_text:N", title="failures"),
                             alt.Tooltip("runs_text:N", title="runs"),
                             alt.Tooltip("failure_rate_text:N", title="failure rate")])
            .add_params(pick)
            .properties(width=WIDTH - 120, height=300))


def failing_jobs_summary(jobs: pd.DataFrame) -> str:
    """The three validation jobs that fail most, one sentence per enterprise type."""
    lines = []
    for kind, rows in jobs.groupby("enterprise_type", sort=True):
        top = rows.head(3)
        named = ", ".join(f"{j} ({percent(r, RATE_PLACES)})" for j, r in zip(top["job"], top["failure_rate"])
                          if r is not None)
        lines.append(f"<li>{escape_html(kind)} leads fail most on: {escape_html(named)}</li>")
    if not lines:
        return "<p>No validation job ran on this period's leads.</p>"
    return "<ul>" + "".join(lines) + "</ul>"


def movers_chart(movers: pd.DataFrame, title: str) -> alt.Chart:
    """Change of invalidation rate in points per account (diverging bars)."""
    data = _chart_frame(movers, ["enterprise_id", "name"], ["change_points", "previous_rate", "current_rate"],
                        {"previous_rate": "rate", "current_rate": "rate"})
    data["change_points_text"] = [number(v, RATE_PLACES) for v in movers["change_points"]]
    data["account"] = data["enterprise_id"] + " " + data["name"]
    return (alt.Chart(data, title=title)
            .mark_bar()
            .encode(y=alt.Y("account:N", sort=alt.EncodingSortField("change_points", op="max", order="descending"),
                            title=None),
                    x=alt.X("change_points:Q", title="Change, percentage points"),
                    color=alt.condition(alt.datum.change_points > 0, alt.value(THEME_COLORS[4]),
                                        alt.value(THEME_COLORS[2])),
                    tooltip=["account:N", alt.Tooltip("previous_rate_text:N", title="previous rate"),
                             alt.Tooltip("current_rate_text:N", title="current rate"),
                             alt.Tooltip("change_points_text:N", title="change, points")])
            .properties(width=WIDTH - 200, height=max(120, 20 * len(data))))


def names_list(dash: Dashboard) -> str:
    """How raw names were merged: one sentence per kind (the workbook lists every raw name)."""
    return "<ul>" + "".join(f"<li>{escape_html(names_statement(dash, k))}</li>" for k in ("advertiser", "publisher")) + "</ul>"


def headline(dash: Dashboard) -> Headline:
    """The dashboard's headline for its manifest, e-mail and catalogue: the invalidation rate first."""
    from ..render.figures import COUNT, PERCENT, Figure

    rows = dash.headline.set_index("key")
    rate_kind = PERCENT.at(RATE_PLACES)
    return Headline("", "Tech dashboard", dash.label, {
        "Invalidation rate": Figure(rows.at["invalidation_rate", "current"], rate_kind),
        "Leads": Figure(rows.at["total", "current"], COUNT),
        "Invalid": Figure(rows.at["invalid", "current"], COUNT)})
