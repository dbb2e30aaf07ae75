"""The dashboard's indexes and query plan inputs: created by init, added to an older database at
load, statistics refreshed; and the restructured queries count exactly what the leads say."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from reportlib.dashboard.demo import demo_leads
from reportlib.dashboard.metrics import (_day_select, _day_table_for, dashboard, failing_jobs, invalidation_rate,
                                        period_measures, trend_periods)
from reportlib.dashboard.data import PERIOD_INDEX, day_dims

DAY_TABLES = ("leads_day_dims", "leads_day_accounts", "leads_day_advertisers", "leads_day_publishers", "leads_job_days")
from reportlib.db import analyze, connect, engine_for, init_db
from reportlib.load import write_domain
from reportlib.periods import IsoWeek, Month

SQLITE_ONLY = {"ix_leads_leads_names"}
BOTH = {PERIOD_INDEX, "ix_leads_leads_enterprise"}


def _indexes(url: str, table: str) -> dict[str, list[str]]:
    return {ix["name"]: ix["column_names"] for ix in sa.inspect(engine_for(url)).get_indexes(table)}


def test_init_creates_the_covering_indexes_of_each_engine(db_url):
    leads = _indexes(db_url, "leads_leads")
    sqlite = engine_for(db_url).dialect.name == "sqlite"
    assert BOTH | (SQLITE_ONLY if sqlite else set()) <= set(leads)
    assert sqlite or not SQLITE_ONLY & set(leads)
    assert "ix_leads_leads_created_at" not in leads
    assert leads[PERIOD_INDEX] == ["created_at", "lead_id", "enterprise_id"]
    if sqlite:  # a covering index: the grouping columns, then the period, then what is summed
        assert leads["ix_leads_leads_names"] == ["advertiser", "publisher", "created_at", "status", "deleted",
                                                 "billable", "processed"]
        assert _indexes(db_url, "leads_day_dims")["ix_leads_day_dims_groups"] == [
            "vertical", "industry", "channel", "country", "day", "total", "deleted", "live_valid", "live_invalid",
            "live_caution", "billable", "processed"]
    else:
        assert "ix_leads_day_dims_groups" not in _indexes(db_url, "leads_day_dims")


def test_on_a_large_sqlite_database_the_trend_groups_come_in_index_order(sqlite_url):
    """The trend's 13 grouped sums read the covering index in group order, with no sort, once
    the table is as big as a million leads make it (on a small one SQLite rightly sorts): one
    row a day for each of 240 groups, analysed as a load analyses it."""
    from datetime import date, timedelta

    init_db(sqlite_url)
    groups = [(v, i, c, k) for v in "ABCD" for i in "xyz" for c in ("API", "E2E", "upload", "LI") for k in "12345"]
    days = [date(2025, 10, 1) + timedelta(days=n) for n in range(396)]
    with engine_for(sqlite_url).begin() as conn:
        conn.execute(day_dims.insert(), [dict(zip(("vertical", "industry", "channel", "country"), g), day=d, total=3,
                                              deleted=0, live_valid=1, live_invalid=1, live_caution=1, billable=1,
                                              processed=1) for d in days for g in groups])
        analyze(conn, day_dims)
    periods = trend_periods(Month(2026, 10))
    cube = sa.union_all(*[_day_select(i, p, day_dims, ("vertical", "industry", "channel", "country"), "separate")
                          for i, p in enumerate(periods)])
    with connect(sqlite_url) as conn:
        plan = _plan(conn, cube)
        assert "USING COVERING INDEX ix_leads_day_dims_groups" in plan and "TEMP B-TREE" not in plan, plan
        got = period_measures(conn, periods, ("vertical", "industry", "channel", "country"))
    assert len(got) == 13 * len(groups) and set(got.loc[got["period"] == "2026-10", "total"]) == {3 * 31}


def test_each_name_kind_is_summed_from_its_own_day_table(seeded):
    url, _ = seeded
    with connect(url) as conn:
        for kind in ("advertiser", "publisher"):
            table = _day_table_for(conn, (kind,))
            assert table is not None and table.name == f"leads_day_{kind}s"
        assert _day_table_for(conn, ("advertiser", "publisher")) is None  # the pair reads the leads


def _plan(conn, statement) -> str:
    sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    return "\n".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))


def test_a_database_from_an_earlier_release_gets_the_indexes_and_statistics_at_load(db_url):
    engine = engine_for(db_url)
    with engine.begin() as conn:  # what an earlier release left: the plain created_at index only
        for name in SQLITE_ONLY | {PERIOD_INDEX, "ix_leads_day_dims_groups"}:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
        conn.exec_driver_sql("CREATE INDEX ix_leads_leads_created_at ON leads_leads (created_at)")
    assert PERIOD_INDEX not in _indexes(db_url, "leads_leads")

    write_domain("leads", demo_leads(7, "small"), url=db_url, source="upgrade")
    leads = _indexes(db_url, "leads_leads")
    assert PERIOD_INDEX in leads and "ix_leads_leads_created_at" not in leads
    with connect(db_url) as conn:
        if engine.dialect.name == "sqlite":
            analysed = {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT idx FROM sqlite_stat1 WHERE tbl = 'leads_leads'")}
            assert SQLITE_ONLY | BOTH <= analysed
            tables = {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT tbl FROM sqlite_stat1")}
            assert set(DAY_TABLES) <= tables
            dims = {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT idx FROM sqlite_stat1 WHERE tbl = 'leads_day_dims'")}
            assert "ix_leads_day_dims_groups" in dims
        else:
            analysed = conn.exec_driver_sql("SELECT last_analyze FROM pg_stat_user_tables "
                                            "WHERE relname = 'leads_leads' AND schemaname = current_schema()").scalar()
            assert analysed is not None


def test_init_on_an_up_to_date_database_changes_nothing(db_url):
    before = _indexes(db_url, "leads_leads")
    init_db(db_url)
    assert _indexes(db_url, "leads_leads") == before


# --- the restructured queries against a plain pandas count of the same seeded leads -------------

@pytest.fixture
def seeded(db_url):
    data = demo_leads(11, "small")
    write_domain("leads", data, url=db_url, source="seeded")
    return db_url, data


def _reference(data: dict, period, by: list[str], caution_as: str) -> pd.DataFrame:
    """The measures counted in pandas, lead by lead, straight from the definitions."""
    leads = data["leads.csv"].merge(data["enterprises.csv"], on="enterprise_id")
    rows = leads[(leads["created_at"] >= pd.Timestamp(period.start)) & (leads["created_at"] < pd.Timestamp(period.end))]
    valid = {"valid"} | ({"caution"} if caution_as == "valid" else set())
    invalid = {"invalid"} | ({"caution"} if caution_as == "invalid" else set())
    live = ~rows["deleted"]
    counted = pd.DataFrame({
        **{k: rows[k] for k in by},
        "total": 1, "deleted": rows["deleted"].astype(int),
        "valid": (live & rows["status"].isin(valid)).astype(int),
        "invalid": (live & rows["status"].isin(invalid)).astype(int),
        "caution": (live & (rows["status"] == "caution")).astype(int),
        "billable": rows["billable"].astype(int), "processed": rows["processed"].astype(int)})
    if by:
        return counted.groupby(by, as_index=False).sum().sort_values(by, ignore_index=True)
    return pd.DataFrame([counted.sum()]) if len(counted) else counted.iloc[0:0]


GROUPINGS = [[], ["vertical", "industry", "channel", "country"], ["advertiser", "publisher"], ["advertiser"],
             ["publisher"], ["enterprise_id"], ["enterprise_type"], ["channel", "advertiser"]]


def test_grouped_measures_equal_a_lead_by_lead_count(seeded):
    url, data = seeded
    periods = trend_periods(Month(2026, 10))
    for by in GROUPINGS:
        for caution_as in ("separate", "invalid", "valid"):
            _check_grouping(url, data, periods, by, caution_as)


def _check_grouping(url, data, periods, by, caution_as):
    grouping = ["enterprise" if b == "enterprise_id" else b for b in by]
    with connect(url) as conn:
        got = period_measures(conn, periods, grouping, caution_as)
    assert set(got["period"]) == {str(p) for p in periods}  # the small demo has leads in every month
    for period in periods:
        mine = got[got["period"] == str(period)].drop(columns="period").reset_index(drop=True)
        expected = _reference(data, period, by, caution_as)
        columns = ["total", "deleted", "valid", "invalid", "caution", "billable", "processed"]
        pd.testing.assert_frame_equal(mine[by + columns], expected[by + columns], check_dtype=False)
        rates = [invalidation_rate(i, v + i) for i, v in zip(expected["invalid"], expected["valid"])]
        assert list(mine["invalidation_rate"]) == rates


def test_week_measures_and_failing_jobs_equal_a_lead_by_lead_count(seeded):
    url, data = seeded
    week = IsoWeek(2026, 43)
    with connect(url) as conn:
        got = period_measures(conn, [week], ["channel"]).drop(columns="period")
        jobs = failing_jobs(conn, Month(2026, 10))
    expected = _reference(data, week, ["channel"], "separate")
    assert got["total"].tolist() == expected["total"].tolist() and got["channel"].tolist() == expected["channel"].tolist()

    leads = data["leads.csv"].merge(data["enterprises.csv"], on="enterprise_id")
    october = leads[(leads["created_at"] >= "2026-10-01") & (leads["created_at"] < "2026-11-01")]
    runs = data["lead_jobs.csv"].merge(october[["lead_id", "enterprise_type"]], on="lead_id")
    runs["failed"] = runs["outcome"] == "fail"
    counted = runs.groupby(["enterprise_type", "job"])["failed"].agg(["size", "sum"])
    mine = jobs.set_index(["enterprise_type", "job"])
    assert mine["runs"].to_dict() == counted["size"].to_dict()
    assert mine["failures"].to_dict() == counted["sum"].to_dict()
    assert (jobs.groupby("enterprise_type")["rank"].apply(list) == jobs.groupby("enterprise_type")["rank"]
            .apply(lambda r: list(range(1, len(r) + 1)))).all()
    assert all(isinstance(r, Decimal) for r in jobs["failure_rate"])


def test_side_by_side_queries_give_what_one_connection_gives(seeded):
    """The dashboard fans its queries out over pooled connections; inside a transaction it
    stays on the caller's connection. Both must give the same dashboard."""
    url, _ = seeded
    assert isinstance(engine_for(url).pool, sa.pool.QueuePool)  # so the first run really fans out
    with connect(url) as conn:
        fanned = dashboard(conn, Month(2026, 10), "invalid")
    with connect(url) as conn, conn.begin():
        alone = dashboard(conn, Month(2026, 10), "invalid")
    for field in dataclasses.fields(fanned):
        mine, theirs = getattr(fanned, field.name), getattr(alone, field.name)
        if isinstance(mine, pd.DataFrame):
            pd.testing.assert_frame_equal(mine, theirs)
        elif field.name == "names":
            for kind in mine:
                pd.testing.assert_frame_equal(mine[kind].mapping, theirs[kind].mapping)
        elif field.compare:
            assert mine == theirs, field.name
    assert fanned.enterprise_types["total"].sum() == fanned.headline.set_index("key").at["total", "current"]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype({"runs": "int64", "failures": "int64"})
    return frame.sort_values(["enterprise_id", "job"], ignore_index=True)


def test_job_days_sum_to_what_the_join_of_leads_and_jobs_counts(seeded):
    from reportlib.dashboard.metrics import _job_counts, _joined_job_counts

    url, data = seeded
    with connect(url) as conn:
        stored = conn.execute(sa.select(sa.func.sum(sa.column("runs"))).select_from(sa.table("leads_job_days"))).scalar()
        assert stored == len(data["lead_jobs.csv"])
        for period in (Month(2026, 10), Month(2026, 9), IsoWeek(2026, 44), IsoWeek(2026, 1)):
            summed, joined = _job_counts(conn, period), _joined_job_counts(conn, period)
            pd.testing.assert_frame_equal(_sorted(summed), _sorted(joined))
            assert len(summed) > 0 or period == IsoWeek(2026, 1)


def test_a_database_without_the_day_tables_counts_from_the_leads_and_gets_them_at_init(seeded):
    """An earlier release's database has no per-day tables: every measure comes from the leads
    (the same figures), until init or the next load creates and fills them."""
    from reportlib.dashboard.metrics import _job_counts, _joined_job_counts

    url, data = seeded
    periods = trend_periods(Month(2026, 10))
    with connect(url) as conn:
        expected = _sorted(_joined_job_counts(conn, Month(2026, 10)))
        summed_dashboard = dashboard(conn, Month(2026, 10))
    with engine_for(url).begin() as conn:
        for table in DAY_TABLES:
            conn.exec_driver_sql(f"DROP TABLE {table}")
    for by in GROUPINGS:
        _check_grouping(url, data, periods, by, "invalid")
    with connect(url) as conn:
        pd.testing.assert_frame_equal(_sorted(_job_counts(conn, Month(2026, 10))), expected)
        from_leads = dashboard(conn, Month(2026, 10))
    for name in ("trend", "trend_by_industry", "channels", "enterprise_types", "enterprises", "failing_jobs", "movers",
                 "advertisers", "publishers", "headline"):
        pd.testing.assert_frame_equal(getattr(from_leads, name), getattr(summed_dashboard, name))

    init_db(url)  # creates the tables and fills them from the leads already there
    with connect(url) as conn:
        for table in DAY_TABLES:
            assert sa.inspect(conn).has_table(table)
        pd.testing.assert_frame_equal(_sorted(_job_counts(conn, Month(2026, 10))), expected)
        total = conn.execute(sa.text("SELECT SUM(total) FROM leads_day_accounts")).scalar()
    assert total == len(data["leads.csv"])
    for by in GROUPINGS:
        _check_grouping(url, data, periods, by, "valid")
