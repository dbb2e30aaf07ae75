"""The manual's "Apply changes + Upload": the options, and who carries them out after the change.

The options (:class:`Steps`), as the manual lists them: supersede future rates (always: apply
does it), create XLSX amendments, send e-mails with the XLSX to customers, create CSV
amendments, send e-mails with the CSVs to external billing, upload new customer rates to
external billing, clear the table after the change.

Before anything changes, the publisher (the amendment family, found through the entry point
group ``reportlib.ratedesk.publishers``: it sits above the rate desk, which may not import it)
checks that every option can be honoured for every customer rate plan the batch will touch;
any problem refuses the whole run, naming every problem, and nothing is applied. After the
change it makes the documents, sends the e-mails and uploads the CSVs. The change log's
completion times (GMT, :func:`mark_done`) — all .xlsx files generated, all .csv files generated,
all e-mails sent, all uploads to billing done — are the moment the step's last part completed
for the whole batch, whichever command completed it (the publisher sets them from its record). A step that fails leaves the change
applied (it is one transaction of its own) and says how to retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..registry import Registry
from . import data as s
from .verify import Change

__all__ = ["DONE_COLUMNS", "PUBLISHERS", "PublishReport", "Publisher", "Steps", "mark_done", "publisher"]

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


@dataclass
class PublishReport:
    """What happened after the change, step by step; ``failed`` names each step that did not finish."""

    batch_id: int
    lines: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def mark_done(engine: Engine, batch_id: int, step: str, at: datetime) -> None:
    """Set the change log's completion time of ``step`` (xlsx, csv, emails, uploads) to ``at`` (UTC), unless it
    holds a later one: the step completed again (a retry, a regeneration) moves it on, never back."""
    column = getattr(s.change_log.c, DONE_COLUMNS[step])
    with engine.begin() as conn:
        conn.execute(s.change_log.update().where(s.change_log.c.batch_id == batch_id,
                                                 sa.or_(column.is_(None), column < at)).values({column.name: at}))


class Publisher(Protocol):
    """What carries out the options of :class:`Steps` (the amendment family's publisher)."""

    def problems(self, conn: Connection, todo: Sequence[Change], steps: Steps) -> list[str]: ...

    def summary(self, conn: Connection, todo: Sequence[Change]) -> str: ...

    def publish(self, engine: Engine, db_url: str | None, batch_id: int, steps: Steps, *,
                user: str) -> PublishReport: ...


PUBLISHERS: Registry[Publisher] = Registry("publisher of change batches", group="reportlib.ratedesk.publishers")


def publisher(name: str = "amendments") -> Publisher:
    """The publisher that carries out the steps after a change (found through its entry point)."""
    return PUBLISHERS.get(name)
