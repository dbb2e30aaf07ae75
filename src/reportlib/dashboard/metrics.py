"""Dashboard measures: counted in SQL (GROUP BY), so pandas only ever receives aggregates.

Measures of a set of leads (all counts of leads created in the period, ``[start, end)`` in UTC):

| column | definition |
| --- | --- |
| total | every lead |
| deleted | ``deleted = true`` |
| valid / invalid | by status among leads not deleted; caution counts as ``caution_as`` says |
| caution | status caution among leads not deleted (always shown, whatever ``caution_as``) |
| billable / processed | ``billable = true`` / ``processed = true`` |
| valid_plus_invalid | valid + invalid: the denominator that deleted leads no longer skew |
| invalidation_rate | invalid / (valid + invalid); percent, 0–100, exact Decimal to 2 places (half-up); None when there is no valid or invalid lead |

``caution_as``: ``separate`` (default) leaves caution leads out of valid, invalid and the rate;
``invalid`` counts them as invalid; ``valid`` counts them as valid.

Counts are additive, so a grouping by raw advertiser can be re-summed by canonical name
after name resolution; rates are always computed from the summed counts, never averaged.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Sequence, Union

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import query_frame
from ..periods import IsoWeek, Month
from .names import NameResolution, load_aliases, name_proposals, resolve_names
from .data import (PERIOD_INDEX, day_accounts, day_advertisers, day_dims, day_publishers, enterprises, job_days,
                     lead_jobs, leads)

__all__ = [
    "CAUTION_AS",
    "COUNTS",
    "DIMENSIONS",
    "Dashboard",
    "MEASURES",
    "Period",
    "canonical_measures",
    "dashboard",
    "enterprise_movers",
    "failing_jobs",
    "headline",
    "invalidation_rate",
    "measures",
    "period_label",
    "period_measures",
    "trend_periods",
    "with_rates",
]

Period = Union[Month, IsoWeek]
CAUTION_AS = ("separate", "invalid", "valid")
COUNTS = ["total", "deleted", "valid", "invalid", "caution", "billable", "processed"]
MEASURES = COUNTS + ["valid_plus_invalid", "invalidation_rate"]
MEASURE_TITLES = {"total": "Total leads", "deleted": "Deleted leads", "valid": "Valid leads",
                  "invalid": "Invalid leads", "caution": "Caution leads", "billable": "Billable leads",
                  "processed": "Processed leads", "valid_plus_invalid": "Valid + Invalid",
                  "invalidation_rate": "Invalidation rate"}
DIMENSIONS = ("enterprise", "enterprise_type", "advertiser", "publisher", "channel", "vertical", "industry",
              "country")
TREND_LENGTH = 13
RATE_UNIT = Decimal("0.01")


def _group_column(dimension: str) -> sa.ColumnElement:
    if dimension == "enterprise":
        return leads.c.enterprise_id.label("enterprise_id")
    if dimension == "enterprise_type":
        return enterprises.c.enterprise_type.label("enterprise_type")
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown grouping {dimension!r}; known: {', '.join(DIMENSIONS)}")
    return leads.c[dimension].label(dimension)


def _at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def _count(condition) -> sa.ColumnElement:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _flag(column) -> sa.ColumnElement:
    """How many rows have the boolean ``column`` true (a plain SUM: cheaper than a CASE)."""
    return sa.func.coalesce(sa.func.sum(sa.cast(column, sa.Integer)), 0)


def _measure_columns(caution_as: str) -> list[sa.ColumnElement]:
    if caution_as not in CAUTION_AS:
        raise ValueError(f"caution_as must be one of {', '.join(CAUTION_AS)}, not {caution_as!r}")
    live = leads.c.deleted == sa.false()
    valid = ["valid"] + (["caution"] if caution_as == "valid" else [])
    invalid = ["invalid"] + (["caution"] if caution_as == "invalid" else [])
    return [
        sa.func.count().label("total"),
        _flag(leads.c.deleted).label("deleted"),
        _count(sa.and_(live, leads.c.status.in_(valid))).label("valid"),
        _count(sa.and_(live, leads.c.status.in_(invalid))).label("invalid"),
        _count(sa.and_(live, leads.c.status == "caution")).label("caution"),
        _flag(leads.c.billable).label("billable"),
        _flag(leads.c.processed).label("processed"),
    ]


def invalidation_rate(invalid: int, valid_plus_invalid: int) -> Decimal | None:
    """invalid / (valid + invalid). Percent, 0–100, Decimal to 2 places (half-up); None for 0/0."""
    if not valid_plus_invalid:
        return None
    return (Decimal(int(invalid)) * 100 / Decimal(int(valid_plus_invalid))).quantize(RATE_UNIT, ROUND_HALF_UP)


def with_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """``counts`` with ``valid_plus_invalid`` and ``invalidation_rate`` added (from the counts)."""
    frame = counts.copy()
    for column in COUNTS:
        frame[column] = frame[column].astype("int64")
    frame["valid_plus_invalid"] = frame["valid"] + frame["invalid"]
    frame["invalidation_rate"] = pd.Series(
        [invalidation_rate(i, vi) for i, vi in zip(frame["invalid"], frame["valid_plus_invalid"])],
        index=frame.index, dtype=object)
    return frame


def _period_select(index: int, period: Period, groups: list[sa.ColumnElement], source, measures_: list) -> sa.Select:
    """One period's grouped measures: a plain range on ``created_at`` (no function on it)."""
    return (sa.select(sa.literal(index, sa.Integer).label("bucket"), *groups, *measures_).select_from(source)
            .where(leads.c.created_at >= _at(period.start), leads.c.created_at < _at(period.end))
            .group_by(*groups))


def _day_keys(table: sa.Table) -> set[str]:
    return {c.name for c in table.primary_key.columns} - {"day"}


# The per-day tables and the groupings each holds, smallest first (no grouping: the accounts'
# table, a few hundred rows a day).
_DAY_TABLES = ((day_accounts, {"enterprise", "enterprise_type"}), (day_publishers, _day_keys(day_publishers)),
               (day_advertisers, _day_keys(day_advertisers)), (day_dims, _day_keys(day_dims)))


def _day_table_for(conn: Connection, by: Sequence[str]) -> sa.Table | None:
    """The smallest per-day table that holds the grouping ``by``, if the database has it."""
    for table, groupings in _DAY_TABLES:
        if set(by) <= groupings:
            return table if sa.inspect(conn).has_table(table.name) else None
    return None


def _day_select(index: int, period: Period, table: sa.Table, by: Sequence[str], caution_as: str) -> sa.Select:
    """One period's measures summed from a per-day table (see :mod:`reportlib.dashboard.data`)."""
    groups = [enterprises.c.enterprise_type.label("enterprise_type") if d == "enterprise_type"
              else table.c["enterprise_id" if d == "enterprise" else d].label("enterprise_id" if d == "enterprise" else d)
              for d in by]
    source = table.join(enterprises, enterprises.c.enterprise_id == table.c.enterprise_id) \
        if "enterprise_type" in by else table

    def total(*columns: str) -> sa.ColumnElement:
        return sa.cast(sa.func.coalesce(sa.func.sum(sum((table.c[c] for c in columns[1:]), table.c[columns[0]])), 0),
                       sa.BigInteger)

    valid = ("live_valid", "live_caution") if caution_as == "valid" else ("live_valid",)
    invalid = ("live_invalid", "live_caution") if caution_as == "invalid" else ("live_invalid",)
    return (sa.select(sa.literal(index, sa.Integer).label("bucket"), *groups,
                      total("total").label("total"), total("deleted").label("deleted"), total(*valid).label("valid"),
                      total(*invalid).label("invalid"), total("live_caution").label("caution"),
                      total("billable").label("billable"), total("processed").label("processed"))
            .select_from(source).where(table.c.day >= period.start, table.c.day < period.end)
            .group_by(*groups))


def period_measures(conn: Connection, periods: Sequence[Period], by: Sequence[str] = (),
                    caution_as: str = "separate") -> pd.DataFrame:
    """Measures per period (column ``period``, its text) and per ``by`` grouping, one SQL query.

    Groupings: enterprise (``enterprise_id``), enterprise_type, advertiser and publisher (raw
    names; see :func:`canonical_measures`), channel, vertical, industry, country.

    The query is a UNION ALL of one grouped SELECT per period, each bounded by a plain range
    on its day or ``created_at`` column (no function on it). Groupings held by a per-day table
    (the low-cardinality columns; accounts, their types, no grouping; advertiser alone,
    publisher alone) are summed from it; the others (advertiser with publisher, names with
    other columns) read the leads, where on SQLite a covering index led by the grouping columns
    (see :mod:`reportlib.dashboard.data`) delivers the rows already grouped — a skip-scan
    that seeks the period's range inside each group — instead of sorting a million rows.
    """
    periods = list(periods)
    if not periods:
        raise ValueError("at least one period is required")
    groups = [_group_column(d) for d in by]
    measures_ = _measure_columns(caution_as)
    table = _day_table_for(conn, by)
    if table is not None:
        parts = [_day_select(index, p, table, by, caution_as) for index, p in enumerate(periods)]
    else:
        source = leads.join(enterprises, enterprises.c.enterprise_id == leads.c.enterprise_id) \
            if "enterprise_type" in by else leads
        parts = [_period_select(index, p, groups, source, measures_) for index, p in enumerate(periods)]
    stmt = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    frame = query_frame(conn, stmt)
    if not groups:  # an aggregate with no GROUP BY gives a row of zeros for a period with no lead
        frame = frame[frame["total"] > 0]
    keys = [g.name for g in groups]
    frame.insert(0, "period", [str(periods[int(b)]) for b in frame["bucket"]])
    frame = frame.drop(columns="bucket")
    order = {str(p): i for i, p in enumerate(periods)}
    frame = frame.sort_values(["period", *keys], key=lambda s: s.map(order) if s.name == "period" else s,
                              ignore_index=True)
    return with_rates(frame[["period", *keys, *COUNTS]])


def measures(conn: Connection, period: Period, by: Sequence[str] = (), caution_as: str = "separate") -> pd.DataFrame:
    """Measures of one period, grouped by ``by`` (no grouping: one row)."""
    return period_measures(conn, [period], by, caution_as).drop(columns="period")


def regroup(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Counts re-summed by ``keys``, rates recomputed from the sums."""
    summed = frame.groupby(list(keys), as_index=False, sort=True)[COUNTS].sum() if keys else \
        pd.DataFrame([frame[COUNTS].sum()])
    return with_rates(summed)


def canonical_measures(frame: pd.DataFrame, column: str, resolution: NameResolution) -> pd.DataFrame:
    """Measures grouped by raw ``column`` names re-summed by canonical name; adds ``raw_names``."""
    mapped = frame.assign(**{column: frame[column].map(resolution.canonical()).fillna(frame[column])},
                          raw_name=frame[column])
    keys = [c for c in frame.columns if c not in MEASURES and c != column] + [column]
    result = regroup(mapped, keys)
    raw = mapped.groupby(keys, as_index=False)["raw_name"].nunique().rename(columns={"raw_name": "raw_names"})
    return result.merge(raw, on=keys)


def trend_periods(period: Period, length: int = TREND_LENGTH) -> list[Period]:
    """The ``length`` periods ending with ``period``, oldest first."""
    return [period - offset for offset in reversed(range(length))]


def period_label(period: Period) -> str:
    """``October 2026`` or ``Week 2026-W43 (2026-10-19 to 2026-10-25)``."""
    if isinstance(period, Month):
        return period.label
    return f"Week {period} ({period.start.isoformat()} to {period.last_day.isoformat()})"


def headline(current: pd.Series, previous: pd.Series) -> pd.DataFrame:
    """Each measure now and in the previous period, the change and the change in percent.

    For the invalidation rate the change is in percentage points and ``change_pct`` is None.
    """
    rows = []
    for key in MEASURES:
        now, before = current.get(key), previous.get(key)
        if key == "invalidation_rate":
            change = None if now is None or before is None else now - before
            rows.append({"measure": MEASURE_TITLES[key], "key": key, "current": now, "previous": before,
                         "change": change, "change_pct": None})
            continue
        now, before = int(now or 0), int(before or 0)
        pct = (Decimal(now - before) * 100 / Decimal(before)).quantize(RATE_UNIT, ROUND_HALF_UP) if before else None
        rows.append({"measure": MEASURE_TITLES[key], "key": key, "current": now, "previous": before,
                     "change": now - before, "change_pct": pct})
    return pd.DataFrame(rows, dtype=object)  # ints stay ints, a missing rate stays None


def failing_jobs(conn: Connection, period: Period, enterprise_types: pd.DataFrame | None = None) -> pd.DataFrame:
    """Validation job runs and failures by enterprise type and job for leads created in ``period``.

    ``failure_rate`` is failures / runs in percent (2 places); rows sorted by type, then by
    failures, most first; ``rank`` is the job's place within its enterprise type.

    SQL counts per account and job (the join needs no lookup of the enterprises table for each
    of millions of job rows); pandas re-sums the small result by enterprise type, taken from
    ``enterprise_types`` (``enterprise_id``, ``enterprise_type``; read when not given).
    """
    counts = _job_counts(conn, period)
    return _jobs_by_type(counts, _names_frame(conn) if enterprise_types is None else enterprise_types)


def _job_counts(conn: Connection, period: Period) -> pd.DataFrame:
    """Job runs and failures per account and job of the leads created in ``period``.

    Summed from ``leads_job_days`` (rebuilt at every load), or joined from the leads and their
    jobs on a database that does not have that table yet (loaded by an earlier release).
    """
    if sa.inspect(conn).has_table(job_days.name):
        runs = sa.cast(sa.func.coalesce(sa.func.sum(job_days.c.runs), 0), sa.BigInteger)
        fails = sa.cast(sa.func.coalesce(sa.func.sum(job_days.c.failures), 0), sa.BigInteger)
        return query_frame(conn, sa.select(job_days.c.enterprise_id, job_days.c.job, runs.label("runs"),
                                           fails.label("failures"))
                           .where(job_days.c.day >= period.start, job_days.c.day < period.end)
                           .group_by(job_days.c.enterprise_id, job_days.c.job))
    return _joined_job_counts(conn, period)


def _joined_job_counts(conn: Connection, period: Period) -> pd.DataFrame:
    """:func:`_job_counts` straight from the leads and their jobs (one join of the period)."""
    failures = _count(lead_jobs.c.outcome == "fail").label("failures")
    stmt = (sa.select(leads.c.enterprise_id, lead_jobs.c.job, sa.func.count().label("runs"), failures)
            .select_from(leads.join(lead_jobs, lead_jobs.c.lead_id == leads.c.lead_id))
            .where(leads.c.created_at >= _at(period.start), leads.c.created_at < _at(period.end))
            .group_by(leads.c.enterprise_id, lead_jobs.c.job))
    if conn.dialect.name == "sqlite" and _has_index(conn, leads, PERIOD_INDEX):
        # SQLite would otherwise skip-scan the account index, which lacks lead_id: a table
        # read per lead. The period index hands over each lead's id and account in order.
        # SQLAlchemy renders no table hint for SQLite, hence INDEXED BY spliced into the SQL;
        # every literal in it is a period bound or 'fail', never user input.
        table = conn.dialect.identifier_preparer.format_table(leads)
        sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        sql = sql.replace(f"FROM {table} JOIN", f"FROM {table} INDEXED BY {PERIOD_INDEX} JOIN", 1)
        stmt = sa.text(sql.replace(":", "\\:"))
    return query_frame(conn, stmt)


def _jobs_by_type(counts: pd.DataFrame, enterprise_types: pd.DataFrame) -> pd.DataFrame:
    types = enterprise_types[["enterprise_id", "enterprise_type"]]
    frame = (counts.merge(types, on="enterprise_id", how="inner")
             .groupby(["enterprise_type", "job"], as_index=False, sort=True)[["runs", "failures"]].sum())
    frame["runs"] = frame["runs"].astype("int64")
    frame["failures"] = frame["failures"].astype("int64")
    frame["failure_rate"] = pd.Series([invalidation_rate(f, r) for f, r in zip(frame["failures"], frame["runs"])],
                                      index=frame.index, dtype=object)
    frame = frame.sort_values(["enterprise_type", "failures", "job"], ascending=[True, False, True], ignore_index=True)
    frame["rank"] = frame.groupby("enterprise_type").cumcount() + 1
    return frame


def _has_index(conn: Connection, table: sa.Table, name: str) -> bool:
    return any(ix["name"] == name for ix in sa.inspect(conn).get_indexes(table.name))


def enterprise_movers(by_enterprise: pd.DataFrame, current: str, previous: str, names: pd.DataFrame,
                      min_volume: int = 20, limit: int = 15) -> pd.DataFrame:
    """Accounts whose invalidation rate moved most between ``previous`` and ``current``.

    Only accounts with at least ``min_volume`` valid + invalid leads in both periods count
    (a rate on three leads moves by chance). ``change_points`` is in percentage points.
    """
    now = by_enterprise[by_enterprise["period"] == current]
    before = by_enterprise[by_enterprise["period"] == previous]
    both = now.merge(before, on="enterprise_id", how="inner", suffixes=("", "_previous")).set_index("enterprise_id")
    floor = max(1, min_volume)  # a rate needs at least one valid or invalid lead
    both = both[(both["valid_plus_invalid"] >= floor) & (both["valid_plus_invalid_previous"] >= floor)]
    rows = []
    for enterprise_id, r in both.iterrows():
        rows.append({"enterprise_id": enterprise_id, "previous_rate": r["invalidation_rate_previous"],
                     "current_rate": r["invalidation_rate"],
                     "change_points": r["invalidation_rate"] - r["invalidation_rate_previous"],
                     "previous_valid_plus_invalid": int(r["valid_plus_invalid_previous"]),
                     "current_valid_plus_invalid": int(r["valid_plus_invalid"])})
    frame = pd.DataFrame(rows, columns=["enterprise_id", "previous_rate", "current_rate", "change_points",
                                        "previous_valid_plus_invalid", "current_valid_plus_invalid"])
    frame = frame.merge(names, on="enterprise_id", how="left")
    frame["magnitude"] = frame["change_points"].map(abs)
    frame = frame.sort_values(["magnitude", "enterprise_id"], ascending=[False, True], ignore_index=True)
    return frame.drop(columns="magnitude").head(limit)


@dataclass(frozen=True)
class Dashboard:
    """Every table of one dashboard (a month or an ISO week); all aggregates, no lead's fields."""

    period: Period
    previous: Period
    caution_as: str
    periods: list[Period]
    headline: pd.DataFrame
    trend: pd.DataFrame
    trend_by_vertical: pd.DataFrame
    trend_by_industry: pd.DataFrame
    advertisers: pd.DataFrame
    publishers: pd.DataFrame
    channels: pd.DataFrame
    enterprise_types: pd.DataFrame
    countries: pd.DataFrame
    enterprises: pd.DataFrame
    failing_jobs: pd.DataFrame
    movers: pd.DataFrame
    names: dict[str, NameResolution]
    proposals: dict[str, int]
    query_seconds: float = field(default=0.0, compare=False)

    @property
    def label(self) -> str:
        return period_label(self.period)

    @property
    def kind(self) -> str:
        return "month" if isinstance(self.period, Month) else "week"


def _current_with_previous(frame: pd.DataFrame, key: str, current: str, previous: str) -> pd.DataFrame:
    """Rows of the current period by ``key``, with the previous period's total and rate beside them."""
    now = frame[frame["period"] == current].drop(columns="period")
    before = frame[frame["period"] == previous][[key, "total", "invalidation_rate"]].rename(
        columns={"total": "previous_total", "invalidation_rate": "previous_rate"})
    merged = now.merge(before, on=key, how="left")
    merged["previous_total"] = merged["previous_total"].fillna(0).astype("int64")
    merged["previous_rate"] = merged["previous_rate"].astype(object).where(merged["previous_rate"].notna(), None)
    return merged.sort_values(["total", key], ascending=[False, True], ignore_index=True)


def _names_frame(conn: Connection) -> pd.DataFrame:
    return query_frame(conn, sa.select(enterprises.c.enterprise_id, enterprises.c.name,
                                       enterprises.c.enterprise_type))


def _gather(conn: Connection, queries: dict[str, Callable[[Connection], Any]]) -> dict[str, Any]:
    """Run independent read queries side by side, each on its own pooled connection.

    The database works on several queries at once (SQLite releases the GIL while it steps,
    PostgreSQL runs one backend per connection), so the dashboard waits for the longest
    query rather than for the sum. Each query sees the latest committed data, as it would
    one after the other on ``conn`` outside a transaction. Falls back to ``conn`` alone when
    other connections could not see what it sees: inside a transaction, or on an in-memory
    or single-connection database.
    """
    engine = conn.engine
    alone = (conn.in_transaction() or engine.url.database in (None, "", ":memory:")
             or not isinstance(engine.pool, sa.pool.QueuePool) or len(queries) < 2)
    if alone:
        return {name: query(conn) for name, query in queries.items()}

    def run(query: Callable[[Connection], Any]) -> Any:
        with engine.connect() as own:
            return query(own)

    with ThreadPoolExecutor(max_workers=min(len(queries), max(2, os.cpu_count() or 1)),
                            thread_name_prefix="reportlib-dashboard") as pool:
        futures = {name: pool.submit(run, query) for name, query in queries.items()}
        return {name: future.result() for name, future in futures.items()}


def dashboard(conn: Connection, period: Period, caution_as: str = "separate", *, min_mover_volume: int = 20) -> Dashboard:
    """Compute every table of the dashboard of ``period`` (a Month or an IsoWeek)."""
    clock = time.perf_counter()
    periods = trend_periods(period)
    previous = period - 1
    cur, prev = str(period), str(previous)

    # Grouped sums of the per-day tables (schema.py), side by side: the low-cardinality
    # groupings over the 13 periods (on their covering index), each name kind and the accounts
    # over the two compared periods, then jobs per account. Counts are additive, so pandas
    # re-sums the small results (enterprise types from the accounts: no join of the
    # enterprises table on a million rows).
    recent = [previous, period]
    found = _gather(conn, {
        "jobs": lambda c: _job_counts(c, period),
        "cube": lambda c: period_measures(c, periods, ("vertical", "industry", "channel", "country"), caution_as),
        "advertiser": lambda c: period_measures(c, recent, ("advertiser",), caution_as),
        "publisher": lambda c: period_measures(c, recent, ("publisher",), caution_as),
        "enterprises": lambda c: period_measures(c, recent, ("enterprise",), caution_as),
        "names_table": _names_frame,
        "aliases": load_aliases,
    })
    names_table, cube, aliases = found["names_table"], found["cube"], found["aliases"]
    trend = regroup(cube, ["period"]) if not cube.empty else with_rates(pd.DataFrame(columns=["period", *COUNTS]))
    trend = pd.DataFrame({"period": [str(p) for p in periods]}).merge(trend, on="period", how="left")
    trend[COUNTS] = trend[COUNTS].fillna(0).astype("int64")
    trend = with_rates(trend)
    by_vertical = regroup(cube, ["period", "vertical"])
    by_industry = regroup(cube, ["period", "vertical", "industry"])
    mix = cube[cube["period"].isin([cur, prev])]

    by_enterprise = found["enterprises"]
    by_type = by_enterprise.merge(names_table[["enterprise_id", "enterprise_type"]], on="enterprise_id", how="inner")
    jobs = _jobs_by_type(found["jobs"], names_table)

    resolutions, proposals, tables = {}, {}, {}
    for kind in ("advertiser", "publisher"):
        raw = found[kind]
        counts = raw.groupby(kind, as_index=False)["total"].sum().rename(columns={kind: "name", "total": "leads"})
        full = resolve_names(kind, counts, aliases)
        in_period = set(raw.loc[raw["period"] == cur, kind])
        resolutions[kind] = NameResolution(kind, full.mapping[full.mapping["raw_name"].isin(in_period)]
                                           .reset_index(drop=True))
        proposals[kind] = len(name_proposals(full))
        tables[kind] = _current_with_previous(canonical_measures(raw, kind, full), kind, cur, prev)
    query_seconds = time.perf_counter() - clock

    enterprises_now = _current_with_previous(by_enterprise, "enterprise_id", cur, prev).merge(
        names_table, on="enterprise_id", how="left")
    return Dashboard(
        period=period, previous=previous, caution_as=caution_as, periods=periods,
        headline=headline(trend.iloc[-1], trend.iloc[-2]),
        trend=trend, trend_by_vertical=by_vertical, trend_by_industry=by_industry,
        advertisers=tables["advertiser"], publishers=tables["publisher"],
        channels=_current_with_previous(regroup(mix, ["period", "channel"]), "channel", cur, prev),
        enterprise_types=_current_with_previous(regroup(by_type, ["period", "enterprise_type"]), "enterprise_type", cur,
                                                prev),
        countries=_current_with_previous(regroup(mix, ["period", "country"]), "country", cur, prev),
        enterprises=enterprises_now,
        failing_jobs=jobs,
        movers=enterprise_movers(by_enterprise, cur, prev, names_table, min_volume=min_mover_volume),
        names=resolutions, proposals=proposals, query_seconds=query_seconds,
    )
