"""The QBR deck: one PPTX per partner per quarter, built from a :class:`PartnerReview`.

Slides (:data:`SLIDE_TITLES`): title · executive summary · revenue · pipeline · deal
registration funnel · engagement · MDF · customer experience · tier benchmarks (the table, then
the partner-vs-tier chart) · health score breakdown · coaching plan · data notes. Every chart is
a native PowerPoint chart; every slide's speaker notes say how its numbers are defined.

Text is laid out to fit (:mod:`reportlib.render.fit`): tables shrink to a readable size and
continue on a "(continued)" slide when even that is too long. A missing figure is a gap in its
chart, never a 0, and its category label and the notes say "n/a".
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Sequence

from ..render.pptx import STATUS_FILLS, Box, DeckWriter, Layout
from .data import STAGES
from .review import PartnerReview, figure_rows, point_label, records, shown

__all__ = ["SLIDE_TITLES", "build_deck", "write_deck"]

SLIDE_TITLES = (
    "Quarterly Business Review", "Executive summary", "Revenue", "Pipeline", "Deal registration funnel",
    "Engagement", "Market development funds (MDF)", "Customer experience", "Tier benchmarks",
    "Tier benchmarks: partner vs tier median", "Health score breakdown", "Coaching plan and action items", "Data notes",
)

_KPI_FILL = STATUS_FILLS


def _kpi_rows(review: PartnerReview, section: str) -> tuple[list[list[str]], list[list]]:
    """A section's figure rows, with the status fill of the figures that have a target."""
    rows, fills = [], []
    for r in figure_rows(review, section):
        rows.append([r["label"], r["value_text"], r["target"], r["status_text"]])
        fill = _KPI_FILL[r["status"]] if r["status"] else None
        fills.append([None, fill, None, fill])
    return rows, fills


def _chart_notes(categories: Sequence[str], series: dict[str, Sequence[Any]], unit: str) -> str:
    """A chart's values in words for the notes (screen readers and presenters): "n/a" where a point is missing."""
    return " ".join(f"{name}: " + ", ".join(f"{c} {shown(v, unit)}" for c, v in zip(categories, values)) + "."
                    for name, values in series.items())


def build_deck(review: PartnerReview, deck_type: type[Layout] = DeckWriter) -> Layout:
    """Every slide of the spec for one partner.

    ``deck_type`` draws it: :class:`DeckWriter` (the default) writes PresentationML directly,
    :class:`Deck` through python-pptx's object model; both make the same slides, charts and notes.
    """
    r, q = review.row, review.quarter
    name = r["name"]
    deck = deck_type(footer=f"{name} · QBR {q} · confidential")
    score_text = f"{shown(r['health_score'], 'score')} — {r['health_band']}" if r["health_score"] is not None \
        else "n/a — No data"

    deck.title_slide(
        f"Quarterly Business Review — {name}",
        f"{q} ({q.start.isoformat()} to {q.last_day.isoformat()}) · {r['tier']} partner, {r['segment']} segment, "
        f"{r['region']}\nPartner manager {r['partner_manager']} · account manager {r['account_manager']}",
        notes=f"QBR of partner {r['partner_id']} for {q}. Prepared {date.today().isoformat()} by reportlib from the "
              "partner data; every figure is defined in the notes of its slide.")

    # Executive summary
    s = deck.slide("Executive summary", notes=(
        f"Health score {score_text}: the weighted model of the health score breakdown slide, 0–100. Bands: "
        "85–100 Excellent, 70–84.9 Good, 55–69.9 At Risk, below 55 Critical. Insights are rule-based: the KPIs "
        "furthest off target, the biggest change since last quarter and the rank in the tier."))
    box = deck.body
    deck.text(s, Box(box.left, box.top, box.width, 700000), f"Health score {score_text}", size=32, min_size=20,
              bold=True)
    top = [i.text for i in review.insights[:3]]
    deck.bullets(s, Box(box.left, box.top + 800000, box.width, 2600000), top, size=16, min_size=12)
    deck.text(s, Box(box.left, box.top + 3500000, box.width, box.height - 3500000),
              f"Action required ({r['health_band']}): {r['health_action']}", size=16, min_size=12, bold=True)

    # Revenue
    s = deck.slide("Revenue", subtitle="Won deals by close date; target and attainment for the quarter", notes=(
        "Revenue: the amounts of deals won with a close date in the quarter. Previous: the quarter before. YTD: "
        f"1 January {q.year} to the quarter's end. Growth: (revenue − previous) / previous; n/a when previous is 0. "
        "Attainment: revenue / target. The chart shows the last eight quarters' revenue against target."))
    rows, fills = _kpi_rows(review, "Revenue")
    deck.paged_table(s, deck.left_half(), ["Figure", "Value", "Target", "Status"], rows, widths=[3, 2.2, 1.6, 1.6],
                     fills=fills, title="Revenue")
    trend = review.slice.revenue_trend
    revenue_series = {"Revenue": list(trend["revenue"]), "Target": list(trend["revenue_target"])}
    deck.chart(s, deck.right_half(), "line", list(trend["quarter"]), revenue_series,
               title="Revenue vs target, last 8 quarters", number_format="#,##0")
    deck.add_notes(s, "\n\nChart (a gap where a quarter has no target): "
                   + _chart_notes(list(trend["quarter"]), revenue_series, "money"))

    # Pipeline
    pipeline_notes = (
        "Pipeline: open deals created on or before the quarter's end (count and value). Coverage: pipeline value / "
        "target. Deal size: value / count. Velocity: mean days from creation to close of deals won in the last four "
        "quarters. Conversion: won / (won + lost) of deals closed in the quarter. Win rate by stage: of the deals "
        "closed in the last four quarters that reached a stage, the share won.")
    s = deck.slide("Pipeline", subtitle="Open deals created on or before the quarter's end", notes=pipeline_notes)
    rows, fills = _kpi_rows(review, "Pipeline")
    left = deck.left_half()
    s, bottom = deck.paged_table(s, left, ["Figure", "Value", "Target", "Status"], rows, widths=[3, 2.2, 1.6, 1.6],
                                 fills=fills, title="Pipeline")
    wins = review.slice.win_rate_by_stage
    win_rows = [[w["stage"], shown(w["reached"], "count"), shown(w["won"], "count"), shown(w["win_rate_pct"], "pct")]
                for w in records(wins)] \
        or [["no deal closed in the last four quarters", "", "", ""]]
    deck.paged_table(s, deck.below(left, bottom), ["Stage reached", "Deals", "Won", "Win rate"], win_rows,
                     widths=[3, 1.5, 1.5, 1.8], size=11, title="Pipeline", notes=pipeline_notes)
    by_stage = review.slice.pipeline_by_stage
    stage_values = dict(zip(by_stage["stage"], by_stage["value"])) if not by_stage.empty else {}
    values = [stage_values.get(st, 0) for st in STAGES]
    deck.chart(s, deck.right_half(), "column", list(STAGES), {"Pipeline value": values},
               title="Open pipeline by stage", number_format="#,##0")

    # Registration funnel
    s = deck.slide("Deal registration funnel", subtitle=f"Registrations submitted in {q}", notes=(
        "Submitted: registrations submitted in the quarter. Approved: of those, the ones approved (status approved, "
        "won or lost). Won: of those, the ones won. Approval rate = approved / submitted; registration win rate = "
        "won / submitted; time to approval: mean hours from submission to decision of the approved ones."))
    deck.chart(s, deck.left_half(), "bar", ["Won", "Approved", "Submitted"],
               {"Registrations": [r["registrations_won"], r["registrations_approved"], r["registrations_submitted"]]},
               title="Registration funnel", number_format="0")
    rows, fills = _kpi_rows(review, "Deal registration funnel")
    deck.paged_table(s, deck.right_half(), ["Figure", "Value", "Target", "Status"], rows, widths=[3, 1.8, 1.6, 1.6],
                     fills=fills, title="Deal registration funnel")

    # Engagement
    portal = review.slice.portal_trend
    logins = list(portal["logins_per_month"])
    engagement_notes = (
        "Training: courses completed by the quarter's end / courses assigned on or before it. Certifications: "
        "issued on or before the quarter's last day and expiring after it; 'expiring' means within 90 days. Portal: "
        "mean monthly logins in the quarter (target 4+); portal activity = min(logins / 4, 1). Events and marketing "
        "collaborations: counts in the quarter. A quarter with no portal activity recorded is n/a: a gap in the "
        "chart, not 0 logins.\n\nChart: " + _chart_notes(list(portal["quarter"]), {"Logins per month": logins}, "logins"))
    s = deck.slide("Engagement", subtitle="Training, certifications, portal, events and marketing",
                   notes=engagement_notes)
    rows, fills = _kpi_rows(review, "Engagement")
    left = deck.left_half()
    chart_slide = s
    s, bottom = deck.paged_table(s, left, ["Figure", "Value", "Target", "Status"], rows, widths=[3, 1.8, 1.6, 1.6],
                                 fills=fills, size=11, title="Engagement", notes=engagement_notes)
    certs = review.slice.certifications
    cert_rows = [[c["certification"], c["level"], c["expiry_date"].date().isoformat() if hasattr(c["expiry_date"], "date")
                  else str(c["expiry_date"]), "yes" if c["expiring_soon"] else ""] for c in records(certs)] \
        or [["no active certification", "", "", ""]]
    deck.chart(chart_slide, deck.right_half(), "line", [point_label(q, v) for q, v in zip(portal["quarter"], logins)],
               {"Logins per month": logins, "Target": [4] * len(portal)},
               title="Portal logins per month, last 8 quarters", number_format="0.0")
    deck.paged_table(s, deck.below(left, bottom), ["Certification", "Level", "Expires", "Within 90 days"], cert_rows,
                     widths=[3, 1.6, 1.6, 1.4], size=10, title="Engagement", notes=engagement_notes)

    # MDF
    s = deck.slide("Market development funds (MDF)", subtitle=f"Allocation and requests of {q}", notes=(
        "Allocation: MDF allocated for the quarter. Spent: spent on the quarter's requests. Utilization = spent / "
        "allocated (target 70–85 %). Requests: submitted in the quarter; approval rate = approved / submitted. ROI = "
        "attributed revenue / spent (target 3:1). Days to first spend: earliest first spend of the quarter's "
        "requests − the quarter's start."))
    rows, fills = _kpi_rows(review, "Market development funds (MDF)")
    deck.paged_table(s, deck.left_half(), ["Figure", "Value", "Target", "Status"], rows, widths=[3, 1.8, 1.6, 1.6],
                     fills=fills, title="Market development funds (MDF)")
    mdf = {"MDF": [r["mdf_allocated"], r["mdf_spent"]]}
    deck.chart(s, deck.right_half(), "column", [point_label(c, v) for c, v in zip(["Allocated", "Spent"], mdf["MDF"])],
               mdf, title="MDF allocated vs spent")
    deck.add_notes(s, "\n\nChart: " + _chart_notes(["Allocated", "Spent"], mdf, "money"))

    # Customer experience
    s = deck.slide("Customer experience", subtitle="Satisfaction, implementation, support and retention", notes=(
        "CSAT: mean of the quarter's survey scores (1–5, target 4.5). NPS: % promoters (9–10) − % detractors (0–6). "
        "Implementation: mean days from contract to go-live of customers who went live in the quarter. Tickets per "
        "customer: tickets opened in the quarter / customers under contract in it. FCR and escalation: shares of "
        "those tickets. Churn: customers lost in the last four quarters / customers at the start of that window."))
    rows, fills = _kpi_rows(review, "Customer experience")
    deck.paged_table(s, deck.body, ["Figure", "Value", "Target", "Status"], rows, widths=[4, 2, 2, 2], fills=fills,
                     title="Customer experience")

    # Tier benchmarks
    kpis = list(review.kpi_by_key.values())
    tier_subtitle = f"Against the seed targets and the active {r['tier']} partners of {q}"
    tier_notes = ("Status: on target, watch or off target against the seed target. Tier: 25th percentile · "
                  "median · 75th percentile of the active partners of the same tier with a value. Rank: "
                  "1 is the best in the tier.")
    s = deck.slide("Tier benchmarks", subtitle=tier_subtitle, notes=tier_notes)
    deck.paged_table(s, deck.body, ["KPI", "Value", "Target", "Tier P25 · median · P75", "Rank"],
                     [[x["kpi"], x["value_text"], x["target"], x["tier_text"], x["rank_text"]] for x in kpis],
                     widths=[3, 1.6, 1.6, 3.6, 1.2], size=12,
                     fills=[[None, _KPI_FILL[x["status"]], _KPI_FILL[x["status"]], None, None] for x in kpis],
                     title="Tier benchmarks", notes=tier_notes, subtitle=tier_subtitle)
    pct = review.pct_benchmarks
    s = deck.slide("Tier benchmarks: partner vs tier median", subtitle=tier_subtitle, notes=(
        "The percentage KPIs with a value for the partner and a tier median; the others are n/a and left out. "
        "Values are on the tier benchmarks slide."))
    deck.chart(s, deck.body, "bar", [x["kpi"] for x in pct],
               {"Partner": [x["value"] for x in pct], "Tier median": [x["tier_median"] for x in pct]},
               title="Partner vs tier median (%)", number_format="0.0")

    # Health breakdown
    b = review.breakdown
    s = deck.slide("Health score breakdown", subtitle=f"Health score {score_text}", notes=(
        "health = 30·c(attainment/100) + 25·(c(coverage/200) + c(conversion/50))/2 + 20·(c(training/100) + "
        "c(portal/100))/2 + 15·c(CSAT/5) + 10·(c(registration win rate/40) + c(1 − velocity/reference cycle))/2, "
        f"with c clipping to [0, 1] and a reference cycle of {review.slice.reference_cycle_days} days. A component "
        "with no data is left out and the other weights are scaled up to 100. "
        + (f"Missing here: {r['missing_components']} (points n/a: no bar in the chart, not 0)."
           if r["missing_components"] else "No component is missing.")))
    deck.paged_table(s, deck.left_half(), ["Component", "Weight", "Inputs", "Score", "Points"],
                     [[x["component"], shown(x["weight"], "count"), x["inputs"], x["score_text"], x["points_text"]]
                      for x in records(b)], widths=[2.2, 1, 4, 1.2, 1.2], size=11, title="Health score breakdown")
    points = list(b["points"])
    deck.chart(s, deck.right_half(), "bar", [point_label(c, p) for c, p in zip(b["component"], points)],
               {"Points": points, "Weight": list(b["weight"])},
               title="Points earned vs weight", number_format="0.0")
    deck.add_notes(s, "\n\nChart: " + _chart_notes(list(b["component"]), {"Points": points}, "score"))

    # Coaching plan
    c = review.coaching
    coaching_notes = (
        "One action for the health band, then one per off-target KPI (due 30 days after the quarter's end) and per "
        "watch KPI (due in 60 days), at most six. Each finding quotes the figure from the earlier slides.")
    s = deck.slide("Coaching plan and action items", subtitle=f"Owner: partner manager {r['partner_manager']}",
                   notes=coaching_notes)
    deck.paged_table(s, deck.body, ["#", "Area", "Finding", "Action", "Owner", "Due"],
                     [[str(x["priority"]), x["area"], x["finding"], x["action"], x["owner"], x["due"].isoformat()]
                      for x in records(c)],
                     widths=[0.4, 2, 2.8, 5, 1.6, 1.2], size=12, title="Coaching plan and action items",
                     notes=coaching_notes, subtitle=f"Owner: partner manager {r['partner_manager']}")
    insights = [f"{i.text} → {i.action}" for i in review.insights]
    if len(insights) > 3:
        deck.add_notes(s, "\n\nAll insights:\n" + "\n".join(insights))

    # Data notes
    deck.bullets_slide("Data notes", review.notes, notes=(
        "Inputs that were missing or older than the quarter, and the figures they affect. Missing health "
        "components are left out of the score and the other weights scaled up."))
    return deck


def write_deck(review: PartnerReview, path: str | Path) -> Path:
    """Build and save the deck atomically."""
    return build_deck(review).save(path)
