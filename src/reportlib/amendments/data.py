"""The amendments record (table ``rates_amendments``): one row per period × customer × rate plan.

A period is ``batch-<id>`` for a change batch or ``regenerate-<date>`` for a regeneration
without changes. The runner's after-run step writes a run's row
(:func:`reportlib.amendments.family.record_run`) from the record file its notebook wrote: request
time, issue date, user, batch, templates, statuses, files, recipients, rows, changes, timings,
XLSX seconds and peak memory; a failed run is recorded with its error. The notebook itself only
reads (:func:`issued_at`). The e-mail and billing statuses summarise the delivery log
(:mod:`reportlib.amendments.send`).

Every step has its status and the time (UTC) it completed: the XLSX and the CSV when written,
the customer's e-mail and the billing e-mail when the last address accepted it, the upload
when external billing took it. A step that has not completed has no time. The change log's
completion times of a batch are the latest of these once every amendment of the batch has the
step done (:mod:`reportlib.amendments.publish`).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import metadata, query_frame
from ..ratedesk import data as s

__all__ = ["amendment_records", "amendments", "batch_applied", "billing_uploads", "issued_at", "period_name",
           "save_record"]

amendments = sa.Table(
    "rates_amendments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(64), nullable=False),
    sa.Column("batch_id", sa.Integer),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("rate_plan", sa.String(200), nullable=False),
    sa.Column("requested_at", sa.DateTime, nullable=False),
    sa.Column("issued_at", sa.DateTime),  # the notice's issue date, kept when the amendment is generated again
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("amendment_template", sa.String(100)),
    sa.Column("csv_template", sa.String(100)),
    sa.Column("email_template", sa.String(100)),
    sa.Column("xlsx_status", sa.String(16), nullable=False),  # ok | failed
    sa.Column("xlsx_generated_at", sa.DateTime),
    sa.Column("csv_status", sa.String(16), nullable=False),  # ok | failed | skipped
    sa.Column("csv_generated_at", sa.DateTime),
    # Summaries of the delivery log: pending (nothing written yet) | written (in the outbox, not
    # sent) | sent (every address accepted) | failed (an address refused, or none to send to).
    sa.Column("email_status", sa.String(16), nullable=False),
    sa.Column("billing_status", sa.String(16), nullable=False),  # the same, or none (no billing CSV)
    sa.Column("billing_sent_at", sa.DateTime),  # when the billing e-mail with this CSV was accepted
    sa.Column("error", sa.Text),
    sa.Column("folder", sa.Text),
    sa.Column("xlsx_file", sa.String(300)),
    sa.Column("csv_file", sa.String(300)),
    sa.Column("eml_file", sa.String(300)),
    sa.Column("recipients", sa.Text),  # JSON {"to": [...], "cc": [...], "bcc": [...]}
    sa.Column("mail_fields", sa.Text),  # JSON: the e-mail template's placeholder values
    sa.Column("rows", sa.Integer),
    sa.Column("changes", sa.Integer),
    sa.Column("seconds", sa.Float),
    sa.Column("xlsx_seconds", sa.Float),
    sa.Column("xlsx_peak_mb", sa.Float),
    sa.Column("csv_seconds", sa.Float),
    sa.Column("email_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("email_sent_at", sa.DateTime),
    sa.Column("email_error", sa.Text),
    # The upload of the billing CSV to external billing (reportlib.amendments.upload): done | failed (empty: not uploaded).
    sa.Column("upload_status", sa.String(16)),
    sa.Column("uploaded_at", sa.DateTime),
    sa.UniqueConstraint("period", "customer_id", "rate_plan", name="uq_rates_amendments_run"),
)


billing_uploads = sa.Table(
    "rates_billing_uploads", metadata,
    # Every upload of a billing CSV to external billing, written before it is sent and updated
    # after (see reportlib.amendments.upload): a key that is done is never uploaded again.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("period", sa.String(64), nullable=False, index=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("rate_plan", sa.String(200), nullable=False),
    sa.Column("ext_billing_customer", sa.String(100)),
    sa.Column("ext_billing_rate_plan", sa.String(100)),
    sa.Column("target", sa.String(1000), nullable=False),  # where it went (no secrets: the token is never stored)
    sa.Column("file", sa.String(300), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | done | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("response", sa.Text),  # what the billing system answered (its reference), or where the file was put
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("requested_at", sa.DateTime, nullable=False),
    sa.Column("uploaded_at", sa.DateTime),
)


def period_name(batch: int | None, at: date | None = None) -> str:
    """``batch-<id>`` for a change batch, ``regenerate-<date>`` for a regeneration."""
    if batch is not None:
        return f"batch-{batch}"
    return f"regenerate-{(at or datetime.now(timezone.utc).date()).isoformat()}"


def batch_applied(conn: Connection, batch: int | None) -> datetime | None:
    """When change batch ``batch`` was applied (None for none, or an unknown batch)."""
    if batch is None:
        return None
    return conn.execute(sa.select(s.change_batches.c.applied_at).where(s.change_batches.c.batch_id == batch)).scalar()


def issued_at(conn: Connection, period: str, customer_id: str, rate_plan: str) -> datetime | None:
    """The issue date of the period's amendment for the customer × plan, if it was made before.

    Reads only: a database whose record table was never created has no issue date yet.
    """
    if not sa.inspect(conn).has_table(amendments.name):
        return None
    a = amendments.c
    return conn.execute(sa.select(a.issued_at).where(a.period == period, a.customer_id == customer_id,
                                                     a.rate_plan == rate_plan, a.xlsx_status == "ok")).scalar()


def save_record(conn: Connection, values: dict[str, Any]) -> None:
    """Insert the run's record, or update the period × customer × plan's record in place."""
    a = amendments.c
    applied = batch_applied(conn, values["batch_id"])
    if applied is not None:
        # Reloading the rates domain empties the batches, and SQLite may hand out batch N again: records
        # of batch N requested before this batch N was applied belong to the old one.
        conn.execute(amendments.delete().where(a.period == values["period"], a.requested_at < applied))
    known = conn.execute(sa.select(a.id).where(a.period == values["period"], a.customer_id == values["customer_id"],
                                               a.rate_plan == values["rate_plan"])).scalar()
    if known is None:
        conn.execute(amendments.insert().values(**values))
    else:
        conn.execute(amendments.update().where(a.id == known).values(**values))


def amendment_records(conn: Connection, *, period: str | None = None, batch: int | None = None,
                      customer: str | None = None, failed: bool = False, limit: int = 200):
    """The amendments record, latest first: one row per period × customer × plan."""
    a = amendments.c
    query = sa.select(amendments).order_by(a.requested_at.desc(), a.id.desc()).limit(limit)
    if period:
        query = query.where(a.period == period)
    if batch is not None:
        query = query.where(a.batch_id == batch)
    if customer:
        query = query.where(a.customer_id == customer)
    if failed:
        query = query.where(sa.or_(a.xlsx_status == "failed", a.csv_status == "failed", a.email_status == "failed",
                                   a.billing_status == "failed", a.upload_status == "failed"))
    return query_frame(conn, query)
