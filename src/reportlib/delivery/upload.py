"""Uploaders: hand a file to an external system, one uploader per kind of system.

An upload target names the system (the rate amendments' billing CSVs go to external billing
this way, see :mod:`reportlib.amendments.upload`):

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

The upload target is chosen per run (``--upload-to``, default ``$REPORTLIB_BILLING_UPLOAD``).
Each upload carries an idempotency key that its caller makes and records (never twice): the
system gets the same key on every retry, so a retry after an answer that was lost is
recognised there too.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..errors import ConfigError
from ..files import atomic_write, safe_join, slugify
from ..registry import Registry

__all__ = ["FolderUploader", "HttpUploader", "TARGET_VARIABLE", "TOKEN_VARIABLE", "UPLOADERS", "Upload",
           "UploadRefused", "uploader_for"]

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
        if "@" in urllib.parse.urlparse(self.url).netloc:
            out.append("upload target: a user or password in the URL is refused (it would be printed and recorded); "
                       f"give the token in {TOKEN_VARIABLE}")
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
