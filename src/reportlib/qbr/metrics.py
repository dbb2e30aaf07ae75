"""QBR figures for ALL partners of a quarter, in one vectorised pass.

:func:`load_inputs` reads what a quarter needs with one query per table (no per-partner
query); every metric is then a named pure function over those frames that returns a Series
indexed by ``partner_id`` (or a small DataFrame). :func:`partner_metrics` assembles them into
one row per partner, with the health score; :func:`quarter_metrics` adds the previous
quarter, the tier benchmarks and the trend tables a deck needs, so that a batch computes
everything once and each partner's deck takes its slice (:func:`partner_slice`).

Conventions:
- Periods are half-open: a quarter ``Q`` covers ``Q.start <= day < Q.end``.
- Money is exact ``Decimal``; percentages, ratios and means are ``Decimal`` too (exact
  division to 28 significant digits), so the health score is computed exactly and rounded
  once, to one decimal, half to even (the spec's worked example 70.625 shows as 70.6).
- A metric whose denominator is zero or whose inputs are absent is ``None`` ("no data"), never
  0 — e.g. growth with no previous revenue, attainment with no target, CSAT with no surveys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import query_frame
from ..errors import UnknownEntityError
from ..periods import Quarter
from ..render.figures import SCORE, rounded
from .data import STAGES, TABLES

__all__ = [
    "BANDS",
    "COMPONENTS",
    "DEFAULT_REFERENCE_CYCLE_DAYS",
    "BENCHMARKED",
    "PartnerSlice",
    "QbrInputs",
    "QuarterMetrics",
    "active_certifications",
    "approval_rate_pct",
    "average_deal_size",
    "band_of",
    "certification_list",
    "churn_pct",
    "conversion_rate_pct",
    "csat",
    "escalation_pct",
    "events_attended",
    "expiring_certifications",
    "fcr_pct",
    "health_score",
    "health_terms",
    "implementation_days",
    "load_inputs",
    "logins_per_month",
    "marketing_collaborations",
    "mdf_metrics",
    "nps",
    "partner_metrics",
    "partner_slice",
    "pipeline",
    "pipeline_by_stage",
    "pipeline_coverage_pct",
    "portal_activity_pct",
    "portal_trend",
    "quarter_metrics",
    "registration_funnel",
    "registration_win_rate_pct",
    "ratio",
    "revenue",
    "revenue_attainment_pct",
    "revenue_growth_pct",
    "revenue_target",
    "revenue_trend",
    "round_score",
    "sales_velocity_days",
    "tickets_per_customer",
    "tier_benchmarks",
    "time_to_approval_hours",
    "training_rate_pct",
    "win_rate_by_stage",
    "ytd_revenue",
]

DEFAULT_REFERENCE_CYCLE_DAYS = 180
HUNDRED = Decimal(100)
ZERO = Decimal(0)
ONE = Decimal(1)
TREND_QUARTERS = 8


# --------------------------------------------------------------------------- inputs

@dataclass
class QbrInputs:
    """The rows a quarter's metrics need, read once for all partners."""

    quarter: Quarter
    partners: pd.DataFrame
    deals: pd.DataFrame
    targets: pd.DataFrame
    registrations: pd.DataFrame
    training: pd.DataFrame
    certifications: pd.DataFrame
    portal: pd.DataFrame
    events: pd.DataFrame
    marketing: pd.DataFrame
    mdf_allocations: pd.DataFrame
    mdf_requests: pd.DataFrame
    customers: pd.DataFrame
    surveys: pd.DataFrame
    tickets: pd.DataFrame


def _window(quarter: Quarter, quarters: int) -> tuple[date, date]:
    return (quarter - (quarters - 1)).start, quarter.end


def load_inputs(conn: Connection, quarter: Quarter | str, history: int = TREND_QUARTERS) -> QbrInputs:
    """Read, with one query per table, everything the metrics of ``quarter`` need.

    The window is the ``history`` quarters ending with ``quarter`` (trend charts; the previous
    quarter; the trailing four quarters of velocity, win rates and churn).
    """
    quarter = _quarter(quarter)
    start, end = _window(quarter, max(history, 5))
    t = TABLES

    def read(table: sa.Table, *where, columns: Iterable[str] | None = None) -> pd.DataFrame:
        cols = [table.c[c] for c in columns] if columns else [c for c in table.c if c.name != "id"]
        # Dates travel as ISO text and are parsed vectorised below: parsing a million
        # date objects one by one is most of the time at 10,000 partners.
        cols = [sa.cast(c, sa.String).label(c.name) if isinstance(c.type, (sa.Date, sa.DateTime)) else c
                for c in cols]
        return query_frame(conn, sa.select(*cols).where(*where))

    opp = t["opportunities"]
    deals = read(opp, opp.c.created_date < end,
                 sa.or_(opp.c.status == "open", opp.c.close_date >= start),
                 columns=["partner_id", "amount", "stage", "created_date", "close_date", "status"])
    # Tables only the quarter and the one before need are read from the previous quarter on.
    recent = (quarter - 1).start
    reg = t["deal_registrations"]
    regs = read(reg, reg.c.submitted_at >= datetime.combine(recent, datetime.min.time()),
                reg.c.submitted_at < datetime.combine(end, datetime.min.time()),
                columns=["partner_id", "submitted_at", "status", "decided_at"])
    tr, ce, po, ev, mk = t["training"], t["certifications"], t["portal_activity"], t["events"], t["marketing"]
    ma, mr, cu, su, ti = t["mdf_allocations"], t["mdf_requests"], t["customers"], t["surveys"], t["tickets"]
    quarters = [str(quarter - i) for i in range(max(history, 5))]
    return _with_datetimes(QbrInputs(
        quarter=quarter,
        partners=query_frame(conn, sa.select(t["partners"])).sort_values("partner_id", ignore_index=True),
        deals=deals,
        targets=read(t["targets"], t["targets"].c.quarter.in_(quarters)),
        registrations=regs,
        training=read(tr, tr.c.assigned_date < end),
        certifications=read(ce, ce.c.issued_date < end),
        portal=read(po, po.c.date >= start, po.c.date < end),
        events=read(ev, ev.c.date >= recent, ev.c.date < end),
        marketing=read(mk, mk.c.date >= recent, mk.c.date < end),
        mdf_allocations=read(ma, ma.c.quarter.in_(quarters)),
        mdf_requests=read(mr, mr.c.submitted_date >= recent, mr.c.submitted_date < end),
        customers=read(cu, cu.c.contract_date < end),
        surveys=read(su, su.c.date >= recent, su.c.date < end),
        tickets=read(ti, ti.c.opened_date >= recent, ti.c.opened_date < end),
    ))


_DATE_COLUMNS = {"deals": ("created_date", "close_date"), "registrations": ("submitted_at", "decided_at"),
                 "training": ("assigned_date", "completed_date"), "certifications": ("issued_date", "expiry_date"),
                 "portal": ("date",), "events": ("date",), "marketing": ("date",),
                 "mdf_requests": ("submitted_date", "first_spend_date"),
                 "customers": ("contract_date", "go_live_date", "churn_date"), "surveys": ("date",),
                 "tickets": ("opened_date",)}


def _with_datetimes(inputs: QbrInputs) -> QbrInputs:
    """Convert date columns to datetime64 once, so every metric filters vectorised."""
    for name, columns in _DATE_COLUMNS.items():
        frame = getattr(inputs, name)
        for column in columns:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
    return inputs


# --------------------------------------------------------------------------- helpers

def _quarter(value: Quarter | str) -> Quarter:
    return value if isinstance(value, Quarter) else Quarter.parse(value)


def _ts(frame: pd.DataFrame, column: str) -> pd.Series:
    """A date or date-time column as datetime64 (fast when :func:`load_inputs` converted it)."""
    values = frame[column]
    return values if pd.api.types.is_datetime64_any_dtype(values) else pd.to_datetime(values)


def _in(frame: pd.DataFrame, column: str, start: date, end: date) -> pd.Series:
    values = _ts(frame, column)
    return (values >= pd.Timestamp(start)) & (values < pd.Timestamp(end))


def _before(frame: pd.DataFrame, column: str, end: date) -> pd.Series:
    return _ts(frame, column) < pd.Timestamp(end)


def _dsum(values: Iterable) -> Decimal:
    total = ZERO
    for v in values:
        if v is not None and v == v:
            total += Decimal(v)
    return total


_MICRO = 6  # money is summed as integer millionths: exact, and vectorised


def _micros(values: pd.Series) -> np.ndarray | None:
    """Decimal values as int64 millionths (missing as 0), or None if one has more places."""
    out = np.zeros(len(values), dtype=np.int64)
    for index, v in enumerate(values):
        if v is None or v != v:
            continue
        scaled = Decimal(v).scaleb(_MICRO)
        whole = int(scaled)
        if whole != scaled:
            return None
        out[index] = whole
    return out


def _group_sum(frame: pd.DataFrame, column: str, by: str | list[str] = "partner_id") -> pd.Series:
    """Exact sum of a Decimal column per partner (or per ``by``)."""
    if frame.empty:
        return pd.Series(dtype=object)
    micros = _micros(frame[column])
    if micros is None:  # more than six places: sum the Decimals themselves
        return frame.groupby(by)[column].agg(lambda s: _dsum(s))
    keys = [frame[k].to_numpy() for k in ([by] if isinstance(by, str) else by)]
    sums = pd.Series(micros).groupby(keys).sum()
    return sums.map(lambda v: Decimal(int(v)).scaleb(-_MICRO))


def _group_mean(frame: pd.DataFrame, values: Iterable[int], unit: int = 1) -> pd.Series:
    """Exact mean per partner of whole-number ``values`` (aligned with ``frame``), divided by ``unit``."""
    if frame.empty:
        return pd.Series(dtype=object)
    grouped = pd.Series(np.asarray(list(values), dtype=np.int64)).groupby(frame["partner_id"].to_numpy())
    sums, counts = grouped.sum(), grouped.size()
    return pd.Series([Decimal(int(t)) / (int(n) * unit) for t, n in zip(sums, counts)], index=sums.index, dtype=object)


def _count(frame: pd.DataFrame) -> pd.Series:
    if frame.empty:
        return pd.Series(dtype="int64")
    return frame.groupby("partner_id").size()


def ratio(numerator: pd.Series, denominator: pd.Series, scale: Decimal = ONE) -> pd.Series:
    """``numerator / denominator * scale`` element-wise as Decimal; None where undefined."""
    numerator, denominator = numerator.align(denominator)
    out = []
    for n, d in zip(numerator, denominator):
        if n is None or d is None or n != n or d != d or Decimal(d) == 0:
            out.append(None)
        else:
            out.append(Decimal(n) * scale / Decimal(d))
    return pd.Series(out, index=numerator.index, dtype=object)


def _pct(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return ratio(numerator, denominator, HUNDRED)


def _days_between(frame: pd.DataFrame, later: str, earlier: str) -> np.ndarray:
    return (_ts(frame, later) - _ts(frame, earlier)).dt.days.to_numpy(dtype=np.int64)


# --------------------------------------------------------------------------- revenue and pipeline

def revenue(deals: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Sum of the amounts of deals won with a close_date in ``quarter``. Money."""
    won = deals[(deals["status"] == "won") & _in(deals, "close_date", quarter.start, quarter.end)]
    return _group_sum(won, "amount")


def ytd_revenue(deals: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Revenue of the calendar year of ``quarter``, from 1 January to the quarter's end. Money."""
    won = deals[(deals["status"] == "won") & _in(deals, "close_date", date(quarter.year, 1, 1), quarter.end)]
    return _group_sum(won, "amount")


def revenue_growth_pct(current: pd.Series, previous: pd.Series) -> pd.Series:
    """(revenue − previous) / previous × 100. Percent; None when the previous revenue is 0."""
    current, previous = current.align(previous)
    return _pct(current.fillna(ZERO) - previous.fillna(ZERO), previous)


def revenue_target(targets: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """The revenue target of ``quarter``. Money; absent when the partner has none."""
    rows = targets[targets["quarter"] == str(quarter)]
    return rows.set_index("partner_id")["revenue_target"] if not rows.empty else pd.Series(dtype=object)


def revenue_attainment_pct(revenue: pd.Series, target: pd.Series) -> pd.Series:
    """revenue / target × 100. Percent (may exceed 100); None without a target or a zero one."""
    return _pct(revenue, target)


def pipeline(deals: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """Open deals created on or before the quarter's end: ``count`` and ``value`` (money)."""
    open_ = deals[(deals["status"] == "open") & _before(deals, "created_date", quarter.end)]
    return pd.DataFrame({"count": _count(open_), "value": _group_sum(open_, "amount")})


def pipeline_coverage_pct(pipeline_value: pd.Series, target: pd.Series) -> pd.Series:
    """pipeline value / target × 100. Percent; None without a target."""
    return _pct(pipeline_value, target)


def average_deal_size(pipeline_value: pd.Series, pipeline_count: pd.Series) -> pd.Series:
    """pipeline value / pipeline count. Money; None with no open deal."""
    return ratio(pipeline_value, pipeline_count)


def sales_velocity_days(deals: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Mean days from created_date to close_date of deals won in the trailing 4 quarters. Days."""
    won = deals[(deals["status"] == "won") & _in(deals, "close_date", (quarter - 3).start, quarter.end)]
    return _group_mean(won, _days_between(won, "close_date", "created_date"))


def conversion_rate_pct(deals: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """won / (won + lost) over deals closed in ``quarter``. Percent; None when none closed."""
    closed = deals[deals["status"].isin(["won", "lost"]) & _in(deals, "close_date", quarter.start, quarter.end)]
    return _pct(_count(closed[closed["status"] == "won"]).reindex(_count(closed).index, fill_value=0),
                _count(closed))


def win_rate_by_stage(deals: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """Per partner and stage: deals closed in the trailing 4 quarters that reached the stage,
    how many of them were won, and the share won (percent).

    ``stage`` is the furthest stage a deal reached; a won deal reached every stage.
    """
    closed = deals[deals["status"].isin(["won", "lost"]) & _in(deals, "close_date", (quarter - 3).start, quarter.end)]
    rank = closed["stage"].map({s: i for i, s in enumerate(STAGES)}).where(closed["status"] != "won", len(STAGES) - 1)
    columns = ["partner_id", "stage", "reached", "won", "win_rate_pct"]
    frames = []
    for index, stage in enumerate(STAGES):
        reached = closed[rank >= index]
        counts = _count(reached)
        wins = _count(reached[reached["status"] == "won"]).reindex(counts.index, fill_value=0)
        frames.append(pd.DataFrame({
            "partner_id": counts.index.to_numpy(), "stage": stage, "reached": counts.to_numpy(dtype=int),
            "won": wins.to_numpy(dtype=int),
            "win_rate_pct": [Decimal(int(w)) * HUNDRED / int(c) for w, c in zip(wins, counts)]}, columns=columns))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    # One partner's rows stay in stage order (stable sort on the partner only).
    return out.sort_values("partner_id", kind="stable", ignore_index=True)


def pipeline_by_stage(deals: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """Open pipeline at the quarter's end per partner and stage: ``count`` and ``value``."""
    open_ = deals[(deals["status"] == "open") & _before(deals, "created_date", quarter.end)]
    if open_.empty:
        return pd.DataFrame(columns=["partner_id", "stage", "count", "value"])
    grouped = pd.DataFrame({"count": open_.groupby(["partner_id", "stage"]).size(),
                            "value": _group_sum(open_, "amount", ["partner_id", "stage"])})
    grouped.index.names = ["partner_id", "stage"]
    grouped = grouped.reset_index()
    grouped["order"] = grouped["stage"].map({s: i for i, s in enumerate(STAGES)})
    return grouped.sort_values(["partner_id", "order"]).drop(columns="order").reset_index(drop=True)


def revenue_trend(deals: pd.DataFrame, targets: pd.DataFrame, quarter: Quarter,
                  quarters: int = TREND_QUARTERS, partner_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Revenue (0 when nothing was won) and target (None when absent) of each partner in each of
    the ``quarters`` quarters ending ``quarter``; every partner gets every quarter, its rows
    together and oldest first."""
    ids = sorted(set(partner_ids) if partner_ids is not None else set(deals["partner_id"]) | set(targets["partner_id"]))
    frames = []
    for q in [quarter - i for i in reversed(range(quarters))]:
        won, target = revenue(deals, q).reindex(ids), revenue_target(targets, q).reindex(ids)
        frame = pd.DataFrame({"revenue": [ZERO if v is None or v != v else v for v in won],
                              "target": [None if v is None or v != v else v for v in target]}, index=ids)
        frame.index.name = "partner_id"
        frame = frame.reset_index()
        frame.insert(1, "quarter", str(q))
        frames.append(frame)
    return _by_partner(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame()


def _by_partner(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each partner's rows together, in their order (a partner's slice is then a
    range of rows, which :meth:`QuarterMetrics.rows_of` cuts without copying row by row)."""
    return frame.sort_values("partner_id", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- registrations

def registration_funnel(registrations: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """Registrations submitted in ``quarter``; of those the ones approved (approved, won or
    lost) and the ones won. Counts."""
    subs = registrations[_in(registrations, "submitted_at", quarter.start, quarter.end)]
    submitted = _count(subs)
    approved = _count(subs[subs["status"].isin(["approved", "won", "lost"])]).reindex(submitted.index, fill_value=0)
    won = _count(subs[subs["status"] == "won"]).reindex(submitted.index, fill_value=0)
    return pd.DataFrame({"submitted": submitted, "approved": approved, "won": won})


def approval_rate_pct(funnel: pd.DataFrame) -> pd.Series:
    """approved / submitted. Percent; None with no registration."""
    return _pct(funnel["approved"], funnel["submitted"])


def registration_win_rate_pct(funnel: pd.DataFrame) -> pd.Series:
    """won / submitted. Percent; None with no registration."""
    return _pct(funnel["won"], funnel["submitted"])


def time_to_approval_hours(registrations: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Mean hours from submitted_at to decided_at of the quarter's approved registrations. Hours."""
    subs = registrations[_in(registrations, "submitted_at", quarter.start, quarter.end)
                         & registrations["status"].isin(["approved", "won", "lost"])
                         & registrations["decided_at"].notna()]
    seconds = (_ts(subs, "decided_at") - _ts(subs, "submitted_at")).dt.total_seconds().to_numpy(dtype=np.int64)
    return _group_mean(subs, seconds, unit=3600)


# --------------------------------------------------------------------------- engagement

def training_rate_pct(training: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Courses completed by the quarter's end / courses assigned on or before it. Percent."""
    assigned = training[_before(training, "assigned_date", quarter.end)]
    done = assigned[_before(assigned, "completed_date", quarter.end)]
    return _pct(_count(done).reindex(_count(assigned).index, fill_value=0), _count(assigned))


def active_certifications(certifications: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Certifications with issued_date ≤ the quarter's last day < expiry_date. Count."""
    return _count(certification_list(certifications, quarter))


def expiring_certifications(certifications: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Active certifications that expire within 90 days of the quarter's last day. Count."""
    active = certification_list(certifications, quarter)
    return _count(active[active["expiring_soon"]])


def certification_list(certifications: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """The certifications active at the quarter's end, with ``expiring_soon`` (within 90 days)."""
    last = pd.Timestamp(quarter.last_day)
    active = certifications[(_ts(certifications, "issued_date") <= last)
                            & (_ts(certifications, "expiry_date") > last)].copy()
    active["expiring_soon"] = _ts(active, "expiry_date") <= last + pd.Timedelta(days=90)
    return active.sort_values(["partner_id", "expiry_date"]).reset_index(drop=True)


def logins_per_month(portal: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Mean monthly portal logins in ``quarter`` (a month with no row counts as 0; a partner with
    no row in the whole quarter has no value). Logins."""
    rows = portal[_in(portal, "date", quarter.start, quarter.end)]
    if rows.empty:
        return pd.Series(dtype=object)
    return rows.groupby("partner_id")["logins"].sum().map(lambda v: Decimal(int(v)) / 3)


def portal_activity_pct(logins: pd.Series) -> pd.Series:
    """min(mean monthly logins / 4, 1) × 100: the seed's target is 4+ logins a month. Percent."""
    return logins.map(lambda v: None if v is None or v != v else min(Decimal(v) / 4, ONE) * HUNDRED)


def portal_trend(portal: pd.DataFrame, quarter: Quarter, quarters: int = TREND_QUARTERS) -> pd.DataFrame:
    """Mean monthly logins of each partner in each of the ``quarters`` quarters ending ``quarter``
    (a partner's rows together, oldest first)."""
    frames = []
    for q in [quarter - i for i in reversed(range(quarters))]:
        logins = logins_per_month(portal, q)
        frames.append(pd.DataFrame({"partner_id": logins.index, "quarter": str(q), "logins_per_month": list(logins)}))
    return _by_partner(pd.concat(frames, ignore_index=True))


def events_attended(events: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Events, webinars and conferences attended in ``quarter``. Count."""
    return _count(events[events["attended"].astype(bool) & _in(events, "date", quarter.start, quarter.end)])


def marketing_collaborations(marketing: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Co-marketing activities, case studies and references dated in ``quarter``. Count."""
    return _count(marketing[_in(marketing, "date", quarter.start, quarter.end)])


# --------------------------------------------------------------------------- MDF

def mdf_metrics(allocations: pd.DataFrame, requests: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """MDF of ``quarter`` per partner.

    Columns: ``mdf_allocated`` (money), ``mdf_spent`` (spent on the quarter's requests),
    ``mdf_utilization_pct`` (spent / allocated, percent), ``mdf_requests`` (requests submitted
    in the quarter), ``mdf_approval_pct`` (approved / submitted, percent), ``mdf_roi``
    (attributed revenue / spent, a ratio: 3 means 3:1) and ``mdf_days_to_first_spend`` (the
    earliest first_spend_date of the quarter's requests − the quarter's start, days).
    """
    alloc = allocations[allocations["quarter"] == str(quarter)].set_index("partner_id")["allocated"]
    reqs = requests[_in(requests, "submitted_date", quarter.start, quarter.end)]
    count = _count(reqs)
    approved = _count(reqs[reqs["status"] == "approved"]).reindex(count.index, fill_value=0)
    spent = _group_sum(reqs, "spent")
    attributed = _group_sum(reqs, "attributed_revenue")
    spends = reqs[reqs["first_spend_date"].notna()]
    first = (_ts(spends, "first_spend_date").groupby(spends["partner_id"]).min() if not spends.empty
             else pd.Series(dtype="datetime64[ns]"))
    out = pd.DataFrame({"mdf_allocated": alloc, "mdf_spent": spent, "mdf_requests": count,
                        "mdf_requests_approved": approved})
    out["mdf_utilization_pct"] = _pct(out["mdf_spent"], out["mdf_allocated"])
    out["mdf_approval_pct"] = _pct(out["mdf_requests_approved"], out["mdf_requests"])
    out["mdf_roi"] = ratio(attributed.reindex(out.index), out["mdf_spent"])
    out["mdf_days_to_first_spend"] = [None if pd.isna(d) else Decimal((d - pd.Timestamp(quarter.start)).days)
                                      for d in first.reindex(out.index)]
    return out


# --------------------------------------------------------------------------- customers

def csat(surveys: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Mean CSAT (1–5) of the quarter's surveys that have one. Score; None without surveys."""
    rows = surveys[_in(surveys, "date", quarter.start, quarter.end) & surveys["csat"].notna()]
    return _group_mean(rows, rows["csat"].astype("int64"))


def nps(surveys: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """% promoters (9–10) − % detractors (0–6) of the quarter's NPS answers. −100 to 100."""
    rows = surveys[_in(surveys, "date", quarter.start, quarter.end) & surveys["nps"].notna()]
    answers = rows["nps"].astype("int64").to_numpy()
    return _group_mean(rows, np.where(answers >= 9, 100, np.where(answers <= 6, -100, 0)))


def implementation_days(customers: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Mean days from contract_date to go_live_date of customers who went live in ``quarter``."""
    live = customers[_in(customers, "go_live_date", quarter.start, quarter.end)]
    return _group_mean(live, _days_between(live, "go_live_date", "contract_date"))


def _active_customers(customers: pd.DataFrame, start: date, end: date) -> pd.Series:
    """Customers under contract at some point of [start, end): signed before end, not churned before start."""
    rows = customers[_before(customers, "contract_date", end)
                     & ~_before(customers, "churn_date", start)]
    return _count(rows)


def tickets_per_customer(tickets: pd.DataFrame, customers: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """Support in ``quarter``: ``tickets``, ``active_customers``, ``tickets_per_customer``,
    ``fcr_pct`` (resolved at first contact, percent) and ``escalation_pct`` (percent)."""
    rows = tickets[_in(tickets, "opened_date", quarter.start, quarter.end)]
    count = _count(rows)
    active = _active_customers(customers, quarter.start, quarter.end)
    out = pd.DataFrame({"tickets": count, "active_customers": active})
    out["tickets"] = out["tickets"].fillna(0).astype(int)
    out["tickets_per_customer"] = ratio(out["tickets"], out["active_customers"])
    out["fcr_pct"] = fcr_pct(rows).reindex(out.index)
    out["escalation_pct"] = escalation_pct(rows).reindex(out.index)
    return out


def fcr_pct(tickets: pd.DataFrame) -> pd.Series:
    """Share of ``tickets`` resolved at first contact. Percent."""
    return _pct(_count(tickets[tickets["first_contact_resolved"].astype(bool)]).reindex(_count(tickets).index, fill_value=0),
                _count(tickets))


def escalation_pct(tickets: pd.DataFrame) -> pd.Series:
    """Share of ``tickets`` escalated. Percent."""
    return _pct(_count(tickets[tickets["escalated"].astype(bool)]).reindex(_count(tickets).index, fill_value=0),
                _count(tickets))


def churn_pct(customers: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """Customers churned in the trailing 4 quarters / customers active at the window's start.

    Columns ``churned`` (count), ``customers_at_start`` (count) and ``churn_pct`` (percent;
    None when the partner had no customer at the start of the window).
    """
    start = (quarter - 3).start
    at_start = customers[_before(customers, "contract_date", start) & ~_before(customers, "churn_date", start)]
    churned = at_start[_in(at_start, "churn_date", start, quarter.end)]
    base = _count(at_start)
    lost = _count(churned).reindex(base.index, fill_value=0)
    return pd.DataFrame({"churned": lost, "customers_at_start": base, "churn_pct": _pct(lost, base)})


# --------------------------------------------------------------------------- health score

@dataclass(frozen=True)
class Component:
    """One weighted component of the health score and its normalised terms."""

    key: str
    label: str
    weight: int
    terms: tuple[tuple[str, str, Callable[[Decimal], Decimal]], ...]  # (metric column, description, term)


def _c(x: Decimal) -> Decimal:
    return min(max(x, ZERO), ONE)


COMPONENTS: tuple[Component, ...] = (
    Component("revenue", "Revenue attainment", 30, (
        ("attainment_pct", "attainment / 100", lambda v: _c(v / 100)),)),
    Component("pipeline", "Pipeline health", 25, (
        ("coverage_pct", "coverage / 200", lambda v: _c(v / 200)),
        ("conversion_pct", "conversion / 50", lambda v: _c(v / 50)))),
    Component("engagement", "Engagement", 20, (
        ("training_pct", "training / 100", lambda v: _c(v / 100)),
        ("portal_pct", "portal activity / 100", lambda v: _c(v / 100)))),
    Component("satisfaction", "Customer satisfaction", 15, (
        ("csat", "CSAT / 5", lambda v: _c(v / 5)),)),
    Component("efficiency", "Deal efficiency", 10, (
        ("registration_win_rate_pct", "registration win rate / 40", lambda v: _c(v / 40)),
        ("cycle_ratio", "1 − sales velocity / reference cycle", lambda v: _c(1 - v)))),
)

BANDS: tuple[tuple[Decimal, str, str], ...] = (
    (Decimal(85), "Excellent", "Maintain and expand: recognise the partner, agree growth targets and co-selling "
                               "plays for next quarter."),
    (Decimal(70), "Good", "Optimise: pick the weakest component below and agree one improvement with the partner "
                          "this quarter."),
    (Decimal(55), "At Risk", "Intervene: agree a written recovery plan within 30 days and review it monthly."),
    (ZERO, "Critical", "Escalate: executive review within two weeks, a formal improvement plan and a review of the "
                       "partner's tier."),
)


def round_score(value: Decimal | None) -> Decimal | None:
    """A health score as shown: one decimal, half up like every figure (70.625 -> 70.6 as in the
    spec, 69.25 -> 69.3; :func:`reportlib.render.figures.score`)."""
    return rounded(value, SCORE.places)


def band_of(score: Decimal | None) -> tuple[str, str]:
    """(band, action required) for a score as shown (one decimal): 85+ Excellent, 70–84.9 Good,
    55–69.9 At Risk, below 55 Critical; ("No data", ...) without any component."""
    if score is None:
        return "No data", "Collect the missing inputs listed in the data notes before the review."
    shown = round_score(score)
    for low, band, action in BANDS:
        if shown >= low:
            return band, action
    return BANDS[-1][1], BANDS[-1][2]


def health_terms(row: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each component's normalised score for one partner (None when it has no data at all).

    Within a component, a term with no input is left out and the others averaged.
    """
    out = {}
    for comp in COMPONENTS:
        values = []
        for column, _desc, term in comp.terms:
            v = row.get(column)
            if v is not None and v == v:
                values.append(term(Decimal(v)))
        out[comp.key] = {"score": (sum(values, ZERO) / len(values)) if values else None}
    return out


def health_score(metrics: pd.DataFrame) -> pd.DataFrame:
    """The health score (0–100) of every partner row of ``metrics``.

    ``health = Σ weight × component score / Σ weights of components with data × 100``; with
    every component present that is exactly the spec's formula. Columns: ``<component>_score``
    (0–1), ``<component>_points`` (points after re-weighting), ``health_score`` (exact),
    ``health_display`` (one decimal), ``health_band``, ``health_action``, ``missing_components``.
    """
    records = []
    for row in metrics.to_dict("records"):
        terms = health_terms(row)
        present = [c for c in COMPONENTS if terms[c.key]["score"] is not None]
        weight = sum(c.weight for c in present)
        record: dict[str, Any] = {}
        total = ZERO
        for comp in COMPONENTS:
            s = terms[comp.key]["score"]
            record[f"{comp.key}_score"] = s
            points = None if s is None else Decimal(comp.weight) * s * HUNDRED / weight
            record[f"{comp.key}_points"] = points
            total += points or ZERO
        score = total if present else None
        band, action = band_of(score)
        record.update(health_score=score, health_display=round_score(score), health_band=band, health_action=action,
                      missing_components=", ".join(c.label for c in COMPONENTS if c not in present))
        records.append(record)
    return pd.DataFrame(records, index=metrics.index)


# --------------------------------------------------------------------------- assembly

_PARTNER_COLUMNS = ["partner_id", "name", "tier", "segment", "region", "partner_manager", "account_manager", "status"]


def partner_metrics(source: Connection | QbrInputs, quarter: Quarter | str,
                    reference_cycle_days: int = DEFAULT_REFERENCE_CYCLE_DAYS) -> pd.DataFrame:
    """Every metric of the spec and the health score, one row per partner (active or not).

    ``source`` is a connection (the inputs are read once) or inputs already read by
    :func:`load_inputs` (which must cover ``quarter``).
    """
    quarter = _quarter(quarter)
    inputs = source if isinstance(source, QbrInputs) else load_inputs(source, quarter)
    p = inputs.partners[_PARTNER_COLUMNS].set_index("partner_id", drop=False)
    idx = p.index
    d = inputs.deals
    out = p.copy()

    def put(name: str, series: pd.Series, fill: Any = None) -> None:
        series = series.reindex(idx)
        out[name] = series.astype(object).where(series.notna(), fill) if fill is not None else \
            series.astype(object).where(series.notna(), None)

    put("revenue", revenue(d, quarter), ZERO)
    put("previous_revenue", revenue(d, quarter - 1), ZERO)
    put("ytd_revenue", ytd_revenue(d, quarter), ZERO)
    put("revenue_growth_pct", revenue_growth_pct(out["revenue"], out["previous_revenue"]))
    put("target", revenue_target(inputs.targets, quarter))
    put("attainment_pct", revenue_attainment_pct(out["revenue"], out["target"]))
    pipe = pipeline(d, quarter)
    put("pipeline_count", pipe["count"], 0)
    put("pipeline_value", pipe["value"], ZERO)
    put("coverage_pct", pipeline_coverage_pct(out["pipeline_value"], out["target"]))
    put("average_deal_size", average_deal_size(out["pipeline_value"], out["pipeline_count"]))
    put("sales_velocity_days", sales_velocity_days(d, quarter))
    put("conversion_pct", conversion_rate_pct(d, quarter))
    funnel = registration_funnel(inputs.registrations, quarter)
    for column in ("submitted", "approved", "won"):
        put(f"registrations_{column}", funnel[column], 0)
    put("approval_rate_pct", approval_rate_pct(funnel))
    put("registration_win_rate_pct", registration_win_rate_pct(funnel))
    put("time_to_approval_hours", time_to_approval_hours(inputs.registrations, quarter))
    put("training_pct", training_rate_pct(inputs.training, quarter))
    put("active_certifications", active_certifications(inputs.certifications, quarter), 0)
    put("expiring_certifications", expiring_certifications(inputs.certifications, quarter), 0)
    # No portal row at all in the quarter is a missing input (n/a), not zero logins.
    put("logins_per_month", logins_per_month(inputs.portal, quarter))
    put("portal_pct", portal_activity_pct(out["logins_per_month"]))
    put("events_attended", events_attended(inputs.events, quarter), 0)
    put("marketing_collaborations", marketing_collaborations(inputs.marketing, quarter), 0)
    mdf = mdf_metrics(inputs.mdf_allocations, inputs.mdf_requests, quarter)
    for column in mdf.columns:
        put(column, mdf[column], 0 if column in ("mdf_requests", "mdf_requests_approved") else None)
    put("csat", csat(inputs.surveys, quarter))
    put("surveys", _count(inputs.surveys[_in(inputs.surveys, "date", quarter.start, quarter.end)]), 0)
    put("nps", nps(inputs.surveys, quarter))
    put("implementation_days", implementation_days(inputs.customers, quarter))
    support = tickets_per_customer(inputs.tickets, inputs.customers, quarter)
    for column in support.columns:
        put(column, support[column], 0 if column in ("tickets", "active_customers") else None)
    churn = churn_pct(inputs.customers, quarter)
    for column in churn.columns:
        put(column, churn[column], 0 if column != "churn_pct" else None)
    out["reference_cycle_days"] = reference_cycle_days
    out["cycle_ratio"] = [None if v is None else Decimal(v) / reference_cycle_days for v in out["sales_velocity_days"]]
    out = out.join(health_score(out))
    out.insert(1, "quarter", str(quarter))
    return out.reset_index(drop=True)


# Metrics benchmarked per tier and compared with the previous quarter, with their labels.
BENCHMARKED = ("health_score", "revenue", "attainment_pct", "revenue_growth_pct", "coverage_pct", "conversion_pct",
               "sales_velocity_days", "approval_rate_pct", "time_to_approval_hours", "registration_win_rate_pct",
               "training_pct", "logins_per_month", "events_attended", "mdf_utilization_pct", "mdf_roi", "csat", "nps",
               "fcr_pct", "escalation_pct", "churn_pct")


def _quantile(values: list[Decimal], q: Decimal) -> Decimal:
    """Linear-interpolated quantile (pandas' default), exact in Decimal."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def tier_benchmarks(metrics: pd.DataFrame, columns: Iterable[str] = BENCHMARKED) -> pd.DataFrame:
    """Median and quartiles of each metric per tier over the active partners with a value.

    Columns: ``tier``, ``metric``, ``partners``, ``p25``, ``median``, ``p75`` (Decimal).
    """
    active = metrics[metrics["status"] == "active"]
    rows = []
    for tier, group in active.groupby("tier", sort=True):
        for column in columns:
            values = [Decimal(v) for v in group[column] if v is not None and v == v]
            if not values:
                rows.append({"tier": tier, "metric": column, "partners": 0, "p25": None, "median": None, "p75": None})
                continue
            rows.append({"tier": tier, "metric": column, "partners": len(values),
                         "p25": _quantile(values, Decimal("0.25")), "median": _quantile(values, Decimal("0.5")),
                         "p75": _quantile(values, Decimal("0.75"))})
    return pd.DataFrame(rows, columns=["tier", "metric", "partners", "p25", "median", "p75"])


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


def _latest_dates(inputs: QbrInputs) -> pd.DataFrame:
    series = {}
    for name, frame, column in (("latest_survey", inputs.surveys, "date"), ("latest_portal", inputs.portal, "date"),
                                ("latest_deal", inputs.deals, "created_date")):
        series[name] = (_ts(frame, column).groupby(frame["partner_id"]).max() if not frame.empty
                        else pd.Series(dtype="datetime64[ns]"))
    return pd.DataFrame(series).reindex(inputs.partners["partner_id"])


def quarter_metrics(conn: Connection, quarter: Quarter | str,
                    reference_cycle_days: int = DEFAULT_REFERENCE_CYCLE_DAYS) -> QuarterMetrics:
    """All partners' metrics of ``quarter`` and of the quarter before, benchmarks and trends."""
    quarter = _quarter(quarter)
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
        latest=_latest_dates(inputs),
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
