"""One partner's review: KPIs against targets and tier, insights, coaching plan, data notes.

Everything here is deterministic and computed from a :class:`~reportlib.qbr.metrics.PartnerSlice`;
every sentence quotes a figure formatted by :func:`shown`, the same text the deck and the HTML
show, so a reader can find it on a slide. Nothing here touches a file format.
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, NamedTuple

import pandas as pd
from sqlalchemy.engine import Connection

from ..periods import Quarter
from ..prepared import load_prepared
from ..render import figures
from . import health, metrics as m
from .data import STAGES
from .slices import PartnerSlice, QuarterMetrics, partner_slice, quarter_metrics, records

__all__ = ["FIGURES", "KPIS", "Kpi", "LABELS", "Label", "PartnerReview", "coaching_plan", "data_notes", "figure_rows",
           "health_breakdown", "insights",
           "kpi_records", "kpi_table", "partner_review", "point_label", "portfolio", "records", "shown", "UNITS"]


# How each unit of a QBR figure reads: a kind of :mod:`reportlib.render.figures` (half up on the
# exact decimal, like every figure of every output).
UNITS: dict[str, figures.Kind] = {
    "money": figures.MONEY, "pct": figures.PERCENT, "days": figures.DAYS, "score": figures.SCORE,
    "count": figures.COUNT, "hours": figures.KINDS["number"].at(1, suffix=" h"),
    "csat": figures.KINDS["number"].at(2), "ratio": figures.KINDS["number"].at(1, suffix=":1"),
    "nps": figures.KINDS["number"].at(1, signed=True), "logins": figures.KINDS["number"].at(1, suffix=" / month"),
}


def shown(value: Any, unit: str) -> str:
    """A figure as every output shows it: ``money`` 1,234.00 · ``pct`` 64.1 % · ``days`` 130.8 days ·
    ``hours`` 36.6 h · ``score`` 70.6 · ``csat`` 4.25 · ``count`` 12 · ``ratio`` 4.4:1 · ``nps`` +12.5 ·
    ``logins`` 3.0 / month; "n/a" for no data. Rounded half up (:mod:`reportlib.render.figures`)."""
    kind = UNITS.get(unit)
    if kind is None:
        return figures.NA if figures.is_missing(value) else str(value)
    return kind.text(value)


def point_label(category: Any, value: Any) -> str:
    """A chart category as labelled: with " (n/a)" where its point is missing (a gap in the chart, not 0)."""
    missing = value is None or value is pd.NA or (isinstance(value, (float, Decimal)) and value != value)
    return f"{category} (n/a)" if missing else str(category)


class Label(NamedTuple):
    """How a reader sees a figure: its name, its unit (:data:`UNITS`) and, within its section of the
    deck and the page, where the section says the rest, a shorter name."""

    name: str
    unit: str
    short: str = ""

    @property
    def in_section(self) -> str:
        return self.short or self.name


# Every figure a reader sees, by its metric column (the name of the function that computes it,
# :mod:`reportlib.qbr.metrics`): the one place the deck, the HTML page and the workbooks take
# their names and units from.
LABELS: dict[str, Label] = {
    "health_score": Label("Health score", "score"),
    "revenue": Label("Revenue this quarter", "money"),
    "previous_revenue": Label("Revenue last quarter", "money", "Previous quarter"),
    "revenue_target": Label("Revenue target", "money", "Target"),
    "revenue_attainment_pct": Label("Revenue attainment", "pct", "Attainment"),
    "ytd_revenue": Label("Revenue year to date", "money", "Year to date"),
    "revenue_growth_pct": Label("Revenue growth vs last quarter", "pct", "Growth vs last quarter"),
    "pipeline_count": Label("Open deals", "count"),
    "pipeline_value": Label("Pipeline value", "money"),
    "pipeline_coverage_pct": Label("Pipeline coverage", "pct", "Coverage"),
    "average_deal_size": Label("Average deal size", "money"),
    "sales_velocity_days": Label("Sales velocity", "days"),
    "conversion_rate_pct": Label("Conversion rate", "pct"),
    "registrations_submitted": Label("Registrations submitted", "count", "Submitted"),
    "registrations_approved": Label("Registrations approved", "count", "Approved"),
    "registrations_won": Label("Registrations won", "count", "Won"),
    "approval_rate_pct": Label("Registration approval rate", "pct", "Approval rate"),
    "registration_win_rate_pct": Label("Registration win rate", "pct"),
    "time_to_approval_hours": Label("Time to approval", "hours"),
    "training_rate_pct": Label("Training completion", "pct"),
    "active_certifications": Label("Active certifications", "count"),
    "expiring_certifications": Label("Expiring within 90 days", "count"),
    "logins_per_month": Label("Portal logins", "logins"),
    "portal_activity_pct": Label("Portal activity", "pct"),
    "events_attended": Label("Events attended", "count"),
    "marketing_collaborations": Label("Marketing collaborations", "count"),
    "mdf_allocated": Label("MDF allocated", "money", "Allocated"),
    "mdf_spent": Label("MDF spent", "money", "Spent"),
    "mdf_utilization_pct": Label("MDF utilization", "pct", "Utilization"),
    "mdf_requests": Label("MDF requests", "count", "Requests"),
    "mdf_approval_pct": Label("MDF request approval rate", "pct", "Request approval rate"),
    "mdf_roi": Label("MDF ROI", "ratio", "ROI"),
    "mdf_days_to_first_spend": Label("Days to first MDF spend", "days", "Days to first spend"),
    "csat": Label("CSAT", "csat"),
    "nps": Label("NPS", "nps"),
    "survey_count": Label("Surveys", "count"),
    "implementation_days": Label("Implementation time", "days"),
    "tickets": Label("Tickets", "count"),
    "tickets_per_customer": Label("Tickets per customer", "csat"),
    "fcr_pct": Label("First contact resolution", "pct"),
    "escalation_pct": Label("Escalation rate", "pct"),
    "churn_pct": Label("Customer churn (4 quarters)", "pct", "Churn (4 quarters)"),
    "cycle_ratio": Label("Cycle ratio", "score"),
}


@dataclass(frozen=True)
class Kpi:
    """A KPI with its seed target: ``rule(value)`` is ``on``, ``watch`` or ``off`` target; its name
    and unit are its metric's (:data:`LABELS`)."""

    key: str
    target: str

    rule: Callable[[Decimal], str]
    higher_is_better: bool = True
    action: str = ""
    edges: tuple[float, ...] = ()  # the target's bounds, to measure how far off a value is

    @property
    def label(self) -> str:
        return LABELS[self.key].name

    @property
    def unit(self) -> str:
        return LABELS[self.key].unit


def _at_least(on: float, watch: float) -> Callable[[Decimal], str]:
    return lambda v: "on" if v >= Decimal(str(on)) else ("watch" if v >= Decimal(str(watch)) else "off")


def _below(on: float, watch: float) -> Callable[[Decimal], str]:
    return lambda v: "on" if v < Decimal(str(on)) else ("watch" if v < Decimal(str(watch)) else "off")


def _at_most(on: float, watch: float) -> Callable[[Decimal], str]:
    return lambda v: "on" if v <= Decimal(str(on)) else ("watch" if v <= Decimal(str(watch)) else "off")


def _between(low: float, high: float, watch_low: float, watch_high: float) -> Callable[[Decimal], str]:
    def rule(v: Decimal) -> str:
        if Decimal(str(low)) <= v <= Decimal(str(high)):
            return "on"
        return "watch" if Decimal(str(watch_low)) <= v <= Decimal(str(watch_high)) else "off"
    return rule


KPIS: tuple[Kpi, ...] = (
    Kpi("revenue_attainment_pct", "≥ 100 %", _at_least(100, 85),
        edges=(100,),
        action="Review the deals slipping out of the quarter and agree a close plan for the largest three."),
    Kpi("revenue_growth_pct", "≥ 5 %", _at_least(5, 0),
        edges=(5,),
        action="Identify the accounts behind the decline and plan a joint campaign for them."),
    Kpi("pipeline_coverage_pct", "150–300 %", _between(150, 300, 100, 400),
        edges=(150, 300),
        action="Run a joint pipeline-generation session and agree new qualified opportunities."),
    Kpi("conversion_rate_pct", "≥ 30 %", _at_least(30, 20),
        edges=(30,),
        action="Review lost deals with the partner and coach on qualification and proposal quality."),
    Kpi("sales_velocity_days", "≤ 90 days", _at_most(90, 180), False,
        edges=(90,),
        action="Offer deal desk support for the longest-running opportunities."),
    Kpi("approval_rate_pct", "≥ 75 %", _at_least(75, 60),
        edges=(75,),
        action="Walk the partner through the registration rules behind the rejections."),
    Kpi("time_to_approval_hours", "< 48 h", _below(48, 72), False,
        edges=(48,),
        action="Escalate the registration backlog with the channel operations team."),
    Kpi("registration_win_rate_pct", "≥ 40 %", _at_least(40, 25),
        edges=(40,),
        action="Co-sell the approved registrations: assign a sales engineer to the top ones."),
    Kpi("training_rate_pct", "≥ 80 %", _at_least(80, 60),
        edges=(80,),
        action="Agree completion dates for the open courses with the partner's enablement lead."),
    Kpi("logins_per_month", "4+ a month", _at_least(4, 2),
        edges=(4,),
        action="Show the partner the portal's deal registration and content features in a short session."),
    Kpi("events_attended", "2+ a quarter", _at_least(2, 1),
        edges=(2,),
        action="Invite the partner to the next two webinars or events on the calendar."),
    Kpi("mdf_utilization_pct", "70–85 %", _between(70, 85, 50, 100),
        edges=(70, 85),
        action="Plan the remaining MDF with the partner before the allocation lapses."),
    Kpi("mdf_roi", "≥ 3:1", _at_least(3, 2),
        edges=(3,),
        action="Shift MDF to the campaigns with the best attributed revenue."),
    Kpi("csat", "≥ 4.5", _at_least(4.5, 4.0),
        edges=(4.5,),
        action="Review the low survey scores with the partner and agree follow-up calls."),
    Kpi("nps", "≥ +30", _at_least(30, 0),
        edges=(30,),
        action="Contact the detractors with the partner and close the loop on their issues."),
    Kpi("fcr_pct", "≥ 70 %", _at_least(70, 60),
        edges=(70,),
        action="Share the support knowledge base and run a troubleshooting workshop."),
    Kpi("escalation_pct", "< 10 %", _below(10, 15), False,
        edges=(10,),
        action="Review the escalated tickets and train the partner's support team on the top causes."),
    Kpi("churn_pct", "< 5 %", _below(5, 8), False,
        edges=(5,),
        action="Run account reviews for the customers at risk of churning."),
)
KPI_BY_KEY = {k.key: k for k in KPIS}
STATUS_TEXT = {"on": "on target", "watch": "watch", "off": "off target", "none": "no data"}


def _value(row: dict, key: str) -> Decimal | None:
    v = row.get(key)
    return None if v is None or (isinstance(v, float) and v != v) else Decimal(v)


def kpi_table(s: PartnerSlice) -> pd.DataFrame:
    """Each KPI: value, seed target and status, tier quartiles, rank in tier, last quarter."""
    return pd.DataFrame(kpi_records(s))


def kpi_records(s: PartnerSlice) -> list[dict[str, Any]]:
    """The rows of :func:`kpi_table` as dicts (what the insights and the coaching plan read)."""
    rows = []
    for kpi in KPIS:
        value = _value(s.row, kpi.key)
        status = "none" if value is None else kpi.rule(value)
        b = s.benchmark_rows.get(kpi.key)
        prev = _value(s.previous, kpi.key)
        rank, peers = _rank(s, kpi.key, kpi.higher_is_better)
        rows.append({
            "key": kpi.key, "kpi": kpi.label, "unit": kpi.unit, "value": value, "value_text": shown(value, kpi.unit),
            "target": kpi.target, "status": status, "status_text": STATUS_TEXT[status],
            "tier_p25": None if b is None else b["p25"], "tier_median": None if b is None else b["median"],
            "tier_p75": None if b is None else b["p75"],
            "tier_text": "n/a" if b is None or b["median"] is None else
            f"{shown(b['p25'], kpi.unit)} · {shown(b['median'], kpi.unit)} · {shown(b['p75'], kpi.unit)}",
            "rank": rank, "peers": peers, "rank_text": f"{rank} of {peers}" if rank else "n/a",
            "previous": prev, "previous_text": shown(prev, kpi.unit),
        })
    return rows


def _rank(s: PartnerSlice, key: str, higher_is_better: bool) -> tuple[int | None, int]:
    """1 = best among the active partners of the tier with a value (ties share the better rank)."""
    values = s.sorted_tier_values(key)
    mine = _value(s.row, key)
    if mine is None or s.row.get("status") != "active":
        return None, len(values)
    better = len(values) - bisect_right(values, mine) if higher_is_better else bisect_left(values, mine)
    return better + 1, len(values)


# The figures of each section of the deck and the HTML: section title -> metric columns (see LABELS).
FIGURES: dict[str, list[str]] = {
    "Revenue": ["revenue", "previous_revenue", "revenue_target", "revenue_attainment_pct", "ytd_revenue",
                "revenue_growth_pct"],
    "Pipeline": ["pipeline_count", "pipeline_value", "pipeline_coverage_pct", "average_deal_size",
                 "sales_velocity_days", "conversion_rate_pct"],
    "Deal registration funnel": ["registrations_submitted", "registrations_approved", "registrations_won",
                                 "approval_rate_pct", "registration_win_rate_pct", "time_to_approval_hours"],
    "Engagement": ["training_rate_pct", "active_certifications", "expiring_certifications", "logins_per_month",
                   "portal_activity_pct", "events_attended", "marketing_collaborations"],
    "Market development funds (MDF)": ["mdf_allocated", "mdf_spent", "mdf_utilization_pct", "mdf_requests",
                                       "mdf_approval_pct", "mdf_roi", "mdf_days_to_first_spend"],
    "Customer experience": ["csat", "nps", "survey_count", "implementation_days", "tickets", "tickets_per_customer",
                            "fcr_pct", "escalation_pct", "churn_pct"],
}


def figure_rows(review: "PartnerReview", section: str) -> list[dict[str, Any]]:
    """The figures of a section as shown, each with its seed target and status when it has one."""
    kpis = review.kpi_by_key
    rows = []
    for key in FIGURES[section]:
        k, label = kpis.get(key), LABELS[key]
        rows.append({"label": label.in_section, "value_text": shown(review.row.get(key), label.unit),
                     "target": "" if k is None else k["target"], "status": None if k is None else k["status"],
                     "status_text": "" if k is None else k["status_text"]})
    return rows


def _term_name(column: str) -> str:
    """A health term's input as named in a sentence: ``attainment``, ``CSAT``."""
    name = LABELS[column].in_section
    return name if name[:2].isupper() else name[:1].lower() + name[1:]


def health_breakdown(s: PartnerSlice) -> pd.DataFrame:
    """Each health component: weight, its inputs as shown, normalised score and points."""
    row = s.row
    records = []
    for comp in health.COMPONENTS:
        inputs = []
        for column, desc, _term in comp.terms:
            v = _value(row, column)
            if column == "cycle_ratio":
                text = "n/a" if v is None else (f"{figures.number(v, 2)} ({shown(row.get('sales_velocity_days'), 'days')} / "
                                                f"{figures.days(s.reference_cycle_days, 0)})")
            else:
                text = shown(v, LABELS[column].unit)
            inputs.append(f"{_term_name(column)}: {text}")
        score = row.get(f"{comp.key}_score")
        points = row.get(f"{comp.key}_points")
        records.append({"component": comp.label, "weight": comp.weight, "inputs": "; ".join(inputs),
                        "score": score, "score_text": "missing" if score is None else figures.percent(score * 100),
                        "points": points, "points_text": "left out" if points is None else shown(points, "score")})
    return pd.DataFrame(records)


@dataclass(frozen=True)
class Insight:
    """A finding, the action it calls for and who owns it."""

    kind: str
    text: str
    action: str
    owner: str


def insights(s: PartnerSlice, kpis: pd.DataFrame) -> list[Insight]:
    """Rule-based insights, most important first (deterministic: ties break on the KPI order).

    Rules: the health score and its change; the KPIs furthest off target; the biggest change
    since last quarter; the rank in the tier; the strongest component.
    """
    return _insights(s, records(kpis), kpis.attrs.get("health_rank"))


def _insights(s: PartnerSlice, kpis: list[dict[str, Any]], health_rank: str | None) -> list[Insight]:
    row, owner = s.row, s.row["partner_manager"]
    out: list[Insight] = []
    score, prev = row.get("health_score"), s.previous.get("health_score")
    if score is not None:
        text = f"Health score {shown(score, 'score')} ({row['health_band']})"
        if prev is not None and prev == prev:
            delta = health.round_score(score) - health.round_score(prev)
            text += (f", {'up' if delta >= 0 else 'down'} {figures.score(abs(delta))} points from "
                     f"{shown(prev, 'score')} last quarter.")
        else:
            text += "; no score last quarter."
        out.append(Insight("health", text, row["health_action"], owner))
    off = [r for r in kpis if r["status"] == "off"]
    for r in sorted(off, key=_gap, reverse=True)[:2]:  # stable: equal gaps keep the KPI order
        out.append(Insight("off-target", f"{r['kpi']} is {r['value_text']}, off its target of {r['target']}.",
                           KPI_BY_KEY[r["key"]].action, owner))
    change = _biggest_change(kpis)
    if change is not None:
        out.append(Insight(change.kind, change.text, change.action, owner))
    if health_rank:
        out.append(Insight("rank", health_rank,
                           "Share the tier comparison with the partner and agree where to close the gap.", owner))
    best = _strongest(row)
    if best:
        out.append(Insight("strength", best, "Recognise this strength in the review and use it as a reference.",
                           owner))
    return out


def _gap(r: dict[str, Any]) -> Decimal:
    """How far a KPI is from the nearest edge of its target, relative to that edge."""
    kpi, v = KPI_BY_KEY[r["key"]], r["value"]
    edges = [Decimal(str(x)) for x in kpi.edges]
    ref = min(edges, key=lambda e: abs(v - e))
    return abs(v - ref) / (abs(ref) or Decimal(1))


def _biggest_change(kpis: list[dict[str, Any]]) -> Insight | None:
    best, best_size = None, Decimal(0)
    for r in kpis:
        value, previous = r["value"], r["previous"]
        if value is None or previous is None or r["unit"] == "count":
            continue
        size = abs(value - previous) / (abs(previous) if previous else Decimal(1))
        if size > best_size:
            best, best_size = r, size
    if best is None or best_size == 0:
        return None
    kpi = KPI_BY_KEY[best["key"]]
    improved = (best["value"] > best["previous"]) == kpi.higher_is_better
    verb = "rose" if best["value"] > best["previous"] else "fell"
    text = (f"Biggest change since last quarter: {best['kpi']} {verb} from {best['previous_text']} to "
            f"{best['value_text']}.")
    action = ("Find out what drove the improvement and make it repeatable." if improved else kpi.action)
    return Insight("change", text, action, "")


def _strongest(row: dict) -> str | None:
    scored = [(row.get(f"{c.key}_score"), -i, c) for i, c in enumerate(health.COMPONENTS)
              if row.get(f"{c.key}_score") is not None]
    if not scored:
        return None
    score, _, comp = max(scored, key=lambda t: (t[0], t[1]))
    return (f"Strongest component: {comp.label} at {figures.percent(score * 100)} of its "
            f"{figures.count(comp.weight)} points.")


def coaching_plan(s: PartnerSlice, kpis: pd.DataFrame | list[dict[str, Any]]) -> pd.DataFrame:
    """Action items: the band's action, then one per off-target KPI, then per watch KPI (max 6).

    Due dates count from the review (the quarter's end): off-target items in 30 days, watch
    items in 60. ``kpis`` is the :func:`kpi_table` or its :func:`kpi_records`.
    """
    rows = records(kpis) if isinstance(kpis, pd.DataFrame) else kpis
    row, owner = s.row, s.row["partner_manager"]
    end = s.quarter.last_day
    items = [{"priority": 1, "area": "Health score", "finding": f"{shown(row.get('health_score'), 'score')} "
              f"({row['health_band']})", "action": row["health_action"], "owner": owner,
              "due": end + timedelta(days=30)}]
    for status, days in (("off", 30), ("watch", 60)):
        for r in rows:
            if len(items) >= 6:
                break
            if r["status"] != status:
                continue
            items.append({"priority": len(items) + 1, "area": r["kpi"],
                          "finding": f"{r['value_text']} vs target {r['target']} ({STATUS_TEXT[status]})",
                          "action": KPI_BY_KEY[r["key"]].action, "owner": owner, "due": end + timedelta(days=days)})
    return pd.DataFrame(items, columns=["priority", "area", "finding", "action", "owner", "due"])


def data_notes(s: PartnerSlice) -> list[str]:
    """Missing or stale inputs, in words, each naming the figure it affects."""
    row, q = s.row, s.quarter
    notes = []
    if row.get("missing_components"):
        notes.append(f"Health score computed without: {row['missing_components']}; the remaining weights were "
                     "scaled up to 100.")
    checks = [
        (row.get("revenue_target") is None, f"No revenue target for {q}: attainment and pipeline coverage are n/a."),
        (row.get("survey_count") == 0, f"No customer survey in {q}: CSAT and NPS are n/a."),
        (row.get("csat") is None and row.get("survey_count", 0) > 0, f"No CSAT answer in {q}'s surveys."),
        (row.get("registrations_submitted") == 0, f"No deal registration submitted in {q}: approval and win rates "
                                                  "are n/a."),
        (row.get("training_rate_pct") is None, "No training course assigned: training completion is n/a."),
        (row.get("logins_per_month") is None, f"No portal activity recorded in {q}: portal logins are n/a."),
        (row.get("sales_velocity_days") is None, "No deal won in the last four quarters: sales velocity is n/a."),
        (row.get("conversion_rate_pct") is None, f"No deal closed in {q}: conversion rate is n/a."),
        (row.get("mdf_allocated") is None, f"No MDF allocation for {q}: MDF utilization is n/a."),
        (row.get("tickets") == 0, f"No support ticket opened in {q}."),
    ]
    notes.extend(text for condition, text in checks if condition)
    for key, what in (("latest_survey", "survey"), ("latest_portal", "portal activity"), ("latest_deal", "deal")):
        latest = s.latest.get(key)
        if latest is not None and latest == latest and pd.Timestamp(latest).date() < q.start:
            notes.append(f"Stale input: the latest {what} is from {pd.Timestamp(latest).date().isoformat()}, "
                         f"before {q} began.")
    if row.get("status") != "active":
        notes.append("The partner is inactive: it has no deck in the quarterly batch.")
    return notes or ["All inputs present for the quarter."]


@dataclass
class PartnerReview:
    """Everything one partner's deck and HTML show, computed from the all-partner metrics."""

    slice: PartnerSlice
    kpis: pd.DataFrame
    breakdown: pd.DataFrame
    insights: list[Insight]
    coaching: pd.DataFrame
    notes: list[str]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def row(self) -> dict[str, Any]:
        return self.slice.row

    @property
    def quarter(self) -> Quarter:
        return self.slice.quarter

    @functools.cached_property
    def kpi_by_key(self) -> dict[str, dict[str, Any]]:
        """The rows of :attr:`kpis` by KPI key (the deck and the HTML look them up per section)."""
        return {r["key"]: r for r in records(self.kpis)}

    @functools.cached_property
    def pct_benchmarks(self) -> list[dict[str, Any]]:
        """The percentage KPIs with a value and a tier median (the partner-vs-tier chart's bars)."""
        return [r for r in self.kpi_by_key.values()
                if r["unit"] == "pct" and _present(r["value"]) and _present(r["tier_median"])]


def _present(value: Any) -> bool:
    return value is not None and value == value  # NaN (float or Decimal) is not equal to itself


def partner_review(source: Connection | QuarterMetrics, partner: str, quarter: Quarter | str | None = None,
                   reference_cycle_days: int = m.DEFAULT_REFERENCE_CYCLE_DAYS,
                   prepared: str | Path | None = None) -> PartnerReview:
    """The review of ``partner``.

    ``source`` is the all-partner :class:`QuarterMetrics`, or a connection: then the metrics
    come from ``prepared`` (the file a batch computed once for all its decks, see
    :mod:`reportlib.prepared`) when given, else from the database (all partners, one pass).
    """
    if prepared is not None and not isinstance(source, QuarterMetrics):
        if quarter is None:
            raise ValueError("partner_review needs the quarter with prepared inputs")
        source = load_prepared(prepared, family="qbr", expect={"quarter": str(quarter),
                                                                "reference_cycle_days": reference_cycle_days})
    if not isinstance(source, QuarterMetrics):
        if quarter is None:
            raise ValueError("partner_review needs the quarter when given a connection")
        source = quarter_metrics(source, quarter, reference_cycle_days)
    s = partner_slice(source, partner)
    rows = kpi_records(s)
    kpis = pd.DataFrame(rows)
    rank, peers = _rank(s, "health_score", True)
    if rank:
        median = s.benchmark_rows["health_score"]["median"]
        kpis.attrs["health_rank"] = (f"Ranks {rank} of {peers} active {s.row['tier']} partners on health score "
                                     f"(tier median {shown(median, 'score')}).")
    return PartnerReview(slice=s, kpis=kpis, breakdown=health_breakdown(s),
                         insights=_insights(s, rows, kpis.attrs.get("health_rank")),
                         coaching=coaching_plan(s, rows), notes=data_notes(s))


def portfolio(all_partners: QuarterMetrics) -> pd.DataFrame:
    """All active partners, worst health first (no score last): health, band, tier, attainment,
    coverage and the change in health since last quarter (points, on the shown scores).

    ``health_score`` and ``previous_health`` are the exact scores (a workbook shows them with a
    one-decimal format, the HTML with :func:`shown`: the same text); ``health_change`` is the
    difference of the shown scores, so it always equals what a reader subtracts.
    """
    cur = all_partners.metrics
    cur = cur[cur["status"] == "active"]
    prev = all_partners.previous.set_index("partner_id")["health_score"]
    rows = []
    for r in cur.to_dict("records"):
        before = prev.get(r["partner_id"])
        before = None if before is None or before != before else before
        now = r["health_score"]
        rows.append({"partner_id": r["partner_id"], "name": r["name"], "tier": r["tier"], "segment": r["segment"],
                     "region": r["region"], "partner_manager": r["partner_manager"],
                     "health_score": now, "health_band": r["health_band"],
                     "revenue_attainment_pct": r["revenue_attainment_pct"], "pipeline_coverage_pct": r["pipeline_coverage_pct"],
                     "previous_health": before,
                     "health_change": None if now is None or before is None else
                     health.round_score(now) - health.round_score(before),
                     "missing": r["missing_components"]})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["_none"] = frame["health_score"].isna()
    frame["_key"] = [Decimal(999) if v is None else v for v in frame["health_score"]]
    return frame.sort_values(["_none", "_key", "partner_id"]).drop(columns=["_none", "_key"]).reset_index(drop=True)
