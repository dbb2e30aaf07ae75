"""Upload a period's billing CSVs to external billing, never twice (the manual's "upload new
customer rates to external billing").

A period's billing CSVs (one per enabled customer × rate plan whose setup names a CSV template)
go to the billing system an uploader serves (:mod:`reportlib.delivery.upload`); the customer
rate plan's ``ext_billing_customer`` / ``ext_billing_rate_plan`` say where in it.

Never twice: every upload is recorded in ``rates_billing_uploads`` before it is sent
(``pending``) and after (``done`` / ``failed``), under an idempotency key — the digest of the
target, the period (and when its batch was applied), the customer rate plan, its external ids
and the CSV's content. A key that is ``done`` is not uploaded again, whatever is re-run. The
amendments record shows each upload's status and time; the change log's "All uploads to
billing done" follows them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..delivery.upload import Upload, UploadRefused
from ..errors import DataError
from ..files import safe_join
from ..ratedesk import data as s
from ..ratedesk.verify import utcnow
from .data import amendments, batch_applied, billing_uploads
from .publish import note_completions

__all__ = ["UploadReport", "upload_period"]


@dataclass
class UploadReport:
    """What an upload run did: uploaded, already done before, failed (with why)."""

    period: str
    target: str
    uploaded: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.period}: {len(self.uploaded)} billing CSV(s) uploaded to {self.target}, "
                 f"{len(self.already)} already uploaded (not again), {len(self.failed)} failed"]
        lines += [f"  FAILED {name}: {why}" for name, why in self.failed]
        if self.failed:
            lines.append(f"  retry with: reportlib amendments upload {self.period} --upload-to TARGET")
        return "\n".join(lines)


def _key(target: str, period: str, applied, record, setup, digest: str) -> str:
    parts = [target, period, str(applied or ""), record.customer_id, record.rate_plan,
             setup.ext_billing_customer or "", setup.ext_billing_rate_plan or "", digest]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def upload_period(engine: Engine, period: str, uploader, *, user: str,
                  progress: Callable[[str], None] | None = None) -> UploadReport:
    """Upload every billing CSV of ``period`` not uploaded yet to ``uploader``'s billing system."""
    a, u = amendments.c, billing_uploads.c
    report = UploadReport(period, str(uploader))
    tick = progress or (lambda name: None)
    with engine.connect() as conn:
        records = conn.execute(sa.select(amendments).where(a.period == period, a.csv_status == "ok")
                               .order_by(a.customer_id, a.rate_plan)).all()
        applied = batch_applied(conn, records[0].batch_id) if records else None
        setups = {(r.customer_id, r.rate_plan): r for r in conn.execute(sa.select(s.customer_rp_setup))}
    if not records:
        raise DataError(f"No billing CSV is recorded for {period!r}; make the amendments first (reportlib amendments "
                        "make, or rates apply --csv).")
    for record in records:
        name = f"{record.customer_id} × {record.rate_plan}"
        setup = setups.get((record.customer_id, record.rate_plan))
        if setup is None or not setup.ext_billing_customer or not setup.ext_billing_rate_plan:
            why = "its customer rate plan setup has no ext_billing_customer / ext_billing_rate_plan"
            report.failed.append((name, why))
            _mark(engine, record.id, "failed", None)
            continue
        path = safe_join(record.folder, record.csv_file)
        if not path.is_file():
            report.failed.append((name, f"the billing CSV {path} is missing; make the amendments again"))
            _mark(engine, record.id, "failed", None)
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        key = _key(str(uploader), period, applied, record, setup, digest)
        item = Upload(period, record.customer_id, record.rate_plan, setup.ext_billing_customer,
                      setup.ext_billing_rate_plan, path, key)
        with engine.begin() as conn:
            known = conn.execute(sa.select(billing_uploads).where(u.idempotency_key == key)).first()
            if known is not None and known.status == "done":
                report.already.append(name)
                _mark(engine, record.id, "done", known.uploaded_at, conn)
                continue
            if known is None:  # recorded before it is sent: a crash leaves a pending row, retried next time
                conn.execute(billing_uploads.insert().values(
                    idempotency_key=key, period=period, customer_id=record.customer_id, rate_plan=record.rate_plan,
                    ext_billing_customer=setup.ext_billing_customer, ext_billing_rate_plan=setup.ext_billing_rate_plan,
                    target=uploader.target(item), file=path.name, sha256=digest, status="pending", attempts=0,
                    user=user, requested_at=utcnow()))
        tick(name)
        tries = [0]
        try:
            answer = uploader.send(item, lambda: tries.__setitem__(0, tries[0] + 1))
        except (UploadRefused, OSError) as exc:
            with engine.begin() as conn:
                conn.execute(billing_uploads.update().where(u.idempotency_key == key).values(
                    status="failed", attempts=u.attempts + tries[0], last_error=str(exc)[:4000]))
                _mark(engine, record.id, "failed", None, conn)
            report.failed.append((name, str(exc)))
            continue
        done = utcnow()
        with engine.begin() as conn:
            conn.execute(billing_uploads.update().where(u.idempotency_key == key).values(
                status="done", attempts=u.attempts + tries[0], last_error=None, response=answer[:4000],
                uploaded_at=done))
            _mark(engine, record.id, "done", done, conn)
        report.uploaded.append(name)
    note_completions(engine, records[0].batch_id)
    return report


def _mark(engine: Engine, record_id: int, status: str, at, conn=None) -> None:
    """The amendments record's upload status and time."""
    statement = amendments.update().where(amendments.c.id == record_id).values(upload_status=status, uploaded_at=at)
    if conn is not None:
        conn.execute(statement)
        return
    with engine.begin() as own:
        own.execute(statement)
