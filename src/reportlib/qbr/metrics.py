"""QBR figures for ALL partners of a quarter, in one vectorised pass.

Every metric is a named pure function over the frames :func:`reportlib.qbr.data.load_inputs`
reads (one query per table, no per-partner query) that returns a Series indexed by
``partner_id`` (or a small DataFrame): find a number of a deck by the name of its function.
:func:`partner_metrics` assembles them into one row per partner, each column named by the
function that computed it, with the health score (:mod:`reportlib.qbr.health`);
:func:`tier_benchmarks` gives each tier's quartiles. :mod:`reportlib.qbr.slices` computes a
quarter once for a batch and slices it per partner.

Conventions:
- Periods are half-open: a quarter ``Q`` covers ``Q.start <= day < Q.end``.
- Money is exact ``Decimal``; percentages, ratios and means are ``Decimal`` too (exact
  division to 28 significant digits), so the health score is computed exactly and rounded
  once, to one decimal, half up (the spec's worked example 70.625 shows as 70.6).
- A metric whose denominator is zero or whose inputs are absent is ``None`` ("no data"), never
  0 — e.g. growth with no previous revenue, attainment with no target, CSAT with no surveys.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Iterable

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from ..periods import Quarter
from .data import STAGES, TREND_QUARTERS, QbrInputs, as_quarter, load_inputs
from .health import DEFAULT_REFERENCE_CYCLE_DAYS, health_score

__all__ = [
    "BENCHMARKED",
    "DEFAULT_REFERENCE_CYCLE_DAYS",
    "active_certifications",
    "approval_rate_pct",
    "average_deal_size",
    "certification_list",
    "churn_pct",
    "conversion_rate_pct",
    "csat",
    "cycle_ratio",
    "escalation_pct",
    "events_attended",
    "expiring_certifications",
    "fcr_pct",
    "implementation_days",
    "latest_dates",
    "logins_per_month",
    "marketing_collaborations",
    "mdf_metrics",
    "nps",
    "partner_metrics",
    "pipeline",
    "pipeline_by_stage",
    "pipeline_coverage_pct",
    "portal_activity_pct",
    "portal_trend",
    "previous_revenue",
    "registration_funnel",
    "registration_win_rate_pct",
    "ratio",
    "revenue",
    "revenue_attainment_pct",
    "revenue_growth_pct",
    "revenue_target",
    "revenue_trend",
    "sales_velocity_days",
    "survey_count",
    "tickets_per_customer",
    "tier_benchmarks",
    "time_to_approval_hours",
    "training_rate_pct",
    "win_rate_by_stage",
    "ytd_revenue",
]

HUNDRED = Decimal(100)
ZERO = Decimal(0)
ONE = Decimal(1)


# --------------------------------------------------------------------------- helpers

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


def previous_revenue(deals: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Revenue of the quarter before ``quarter``. Money."""
    return revenue(deals, quarter - 1)


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
    """Open deals created on or before the quarter's end: ``pipeline_count`` and ``pipeline_value`` (money)."""
    open_ = deals[(deals["status"] == "open") & _before(deals, "created_date", quarter.end)]
    return pd.DataFrame({"pipeline_count": _count(open_), "pipeline_value": _group_sum(open_, "amount")})


def pipeline_coverage_pct(pipeline_value: pd.Series, target: pd.Series) -> pd.Series:
    """pipeline value / target × 100. Percent; None without a target."""
    return _pct(pipeline_value, target)


def cycle_ratio(sales_velocity_days: pd.Series, reference_cycle_days: int) -> pd.Series:
    """sales velocity / the reference sales cycle (days / days): below 1 is faster than the reference.
    None without a velocity."""
    return pd.Series([None if v is None or v != v else Decimal(v) / reference_cycle_days for v in sales_velocity_days],
                     index=sales_velocity_days.index, dtype=object)


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
                              "revenue_target": [None if v is None or v != v else v for v in target]}, index=ids)
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
    """Registrations submitted in ``quarter`` (``registrations_submitted``); of those the ones
    approved, won or lost (``registrations_approved``) and the ones won (``registrations_won``). Counts."""
    subs = registrations[_in(registrations, "submitted_at", quarter.start, quarter.end)]
    submitted = _count(subs)
    approved = _count(subs[subs["status"].isin(["approved", "won", "lost"])]).reindex(submitted.index, fill_value=0)
    won = _count(subs[subs["status"] == "won"]).reindex(submitted.index, fill_value=0)
    return pd.DataFrame({"registrations_submitted": submitted, "registrations_approved": approved,
                         "registrations_won": won})


def approval_rate_pct(funnel: pd.DataFrame) -> pd.Series:
    """approved / submitted. Percent; None with no registration."""
    return _pct(funnel["registrations_approved"], funnel["registrations_submitted"])


def registration_win_rate_pct(funnel: pd.DataFrame) -> pd.Series:
    """won / submitted. Percent; None with no registration."""
    return _pct(funnel["registrations_won"], funnel["registrations_submitted"])


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

def survey_count(surveys: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Customer surveys dated in ``quarter``. Count."""
    return _count(surveys[_in(surveys, "date", quarter.start, quarter.end)])


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


# --------------------------------------------------------------------------- assembly

_PARTNER_COLUMNS = ["partner_id", "name", "tier", "segment", "region", "partner_manager", "account_manager", "status"]


def partner_metrics(source: Connection | QbrInputs, quarter: Quarter | str,
                    reference_cycle_days: int = DEFAULT_REFERENCE_CYCLE_DAYS) -> pd.DataFrame:
    """Every metric of the spec and the health score, one row per partner (active or not).

    ``source`` is a connection (the inputs are read once) or inputs already read by
    :func:`load_inputs` (which must cover ``quarter``).
    """
    quarter = as_quarter(quarter)
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
    put("previous_revenue", previous_revenue(d, quarter), ZERO)
    put("ytd_revenue", ytd_revenue(d, quarter), ZERO)
    put("revenue_growth_pct", revenue_growth_pct(out["revenue"], out["previous_revenue"]))
    put("revenue_target", revenue_target(inputs.targets, quarter))
    put("revenue_attainment_pct", revenue_attainment_pct(out["revenue"], out["revenue_target"]))
    pipe = pipeline(d, quarter)
    put("pipeline_count", pipe["pipeline_count"], 0)
    put("pipeline_value", pipe["pipeline_value"], ZERO)
    put("pipeline_coverage_pct", pipeline_coverage_pct(out["pipeline_value"], out["revenue_target"]))
    put("average_deal_size", average_deal_size(out["pipeline_value"], out["pipeline_count"]))
    put("sales_velocity_days", sales_velocity_days(d, quarter))
    put("conversion_rate_pct", conversion_rate_pct(d, quarter))
    funnel = registration_funnel(inputs.registrations, quarter)
    for column in funnel.columns:
        put(column, funnel[column], 0)
    put("approval_rate_pct", approval_rate_pct(funnel))
    put("registration_win_rate_pct", registration_win_rate_pct(funnel))
    put("time_to_approval_hours", time_to_approval_hours(inputs.registrations, quarter))
    put("training_rate_pct", training_rate_pct(inputs.training, quarter))
    put("active_certifications", active_certifications(inputs.certifications, quarter), 0)
    put("expiring_certifications", expiring_certifications(inputs.certifications, quarter), 0)
    # No portal row at all in the quarter is a missing input (n/a), not zero logins.
    put("logins_per_month", logins_per_month(inputs.portal, quarter))
    put("portal_activity_pct", portal_activity_pct(out["logins_per_month"]))
    put("events_attended", events_attended(inputs.events, quarter), 0)
    put("marketing_collaborations", marketing_collaborations(inputs.marketing, quarter), 0)
    mdf = mdf_metrics(inputs.mdf_allocations, inputs.mdf_requests, quarter)
    for column in mdf.columns:
        put(column, mdf[column], 0 if column in ("mdf_requests", "mdf_requests_approved") else None)
    put("csat", csat(inputs.surveys, quarter))
    put("survey_count", survey_count(inputs.surveys, quarter), 0)
    put("nps", nps(inputs.surveys, quarter))
    put("implementation_days", implementation_days(inputs.customers, quarter))
    support = tickets_per_customer(inputs.tickets, inputs.customers, quarter)
    for column in support.columns:
        put(column, support[column], 0 if column in ("tickets", "active_customers") else None)
    churn = churn_pct(inputs.customers, quarter)
    for column in churn.columns:
        put(column, churn[column], 0 if column != "churn_pct" else None)
    out["reference_cycle_days"] = reference_cycle_days
    out["cycle_ratio"] = cycle_ratio(out["sales_velocity_days"], reference_cycle_days)
    out = out.join(health_score(out))
    out.insert(1, "quarter", str(quarter))
    return out.reset_index(drop=True)


# Metrics benchmarked per tier and compared with the previous quarter, with their labels.
BENCHMARKED = ("health_score", "revenue", "revenue_attainment_pct", "revenue_growth_pct", "pipeline_coverage_pct",
               "conversion_rate_pct", "sales_velocity_days", "approval_rate_pct", "time_to_approval_hours",
               "registration_win_rate_pct", "training_rate_pct", "logins_per_month", "events_attended", "mdf_utilization_pct", "mdf_roi", "csat", "nps",
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


def latest_dates(inputs: QbrInputs) -> pd.DataFrame:
    """The latest survey, portal activity and deal creation date of each partner (its data notes):
    columns ``latest_survey``, ``latest_portal``, ``latest_deal``, indexed by ``partner_id``."""
    series = {}
    for name, frame, column in (("latest_survey", inputs.surveys, "date"), ("latest_portal", inputs.portal, "date"),
                                ("latest_deal", inputs.deals, "created_date")):
        series[name] = (_ts(frame, column).groupby(frame["partner_id"]).max() if not frame.empty
                        else pd.Series(dtype="datetime64[ns]"))
    return pd.DataFrame(series).reindex(inputs.partners["partner_id"])
