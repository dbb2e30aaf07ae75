"""The amendments record and the two steps that fill it: generate, then deliver.

- :func:`generate` (one customer × plan, called by ``notebooks/amendment.ipynb``) writes the
  XLSX amendment and the billing CSV and records the run: request time, user, batch, files,
  row count, timings, XLSX generation seconds and peak memory. Generated again (``--force``),
  the record is updated in place and keeps its issue date, so an unchanged amendment is the
  same document.
- :func:`deliver` (once per period, after the batch) composes each customer's message with
  the XLSX attached and the batch's billing message with every billing CSV, and hands them to
  the delivery log (:mod:`reportlib.delivery`): a message whose content an address already
  has is not written or sent again, changed content is a new delivery that says what it
  replaces. Given an SMTP server, every address not accepted yet is sent to, and each
  address's result is recorded. Running it again is the retry: nothing is regenerated or
  re-applied, and only what the server has not accepted goes out.

A period is ``batch-<id>`` for a change batch or ``regenerate-<date>`` for a regeneration
without changes; one record per period × customer × plan. Its e-mail and billing statuses
summarise the delivery log.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..db import init_db, metadata, query_frame
from ..delivery import log as delivery_log
from ..delivery.smtp import Mailer, SmtpTarget
from ..errors import DataError
from ..files import safe_join, slugify
from .metrics import Amendment, amendment, changes_only, recipients
from .csv import write_billing_csv
from .email import amendment_message, billing_message, fields
from .templates import AMENDMENT_TEMPLATES, CSV_TEMPLATES, EMAIL_TEMPLATES, template_for
from .xlsx import write_amendment_xlsx

__all__ = [
    "BILLING_ENTITY", "DeliveryReport", "FAMILY", "Generated", "amendment_records", "amendments", "deliver",
    "demo_batch", "entity_name", "final_folder", "generate", "latest_batch", "period_name",
]

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
    sa.Column("csv_status", sa.String(16), nullable=False),  # ok | failed | skipped
    # Summaries of the delivery log: pending (nothing written yet) | written (in the outbox, not
    # sent) | sent (every address accepted) | failed (an address refused, or none to send to).
    sa.Column("email_status", sa.String(16), nullable=False),
    sa.Column("billing_status", sa.String(16), nullable=False),  # the same, or none (no billing CSV)
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

FAMILY = "amendment"  # the delivery log's family of these messages
BILLING_ENTITY = "billing"  # the delivery log's entity of a period's message to external billing
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


def _batch_applied(conn: Connection, batch: int | None) -> datetime | None:
    from ..ratedesk import data as s

    if batch is None:
        return None
    return conn.execute(sa.select(s.change_batches.c.applied_at).where(s.change_batches.c.batch_id == batch)).scalar()


def _record(conn: Connection, values: dict[str, Any]) -> None:
    """Insert the run's record, or update the period × customer × plan's record in place."""
    a = amendments.c
    applied = _batch_applied(conn, values["batch_id"])
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


def _issued(engine: Engine, period: str, customer_id: str, rate_plan: str) -> datetime | None:
    """The issue date of the period's amendment for the customer × plan, if it was generated before."""
    a = amendments.c
    with engine.connect() as conn:
        return conn.execute(sa.select(a.issued_at).where(a.period == period, a.customer_id == customer_id,
                                                         a.rate_plan == rate_plan, a.xlsx_status == "ok")).scalar()


def generate(db_url: str | Engine | None, customer_id: str, rate_plan: str, batch: int | None, *,
             output_dir: str | Path, stem: str, at: date | None = None, user: str | None = None) -> Generated:
    """Write one customer × plan's XLSX amendment and billing CSV, and record the run.

    Generated again for the same period, the amendment keeps the issue date it was first
    generated with: the documents change only when the rates do. A failure is recorded too
    (statuses ``failed`` and the error) before it is raised again.
    """
    from ..ratedesk.decks import current_user

    engine = db_url if isinstance(db_url, Engine) else init_db(db_url)
    requested, clock = datetime.now(timezone.utc).replace(tzinfo=None), time.perf_counter()
    who = current_user(user)
    period = period_name(batch, at)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    base = dict(period=period, batch_id=batch, customer_id=customer_id, rate_plan=rate_plan, requested_at=requested,
                user=who, folder=str(final_folder(output)), email_attempts=0, email_status="pending",
                email_sent_at=None, email_error=None, billing_status="pending", error=None)
    try:
        moment = datetime.combine(at, datetime.min.time()) if at is not None else requested.replace(microsecond=0)
        with engine.connect() as conn:
            applied = _batch_applied(conn, batch)
        issued = _issued(engine, period, customer_id, rate_plan)
        if issued is None or (applied is not None and issued < applied.replace(microsecond=0)):
            issued = requested.replace(microsecond=0)
        with engine.connect() as conn:
            doc = amendment(conn, customer_id, rate_plan, batch, at=moment, issued=issued)
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
            _record(conn, dict(base, issued_at=issued, amendment_template=setup.get("amendment_template"),
                               csv_template=setup.get("csv_template"), email_template=setup.get("email_template"),
                               xlsx_status="ok", csv_status="ok" if csv_path else "skipped",
                               email_status="failed" if doc.recipient_error else "pending",
                               email_error=doc.recipient_error,
                               billing_status="pending" if csv_path else "none", xlsx_file=xlsx_path.name,
                               csv_file=csv_path.name if csv_path else None,
                               recipients=None if doc.recipient_error else json.dumps(doc.recipients),
                               mail_fields=json.dumps(fields(doc), default=str),
                               rows=stats.rows, changes=changes, seconds=seconds, xlsx_seconds=stats.seconds,
                               xlsx_peak_mb=stats.peak_mb, csv_seconds=csv_seconds))
        return Generated(doc, xlsx_path, csv_path, stats.rows, changes, stats.seconds, stats.peak_mb, csv_seconds,
                         seconds)
    except Exception as exc:
        with engine.begin() as conn:
            _record(conn, dict(base, xlsx_status="failed", csv_status="failed", billing_status="none",
                               error=f"{type(exc).__name__}: {exc}"[:4000], xlsx_file=None, csv_file=None,
                               eml_file=None, recipients=None, mail_fields=None,
                               seconds=round(time.perf_counter() - clock, 3)))
        raise


def latest_batch(db_url: str | Engine | None) -> int | None:
    """The id of the latest applied change batch, or None."""
    from ..ratedesk import data as s

    engine = db_url if isinstance(db_url, Engine) else init_db(db_url)
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(s.change_batches.c.batch_id))).scalar()


def demo_batch(db_url: str | Engine | None, user: str = "demo") -> int:
    """Apply the demo change deck of the first code deck that has plans, to all its plans; returns the batch."""
    from ..ratedesk import data as s
    from ..ratedesk.apply import apply_deck
    from ..ratedesk.change_deck import demo_change_deck
    from ..ratedesk.verify import VerifyOptions

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


def entity_name(customer_id: str, rate_plan: str) -> str:
    """How the delivery log names a customer × plan: ``C001 × Retail USD``."""
    return f"{customer_id} × {rate_plan}"


@dataclass
class DeliveryReport:
    """What a delivery did: messages written, sent, already delivered, and every failure.

    ``failed`` holds ``(message, reason)``: the refused addresses with the server's words
    (``b@x.example: 550 5.1.1 user unknown``, addresses refused alike together), or why a
    message could not be addressed at all.
    """

    period: str
    outbox: Path
    written: list[str]
    sent: list[str]
    failed: list[tuple[str, str]]
    billing: str
    delivered: list[str] = field(default_factory=list)  # messages whose content every address already has

    def summary(self) -> str:
        lines = [f"{self.period}: {len(self.written)} message(s) written to {self.outbox}, {len(self.sent)} sent, "
                 f"{len(self.failed)} failed, {len(self.delivered)} already delivered; billing: {self.billing}"]
        lines += [f"  FAILED {name}: {error}" for name, error in self.failed]
        if self.delivered:
            lines.append("  already delivered (same content, same addresses) are not sent again; "
                         "--resend sends them again")
        if self.failed:
            lines.append(f"  retry with: reportlib amendments send {self.period} --smtp HOST:PORT")
        return "\n".join(lines)


def _relabel_reused_batch(engine: Engine, period: str, batch: int | None) -> None:
    """Deliveries of an earlier batch that had this batch's id (SQLite reuses ids after a reload)
    keep their log rows, under a period that no longer claims this batch."""
    d = delivery_log.deliveries.c
    with engine.begin() as conn:
        applied = _batch_applied(conn, batch)
        if applied is not None:
            conn.execute(delivery_log.deliveries.update().where(
                d.family == FAMILY, d.period == period, d.created_at < applied.replace(microsecond=0))
                .values(period=f"{period} before {applied:%Y-%m-%dT%H:%M:%S}"[:64]))


def deliver(db_url: str | Engine | None, period: str, *, smtp: SmtpTarget | None = None, sender: str | None = None,
            billing_address: str | None = None, customers: Sequence[str] = (), resend: bool = False,
            user: str | None = None, progress: Callable[[str], None] | None = None,
            mailer: Mailer | None = None) -> DeliveryReport:
    """Put the period's messages in its outbox and the delivery log; with ``smtp``, send what is not accepted yet.

    A message whose content an address already has is not written or sent to it again,
    unless ``resend`` (recorded, with ``user``); changed content is a new delivery. Only
    ``customers``, when given (the billing message is then left alone). ``mailer`` replaces
    the one made for ``smtp`` (retry policy).
    """
    from ..ratedesk.decks import current_user

    engine = db_url if isinstance(db_url, Engine) else init_db(db_url)
    sender = sender or os.environ.get("REPORTLIB_MAIL_FROM") or DEFAULT_SENDER
    billing_address = billing_address or os.environ.get("REPORTLIB_BILLING_EMAIL")
    who = current_user(user)
    tick = progress or (lambda name: None)
    a = amendments.c
    query = sa.select(amendments).where(a.period == period, a.xlsx_status == "ok").order_by(a.customer_id, a.rate_plan)
    if customers:
        query = query.where(a.customer_id.in_(list(customers)))
    with engine.connect() as conn:
        records = conn.execute(query).all()
    if not records:
        raise DataError(f"No generated amendment is recorded for {period!r}"
                        + (f" and customer(s) {', '.join(customers)}" if customers else "")
                        + " in this database; generate them first (reportlib amendments make ..., which also "
                          "renders again documents that are up to date but unrecorded). See: reportlib amendments.")
    _relabel_reused_batch(engine, period, records[0].batch_id)
    outbox = safe_join(Path(records[0].folder), "outbox")
    report = DeliveryReport(period, outbox, [], [], [], "not configured")
    names: dict[str, str] = {}  # delivery log entity -> message file name, for the report
    for record in records:
        name = f"{Path(record.xlsx_file).stem}.eml"
        entity = entity_name(record.customer_id, record.rate_plan)
        names[entity] = name
        addressed = _addressed(engine, record)
        if isinstance(addressed, str):  # the setup still has no valid address: nothing to write or send
            report.failed.append((name, addressed))
            with engine.begin() as conn:
                conn.execute(amendments.update().where(a.id == record.id).values(email_status="failed",
                                                                                 email_error=addressed))
            continue
        xlsx = safe_join(record.folder, record.xlsx_file)
        if not xlsx.is_file():
            raise DataError(f"The amendment {xlsx} of {record.customer_id} × {record.rate_plan} is missing; "
                            "regenerate it (reportlib amendments make ... --force).")
        template = template_for(EMAIL_TEMPLATES, record.email_template, customer=record.customer_id,
                                rate_plan=record.rate_plan, column="email_template")
        message = amendment_message(json.loads(record.mail_fields), addressed, template, xlsx, sender)
        prepared = delivery_log.prepare(engine, family=FAMILY, period=period, entity=entity, message=message,
                                        recipients=addressed, eml=safe_join(outbox, name), resend=resend, user=who)
        _note(report, name, prepared)
        with engine.begin() as conn:
            conn.execute(amendments.update().where(a.id == record.id).values(
                recipients=json.dumps(addressed), **({"eml_file": prepared.eml.name} if prepared.eml else {})))
    if customers:
        report.billing = "not part of a send for chosen customers"
    else:
        report.billing = _prepare_billing(engine, period, records, outbox, sender, billing_address, resend, who, report)
        if report.billing.startswith("billing-"):
            names[BILLING_ENTITY] = report.billing.split(",")[0]
    if smtp is not None or mailer is not None:
        with (mailer or Mailer(smtp)) as sending:  # type: ignore[arg-type]
            for entity, name in names.items():
                for delivery in delivery_log.open_deliveries(engine, FAMILY, period=period, entity=entity):
                    tick(name)
                    results = delivery_log.send(engine, delivery, sending)
                    if any(r.accepted for r in results):
                        report.sent.append(name)
                    refused: dict[str, list[str]] = {}
                    for r in results:
                        if not r.accepted:
                            refused.setdefault(r.reply, []).append(r.address)
                    report.failed += [(name, f"{', '.join(people)}: {reply}") for reply, people in refused.items()]
    _summarise(engine, period, records, report)
    if BILLING_ENTITY in names:
        with engine.connect() as conn:
            state = delivery_log.delivery_state(conn, FAMILY, period, BILLING_ENTITY).status
        report.billing = f"{_SHOWN.get(state) or state} ({report.billing})"
    return report


def _note(report: DeliveryReport, name: str, prepared: delivery_log.Prepared) -> None:
    if prepared.created is not None and prepared.eml is not None:
        report.written.append(prepared.eml.name)
    elif prepared.delivered and not prepared.open:
        report.delivered.append(name)


_SHOWN = {"none": None, "pending": "written", "sent": "sent", "failed": "failed"}  # log state -> record status


def _summarise(engine: Engine, period: str, records, report: DeliveryReport) -> None:
    """The record's e-mail and billing statuses from the delivery log."""
    a = amendments.c
    shown = _SHOWN
    with engine.begin() as conn:
        billing = delivery_log.delivery_state(conn, FAMILY, period, BILLING_ENTITY)
        for record in records:
            state = delivery_log.delivery_state(conn, FAMILY, period, entity_name(record.customer_id,
                                                                                  record.rate_plan))
            values: dict[str, Any] = {}
            if shown[state.status] is not None:
                values.update(email_status=shown[state.status], email_attempts=state.attempts,
                              email_sent_at=state.sent_at, email_error="; ".join(state.errors)[:4000] or None)
            if record.csv_status == "ok" and shown[billing.status] is not None:
                values["billing_status"] = shown[billing.status]
            if values:
                conn.execute(amendments.update().where(a.id == record.id).values(**values))


def _addressed(engine: Engine, record) -> dict[str, list[str]] | str:
    """The record's recipients; when generation could not address it, from the setup as it is now.

    So a fixed setup (a TO address added, a typo corrected) needs no regeneration to send.
    """
    if record.recipients is not None:
        return json.loads(record.recipients)
    from ..ratedesk import data as s

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


def _prepare_billing(engine: Engine, period: str, records, outbox: Path, sender: str, address: str | None,
                     resend: bool, user: str, report: DeliveryReport) -> str:
    csvs = [(safe_join(r.folder, r.csv_file), r.rows or 0) for r in records if r.csv_status == "ok" and r.csv_file]
    if not csvs:
        return "no billing CSV"
    if not address:
        return "no billing address configured (--billing-address or REPORTLIB_BILLING_EMAIL)"
    missing = [str(p) for p, _ in csvs if not p.is_file()]
    if missing:
        raise DataError(f"Billing CSV file(s) missing: {', '.join(missing)}; regenerate them.")
    name = f"billing-{slugify(period)}.eml"
    message = billing_message(period, csvs, EMAIL_TEMPLATES.get("billing"), sender, address)
    prepared = delivery_log.prepare(engine, family=FAMILY, period=period, entity=BILLING_ENTITY, message=message,
                                    recipients={"to": [address]}, eml=safe_join(outbox, name), resend=resend,
                                    user=user)
    _note(report, name, prepared)
    return f"{name}, {len(csvs)} CSV file(s)"
