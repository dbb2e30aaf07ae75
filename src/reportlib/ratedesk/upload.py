"""Upload new customer rates to external billing: one uploader per billing system, never twice.

A batch's billing CSVs (one per enabled customer × rate plan whose setup names a CSV template,
made by the ``amendment`` family) go to the billing system named by an upload target:

- ``http://…`` / ``https://…`` — :class:`HttpUploader`: a POST of the CSV (``text/csv``) with
  ``Authorization: Bearer`` and the token from the environment variable
  ``REPORTLIB_BILLING_TOKEN`` (never from a file, an option or the database), an
  ``Idempotency-Key`` header, and the setup's external ids (``X-Billing-Customer``,
  ``X-Billing-Rate-Plan``). The URL may hold ``{ext_billing_customer}`` and
  ``{ext_billing_rate_plan}``, so each customer rate plan goes to its own resource. A refused
  connection, a timeout, 408, 425, 429 and 5xx are retried with back-off; any other answer is
  a failure with the server's words.
- ``file://FOLDER`` or a plain folder path — :class:`FolderUploader`: the CSV is dropped into the
  folder (written to a temporary name, then renamed) as ``<ext customer>_<ext plan>_<period>.csv``;
  a folder an SFTP server or a mount serves is how an SFTP drop is reached.

The upload target is chosen per run (``--upload-to``, default ``$REPORTLIB_BILLING_UPLOAD``);
the customer rate plan's ``ext_billing_customer`` / ``ext_billing_rate_plan`` say where in it.

Never twice: every upload is recorded in ``rates_billing_uploads`` before it is sent
(``pending``) and after (``done`` / ``failed``), under an idempotency key — the digest of the
target, the period (and when its batch was applied), the customer rate plan, its external ids
and the CSV's content. A key that is ``done`` is not uploaded again, whatever is re-run; the
billing system gets the same key on every retry, so a retry after an answer that was lost is
recognised there too. The amendments record shows each upload's status and time.
"""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import ConfigError, DataError
from ..files import atomic_write, safe_join, slugify
from ..registry import Registry
from . import data as s
from .verify import utcnow

__all__ = ["FolderUploader", "HttpUploader", "TOKEN_VARIABLE", "TARGET_VARIABLE", "UPLOADERS", "Upload",
           "UploadReport", "UploadRefused", "upload_period", "uploader_for"]

TOKEN_VARIABLE = "REPORTLIB_BILLING_TOKEN"
TARGET_VARIABLE = "REPORTLIB_BILLING_UPLOAD"
_RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class UploadRefused(Exception):
    """The billing system refused an upload; ``retry`` says whether trying again may help."""

    def __init__(self, message: str, retry: bool):
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Upload:
    """One billing CSV to upload and where it belongs."""

    period: str
    customer_id: str
    rate_plan: str
    ext_billing_customer: str
    ext_billing_rate_plan: str
    path: Path
    key: str  # the idempotency key

    def content(self) -> bytes:
        return self.path.read_bytes()


class HttpUploader:
    """POST a CSV with a bearer token, an idempotency key and the setup's external ids."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 30.0,
                 delays: Sequence[float] = (0.5, 1.0, 2.0)):
        self.url, self.timeout, self.delays = url, timeout, tuple(delays)
        self.token = token if token is not None else os.environ.get(TOKEN_VARIABLE)

    def problems(self) -> list[str]:
        """What keeps this uploader from working, before anything is sent."""
        out = []
        if not self.token:
            out.append(f"upload to {self.url}: the environment variable {TOKEN_VARIABLE} (the billing system's "
                       "bearer token) is not set")
        try:
            self.url.format(ext_billing_customer="x", ext_billing_rate_plan="x")
        except (KeyError, IndexError, ValueError) as exc:
            out.append(f"upload to {self.url}: the URL may hold only {{ext_billing_customer}} and "
                       f"{{ext_billing_rate_plan}} ({exc!r})")
        return out

    def target(self, upload: Upload) -> str:
        quote = lambda text: urllib.parse.quote(text, safe="")  # noqa: E731 - one use, reads as a rule
        return self.url.format(ext_billing_customer=quote(upload.ext_billing_customer),
                               ext_billing_rate_plan=quote(upload.ext_billing_rate_plan))

    def __str__(self) -> str:
        return self.url

    def send(self, upload: Upload, attempt: Callable[[], None]) -> str:
        """Upload, retrying what may pass later; returns the server's answer. ``attempt`` counts each try."""
        body = upload.content()
        url = self.target(upload)
        headers = {"Content-Type": "text/csv; charset=utf-8", "Authorization": f"Bearer {self.token}",
                   "Idempotency-Key": upload.key, "X-Billing-Customer": upload.ext_billing_customer,
                   "X-Billing-Rate-Plan": upload.ext_billing_rate_plan, "X-Reportlib-Period": upload.period}
        last = ""
        for wait in (*self.delays, None):
            attempt()
            request = urllib.request.Request(url, data=body, method="POST", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    return f"{answer.status} {answer.read(2000).decode('utf-8', 'replace').strip()}".strip()
            except urllib.error.HTTPError as exc:
                words = exc.read(2000).decode("utf-8", "replace").strip()
                last = f"{exc.code} {exc.reason}" + (f": {words}" if words else "")
                if exc.code not in _RETRY_STATUSES:
                    raise UploadRefused(f"{url} answered {last}", retry=False) from None
            except (urllib.error.URLError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
            if wait is not None:
                time.sleep(wait)
        raise UploadRefused(f"{url}: {last} (tried {len(self.delays) + 1} times)", retry=True)


class FolderUploader:
    """Drop the CSV into a folder (an SFTP server's or a mount's), atomically."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def problems(self) -> list[str]:
        if not self.folder.is_dir():
            return [f"upload to folder {self.folder}: no such folder"]
        if not os.access(self.folder, os.W_OK):
            return [f"upload to folder {self.folder}: not writable"]
        return []

    def target(self, upload: Upload) -> str:
        name = "_".join(slugify(x) for x in (upload.ext_billing_customer, upload.ext_billing_rate_plan,
                                                upload.period)) + ".csv"
        return str(safe_join(self.folder, name))

    def __str__(self) -> str:
        return f"file://{self.folder}"

    def send(self, upload: Upload, attempt: Callable[[], None]) -> str:
        attempt()
        path = Path(self.target(upload))
        with atomic_write(path, mode="wb") as handle:
            handle.write(upload.content())
        return f"written {path.name}"


UPLOADERS: Registry[Callable[[str], HttpUploader | FolderUploader]] = Registry("billing uploader")
UPLOADERS.register("http", HttpUploader)
UPLOADERS.register("https", HttpUploader)
UPLOADERS.register("file", lambda target: FolderUploader(urllib.parse.urlparse(target).path))


def uploader_for(target: str | None):
    """The uploader of an upload target (URL or folder); ``$REPORTLIB_BILLING_UPLOAD`` when none is given."""
    target = (target or os.environ.get(TARGET_VARIABLE) or "").strip()
    if not target:
        raise ConfigError(f"No upload target: give --upload-to URL|FOLDER or set {TARGET_VARIABLE}.")
    scheme = urllib.parse.urlparse(target).scheme.lower()
    if not scheme or len(scheme) == 1:  # a plain path (or a Windows drive letter)
        return FolderUploader(target)
    if scheme not in UPLOADERS:
        raise ConfigError(f"Upload target {target!r}: no uploader for {scheme!r}; known: "
                          f"{', '.join(UPLOADERS.names())}, or a folder path.")
    return UPLOADERS.get(scheme)(target)


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
            lines.append(f"  retry with: reportlib rates upload {self.period} --upload-to TARGET")
        return "\n".join(lines)


def _key(target: str, period: str, applied, record, setup, digest: str) -> str:
    parts = [target, period, str(applied or ""), record.customer_id, record.rate_plan,
             setup.ext_billing_customer or "", setup.ext_billing_rate_plan or "", digest]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def upload_period(engine: Engine, period: str, uploader, *, user: str,
                  progress: Callable[[str], None] | None = None) -> UploadReport:
    """Upload every billing CSV of ``period`` not uploaded yet to ``uploader``'s billing system."""
    from ..amendments.data import amendments, batch_applied

    a, rp, u = amendments.c, s.customer_rp_setup.c, s.billing_uploads.c
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
            known = conn.execute(sa.select(s.billing_uploads).where(u.idempotency_key == key)).first()
            if known is not None and known.status == "done":
                report.already.append(name)
                _mark(engine, record.id, "done", known.uploaded_at, conn)
                continue
            if known is None:  # recorded before it is sent: a crash leaves a pending row, retried next time
                conn.execute(s.billing_uploads.insert().values(
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
                conn.execute(s.billing_uploads.update().where(u.idempotency_key == key).values(
                    status="failed", attempts=u.attempts + tries[0], last_error=str(exc)[:4000]))
                _mark(engine, record.id, "failed", None, conn)
            report.failed.append((name, str(exc)))
            continue
        done = utcnow()
        with engine.begin() as conn:
            conn.execute(s.billing_uploads.update().where(u.idempotency_key == key).values(
                status="done", attempts=u.attempts + tries[0], last_error=None, response=answer[:4000],
                uploaded_at=done))
            _mark(engine, record.id, "done", done, conn)
        report.uploaded.append(name)
    return report


def _mark(engine: Engine, record_id: int, status: str, at, conn=None) -> None:
    """The amendments record's upload status and time."""
    from ..amendments.data import amendments

    statement = amendments.update().where(amendments.c.id == record_id).values(upload_status=status, uploaded_at=at)
    if conn is not None:
        conn.execute(statement)
        return
    with engine.begin() as own:
        own.execute(statement)
