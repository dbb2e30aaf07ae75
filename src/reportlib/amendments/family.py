"""The amendment family as the runner sees it: one run per customer × rate plan × period.

The period is the change batch (``batch-<id>``) or a regeneration without changes
(``regenerate-<date>``). A batch run selects every enabled customer × plan the batch touched;
a regeneration selects the enabled setups of chosen plans and/or plan groups (all plans when
none is chosen), optionally only some customers.

The notebook only computes and writes files; the amendments record is the runner's after-run
step (:func:`record_run`, ``Family.after_run``), in the process that runs the report or batch.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import init_db
from ..errors import ParameterError, UnknownEntityError
from ..families import Family
from ..files import entity_stem, plain_id, plain_name, safe_join
from ..manifest import SUFFIX, read_manifest
from ..params import ReportParams
from ..ratedesk import data as s
from ..ratedesk.decks import current_user
from ..run import RunResult
from .data import amendments, batch_applied, billing_uploads, period_name, save_record
from .documents import RECORD_SUFFIX
from .metrics import amendment_targets, regeneration_targets
from .publish import note_completions

__all__ = ["AmendmentBatchParams", "AmendmentParams", "FAMILY", "record_documents", "record_run"]


@dataclass(frozen=True)
class AmendmentParams(ReportParams):
    """One customer's rate amendment for one rate plan."""

    family = "amendment"
    customer: str = field(metadata={"help": "customer id, e.g. C001"})
    rate_plan: str = field(metadata={"help": "rate plan, e.g. 'Retail USD'"})
    batch: int | None = field(default=None, metadata={"help": "change batch id; none: regenerate without changes"})
    at: date | None = field(default=None, metadata={"help": "regeneration: the sheet as of this date (default now)"})


@dataclass(frozen=True)
class AmendmentBatchParams(ReportParams):
    """Amendments of every enabled customer × plan a change batch touched, or a regeneration."""

    family = "amendment"
    batch: int | None = field(default=None, metadata={"help": "change batch id; none: regenerate without changes"})
    plans: tuple[str, ...] = field(default=(), metadata={"help": "regeneration: these rate plans (comma-separated)"})
    groups: tuple[str, ...] = field(default=(), metadata={"help": "regeneration: these rate plan groups"})
    customers: tuple[str, ...] = field(default=(), metadata={"help": "only these customers"})
    at: date | None = field(default=None, metadata={"help": "regeneration: the sheet as of this date (default now)"})


def _stem(conn: Connection, params: AmendmentParams) -> str:
    row = conn.execute(sa.select(s.customers.c.name).where(s.customers.c.customer_id == params.customer)).first()
    if row is None:
        raise UnknownEntityError("customer", params.customer)
    return entity_stem(params.customer, row.name, params.rate_plan, key=(params.customer, params.rate_plan),
                       plain=plain_id(params.customer) and plain_name(params.rate_plan))


def _entities(conn: Connection, params: AmendmentBatchParams) -> list[dict]:
    if params.batch is not None:
        if params.plans or params.groups or params.at:
            raise ParameterError("amendment", ["plans, groups and at choose a regeneration: give them without batch"])
        targets = amendment_targets(conn, params.batch)
        if params.customers:
            targets = [t for t in targets if t.customer_id in params.customers]
    else:
        targets = regeneration_targets(conn, params.plans, params.groups, params.customers)
    extra = {"batch": params.batch} if params.batch is not None else \
        ({"at": params.at.isoformat()} if params.at else {})
    return [{"customer": t.customer_id, "rate_plan": t.rate_plan, **extra} for t in targets]


def record_documents(db_url: str | None, record: str | Path, *, folder: str | Path | None = None,
                     only_if_missing: bool = False) -> None:
    """Write the amendments record of the documents whose record file is ``record`` (see
    :func:`reportlib.amendments.documents.write_documents`); the files are in ``folder`` (default:
    the record file's). ``only_if_missing`` leaves a record that exists as it is."""
    values = json.loads(Path(record).read_text(encoding="utf-8"))
    folder = Path(folder if folder is not None else Path(record).parent)
    engine = _engine(db_url)
    a = amendments.c
    with engine.begin() as conn:
        if only_if_missing and conn.execute(sa.select(a.id).where(
                a.period == values["period"], a.customer_id == values["customer_id"], a.rate_plan == values["rate_plan"],
                a.xlsx_status == "ok")).first() is not None:
            return
        csv_file, recipient_error = values["csv_file"], values["recipient_error"]
        uploaded = _uploaded(conn, values, safe_join(folder, csv_file)) if csv_file else None
        save_record(conn, dict(
            period=values["period"], batch_id=values["batch_id"], customer_id=values["customer_id"],
            rate_plan=values["rate_plan"], requested_at=datetime.fromisoformat(values["requested_at"]),
            issued_at=datetime.fromisoformat(values["issued_at"]), user=values["user"],
            folder=str(folder), amendment_template=values["amendment_template"], csv_template=values["csv_template"],
            email_template=values["email_template"], xlsx_status="ok",
            xlsx_generated_at=_written_at(values, "xlsx", folder), csv_status="ok" if csv_file else "skipped",
            csv_generated_at=_written_at(values, "csv", folder) if csv_file else None,
            email_status="failed" if recipient_error else "pending", email_error=recipient_error,
            email_attempts=0, email_sent_at=None, billing_status="pending" if csv_file else "none",
            billing_sent_at=None, upload_status="done" if uploaded else None, uploaded_at=uploaded, error=None,
            xlsx_file=values["xlsx_file"], csv_file=csv_file, eml_file=None,
            recipients=None if values["recipients"] is None else json.dumps(values["recipients"]),
            mail_fields=json.dumps(values["mail_fields"], default=str), rows=values["rows"],
            changes=values["changes"], seconds=values["seconds"], xlsx_seconds=values["xlsx_seconds"],
            xlsx_peak_mb=values["xlsx_peak_mb"], csv_seconds=values["csv_seconds"]))
    note_completions(engine, values["batch_id"])


def _written_at(values: dict, kind: str, folder: Path) -> datetime:
    """When the record file says the XLSX / CSV was written; for a record file written before it said so,
    when the file was last written (written atomically, so its modification time is that moment)."""
    at = values.get(f"{kind}_generated_at")
    if at:
        return datetime.fromisoformat(at)
    stamp = safe_join(folder, values[f"{kind}_file"]).stat().st_mtime
    return datetime.fromtimestamp(stamp, timezone.utc).replace(tzinfo=None)


def _uploaded(conn: Connection, values: dict, csv: Path) -> datetime | None:
    """When this very CSV (same content) of the period × customer × plan was uploaded to external billing, if it was:
    an amendment made again keeps its upload only while its CSV is unchanged."""
    if not csv.is_file():
        return None
    u = billing_uploads.c
    applied = batch_applied(conn, values["batch_id"])
    query = sa.select(sa.func.max(u.uploaded_at)).where(
        u.period == values["period"], u.customer_id == values["customer_id"], u.rate_plan == values["rate_plan"],
        u.status == "done", u.sha256 == hashlib.sha256(csv.read_bytes()).hexdigest())
    if applied is not None:
        query = query.where(u.requested_at >= applied.replace(microsecond=0))
    return conn.execute(query).scalar()


def record_run(db_url: str, result: RunResult) -> None:
    """The runner's after-run step: the amendments record of one run.

    A run that made its documents is recorded from its record file (a run skipped as up to date
    only when this database has no record of it, as after the database was rebuilt with the same
    data); a failed run is recorded as failed, with its error.
    """
    if not result.folder:  # never planned (an unknown customer): nothing ran, nothing to record
        return
    folder = Path(result.folder)
    if result.status in ("ok", "skipped"):
        record = safe_join(folder, f"{result.stem}{RECORD_SUFFIX}")
        if record.is_file():
            record_documents(db_url, record, folder=folder, only_if_missing=result.status == "skipped")
        return
    params = AmendmentParams.parse(result.parameters)
    manifest = read_manifest(safe_join(folder, f"{result.stem}{SUFFIX}")) or {}
    started = manifest.get("started_at")
    requested = datetime.fromisoformat(started).astimezone(timezone.utc).replace(tzinfo=None) if started else \
        datetime.now(timezone.utc).replace(tzinfo=None)
    with _engine(db_url).begin() as conn:
        save_record(conn, dict(
            period=period_name(params.batch, params.at), batch_id=params.batch, customer_id=params.customer,
            rate_plan=params.rate_plan, requested_at=requested, user=current_user(), folder=str(folder),
            xlsx_status="failed", xlsx_generated_at=None, csv_status="failed", csv_generated_at=None,
            email_status="pending", email_attempts=0, email_sent_at=None, email_error=None, billing_status="none",
            billing_sent_at=None, error=(result.error or "failed")[:4000], xlsx_file=None, csv_file=None,
            eml_file=None, recipients=None, mail_fields=None, seconds=result.duration_s))


def _engine(db_url: str | None):
    """The database with its tables: made (and given new columns) once per process, since a batch
    records every run, and again should the record table have gone since."""
    engine = _initialised(db_url)
    with engine.connect() as conn:
        if sa.inspect(conn).has_table(amendments.name):
            return engine
    _initialised.cache_clear()
    return _initialised(db_url)


@functools.lru_cache(maxsize=8)
def _initialised(db_url: str | None):
    return init_db(db_url)


def _send(raw: dict, *, db_url=None, out=None, entity=None, smtp=None, dry_run=False, resend=False, retry=False,
          sender=None, user=None, progress=None, mailer=None, billing_address=None):
    """``reportlib send amendment -p batch N``: the amendments' own rules (TO/CC/BCC from the rate
    plan setup plus the recipients domain, the billing message), through the one delivery log and
    send path (:func:`reportlib.amendments.send.deliver`); ``retry`` is what every send does here
    (only what was not accepted goes out)."""
    from ..delivery.send import SendReport
    from .data import amendment_records
    from .send import addressed_to, deliver

    params = AmendmentBatchParams.parse(raw)
    period = period_name(params.batch, params.at)
    customers = (entity,) if entity else tuple(params.customers)
    if not dry_run:
        return deliver(db_url, period, smtp=smtp, sender=sender, billing_address=billing_address,
                       customers=customers, resend=resend, user=user, progress=progress, mailer=mailer)
    engine = init_db(db_url)
    with engine.connect() as conn:
        records = amendment_records(conn, period=period, limit=1_000_000)
    report = SendReport("amendment", [period])
    for record in records.itertuples():
        if customers and record.customer_id not in customers or record.xlsx_status != "ok":
            continue
        addressed = addressed_to(engine, record)
        people = addressed if isinstance(addressed, str) else "; ".join(
            f"{role}: {', '.join(a)}" for role, a in addressed.items() if a)
        report.planned.append(f"{record.customer_id} × {record.rate_plan} [{record.xlsx_file}] -> {people}")
    return report


FAMILY = Family(
    name="amendment",
    folder="amendments",
    notebook="amendment.ipynb",
    params=AmendmentParams,
    batch_params=AmendmentBatchParams,
    domain="rates",
    period=lambda p: period_name(p.batch, p.at),
    stem=_stem,
    entities=_entities,
    description="Rate amendment per customer × rate plan for a change batch: XLSX, billing CSV (e-mail by "
                "'reportlib amendments send').",
    after_run=record_run,
    send=_send,
)
