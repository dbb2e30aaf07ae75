"""What the rate desk's "Apply changes + Upload" does after the change: amendments, e-mails, uploads.

The rate desk (:mod:`reportlib.ratedesk.publish`) finds :data:`PUBLISHER` through the entry
point group ``reportlib.ratedesk.publishers`` and calls it twice: before the change,
:meth:`AmendmentPublisher.problems` checks that every option can be honoured for every enabled
customer × rate plan the batch will touch — its amendment, e-mail and CSV templates exist, it
can be addressed, a setup set up for external billing has its CSV template and both external
ids (one with none of the three is not billed externally and is left out of the upload) — and
that the run has what the options need (an SMTP server, a billing address, an upload target
and its token); after the change, :meth:`AmendmentPublisher.publish` runs the amendment batch
(one notebook run per customer × plan makes the XLSX and the CSV; the options choose what is
sent and uploaded), sends the e-mails through the delivery log (never twice), uploads the CSVs
(:mod:`reportlib.amendments.upload`, never twice) and sets the change log's completion times.
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import ConfigError, DataError
from ..ratedesk import data as s
from ..ratedesk.apply import touched_plans
from ..ratedesk.publish import PublishReport, Steps, mark_done
from ..ratedesk.verify import Change

__all__ = ["AmendmentPublisher", "PUBLISHER", "touched_setups"]


def touched_setups(conn: Connection, plans: Sequence[str]) -> list:
    """The enabled customer rate plan setups of ``plans``, with the customer's account manager."""
    if not plans:
        return []
    rp, c = s.customer_rp_setup.c, s.customers.c
    return conn.execute(sa.select(s.customer_rp_setup, c.account_manager_email)
                        .join(s.customers, c.customer_id == rp.customer_id)
                        .where(rp.rate_plan.in_(list(plans)), rp.status == "enabled")
                        .order_by(rp.customer_id, rp.rate_plan)).all()


def _problems(conn: Connection, todo: Sequence[Change], steps: Steps) -> list[str]:
    """Every reason an option of ``steps`` cannot be honoured for the changes ``todo``; empty when all can."""
    from ..delivery.smtp import SmtpTarget
    from ..delivery.upload import uploader_for
    from .metrics import recipients
    from .templates import AMENDMENT_TEMPLATES, CSV_TEMPLATES, EMAIL_TEMPLATES, template_for

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


def _records(engine: Engine, period: str):
    from .data import amendments

    with engine.connect() as conn:
        return conn.execute(sa.select(amendments).where(amendments.c.period == period)).all()


def _publish(engine: Engine, db_url: str | None, batch_id: int, steps: Steps, *, user: str) -> PublishReport:
    """Run the steps after change batch ``batch_id`` was applied (documents, e-mails, uploads, clear)."""
    from .data import period_name

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
        from ..delivery.smtp import SmtpTarget
        from .send import deliver

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
        from ..delivery.upload import uploader_for
        from .upload import upload_period

        uploaded = upload_period(engine, period, uploader_for(steps.upload_to), user=user)
        report.lines.append(uploaded.summary())
        if uploaded.failed:
            report.failed.append(f"uploads: {len(uploaded.failed)} failed; retry with reportlib amendments upload {period}")
        else:
            mark_done(engine, batch_id, "uploads")
    return report


def _summary(conn: Connection, todo: Sequence[Change]) -> str:
    """Which customer rate plans the steps will serve, for the terminal before the change."""
    setups = touched_setups(conn, touched_plans(conn, list(todo)))
    return f"{len(setups)} enabled customer rate plan(s): " + (", ".join(
        f"{r.customer_id} × {r.rate_plan}" for r in setups) or "none")


class AmendmentPublisher:
    """The amendment family's side of "Apply changes + Upload" (see the module)."""

    def problems(self, conn: Connection, todo: Sequence[Change], steps: Steps) -> list[str]:
        """Every reason an option of ``steps`` cannot be honoured for the changes ``todo``; empty when all can."""
        return _problems(conn, todo, steps)

    def summary(self, conn: Connection, todo: Sequence[Change]) -> str:
        return _summary(conn, todo)

    def publish(self, engine: Engine, db_url: str | None, batch_id: int, steps: Steps, *, user: str) -> PublishReport:
        """Run the steps after change batch ``batch_id`` was applied (documents, e-mails, uploads)."""
        return _publish(engine, db_url, batch_id, steps, user=user)


PUBLISHER = AmendmentPublisher()
