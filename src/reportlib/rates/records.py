"""The amendments record and the two steps that fill it: generate, then deliver.

- :func:`generate` (one customer × plan, called by ``notebooks/amendment.ipynb``) writes the
  XLSX amendment and the billing CSV and records the run: request time, user, batch, files,
  row count, timings, XLSX generation seconds and peak memory.
- :func:`deliver` (once per period, after the batch) writes each customer's .eml with the
  XLSX attached and the batch's billing .eml with every billing CSV into the period's
  ``outbox/`` folder, and, given an SMTP server, sends every message not sent yet and records
  each status. Running it again is the retry: nothing is regenerated or re-applied, messages
  already sent are not sent twice.

A period is ``batch-<id>`` for a change batch or ``regenerate-<date>`` for a regeneration
without changes; one record per period × customer × plan (a re-run replaces it).
"""

from __future__ import annotations

import json
import os
import smtplib
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..db import init_db, metadata, query_frame
from ..errors import DataError
from ..files import safe_join, slugify
from .amendments import Amendment, amendment, changes_only, recipients
from .billing_csv import write_billing_csv
from .mail import SmtpTarget, amendment_message, fields, billing_message, send_eml, write_eml
from .templates import AMENDMENT_TEMPLATES, CSV_TEMPLATES, EMAIL_TEMPLATES, template_for
from .workbook import write_amendment_xlsx

__all__ = [
    "DeliveryReport", "Generated", "amendment_records", "amendments", "billing_messages", "deliver", "demo_batch",
    "final_folder", "generate", "latest_batch", "period_name",
]

amendments = sa.Table(
    "rates_amendments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(64), nullable=False),
    sa.Column("batch_id", sa.Integer),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("rate_plan", sa.String(200), nullable=False),
    sa.Column("requested_at", sa.DateTime, nullable=False),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("amendment_template", sa.String(100)),
    sa.Column("csv_template", sa.String(100)),
    sa.Column("email_template", sa.String(100)),
    sa.Column("xlsx_status", sa.String(16), nullable=False),  # ok | failed
    sa.Column("csv_status", sa.String(16), nullable=False),  # ok | failed | skipped
    sa.Column("email_status", sa.String(16), nullable=False),  # pending | written | sent | failed
    sa.Column("billing_status", sa.String(16), nullable=False),  # pending | written | sent | failed | none
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
    sa.UniqueConstraint("period", "customer_id", "rate_plan", name="uq_rates_amendments_run"),
)

billing_messages = sa.Table(
    "rates_amendment_billing", metadata,
    sa.Column("period", sa.String(64), primary_key=True),
    sa.Column("address", sa.String(300), nullable=False),
    sa.Column("eml_file", sa.Text, nullable=False),
    sa.Column("csv_files", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # written | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("error", sa.Text),
)

DEFAULT_SENDER = "rates@reportlib.example"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def period_name(batch: int | None, at: date | None = None) -> str:
    """``batch-<id>`` for a change batch, ``regenerate-<date>`` for a regeneration."""
    if batch is not None:
        return f"batch-{batch}"
    return f"regenerate-{(at or _now().date()).isoformat()}"


def final_folder(output_dir: Path) -> Path:
    """Where the runner publishes a run's files: it executes in ``.<stem>.<id>.partial`` inside it."""
    if output_dir.name.startswith(".") and output_dir.name.endswith(".partial"):
        return output_dir.parent
    return output_dir


@dataclass(frozen=True)
class Generated:
    """One generated amendment: the document, its files and the numbers that were recorded."""

    amendment: Amendment
    xlsx: Path
    csv: Path | None
    rows: int
    changes: int
    xlsx_seconds: float
    xlsx_peak_mb: float
    csv_seconds: float
    seconds: float


def _record(conn: Connection, values: dict[str, Any]) -> None:
    from . import schema as s

    a = amendments.c
    conn.execute(amendments.delete().where(a.period == values["period"], a.customer_id == values["customer_id"],
                                           a.rate_plan == values["rate_plan"]))
    if values["batch_id"] is not None:
        # Reloading the rates domain empties the batches, and SQLite may hand out batch N again: records
        # of batch N requested before this batch N was applied belong to the old one.
        applied = conn.execute(sa.select(s.change_batches.c.applied_at)
                               .where(s.change_batches.c.batch_id == values["batch_id"])).scalar()
        if applied is not None:
            conn.execute(amendments.delete().where(a.period == values["period"], a.requested_at < applied))
    conn.execute(amendments.insert().values(**values))


def generate(db_url: str | Engine | None, customer_id: str, rate_plan: str, batch: int | None, *,
             output_dir: str | Path, stem: str, at: date | None = None, user: str | None = None) -> Generated:
    """Write one customer × plan's XLSX amendment and billing CSV, and record the run.

    A failure is recorded too (statuses ``failed`` and the error) before it is raised again.
    """
    from .shared import current_user

    engine = db_url if isinstance(db_url, Engine) else init_db(db_url)
    requested, clock = datetime.now(timezone.utc).replace(tzinfo=None), time.perf_counter()
    who = current_user(user)
    period = period_name(batch, at)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    base = dict(period=period, batch_id=batch, customer_id=customer_id, rate_plan=rate_plan, requested_at=requested,
                user=who, folder=str(final_folder(output)), email_attempts=0, billing_status="pending")
    try:
        moment = datetime.combine(at, datetime.min.time()) if at is not None else None
        with engine.connect() as conn:
            doc = amendment(conn, customer_id, rate_plan, batch, at=moment)
        setup = doc.setup
        names = dict(customer=customer_id, rate_plan=rate_plan)
        xlsx_template = template_for(AMENDMENT_TEMPLATES, setup.get("amendment_template"), column="amendment_template",
                                     **names)
        template_for(EMAIL_TEMPLATES, setup.get("email_template"), column="email_template", **names)
        csv_template = template_for(CSV_TEMPLATES, setup.get("csv_template"), column="csv_template", **names) \
            if (setup.get("csv_template") or "").strip() else None
        xlsx_path = output / f"{stem}.xlsx"
        stats = write_amendment_xlsx(doc, xlsx_template, xlsx_path)
        csv_path, csv_seconds = None, 0.0
        if csv_template is not None:
            csv_clock = time.perf_counter()
            csv_path = output / f"{stem}.billing.csv"
            write_billing_csv(doc, csv_template, csv_path)
            csv_seconds = round(time.perf_counter() - csv_clock, 3)
        seconds = round(time.perf_counter() - clock, 3)
        changes = len(changes_only(doc.sheet))
        with engine.begin() as conn:
            _record(conn, dict(base, amendment_template=setup.get("amendment_template"),
                               csv_template=setup.get("csv_template"), email_template=setup.get("email_template"),
                               xlsx_status="ok", csv_status="ok" if csv_path else "skipped",
                               email_status="failed" if doc.recipient_error else "pending",
                               email_error=doc.recipient_error,
                               billing_status="pending" if csv_path else "none", xlsx_file=xlsx_path.name,
                               csv_file=csv_path.name if csv_path else None, recipients=None if doc.recipient_error else json.dumps(doc.recipients),
                               mail_fields=json.dumps(fields(doc), default=str),
                               rows=stats.rows, changes=changes, seconds=seconds, xlsx_seconds=stats.seconds,
                               xlsx_peak_mb=stats.peak_mb, csv_seconds=csv_seconds))
        return Generated(doc, xlsx_path, csv_path, stats.rows, changes, stats.seconds, stats.peak_mb, csv_seconds,
                         seconds)
    except Exception as exc:
        with engine.begin() as conn:
            _record(conn, dict(base, xlsx_status="failed", csv_status="failed", email_status="pending",
                               billing_status="none", error=f"{type(exc).__name__}: {exc}"[:4000],
                               seconds=round(time.perf_counter() - clock, 3)))
        raise


def latest_batch(db_url: str | Engine | None) -> int | None:
    """The id of the latest applied change batch, or None."""
    from . import schema as s

    engine = db_url if isinstance(db_url, Engine) else init_db(db_url)
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(s.change_batches.c.batch_id))).scalar()


def demo_batch(db_url: str | Engine | None, user: str = "demo") -> int:
    """Apply the demo change deck of the first code deck that has plans, to all its plans; returns the batch."""
    from . import schema as s
    from .apply import apply_deck
    from .deck import demo_change_deck
    from .verify import VerifyOptions

    engine = db_url if isinstance(db_url, Engine) else init_db(db_url)
    p = s.rate_plans.c
    with engine.connect() as conn:
        plans = conn.execute(sa.select(p.code_deck, p.rate_plan).order_by(p.code_deck, p.rate_plan)).all()
        if not plans:
            raise DataError("No rate plan in the database: load the rates domain first (reportlib demo).")
        deck = plans[0].code_deck
        rows = demo_change_deck(conn, deck)
    chosen = tuple(r.rate_plan for r in plans if r.code_deck == deck)
    return apply_deck(engine, rows, VerifyOptions(plans=chosen), user=user, deck_name=None).batch_id


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
                                   a.billing_status == "failed"))
    return query_frame(conn, query)


@dataclass
class DeliveryReport:
    """What a delivery did: messages written, sent and failed (with their errors)."""

    period: str
    outbox: Path
    written: list[str]
    sent: list[str]
    failed: list[tuple[str, str]]
    billing: str

    def summary(self) -> str:
        lines = [f"{self.period}: {len(self.written)} message(s) written to {self.outbox}, {len(self.sent)} sent, "
                 f"{len(self.failed)} failed; billing: {self.billing}"]
        lines += [f"  FAILED {name}: {error}" for name, error in self.failed]
        if self.failed:
            lines.append(f"  retry with: reportlib rates amendments send {self.period} --smtp HOST:PORT")
        return "\n".join(lines)


def _send(path: Path, smtp: SmtpTarget) -> str | None:
    try:
        send_eml(path, smtp)
        return None
    except (smtplib.SMTPException, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"


def deliver(db_url: str | Engine | None, period: str, *, smtp: SmtpTarget | None = None, sender: str | None = None,
            billing_address: str | None = None,
            progress: Callable[[str], None] | None = None) -> DeliveryReport:
    """Write the period's missing .eml files to its outbox and send every unsent one (with ``smtp``)."""
    engine = db_url if isinstance(db_url, Engine) else init_db(db_url)
    sender = sender or os.environ.get("REPORTLIB_MAIL_FROM") or DEFAULT_SENDER
    billing_address = billing_address or os.environ.get("REPORTLIB_BILLING_EMAIL")
    tick = progress or (lambda name: None)
    a = amendments.c
    with engine.connect() as conn:
        records = conn.execute(sa.select(amendments).where(a.period == period, a.xlsx_status == "ok")
                               .order_by(a.customer_id, a.rate_plan)).all()
    if not records:
        raise DataError(f"No generated amendment is recorded for {period!r} in this database; generate them "
                        "first (reportlib rates amendments make ..., which also renders again documents that are "
                        "up to date but unrecorded). See: reportlib rates amendments.")
    folder = Path(records[0].folder)
    outbox = safe_join(folder, "outbox")
    report = DeliveryReport(period, outbox, [], [], [], "not configured")
    for record in records:
        name = f"{Path(record.xlsx_file).stem}.eml"
        eml = safe_join(outbox, name)
        updates: dict[str, Any] = {}
        addressed = _addressed(engine, record)
        if isinstance(addressed, str):  # the setup still has no valid address: nothing to write or send
            report.failed.append((name, addressed))
            with engine.begin() as conn:
                conn.execute(amendments.update().where(a.id == record.id).values(email_status="failed",
                                                                                 email_error=addressed))
            continue
        # A sent message is never written (nor sent) again, even if its .eml was removed from the outbox.
        if record.recipients is None or record.email_status == "pending" or \
                (record.email_status != "sent" and not eml.exists()):
            xlsx = safe_join(record.folder, record.xlsx_file)
            if not xlsx.is_file():
                raise DataError(f"The amendment {xlsx} of {record.customer_id} × {record.rate_plan} is missing; "
                                "regenerate it (reportlib rates amendments make ... --force).")
            template = template_for(EMAIL_TEMPLATES, record.email_template, customer=record.customer_id,
                                    rate_plan=record.rate_plan, column="email_template")
            write_eml(amendment_message(json.loads(record.mail_fields), addressed, template, xlsx, sender), eml)
            updates.update(eml_file=name, email_status="written", email_error=None, recipients=json.dumps(addressed))
            report.written.append(name)
        status = updates.get("email_status", record.email_status)
        if smtp is not None and status in ("written", "failed"):
            tick(name)
            error = _send(eml, smtp)
            updates.update(email_attempts=record.email_attempts + 1, email_error=error,
                           email_status="failed" if error else "sent", email_sent_at=None if error else _now())
            if error:
                report.failed.append((name, error))
            else:
                report.sent.append(name)
        if updates:
            with engine.begin() as conn:
                conn.execute(amendments.update().where(a.id == record.id).values(**updates))
    report.billing = _deliver_billing(engine, period, records, outbox, smtp, sender, billing_address, report)
    return report


def _addressed(engine: Engine, record) -> dict[str, list[str]] | str:
    """The record's recipients; when generation could not address it, from the setup as it is now.

    So a fixed setup (a TO address added, a typo corrected) needs no regeneration to send.
    """
    if record.recipients is not None:
        return json.loads(record.recipients)
    from . import schema as s

    rp, c = s.customer_rp_setup.c, s.customers.c
    with engine.connect() as conn:
        setup = conn.execute(sa.select(s.customer_rp_setup).where(rp.customer_id == record.customer_id,
                                                                  rp.rate_plan == record.rate_plan)).first()
        manager = conn.execute(sa.select(c.account_manager_email).where(c.customer_id == record.customer_id)).scalar()
    if setup is None:
        return f"customer {record.customer_id} no longer has an RP setup for {record.rate_plan}"
    try:
        return recipients(dict(setup._mapping), manager)
    except DataError as exc:
        return str(exc)


def _deliver_billing(engine: Engine, period: str, records, outbox: Path, smtp: SmtpTarget | None, sender: str,
                     address: str | None, report: DeliveryReport) -> str:
    csvs = [(safe_join(r.folder, r.csv_file), r.rows or 0) for r in records if r.csv_status == "ok" and r.csv_file]
    if not csvs:
        return "no billing CSV"
    if not address:
        return "no billing address configured (--billing-address or REPORTLIB_BILLING_EMAIL)"
    b = billing_messages.c
    a = amendments.c
    with engine.connect() as conn:
        known = conn.execute(sa.select(billing_messages).where(b.period == period)).first()
    name = f"billing-{slugify(period)}.eml"
    eml = safe_join(outbox, name)
    status = known.status if known else "pending"
    attempts = known.attempts if known else 0
    # Rewritten (and sent again) only when the batch's set of CSVs changed, never merely because a sent file is gone.
    if known is None or known.csv_files != len(csvs) or (known.status != "sent" and not eml.exists()):
        missing = [str(p) for p, _ in csvs if not p.is_file()]
        if missing:
            raise DataError(f"Billing CSV file(s) missing: {', '.join(missing)}; regenerate them.")
        write_eml(billing_message(period, csvs, EMAIL_TEMPLATES.get("billing"), sender, address), eml)
        status = "written"
        report.written.append(name)
    error, sent_at = (known.error if known else None), (known.sent_at if known else None)
    if smtp is not None and status in ("written", "failed"):
        error = _send(eml, smtp)
        attempts += 1
        status, sent_at = ("failed", None) if error else ("sent", _now())
        if error:
            report.failed.append((name, error))
        else:
            report.sent.append(name)
    with engine.begin() as conn:
        conn.execute(billing_messages.delete().where(b.period == period))
        conn.execute(billing_messages.insert().values(period=period, address=address, eml_file=name,
                                                      csv_files=len(csvs), status=status, attempts=attempts,
                                                      sent_at=sent_at, error=error))
        conn.execute(amendments.update().where(a.period == period, a.csv_status == "ok").values(billing_status=status))
    return f"{status} ({name}, {len(csvs)} CSV file(s))"
