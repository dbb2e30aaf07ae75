"""The manual's "Apply changes + Upload": apply a verified deck, then everything that follows it.

The options (:class:`Steps`), as the manual lists them: supersede future rates (always: apply
does it), create XLSX amendments, send e-mails with the XLSX to customers, create CSV
amendments, send e-mails with the CSVs to external billing, upload new customer rates to
external billing, clear the table after the change.

Before anything changes, :func:`step_problems` checks that every option can be honoured for
every enabled customer × rate plan the batch will touch — its amendment, e-mail and CSV
templates exist, it can be addressed, a setup set up for external billing has its CSV template
and both external ids (one with none of the three is not billed externally and is left out of
the upload) — and that the run has
what the options need (an SMTP server, a billing address, an upload target and its token).
Any problem refuses the whole run, naming every problem; nothing is applied.

After the change (:func:`publish`): the amendment batch makes the XLSX and CSV documents (one
notebook run per customer × plan makes both; the options choose what is sent and uploaded),
the delivery log sends the e-mails (:mod:`reportlib.amendments.send`, never twice), the
uploader uploads the CSVs (:mod:`reportlib.ratedesk.upload`, never twice), and the change log
gets the manual's completion times (GMT): all .xlsx files generated, all .csv files generated,
all e-mails sent, all uploads to billing done. A step that fails leaves the change applied
(it is one transaction of its own) and says how to retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import ConfigError, DataError
from . import data as s
from .verify import Change, utcnow

__all__ = ["DONE_COLUMNS", "PublishReport", "Steps", "mark_done", "plan_summary", "publish", "step_problems",
           "touched_setups"]

DONE_COLUMNS = {"xlsx": "xlsx_done_at", "csv": "csv_done_at", "emails": "emails_done_at", "uploads": "uploads_done_at"}


@dataclass(frozen=True)
class Steps:
    """The manual's options of "Apply changes + Upload", and what they need."""

    xlsx: bool = False  # create XLSX amendments
    email_xlsx: bool = False  # send e-mails with the XLSX to customers
    csv: bool = False  # create CSV amendments
    email_csv: bool = False  # send e-mails with the CSVs to external billing
    upload: bool = False  # upload new customer rates to external billing
    clear: bool = False  # clear the table after the change
    smtp: str | None = None  # HOST:PORT
    sender: str | None = None
    billing_address: str | None = None
    upload_to: str | None = None  # URL or folder (default $REPORTLIB_BILLING_UPLOAD)
    out: str | None = None
    workers: int | None = None

    def resolved(self) -> "Steps":
        """Sending an XLSX needs it made; sending or uploading a CSV needs it made."""
        return replace(self, xlsx=self.xlsx or self.email_xlsx, csv=self.csv or self.email_csv or self.upload)

    @property
    def documents(self) -> bool:
        return self.xlsx or self.csv

    @property
    def emails(self) -> bool:
        return self.email_xlsx or self.email_csv


def touched_setups(conn: Connection, plans: Sequence[str]) -> list:
    """The enabled customer rate plan setups of ``plans``, with the customer's account manager."""
    if not plans:
        return []
    rp, c = s.customer_rp_setup.c, s.customers.c
    return conn.execute(sa.select(s.customer_rp_setup, c.account_manager_email)
                        .join(s.customers, c.customer_id == rp.customer_id)
                        .where(rp.rate_plan.in_(list(plans)), rp.status == "enabled")
                        .order_by(rp.customer_id, rp.rate_plan)).all()


def step_problems(conn: Connection, todo: Sequence[Change], steps: Steps) -> list[str]:
    """Every reason an option of ``steps`` cannot be honoured for the changes ``todo``; empty when all can."""
    from ..amendments.metrics import recipients
    from ..amendments.templates import AMENDMENT_TEMPLATES, CSV_TEMPLATES, EMAIL_TEMPLATES, template_for
    from ..delivery.smtp import SmtpTarget
    from .apply import touched_plans
    from .upload import uploader_for

    steps = steps.resolved()
    problems: list[str] = []
    if steps.emails:
        if not steps.smtp:
            problems.append("sending e-mails needs an SMTP server: give --smtp HOST:PORT")
        else:
            try:
                SmtpTarget.parse(steps.smtp)
            except (ConfigError, ValueError) as exc:
                problems.append(f"--smtp: {exc}")
    if steps.email_csv:
        import os

        if not (steps.billing_address or os.environ.get("REPORTLIB_BILLING_EMAIL")):
            problems.append("sending the CSVs to external billing needs its address: give --billing-address ADDRESS "
                            "or set REPORTLIB_BILLING_EMAIL")
    if steps.upload:
        try:
            problems += uploader_for(steps.upload_to).problems()
        except ConfigError as exc:
            problems.append(str(exc))
    setups = touched_setups(conn, touched_plans(conn, list(todo)))
    for setup in setups:
        where = f"customer {setup.customer_id} × rate plan {setup.rate_plan}"
        kinds = [(steps.xlsx, AMENDMENT_TEMPLATES, "amendment_template"),
                 (steps.email_xlsx, EMAIL_TEMPLATES, "email_template"),
                 (steps.csv and bool(setup.csv_template), CSV_TEMPLATES, "csv_template")]
        for wanted, registry, column in kinds:
            if wanted:
                try:
                    template_for(registry, getattr(setup, column), customer=setup.customer_id,
                                 rate_plan=setup.rate_plan, column=column)
                except ConfigError as exc:
                    problems.append(str(exc))
        if steps.email_xlsx:
            try:
                recipients(dict(setup._mapping), setup.account_manager_email)
            except DataError as exc:
                problems.append(str(exc))
        billing = ("csv_template", "ext_billing_customer", "ext_billing_rate_plan")
        missing = [c for c in billing if not (getattr(setup, c) or "").strip()]
        if steps.upload and 0 < len(missing) < len(billing):  # none of them: not billed externally, nothing to do
            if "csv_template" in missing:
                problems.append(f"{where}: csv_template is empty, so no billing CSV is made for it to upload")
            ids = [c for c in missing if c != "csv_template"]
            if ids:
                problems.append(f"{where}: {' and '.join(ids)} empty, so its rates cannot be uploaded to "
                                "external billing")
    return problems


@dataclass
class PublishReport:
    """What happened after the change, step by step; ``failed`` names each step that did not finish."""

    batch_id: int
    lines: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def mark_done(engine: Engine, batch_id: int, step: str) -> None:
    """Set the change log's completion time of ``step`` (xlsx, csv, emails, uploads) to now, if not set yet."""
    column = DONE_COLUMNS[step]
    log = s.change_log.c
    with engine.begin() as conn:
        conn.execute(s.change_log.update().where(log.batch_id == batch_id, getattr(log, column).is_(None))
                     .values({column: utcnow()}))


def _records(engine: Engine, period: str):
    from ..amendments.data import amendments

    with engine.connect() as conn:
        return conn.execute(sa.select(amendments).where(amendments.c.period == period)).all()


def publish(engine: Engine, db_url: str | None, batch_id: int, steps: Steps, *, user: str) -> PublishReport:
    """Run the steps after change batch ``batch_id`` was applied (documents, e-mails, uploads, clear)."""
    from ..amendments.data import period_name

    steps = steps.resolved()
    period = period_name(batch_id)
    report = PublishReport(batch_id)
    if steps.documents:
        from ..batch import run_batch
        from ..errors import RunError

        try:
            result = run_batch("amendment", {"batch": batch_id}, out=steps.out, db_url=db_url, workers=steps.workers)
            report.lines.append(result.summary())
        except RunError as exc:  # the batch touches no enabled customer rate plan
            report.lines.append(f"amendments: {exc}")
        records = _records(engine, period)
        if records and all(r.xlsx_status == "ok" for r in records):
            if steps.xlsx:
                mark_done(engine, batch_id, "xlsx")
            if steps.csv and all(r.csv_status in ("ok", "skipped") for r in records):
                mark_done(engine, batch_id, "csv")
        elif records:
            report.failed.append("amendments: " + ", ".join(f"{r.customer_id} × {r.rate_plan}" for r in records
                                                            if r.xlsx_status != "ok") + " failed (see above)")
    if steps.emails and _records(engine, period):
        from ..amendments.send import deliver
        from ..delivery.smtp import SmtpTarget

        delivered = deliver(engine, period, smtp=SmtpTarget.parse(steps.smtp), sender=steps.sender,
                            billing_address=steps.billing_address, customer_messages=steps.email_xlsx,
                            billing=steps.email_csv, user=user)
        report.lines.append(delivered.summary())
        if delivered.failed:
            report.failed.append(f"e-mails: {len(delivered.failed)} failed; retry with reportlib amendments send "
                                 f"{period} --smtp HOST:PORT")
        else:
            mark_done(engine, batch_id, "emails")
    if steps.upload and any(r.csv_status == "ok" for r in _records(engine, period)):
        from .upload import upload_period, uploader_for

        uploaded = upload_period(engine, period, uploader_for(steps.upload_to), user=user)
        report.lines.append(uploaded.summary())
        if uploaded.failed:
            report.failed.append(f"uploads: {len(uploaded.failed)} failed; retry with reportlib rates upload {period}")
        else:
            mark_done(engine, batch_id, "uploads")
    return report


def plan_summary(conn: Connection, todo: Sequence[Change], steps: Steps) -> str:
    """Which customer rate plans the steps will serve, for the terminal before the change."""
    from .apply import touched_plans

    setups = touched_setups(conn, touched_plans(conn, list(todo)))
    return f"{len(setups)} enabled customer rate plan(s): " + (", ".join(
        f"{r.customer_id} × {r.rate_plan}" for r in setups) or "none")
