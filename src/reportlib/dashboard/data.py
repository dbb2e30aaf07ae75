"""The ``leads`` domain: enterprises, their leads and the validation jobs run on each lead.

CSV contract (header names exactly; extra columns ignored):

| file | columns |
| --- | --- |
| enterprises.csv | enterprise_id, name, enterprise_type (agency/publisher/brand) |
| leads.csv | lead_id, created_at, enterprise_id, advertiser, publisher, channel, vertical, industry, country, status (valid/invalid/caution), deleted, billable, processed |
| lead_jobs.csv | lead_id, job, outcome (pass/fail) |

``created_at`` is an ISO date-time (stored as naive UTC). ``advertiser`` and ``publisher`` are
raw names as users typed them; :mod:`reportlib.dashboard.names` resolves them. The analysts'
alias table (``leads_name_aliases``) is not part of a load: a load replaces the leads but
keeps the aliases; ``reportlib dashboard names import/export/accept`` maintain it.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..db import analyze, metadata
from ..domains import Domain, Field, FileSpec, Ref

__all__ = ["CHANNELS", "DAY_COUNTS", "DAY_TABLES", "DOMAIN", "DayCounts", "ENTERPRISE_TYPES", "NAME_KINDS", "STATUSES",
           "day_accounts", "day_advertisers", "day_dims", "day_publishers", "derive_days", "enterprises", "job_days",
           "lead_jobs", "leads", "name_aliases"]

ENTERPRISE_TYPES = ("agency", "publisher", "brand")
STATUSES = ("valid", "invalid", "caution")
OUTCOMES = ("pass", "fail")
CHANNELS = ("LI connected app", "E2E", "upload", "API")
NAME_KINDS = ("advertiser", "publisher")
PERIOD_INDEX = "ix_leads_leads_period"

enterprises = sa.Table(
    "leads_enterprises", metadata,
    sa.Column("enterprise_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("enterprise_type", sa.String(16), nullable=False),
)

leads = sa.Table(
    "leads_leads", metadata,
    sa.Column("lead_id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("enterprise_id", sa.String(64), sa.ForeignKey("leads_enterprises.enterprise_id"), nullable=False),
    sa.Column("advertiser", sa.String(300), nullable=False),
    sa.Column("publisher", sa.String(300), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("vertical", sa.String(120), nullable=False),
    sa.Column("industry", sa.String(120), nullable=False),
    sa.Column("country", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("billable", sa.Boolean, nullable=False),
    sa.Column("processed", sa.Boolean, nullable=False),
    # Every dashboard query selects a period first. The period index covers the jobs join (a
    # range on created_at yields each lead's id and account without reading the table).
    sa.Index(PERIOD_INDEX, "created_at", "lead_id", "enterprise_id"),
    # Per-account drill-downs.
    sa.Index("ix_leads_leads_enterprise", "enterprise_id", "created_at"),
)

# SQLite groups by sorting every row, which on a million leads costs seconds per query. The
# advertiser × publisher grouping (too many combinations for a per-day table; the dashboard
# reads each name kind from its own per-day table, but an analyst may ask for the pair) has a
# covering index that leads with the grouping columns, then created_at, then the columns the
# measures read: with the statistics that a load records (ANALYZE), SQLite skip-scans each
# group's range of the period and aggregates rows in index order, with no sort and no table
# read. PostgreSQL (hash aggregation) does not need it.
sa.Index("ix_leads_leads_names", leads.c.advertiser, leads.c.publisher, leads.c.created_at, leads.c.status,
         leads.c.deleted, leads.c.billable, leads.c.processed).ddl_if(dialect="sqlite")
# Earlier releases' index, superseded by ix_leads_leads_period: dropped by init and load.
metadata.info.setdefault("obsolete_indexes", set()).add("ix_leads_leads_created_at")

lead_jobs = sa.Table(
    "leads_lead_jobs", metadata,
    # The primary key (lead_id, job) is the index the period join uses: leads of the period
    # first, then their jobs by lead_id.
    sa.Column("lead_id", sa.String(64), sa.ForeignKey("leads_leads.lead_id"), primary_key=True),
    sa.Column("job", sa.String(120), primary_key=True),
    sa.Column("outcome", sa.String(8), nullable=False),
)

# Derived tables, rebuilt at every load (and filled when init creates them beside leads that an
# earlier release loaded): counts per UTC day. Months and ISO weeks start at midnight UTC, so
# a period's counts are sums over its days — thousands of rows instead of a million leads.
# Leads per day and grouping: every measure is a sum of these (valid and invalid per caution_as).
DAY_COUNTS = ("total", "deleted", "live_valid", "live_invalid", "live_caution", "billable", "processed")


def _day_table(name: str, keys: tuple[str, ...]) -> sa.Table:
    return sa.Table(name, metadata, sa.Column("day", sa.Date, primary_key=True),
                    *[sa.Column(k, leads.c[k].type, primary_key=True) for k in keys],
                    *[sa.Column(c, sa.Integer, nullable=False) for c in DAY_COUNTS])


day_dims = _day_table("leads_day_dims", ("vertical", "industry", "channel", "country"))
day_accounts = _day_table("leads_day_accounts", ("enterprise_id",))
# Each name kind on its own: a few hundred names a day, where advertiser × publisher is
# nearly one row per lead.
day_advertisers = _day_table("leads_day_advertisers", ("advertiser",))
day_publishers = _day_table("leads_day_publishers", ("publisher",))
# The 13-period trend groups up to ~30,000 rows a month of day_dims by four text columns, which
# SQLite does by sorting them. Led by the grouping columns and covering the counts, this index
# hands each group's rows over in order (a skip-scan seeking the period inside each group).
sa.Index("ix_leads_day_dims_groups", *[day_dims.c[c] for c in ("vertical", "industry", "channel", "country", "day",
                                                              *DAY_COUNTS)]).ddl_if(dialect="sqlite")
# Job runs and failures per day, account and job (instead of joining a month's leads and jobs).
job_days = sa.Table(
    "leads_job_days", metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("enterprise_id", sa.String(64), primary_key=True),
    sa.Column("job", sa.String(120), primary_key=True),
    sa.Column("runs", sa.Integer, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
)
DAY_TABLES = (day_dims, day_accounts, day_advertisers, day_publishers, job_days)


def _day() -> sa.ColumnElement:
    return sa.func.date(leads.c.created_at)  # SQLite: 'YYYY-MM-DD' text; PostgreSQL: a date


def _sum_if(condition) -> sa.ColumnElement:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _derive(conn, table: sa.Table) -> None:
    conn.execute(table.delete())
    if table is job_days:
        keys = [leads.c.enterprise_id, lead_jobs.c.job]
        select = (sa.select(_day(), *keys, sa.func.count(), _sum_if(lead_jobs.c.outcome == "fail"))
                  .select_from(leads.join(lead_jobs, lead_jobs.c.lead_id == leads.c.lead_id)))
    else:
        keys = [leads.c[c.name] for c in table.primary_key.columns if c.name != "day"]
        live = leads.c.deleted == sa.false()
        select = sa.select(_day(), *keys, sa.func.count(), _sum_if(leads.c.deleted == sa.true()),
                           *[_sum_if(sa.and_(live, leads.c.status == s)) for s in STATUSES],
                           _sum_if(leads.c.billable == sa.true()), _sum_if(leads.c.processed == sa.true()))
    conn.execute(table.insert().from_select([c.name for c in table.columns], select.group_by(_day(), *keys)))


def derive_days(conn) -> None:
    """Rebuild every per-day table from the leads and their jobs (in the caller's transaction)."""
    for table in DAY_TABLES:
        _derive(conn, table)


class DayCounts:
    """The per-day tables of :func:`derive_days`, counted from the rows as a load writes them.

    Each chunk of leads is grouped at once (the groups of a day are few); each lead's day and
    account and each job's outcome are kept (short columns) for the job counts, which join them
    at the end. Same rows as ``derive_days`` (tested on both databases).
    """

    def __init__(self):
        self.partial: dict[sa.Table, list] = {t: [] for t in DAY_TABLES if t is not job_days}
        self.leads: list = []
        self.jobs: list = []

    def add(self, file: str, rows) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if file == "leads.csv":
            day = pc.cast(rows.column("created_at"), pa.date32())
            deleted = rows.column("deleted")
            live = pc.invert(deleted)
            counts = {"total": pa.array([1] * rows.num_rows, pa.int64()) if rows.num_rows else pa.array([], pa.int64()),
                      "deleted": deleted, "billable": rows.column("billable"), "processed": rows.column("processed")}
            for status in STATUSES:
                counts[f"live_{status}"] = pc.and_(live, pc.equal(rows.column("status"), status))
            counts = {k: pc.cast(v, pa.int64()) for k, v in counts.items()}
            for table, parts in self.partial.items():
                keys = [c.name for c in table.primary_key.columns if c.name != "day"]
                frame = pa.table({"day": day, **{k: rows.column(k) for k in keys}, **counts})
                parts.append(_summed(frame, ["day", *keys]))
                if len(parts) >= 16:  # fold the chunks' groups together: memory follows the groups, not the leads
                    parts[:] = [_summed(pa.concat_tables(parts), ["day", *keys])]
            self.leads.append(pa.table({"lead_id": rows.column("lead_id"), "day": day,
                                        "enterprise_id": rows.column("enterprise_id")}))
        elif file == "lead_jobs.csv":  # jobs are few names: kept as dictionary codes
            self.jobs.append(pa.table({"lead_id": rows.column("lead_id"),
                                       "job": pc.dictionary_encode(rows.column("job")),
                                       "failures": pc.cast(pc.equal(rows.column("outcome"), "fail"), pa.int8())}))

    def tables(self) -> dict:
        import pyarrow as pa

        out = {}
        for table, parts in self.partial.items():
            keys = [c.name for c in table.primary_key.columns]
            out[table] = _summed(pa.concat_tables(parts), keys).select([c.name for c in table.columns]) \
                if parts else None
        if self.leads and self.jobs:
            import pyarrow.compute as pc

            jobs = pa.concat_tables(self.jobs).unify_dictionaries()
            leads = pa.concat_tables(self.leads)
            self.jobs, self.leads = [], []
            # each job's lead by its position: one hash of the lead ids, probed once per job
            # (cheaper than a join, which also builds and copies the joined rows)
            at = pc.index_in(jobs.column("lead_id"), value_set=leads.column("lead_id").combine_chunks())
            known = pc.is_valid(at)
            jobs, at = jobs.filter(known), at.filter(known)
            jobs = pa.table({"day": leads.column("day").take(at),
                             "enterprise_id": leads.column("enterprise_id").take(at),
                             "job": jobs.column("job"), "failures": jobs.column("failures")})
            counted = jobs.group_by(["day", "enterprise_id", "job"], use_threads=False).aggregate(
                [("failures", "count"), ("failures", "sum")])
            counted = counted.rename_columns(["day", "enterprise_id", "job", "runs", "failures"])
            out[job_days] = pa.table({"day": counted["day"], "enterprise_id": counted["enterprise_id"],
                                      "job": counted["job"].cast(pa.string()),
                                      "runs": counted["runs"].cast(pa.int64()),
                                      "failures": counted["failures"].cast(pa.int64())})
        return {t: rows for t, rows in out.items() if rows is not None}


def _summed(frame, keys: list[str]):
    """``frame`` grouped by ``keys`` with every other column summed (names kept)."""
    values = [c for c in frame.column_names if c not in keys]
    summed = frame.group_by(keys, use_threads=False).aggregate([(c, "sum") for c in values])
    return summed.rename_columns([c.removesuffix("_sum") if c.endswith("_sum") else c for c in summed.column_names])


def _derive_beside_existing_leads(table, connection, **_kw) -> None:
    # A database loaded by an earlier release gets the table from init or its next load: fill
    # it from the leads already there (a fresh database has none yet, maybe not even the table).
    if sa.inspect(connection).has_table(lead_jobs.name):
        _derive(connection, table)
        analyze(connection, table)


for _table in DAY_TABLES:
    sa.event.listen(_table, "after_create", _derive_beside_existing_leads)


name_aliases = sa.Table(
    "leads_name_aliases", metadata,
    sa.Column("kind", sa.String(16), primary_key=True),  # advertiser | publisher
    sa.Column("raw_name", sa.String(300), primary_key=True),
    sa.Column("canonical_name", sa.String(300), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # analyst | accepted
    sa.Column("score", sa.Numeric(5, 1)),  # similarity of an accepted proposal
    sa.Column("updated_at", sa.DateTime, nullable=False),  # UTC
)


FILES = (
    FileSpec("enterprises.csv", enterprises, (
        Field("enterprise_id"),
        Field("name"),
        Field("enterprise_type", "enum", choices=ENTERPRISE_TYPES),
    ), key=("enterprise_id",)),
    FileSpec("leads.csv", leads, (
        Field("lead_id"),
        Field("created_at", "datetime"),
        Field("enterprise_id"),
        Field("advertiser"),
        Field("publisher"),
        Field("channel"),  # open list: "LI connected app", "E2E", "upload", "API", ...
        Field("vertical"),
        Field("industry"),
        Field("country"),
        Field("status", "enum", choices=STATUSES),
        Field("deleted", "bool"),
        Field("billable", "bool"),
        Field("processed", "bool"),
    ), key=("lead_id",), refs=(Ref(("enterprise_id",), "enterprises.csv", ("enterprise_id",), "enterprise"),)),
    FileSpec("lead_jobs.csv", lead_jobs, (
        Field("lead_id"),
        Field("job"),
        Field("outcome", "enum", choices=OUTCOMES),
    ), key=("lead_id", "job"), refs=(Ref(("lead_id",), "leads.csv", ("lead_id",), "lead"),)),
)


def _demo(seed: int, scale: str):
    from .demo import demo_leads

    return demo_leads(seed, scale)


DOMAIN = Domain(
    "leads", FILES, demo=_demo, derived_tables=DAY_TABLES, derive=derive_days, derive_rows=DayCounts,
    description="Enterprises, their leads (advertiser, publisher, channel, status...) and validation jobs.")
