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
sent and uploaded), sends the e-mails through the delivery log (never twice) and uploads the CSVs
(:mod:`reportlib.amendments.upload`, never twice).

The change log's completion times come from the amendments record (:func:`note_completions`),
whichever command completed a step — the apply, ``amendments make``, ``send`` or ``upload``, a
retry — so they always say when the batch's last XLSX was written, its last CSV, its last e-mail
accepted, its last upload done (:func:`step_completions`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import ConfigError, DataError
from ..ratedesk import data as s
from ..ratedesk.apply import touched_plans
from ..ratedesk.publish import PublishReport, Steps, mark_done
from ..ratedesk.verify import Change

__all__ = ["AmendmentPublisher", "PUBLISHER", "note_completions", "step_completions", "touched_setups"]


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


def _latest(times: Iterable[datetime | None]) -> datetime | None:
    return max((t for t in times if t is not None), default=None)


def step_completions(conn: Connection, batch_id: int) -> dict[str, datetime]:
    """When each step after change batch ``batch_id`` completed for the whole batch (UTC), from its record.

    A step is complete once every enabled customer × plan the batch touched has it done; its
    time is then the latest of theirs. ``xlsx``: every XLSX written. ``csv``: every billing CSV
    written (a setup without a CSV template has none to write). ``emails``: every customer's
    e-mail accepted, and the billing e-mail too once one was written. ``uploads``: every billing
    CSV uploaded. Nothing is complete while an amendment is missing or failed, and a batch
    without a billing CSV has no CSV or upload time.
    """
    from .data import amendments, batch_applied, period_name
    from .metrics import amendment_targets

    applied = batch_applied(conn, batch_id)
    if applied is None:  # reloaded since: no such batch any more
        return {}
    a = amendments.c
    # Records of an earlier batch that had this id (SQLite hands ids out again after a reload) do not count.
    found = {(r.customer_id, r.rate_plan): r for r in conn.execute(sa.select(amendments).where(
        a.period == period_name(batch_id), a.requested_at >= applied.replace(microsecond=0)))}
    made = [found.get((t.customer_id, t.rate_plan)) for t in amendment_targets(conn, batch_id)]
    if not made or any(r is None or r.xlsx_status != "ok" for r in made):
        return {}
    done = {"xlsx": _latest(r.xlsx_generated_at for r in made)}
    csvs = [r for r in made if r.csv_status == "ok"]
    if all(r.csv_status in ("ok", "skipped") for r in made):
        done["csv"] = _latest(r.csv_generated_at for r in csvs)
    billed = [r for r in made if r.csv_status == "ok" and r.billing_status != "pending"]  # pending: never written
    if all(r.email_status == "sent" for r in made) and all(r.billing_status == "sent" for r in billed):
        done["emails"] = _latest([*(r.email_sent_at for r in made), *(r.billing_sent_at for r in billed)])
    if csvs and all(r.upload_status == "done" for r in csvs):
        done["uploads"] = _latest(r.uploaded_at for r in csvs)
    return {step: at for step, at in done.items() if at is not None}


def note_completions(engine: Engine, batch_id: int | None) -> None:
    """Set the change log's completion times of change batch ``batch_id`` from the amendments record.

    Called after every change to the record (a run recorded, e-mails sent, CSVs uploaded), each
    in a transaction of its own after the record's: of runs recorded at the same time, the last
    one to note sees them all. A regeneration (no batch) has no change log.
    """
    if batch_id is None:
        return
    with engine.connect() as conn:
        if conn.execute(sa.select(s.change_log.c.batch_id).where(s.change_log.c.batch_id == batch_id)).first() is None:
            return
        done = step_completions(conn, batch_id)
    for step, at in done.items():
        mark_done(engine, batch_id, step, at)


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
        if any(r.xlsx_status != "ok" for r in records):
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
    if steps.upload and any(r.csv_status == "ok" for r in _records(engine, period)):
        from ..delivery.upload import uploader_for
        from .upload import upload_period

        uploaded = upload_period(engine, period, uploader_for(steps.upload_to), user=user)
        report.lines.append(uploaded.summary())
        if uploaded.failed:
            report.failed.append(f"uploads: {len(uploaded.failed)} failed; retry with reportlib amendments upload {period}")
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
