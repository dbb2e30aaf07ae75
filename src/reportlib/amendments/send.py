"""Delivering a period's amendments: compose every message and hand it to the delivery log.

:func:`deliver` (once per period, after the batch) composes each customer's message with the
XLSX attached and the batch's billing message with every billing CSV, and hands them to the
delivery log (:mod:`reportlib.delivery`): a message whose content an address already has is
not written or sent again, changed content is a new delivery that says what it replaces. Given
an SMTP server, every address not accepted yet is sent to, and each address's result is
recorded. Running it again is the retry: nothing is regenerated or re-applied, and only what
the server has not accepted goes out. The record's e-mail and billing statuses and times
summarise the delivery log; the change log's "All e-mails sent" follows them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..db import init_db
from ..delivery import log as delivery_log
from ..delivery.recipients import recipients_for
from ..delivery.send import send_open
from ..delivery.smtp import Mailer, SmtpTarget
from ..errors import DataError
from ..files import safe_join, slugify
from ..ratedesk import data as s
from ..ratedesk.decks import current_user
from .data import amendments, batch_applied
from .email import amendment_message, billing_message
from .metrics import recipients
from .publish import note_completions
from .templates import EMAIL_TEMPLATES, template_for

__all__ = ["BILLING_ENTITY", "DEFAULT_SENDER", "DeliveryReport", "FAMILY", "addressed_to", "deliver", "entity_name"]

FAMILY = "amendment"  # the delivery log's family of these messages
BILLING_ENTITY = "billing"  # the delivery log's entity of a period's message to external billing
DEFAULT_SENDER = "rates@reportlib.example"


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
    waiting: list[str] = field(default_factory=list)  # written by an earlier delivery, still not accepted
    smtp: bool = False  # whether messages were handed to a server (else the outbox is the delivery)

    def summary(self) -> str:
        if self.smtp:
            lines = [f"{self.period}: {len(self.written)} message(s) written to {self.outbox}, {len(self.sent)} sent, "
                     f"{len(self.failed)} failed, {len(self.delivered)} already delivered; billing: {self.billing}"]
        else:
            unsent = len(self.written) + len(self.waiting)
            lines = [f"{self.period}: {len(self.written)} message(s) written to {self.outbox}"
                     + (f", {len(self.waiting)} written before and still waiting there" if self.waiting else "")
                     + f", {len(self.failed)} failed, {len(self.delivered)} already delivered; nothing sent "
                       f"(no --smtp); billing: {self.billing}"]
            if unsent:
                lines.append(f"  {unsent} message(s) wait in the outbox for review; send them with: "
                             f"reportlib amendments send {self.period} --smtp HOST:PORT (or $REPORTLIB_SMTP)")
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
        applied = batch_applied(conn, batch)
        if applied is not None:
            conn.execute(delivery_log.deliveries.update().where(
                d.family == FAMILY, d.period == period, d.created_at < applied.replace(microsecond=0))
                .values(period=f"{period} before {applied:%Y-%m-%dT%H:%M:%S}"[:64]))


def deliver(db_url: str | Engine | None, period: str, *, smtp: SmtpTarget | None = None, sender: str | None = None,
            billing_address: str | None = None, customers: Sequence[str] = (), resend: bool = False,
            user: str | None = None, progress: Callable[[str], None] | None = None,
            mailer: Mailer | None = None, customer_messages: bool = True, billing: bool = True) -> DeliveryReport:
    """Put the period's messages in its outbox and the delivery log; with ``smtp``, send what is not accepted yet.

    A message whose content an address already has is not written or sent to it again,
    unless ``resend`` (recorded, with ``user``); changed content is a new delivery. Only
    ``customers``, when given (the billing message is then left alone). ``mailer`` replaces
    the one made for ``smtp`` (retry policy). ``customer_messages`` / ``billing`` False leave the
    customers' messages / the billing message out (the rate desk's apply options choose them apart).
    """
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
                        + " in this database; generate them first (reportlib amendments make ...). See: "
                          "reportlib amendments.")
    _relabel_reused_batch(engine, period, records[0].batch_id)
    outbox = safe_join(Path(records[0].folder), "outbox")
    report = DeliveryReport(period, outbox, [], [], [], "not configured")
    names: dict[str, str] = {}  # delivery log entity -> message file name, for the report
    for record in records if customer_messages else ():
        name = f"{Path(record.xlsx_file).stem}.eml"
        entity = entity_name(record.customer_id, record.rate_plan)
        names[entity] = name
        addressed = addressed_to(engine, record)
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
    if not billing:
        report.billing = "not asked for"
    elif customers:
        report.billing = "not part of a send for chosen customers"
    else:
        report.billing = _prepare_billing(engine, period, records, outbox, sender, billing_address, resend, who, report)
        if report.billing.startswith("billing-"):
            names[BILLING_ENTITY] = report.billing.split(",")[0]
    if smtp is not None or mailer is not None:
        report.smtp = True
        with (mailer or Mailer(smtp)) as sending:  # type: ignore[arg-type]
            sent, failed = send_open(engine, FAMILY, period, names, sending, tick)
            report.sent += sent
            report.failed += failed
    _summarise(engine, period, records, report)
    note_completions(engine, records[0].batch_id)
    if BILLING_ENTITY in names:
        with engine.connect() as conn:
            state = delivery_log.delivery_state(conn, FAMILY, period, BILLING_ENTITY).status
        report.billing = f"{_SHOWN.get(state) or state} ({report.billing})"
    return report


def _note(report: DeliveryReport, name: str, prepared: delivery_log.Prepared) -> None:
    if prepared.created is not None and prepared.eml is not None:
        report.written.append(prepared.eml.name)
    elif prepared.open:
        report.waiting.append(name)
    elif prepared.delivered:
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
                values.update(billing_status=shown[billing.status], billing_sent_at=billing.sent_at)
            if values:
                conn.execute(amendments.update().where(a.id == record.id).values(**values))


def addressed_to(engine: Engine, record) -> dict[str, list[str]] | str:
    """Who a recorded amendment goes to, by role (the setup's rules plus the recipients domain),
    or why no one can: what ``deliver`` sends and ``reportlib send amendment --dry-run`` shows."""
    return _with_recipient_book(engine, record.customer_id, _addressed(engine, record))


def _with_recipient_book(engine: Engine, customer_id: str, addressed: dict[str, list[str]] | str,
                         ) -> dict[str, list[str]] | str:
    """The setup's recipients plus the ``amendment`` rows of the recipients domain (an archive in
    BCC, a customer's legal team in CC) for this customer or ``*``; an address already there stays
    in its role."""
    if isinstance(addressed, str):
        return addressed
    with engine.connect() as conn:
        book = recipients_for(conn, FAMILY, customer_id).by_role()
    have = {a.lower() for role in addressed.values() for a in role}
    merged = {role: list(addressed.get(role, [])) for role in ("to", "cc", "bcc")}
    for role, people in book.items():
        merged[role] += [a for a in people if a.lower() not in have]
    return {role: people for role, people in merged.items() if people or role in addressed}


def _addressed(engine: Engine, record) -> dict[str, list[str]] | str:
    """The record's recipients; when generation could not address it, from the setup as it is now.

    So a fixed setup (a TO address added, a typo corrected) needs no regeneration to send.
    """
    if record.recipients is not None:
        return json.loads(record.recipients)
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
