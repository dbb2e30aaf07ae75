"""The QBR's HTML pieces: the deck's content for the notebook (and so for the HTML export).

Each section mirrors a slide of :mod:`reportlib.qbr.pptx` and shows the same formatted
figures; charts are Altair templates filled per partner and drawn by the reader's browser
(``use_offline_charts(interactive=True)``; no CDN). As on the slides, a missing figure is a null
(no bar, a gap in a line: Vega-Lite leaves invalid values out) and its label says "n/a". All
text from the data is escaped.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from ..render.headline import Headline
from ..render import figures
from ..render.charts import THEME_COLORS, VegaLiteChart, chart_template
from ..render.html import kpi_cards, table_html
from ..render.text import escape_html
from ..render.table import Col
from .data import STAGES
from .pptx import SLIDE_TITLES
from .review import FIGURES, LABELS, PartnerReview, figure_rows, point_label, shown

__all__ = ["benchmark_chart", "benchmarks_html", "certifications_html", "coaching_html", "headline", "health_chart",
           "health_html", "notes_html", "portal_chart", "portfolio_chart", "portfolio_headline", "portfolio_html", "registration_chart",
           "revenue_chart", "section_html", "sections", "slide_list", "stage_chart", "summary_html", "title_html"]

_STATUS_CSS = {"on": "#C6EFCE", "watch": "#FFEB9C", "off": "#FFC7CE", "none": "#EDEDED"}

def _status_table(header: list[str], rows: list[list[str]], statuses: list[str | None]) -> str:
    parts = ['<table class="rl-table"><thead><tr>', "".join(f"<th>{escape_html(h)}</th>" for h in header),
             "</tr></thead><tbody>"]
    for row, status in zip(rows, statuses):
        style = f' style="background:{_STATUS_CSS[status]}"' if status else ""
        cells = "".join(f"<td{style if i in (1, len(row) - 1) else ''}>{escape_html(str(v))}</td>"
                        for i, v in enumerate(row))
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def title_html(review: PartnerReview) -> str:
    r, q = review.row, review.quarter
    return (f"<h1>Quarterly Business Review — {escape_html(r['name'])}</h1>"
            f"<p>{escape_html(str(q))} ({q.start.isoformat()} to {q.last_day.isoformat()}) · partner "
            f"{escape_html(r['partner_id'])} · {escape_html(r['tier'])} tier, {escape_html(r['segment'])} segment, "
            f"{escape_html(r['region'])} · partner manager {escape_html(r['partner_manager'])}</p>")


def summary_html(review: PartnerReview) -> str:
    """Executive summary: the health score and band, the top three insights, the action required."""
    r = review.row
    cards = kpi_cards([
        ("Health score", shown(r["health_score"], "score"), r["health_band"]),
        ("Revenue", shown(r["revenue"], "money"), f"attainment {shown(r['revenue_attainment_pct'], 'pct')}"),
        (LABELS["pipeline_coverage_pct"].name, shown(r["pipeline_coverage_pct"], "pct"), f"{shown(r['pipeline_count'], 'count')} open deals"),
        ("CSAT", shown(r["csat"], "csat"), f"NPS {shown(r['nps'], 'nps')}"),
    ])
    items = "".join(f"<li>{escape_html(i.text)} <i>{escape_html(i.action)}</i></li>" for i in review.insights[:3])
    return (f"<h2>Executive summary</h2>{cards}<ul>{items}</ul>"
            f"<p><b>Action required ({escape_html(r['health_band'])}):</b> {escape_html(r['health_action'])}</p>")


def section_html(review: PartnerReview, title: str) -> str:
    """One figures section (Revenue, Pipeline, ...) as a status-coloured table."""
    rows = figure_rows(review, title)
    return f"<h2>{escape_html(title)}</h2>" + _status_table(
        ["Figure", "Value", "Target", "Status"], [[r["label"], r["value_text"], r["target"], r["status_text"]]
                                                  for r in rows], [r["status"] for r in rows])


def sections() -> list[str]:
    return list(FIGURES)


def _floats(values) -> list[float | None]:
    return [None if v is None or v != v else float(v) for v in values]


# The deck's charts as Altair templates: built and validated once per kernel, filled per partner
# (see ChartTemplate). Every encoding names its type, as the template has no rows to infer from.
# A tooltip reads a figure as text formatted here (``*_text``): Vega would format the float itself.

@chart_template
def _revenue_template() -> alt.Chart:
    return (alt.Chart(alt.NamedData("revenue"), title="Revenue vs target, last 8 quarters").mark_line(point=True)
            .encode(x=alt.X("quarter:O", title=None), y=alt.Y("amount:Q", title="Amount"),
                    color=alt.Color("series:N", title=None),
                    tooltip=["quarter:N", "series:N", alt.Tooltip("amount_text:N", title="amount")])
            .properties(width=560, height=240))


def revenue_chart(review: PartnerReview) -> VegaLiteChart:
    t = review.slice.revenue_trend
    quarters = [str(q) for q in t["quarter"]]
    return _revenue_template.fill(revenue=[
        {"quarter": q, "series": series, "amount": None if amount is None or amount != amount else float(amount),
         "amount_text": shown(amount, "money")}
        for series, column in (("Revenue", "revenue"), ("Target", "revenue_target"))
        for q, amount in zip(quarters, t[column])])


@chart_template
def _stage_template() -> alt.Chart:
    return (alt.Chart(alt.NamedData("stages"), title="Open pipeline by stage").mark_bar(color=THEME_COLORS[0])
            .encode(x=alt.X("stage:N", sort=list(STAGES), title=None), y=alt.Y("value:Q", title="Value"),
                    tooltip=["stage:N", alt.Tooltip("value_text:N", title="value")])
            .properties(width=420, height=220))


def stage_chart(review: PartnerReview) -> VegaLiteChart:
    by_stage = review.slice.pipeline_by_stage
    values = dict(zip(by_stage["stage"], by_stage["value"])) if not by_stage.empty else {}
    return _stage_template.fill(stages=[{"stage": s, "value": float(values.get(s) or 0),
                                         "value_text": shown(values.get(s) or 0, "money")} for s in STAGES])


REGISTRATION_STEPS = ("Submitted", "Approved", "Won")


@chart_template
def _registration_template() -> alt.Chart:
    return (alt.Chart(alt.NamedData("registrations"), title="Deal registration funnel").mark_bar(color=THEME_COLORS[1])
            .encode(y=alt.Y("step:N", sort=list(REGISTRATION_STEPS), title=None),
                    x=alt.X("count:Q", title="Registrations"),
                    tooltip=["step:N", alt.Tooltip("count_text:N", title="count")])
            .properties(width=420, height=140))


def registration_chart(review: PartnerReview) -> VegaLiteChart:
    r = review.row
    counts = [r["registrations_submitted"], r["registrations_approved"], r["registrations_won"]]
    return _registration_template.fill(registrations=[{"step": step, "count": value, "count_text": shown(c, "count")}
                                                      for step, c, value in zip(REGISTRATION_STEPS, counts,
                                                                                _floats(counts))])


PORTAL_TARGET_LOGINS = 4


@chart_template
def _portal_template() -> alt.LayerChart:
    # A quarter without portal rows is null: no point, and the line breaks there (not 0 logins).
    line = alt.Chart(alt.NamedData("portal"), title="Portal logins per month, last 8 quarters").mark_line(
        point=True, invalid="break-paths-show-domains").encode(
            x=alt.X("quarter:O", title=None, sort=None), y=alt.Y("logins:Q", title="Logins per month"),
            tooltip=["quarter:N", alt.Tooltip("logins_text:N", title="logins")])
    rule = alt.Chart(pd.DataFrame({"target": [PORTAL_TARGET_LOGINS]})).mark_rule(
        color=THEME_COLORS[4], strokeDash=[4, 4]).encode(y="target:Q")
    return (line + rule).properties(width=560, height=220)


def portal_chart(review: PartnerReview) -> VegaLiteChart:
    p = review.slice.portal_trend
    return _portal_template.fill(portal=[{"quarter": point_label(q, v), "logins": v, "logins_text": shown(raw, "logins")}
                                         for q, raw, v in zip(p["quarter"], p["logins_per_month"],
                                                              _floats(p["logins_per_month"]))])


@chart_template
def _benchmark_template() -> alt.Chart:
    return (alt.Chart(alt.NamedData("benchmarks"), title="Partner vs tier median (%)").mark_bar()
            .encode(y=alt.Y("kpi:N", title=None), x=alt.X("value:Q", title="%"),
                    color=alt.Color("who:N", title=None), yOffset="who:N",
                    tooltip=["kpi:N", "who:N", alt.Tooltip("value_text:N", title="value")])
            .properties(width=460, height=320))


def benchmark_chart(review: PartnerReview) -> VegaLiteChart:
    pct = review.pct_benchmarks
    kpis = [x["kpi"] for x in pct]
    return _benchmark_template.fill(benchmarks=[
        {"kpi": kpi, "who": who, "value": value, "value_text": shown(raw, "pct")}
        for who, column in (("Partner", "value"), ("Tier median", "tier_median"))
        for kpi, raw, value in zip(kpis, [x[column] for x in pct], _floats(x[column] for x in pct))])


def benchmarks_html(review: PartnerReview) -> str:
    kpis = list(review.kpi_by_key.values())
    rows = [[x["kpi"], x["value_text"], x["target"], x["tier_text"], x["rank_text"], x["status_text"]] for x in kpis]
    return ("<h2>Tier benchmarks</h2><p>Tier: 25th percentile · median · 75th percentile of the active "
            f"{escape_html(review.row['tier'])} partners of {review.quarter}.</p>"
            + _status_table(["KPI", "Value", "Target", "Tier P25 · median · P75", "Rank", "Status"], rows,
                            [x["status"] for x in kpis]))


@chart_template
def _health_template() -> alt.Chart:
    return (alt.Chart(alt.NamedData("health"), title="Health score: points earned vs weight").mark_bar()
            .encode(y=alt.Y("component:N", title=None, sort=alt.EncodingSortField("order", op="min")),
                    x=alt.X("value:Q", title="Points"), color=alt.Color("what:N", title=None), yOffset="what:N",
                    tooltip=["component:N", "what:N", alt.Tooltip("value_text:N", title="value")])
            .properties(width=460, height=220))


def health_chart(review: PartnerReview) -> VegaLiteChart:
    b = review.breakdown
    points = _floats(b["points"])
    components = [point_label(c, p) for c, p in zip(b["component"], points)]
    # The components in the model's order; a left-out one has null points (no bar) and says "n/a".
    return _health_template.fill(health=[
        {"component": c, "order": order, "what": what, "value": value, "value_text": text}
        for what, values, texts in (("Points", points, list(b["points_text"])),
                                    ("Weight", _floats(b["weight"]), [shown(w, "count") for w in b["weight"]]))
        for order, (c, value, text) in enumerate(zip(components, values, texts))])


def health_html(review: PartnerReview) -> str:
    b = review.breakdown
    cols = [Col("component", "Component"), Col("weight", "Weight", "int"), Col("inputs", "Inputs"),
            Col("score_text", "Score"), Col("points_text", "Points")]
    r = review.row
    missing = (f"<p>Missing components (left out, other weights scaled up): {escape_html(r['missing_components'])}</p>"
               if r["missing_components"] else "")
    return (f"<h2>Health score breakdown</h2><p>Health score <b>{escape_html(shown(r['health_score'], 'score'))}"
            f"</b> — {escape_html(r['health_band'])}</p>{missing}" + table_html(b, cols))


def coaching_html(review: PartnerReview) -> str:
    cols = [Col("priority", "#", "int"), Col("area", "Area"), Col("finding", "Finding"), Col("action", "Action"),
            Col("owner", "Owner"), Col("due", "Due", "date")]
    insights = "".join(f"<li>{escape_html(i.text)} → {escape_html(i.action)} (owner {escape_html(i.owner)})</li>"
                       for i in review.insights)
    return ("<h2>Coaching plan and action items</h2>" + table_html(review.coaching, cols)
            + f"<h3>All insights</h3><ul>{insights}</ul>")


def certifications_html(review: PartnerReview) -> str:
    certs = review.slice.certifications
    cols = [Col("certification", "Certification"), Col("level", "Level"), Col("expiry_date", "Expires", "date"),
            Col("expiring_soon", "Within 90 days", "bool")]
    return "<h3>Active certifications</h3>" + (table_html(certs, cols) if not certs.empty else
                                              "<p>No active certification.</p>")


def notes_html(review: PartnerReview) -> str:
    return "<h2>Data notes</h2><ul>" + "".join(f"<li>{escape_html(n)}</li>" for n in review.notes) + "</ul>"


def slide_list() -> list[str]:
    """The deck's slide titles (the HTML follows the same order)."""
    return list(SLIDE_TITLES)


def portfolio_html(portfolio: pd.DataFrame, quarter) -> str:
    from .xlsx import PORTFOLIO_COLUMNS  # the workbook's columns (openpyxl): a deck's kernel never imports them

    counts = portfolio["health_band"].value_counts() if not portfolio.empty else pd.Series(dtype=int)
    cards = kpi_cards([(band, figures.count(counts.get(band, 0)), None)
                       for band in ("Critical", "At Risk", "Good", "Excellent", "No data")])
    return (f"<h1>Partner portfolio — {escape_html(str(quarter))}</h1><p>{figures.count(len(portfolio))} active partners, "
            "worst health score first.</p>" + cards + table_html(portfolio, PORTFOLIO_COLUMNS))


def portfolio_chart(portfolio: pd.DataFrame) -> alt.Chart:
    data = pd.DataFrame({"band": list(portfolio["health_band"]), "tier": list(portfolio["tier"])})
    order = ["Critical", "At Risk", "Good", "Excellent", "No data"]
    return (alt.Chart(data, title="Partners by health band and tier").mark_bar()
            .encode(x=alt.X("band:N", sort=order, title=None), y=alt.Y("count():Q", title="Partners"),
                    color=alt.Color("tier:N", title="Tier"), tooltip=["band", "tier", "count()"])
            .properties(width=420, height=220))


def headline(review: PartnerReview) -> Headline:
    """The deck's headline for its manifest, e-mail and catalogue: the health score and band first."""

    r = review.row
    return Headline(r["partner_id"], r["name"], str(review.quarter), {
        "Health score": figures.Figure(r["health_score"], figures.SCORE),
        "Revenue": figures.Figure(r["revenue"], figures.MONEY),
        "Attainment": figures.Figure(r["revenue_attainment_pct"], figures.PERCENT)},
        notes={"Health score": str(r["health_band"])})


def portfolio_headline(book: pd.DataFrame, quarter) -> Headline:
    """The portfolio's headline: partners reviewed, and how many are critical or at risk."""

    bands = book["health_band"].value_counts() if not book.empty else pd.Series(dtype=int)
    return Headline("", "Partner portfolio", str(quarter), {
        "Partners": figures.Figure(len(book), figures.COUNT),
        "Critical": figures.Figure(int(bands.get("Critical", 0)), figures.COUNT),
        "At Risk": figures.Figure(int(bands.get("At Risk", 0)), figures.COUNT)})
