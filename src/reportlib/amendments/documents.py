"""One customer × plan's documents: the XLSX amendment, the billing CSV and the run's record file.

:func:`write_documents` is what ``notebooks/amendment.ipynb`` calls. It reads the database and
writes files, nothing else: no table is created and no row written, so running the notebook by
hand has no side effect on the database. Beside the documents it writes ``<stem>.record.json``,
what the amendments record keeps of the run (request time, issue date, user, templates, files,
recipients, rows, changes, timings, XLSX seconds and peak memory, when the XLSX and the CSV were
written); the runner's after-run step
(:func:`reportlib.amendments.family.record_run`) turns it into the run's record.

Made again for the same period, an amendment keeps the issue date it was first made with (read
from the record): the documents change only when the rates do.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from ..db import engine_for
from ..files import atomic_write
from ..ratedesk.decks import current_user
from ..ratedesk.verify import utcnow
from .csv import write_billing_csv
from .data import batch_applied, issued_at, period_name
from .email import fields
from .metrics import Amendment, amendment, changes_only
from .templates import AMENDMENT_TEMPLATES, CSV_TEMPLATES, EMAIL_TEMPLATES, template_for
from .xlsx import write_amendment_xlsx

__all__ = ["Documents", "RECORD_SUFFIX", "write_documents"]

RECORD_SUFFIX = ".record.json"


@dataclass(frozen=True)
class Documents:
    """One customer × plan's documents, the record file, and the numbers it holds."""

    amendment: Amendment
    xlsx: Path
    csv: Path | None
    record: Path
    rows: int
    changes: int
    xlsx_seconds: float
    xlsx_peak_mb: float
    csv_seconds: float
    seconds: float


def write_documents(db_url: str | Engine | None, customer_id: str, rate_plan: str, batch: int | None, *,
                    output_dir: str | Path, stem: str, at: date | None = None, user: str | None = None) -> Documents:
    """Write one customer × plan's XLSX amendment, billing CSV (when its setup names a CSV template) and
    record file ``<stem>.record.json`` into ``output_dir``; reads the database only."""
    engine = db_url if isinstance(db_url, Engine) else engine_for(db_url)
    requested, clock = utcnow(), time.perf_counter()
    who = current_user(user)
    period = period_name(batch, at)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    moment = datetime.combine(at, datetime.min.time()) if at is not None else requested.replace(microsecond=0)
    with engine.connect() as conn:
        applied = batch_applied(conn, batch)
        issued = issued_at(conn, period, customer_id, rate_plan)
        if issued is None or (applied is not None and issued < applied.replace(microsecond=0)):
            issued = requested.replace(microsecond=0)
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
    xlsx_generated = utcnow()
    csv_path, csv_seconds, csv_generated = None, 0.0, None
    if csv_template is not None:
        csv_clock = time.perf_counter()
        csv_path = output / f"{stem}.billing.csv"
        write_billing_csv(doc, csv_template, csv_path)
        csv_seconds = round(time.perf_counter() - csv_clock, 3)
        csv_generated = utcnow()
    changes = len(changes_only(doc.sheet))
    seconds = round(time.perf_counter() - clock, 3)
    record = output / f"{stem}{RECORD_SUFFIX}"
    with atomic_write(record) as handle:
        json.dump({
            "period": period, "batch_id": batch, "customer_id": customer_id, "rate_plan": rate_plan,
            "requested_at": requested.isoformat(), "issued_at": issued.isoformat(), "user": who,
            "amendment_template": setup.get("amendment_template"), "csv_template": setup.get("csv_template"),
            "email_template": setup.get("email_template"), "xlsx_file": xlsx_path.name,
            "csv_file": csv_path.name if csv_path else None,
            "recipients": None if doc.recipient_error else doc.recipients, "recipient_error": doc.recipient_error,
            "mail_fields": fields(doc), "rows": stats.rows, "changes": changes, "seconds": seconds,
            "xlsx_seconds": stats.seconds, "xlsx_peak_mb": stats.peak_mb, "csv_seconds": csv_seconds,
            "xlsx_generated_at": xlsx_generated.isoformat(),
            "csv_generated_at": csv_generated.isoformat() if csv_generated else None,
        }, handle, default=str, indent=1)
    return Documents(doc, xlsx_path, csv_path, record, stats.rows, changes, stats.seconds, stats.peak_mb, csv_seconds,
                     seconds)
