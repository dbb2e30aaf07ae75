"""The ``qbr`` domain: partners and everything a quarterly business review measures.

CSV contract (header names exactly; extra columns ignored), one file per table:

| file | columns |
| --- | --- |
| partners.csv | partner_id, name, tier, segment, region, partner_manager, account_manager, start_date, contract_end_date, status |
| opportunities.csv | opportunity_id, partner_id, amount, stage, created_date, close_date, status, loss_reason |
| targets.csv | partner_id, quarter, revenue_target |
| deal_registrations.csv | registration_id, partner_id, submitted_at, status, decided_at, rejection_reason, opportunity_id |
| training.csv | partner_id, course_id, assigned_date, completed_date |
| certifications.csv | partner_id, certification, level, issued_date, expiry_date |
| portal_activity.csv | partner_id, date, logins, session_minutes, content_views |
| events.csv | partner_id, event_id, kind, date, attended |
| marketing.csv | partner_id, date, kind |
| mdf_allocations.csv | partner_id, quarter, allocated |
| mdf_requests.csv | request_id, partner_id, submitted_date, status, requested, approved_amount, spent, first_spend_date, attributed_revenue |
| customers.csv | customer_id, partner_id, contract_date, go_live_date, churn_date |
| surveys.csv | survey_id, partner_id, customer_id, date, csat, nps |
| tickets.csv | ticket_id, partner_id, customer_id, opened_date, first_contact_resolved, escalated |

Rules beyond types: a won or lost deal has a close_date on or after its created_date and an
open deal has none; ``stage`` is the furthest sales stage a deal reached (:data:`STAGES`);
quarters are written ``2026Q3``; CSAT is 1–5 and NPS 0–10; a decided registration's
decided_at is not before its submitted_at. Money is stored exactly to 2 decimal places.

:func:`load_inputs` reads what a quarter's metrics need, for all partners, with one query per
table (:class:`QbrInputs`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import Exact, metadata, query_frame
from ..domains import Domain, Field, FileSpec, Ref, RowCheck
from ..periods import Quarter

if TYPE_CHECKING:  # the runner imports the tables to plan a run: pandas is for the kernel's reads
    import pandas as pd

__all__ = ["DOMAIN", "OPPORTUNITY_STATUSES", "QbrInputs", "REGISTRATION_STATUSES", "SEGMENTS", "STAGES", "TABLES",
           "TIERS", "TREND_QUARTERS", "as_quarter", "load_inputs"]

TIERS = ("strategic", "select", "registered")
SEGMENTS = ("focus", "assist")
STAGES = ("qualify", "develop", "propose", "negotiate", "commit")
OPPORTUNITY_STATUSES = ("open", "won", "lost")
REGISTRATION_STATUSES = ("submitted", "approved", "rejected", "won", "lost")
_QUARTER = re.compile(r"^\d{4}Q[1-4]$")
ZERO = Decimal(0)


def _pid(**kw) -> sa.Column:
    return sa.Column("partner_id", sa.String(64), sa.ForeignKey("qbr_partners.partner_id"), nullable=False,
                     index=True, **kw)


partners = sa.Table(
    "qbr_partners", metadata,
    sa.Column("partner_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("segment", sa.String(16), nullable=False),
    sa.Column("region", sa.String(100), nullable=False),
    sa.Column("partner_manager", sa.String(200), nullable=False),
    sa.Column("account_manager", sa.String(200), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("contract_end_date", sa.Date),
    sa.Column("status", sa.String(16), nullable=False),
)
opportunities = sa.Table(
    "qbr_opportunities", metadata,
    sa.Column("opportunity_id", sa.String(64), primary_key=True),
    _pid(),
    sa.Column("amount", Exact(2), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("created_date", sa.Date, nullable=False),
    sa.Column("close_date", sa.Date),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("loss_reason", sa.String(300)),
    sa.Index("ix_qbr_opp_close", "status", "close_date"),
)
targets = sa.Table(
    "qbr_targets", metadata,
    _pid(primary_key=True),
    sa.Column("quarter", sa.String(6), primary_key=True),
    sa.Column("revenue_target", Exact(2), nullable=False),
)
deal_registrations = sa.Table(
    "qbr_deal_registrations", metadata,
    sa.Column("registration_id", sa.String(64), primary_key=True),
    _pid(),
    sa.Column("submitted_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("rejection_reason", sa.String(300)),
    sa.Column("opportunity_id", sa.String(64), sa.ForeignKey("qbr_opportunities.opportunity_id")),
)
training = sa.Table(
    "qbr_training", metadata,
    _pid(primary_key=True),
    sa.Column("course_id", sa.String(64), primary_key=True),
    sa.Column("assigned_date", sa.Date, nullable=False),
    sa.Column("completed_date", sa.Date),
)
certifications = sa.Table(
    "qbr_certifications", metadata,
    _pid(primary_key=True),
    sa.Column("certification", sa.String(200), primary_key=True),
    sa.Column("level", sa.String(64), nullable=False),
    sa.Column("issued_date", sa.Date, primary_key=True),
    sa.Column("expiry_date", sa.Date, nullable=False),
)
portal_activity = sa.Table(
    "qbr_portal_activity", metadata,
    _pid(primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("logins", sa.Integer, nullable=False),
    sa.Column("session_minutes", sa.Integer, nullable=False),
    sa.Column("content_views", sa.Integer, nullable=False),
)
events = sa.Table(
    "qbr_events", metadata,
    _pid(primary_key=True),
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("attended", sa.Boolean, nullable=False),
)
marketing = sa.Table(
    "qbr_marketing", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _pid(),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
)
mdf_allocations = sa.Table(
    "qbr_mdf_allocations", metadata,
    _pid(primary_key=True),
    sa.Column("quarter", sa.String(6), primary_key=True),
    sa.Column("allocated", Exact(2), nullable=False),
)
mdf_requests = sa.Table(
    "qbr_mdf_requests", metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    _pid(),
    sa.Column("submitted_date", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("requested", Exact(2), nullable=False),
    sa.Column("approved_amount", Exact(2)),
    sa.Column("spent", Exact(2)),
    sa.Column("first_spend_date", sa.Date),
    sa.Column("attributed_revenue", Exact(2)),
)
customers = sa.Table(
    "qbr_customers", metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    _pid(),
    sa.Column("contract_date", sa.Date, nullable=False),
    sa.Column("go_live_date", sa.Date),
    sa.Column("churn_date", sa.Date),
)
surveys = sa.Table(
    "qbr_surveys", metadata,
    sa.Column("survey_id", sa.String(64), primary_key=True),
    _pid(),
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("qbr_customers.customer_id")),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("csat", sa.Integer),
    sa.Column("nps", sa.Integer),
)
tickets = sa.Table(
    "qbr_tickets", metadata,
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    _pid(),
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("qbr_customers.customer_id")),
    sa.Column("opened_date", sa.Date, nullable=False),
    sa.Column("first_contact_resolved", sa.Boolean, nullable=False),
    sa.Column("escalated", sa.Boolean, nullable=False),
)
TABLES = {t.name.removeprefix("qbr_"): t for t in (
    partners, opportunities, targets, deal_registrations, training, certifications, portal_activity, events,
    marketing, mdf_allocations, mdf_requests, customers, surveys, tickets)}


def _quarter_text(column: str):
    def check(row: Mapping[str, Any]) -> list[tuple[str, str]]:
        if not _QUARTER.match(str(row[column]).strip()):
            return [(column, "is not a quarter; write it as YYYYQn, e.g. 2026Q3")]
        return []
    return check


def _not_before(later: str, earlier: str) -> RowCheck:
    def check(row: Mapping[str, Any]) -> list[tuple[str, str]]:
        if row.get(later) is not None and row.get(earlier) is not None and row[later] < row[earlier]:
            return [(later, f"is before {earlier} {row[earlier]}")]
        return []

    def flags(columns):
        import pyarrow.compute as pc

        return pc.fill_null(pc.less(columns[later], columns[earlier]), False)
    return RowCheck(check, flags)


def _deal_closing(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    if row["status"] in ("won", "lost") and row["close_date"] is None:
        return [("close_date", f"is required for a {row['status']} deal")]
    if row["status"] == "open" and row["close_date"] is not None:
        return [("close_date", "must be empty while the deal is open")]
    return []


def _closing_mismatch(columns):
    import pyarrow.compute as pc

    closed = pc.is_valid(columns["close_date"])
    return pc.xor(pc.equal(columns["status"], "open"), pc.invert(closed))


def _registration_decision(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    if row["status"] != "submitted" and row["decided_at"] is None:
        return [("decided_at", f"is required for a {row['status']} registration")]
    return []


def _undecided(columns):
    import pyarrow.compute as pc

    return pc.and_(pc.not_equal(columns["status"], "submitted"), pc.is_null(columns["decided_at"]))


def _score_range(column: str, low: int, high: int) -> RowCheck:
    def check(row: Mapping[str, Any]) -> list[tuple[str, str]]:
        value = row[column]
        if value is not None and not low <= value <= high:
            return [(column, f"must be between {low} and {high}")]
        return []

    def flags(columns):
        import pyarrow.compute as pc

        return pc.fill_null(pc.or_(pc.less(columns[column], low), pc.greater(columns[column], high)), False)
    return RowCheck(check, flags)


def _pid_ref(what: str = "partner") -> Ref:
    return Ref(("partner_id",), "partners.csv", ("partner_id",), what)


_MONEY = dict(scale=2, min_value=ZERO)

FILES = (
    FileSpec("partners.csv", partners, (
        Field("partner_id"), Field("name"),
        Field("tier", "enum", choices=TIERS), Field("segment", "enum", choices=SEGMENTS),
        Field("region"), Field("partner_manager"), Field("account_manager"),
        Field("start_date", "date"), Field("contract_end_date", "date", required=False),
        Field("status", "enum", choices=("active", "inactive")),
    ), key=("partner_id",), row_checks=(_not_before("contract_end_date", "start_date"),)),
    FileSpec("opportunities.csv", opportunities, (
        Field("opportunity_id"), Field("partner_id"), Field("amount", "decimal", **_MONEY),
        Field("stage", "enum", choices=STAGES), Field("created_date", "date"),
        Field("close_date", "date", required=False), Field("status", "enum", choices=OPPORTUNITY_STATUSES),
        Field("loss_reason", required=False),
    ), key=("opportunity_id",), refs=(_pid_ref(),),
        row_checks=(RowCheck(_deal_closing, _closing_mismatch), _not_before("close_date", "created_date"))),
    FileSpec("targets.csv", targets, (
        Field("partner_id"), Field("quarter"), Field("revenue_target", "decimal", **_MONEY),
    ), key=("partner_id", "quarter"), refs=(_pid_ref(),), row_checks=(_quarter_text("quarter"),)),
    FileSpec("deal_registrations.csv", deal_registrations, (
        Field("registration_id"), Field("partner_id"), Field("submitted_at", "datetime"),
        Field("status", "enum", choices=REGISTRATION_STATUSES), Field("decided_at", "datetime", required=False),
        Field("rejection_reason", required=False), Field("opportunity_id", required=False),
    ), key=("registration_id",),
        refs=(_pid_ref(), Ref(("opportunity_id",), "opportunities.csv", ("opportunity_id",), "opportunity")),
        row_checks=(RowCheck(_registration_decision, _undecided), _not_before("decided_at", "submitted_at"))),
    FileSpec("training.csv", training, (
        Field("partner_id"), Field("course_id"), Field("assigned_date", "date"),
        Field("completed_date", "date", required=False),
    ), key=("partner_id", "course_id"), refs=(_pid_ref(),),
        row_checks=(_not_before("completed_date", "assigned_date"),)),
    FileSpec("certifications.csv", certifications, (
        Field("partner_id"), Field("certification"), Field("level"), Field("issued_date", "date"),
        Field("expiry_date", "date"),
    ), key=("partner_id", "certification", "issued_date"), refs=(_pid_ref(),),
        row_checks=(_not_before("expiry_date", "issued_date"),)),
    FileSpec("portal_activity.csv", portal_activity, (
        Field("partner_id"), Field("date", "date"), Field("logins", "int", min_value=0),
        Field("session_minutes", "int", min_value=0), Field("content_views", "int", min_value=0),
    ), key=("partner_id", "date"), refs=(_pid_ref(),)),
    FileSpec("events.csv", events, (
        Field("partner_id"), Field("event_id"), Field("kind", "enum", choices=("event", "webinar", "conference")),
        Field("date", "date"), Field("attended", "bool"),
    ), key=("partner_id", "event_id"), refs=(_pid_ref(),)),
    FileSpec("marketing.csv", marketing, (
        Field("partner_id"), Field("date", "date"),
        Field("kind", "enum", choices=("co_marketing", "case_study", "reference")),
    ), refs=(_pid_ref(),)),
    FileSpec("mdf_allocations.csv", mdf_allocations, (
        Field("partner_id"), Field("quarter"), Field("allocated", "decimal", **_MONEY),
    ), key=("partner_id", "quarter"), refs=(_pid_ref(),), row_checks=(_quarter_text("quarter"),)),
    FileSpec("mdf_requests.csv", mdf_requests, (
        Field("request_id"), Field("partner_id"), Field("submitted_date", "date"),
        Field("status", "enum", choices=("submitted", "approved", "rejected")),
        Field("requested", "decimal", **_MONEY), Field("approved_amount", "decimal", required=False, **_MONEY),
        Field("spent", "decimal", required=False, **_MONEY), Field("first_spend_date", "date", required=False),
        Field("attributed_revenue", "decimal", required=False, **_MONEY),
    ), key=("request_id",), refs=(_pid_ref(),), row_checks=(_not_before("first_spend_date", "submitted_date"),)),
    FileSpec("customers.csv", customers, (
        Field("customer_id"), Field("partner_id"), Field("contract_date", "date"),
        Field("go_live_date", "date", required=False), Field("churn_date", "date", required=False),
    ), key=("customer_id",), refs=(_pid_ref(),),
        row_checks=(_not_before("go_live_date", "contract_date"), _not_before("churn_date", "contract_date"))),
    FileSpec("surveys.csv", surveys, (
        Field("survey_id"), Field("partner_id"), Field("customer_id", required=False), Field("date", "date"),
        Field("csat", "int", required=False), Field("nps", "int", required=False),
    ), key=("survey_id",),
        refs=(_pid_ref(), Ref(("customer_id",), "customers.csv", ("customer_id",), "customer")),
        row_checks=(_score_range("csat", 1, 5), _score_range("nps", 0, 10))),
    FileSpec("tickets.csv", tickets, (
        Field("ticket_id"), Field("partner_id"), Field("customer_id", required=False), Field("opened_date", "date"),
        Field("first_contact_resolved", "bool"), Field("escalated", "bool"),
    ), key=("ticket_id",),
        refs=(_pid_ref(), Ref(("customer_id",), "customers.csv", ("customer_id",), "customer"))),
)


def _demo(seed: int, scale: str) -> dict:
    from .demo import demo_qbr

    return demo_qbr(seed, scale)


DOMAIN = Domain(
    "qbr", FILES, demo=_demo,
    description="Partners, deals, targets, registrations, enablement, MDF, customers and support for QBR decks.")


# --------------------------------------------------------------------------- loading

TREND_QUARTERS = 8  # quarters of history a deck's trend charts show


def as_quarter(value: Quarter | str) -> Quarter:
    """``value`` as a :class:`~reportlib.periods.Quarter` (``"2026Q3"`` is parsed)."""
    return value if isinstance(value, Quarter) else Quarter.parse(value)


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
    quarter = as_quarter(quarter)
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
    import pandas as pd

    for name, columns in _DATE_COLUMNS.items():
        frame = getattr(inputs, name)
        for column in columns:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
    return inputs
