"""The schedule: ``params/schedule.yaml`` jobs that ``reportlib due`` runs when they are due.

A job names a family, its batch parameters (a period may be relative: ``month: previous``,
``quarter: previous``, ``week: previous``, or ``current``), a cron expression (``when``, UTC)
and whether to ``send``. ``reportlib due`` runs, for each job, its latest scheduled time that
has passed and is not done yet: the batch (unchanged reports are skipped), the PDFs and the
catalogue, then the sending. A relative period is taken from the scheduled time, not from the
moment ``due`` runs, so a job run late still makes the right month.

Safe from cron every few minutes:

- **idempotent**: a scheduled time is recorded done (table ``schedule_runs``) only when its
  job finished; a failed one is tried again by the next ``due``; a batch skips the reports
  that are up to date, and the delivery log never sends the same content twice;
- **one at a time**: ``due`` holds an exclusive ``flock`` on ``<outputs>/.reportlib-due.lock``
  for as long as it runs; the kernel releases it when the process ends, however it ends, so
  a lock can never outlive its holder. A second ``due`` meanwhile says so and does nothing.
"""

from __future__ import annotations

import fcntl
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..config import outputs_root, project_root
from ..db import init_db, metadata
from ..errors import ConfigError, ReportlibError
from ..periods import IsoWeek, Month, Quarter

__all__ = ["DueReport", "Job", "LockBusy", "ScheduleError", "due", "due_lock", "jobs_status", "load_schedule", "resolve_period",
           "schedule_runs"]

SCHEDULE = Path("params") / "schedule.yaml"
LOCK = ".reportlib-due.lock"
RELATIVE = ("previous", "current")

schedule_runs = sa.Table(
    "schedule_runs", metadata,
    sa.Column("job", sa.String(100), primary_key=True),
    sa.Column("scheduled_for", sa.DateTime, primary_key=True),  # the cron time this run is for (UTC)
    sa.Column("parameters", sa.Text, nullable=False),  # JSON: the batch parameters, periods resolved
    sa.Column("status", sa.String(16), nullable=False),  # running | ok | failed
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    sa.Column("summary", sa.Text),
)


class ScheduleError(ConfigError):
    """The schedule file is missing or wrong (every problem listed, with the job it is in)."""


class LockBusy(ReportlibError):
    """Another ``reportlib due`` holds the lock."""


@dataclass(frozen=True)
class Job:
    """One job of the schedule."""

    name: str
    family: str
    parameters: dict[str, Any]
    when: str  # cron expression, UTC
    send: bool = False

    def previous_time(self, now: datetime) -> datetime:
        """The latest scheduled time at or before ``now``."""
        from croniter import croniter

        return croniter(self.when, now + _TICK).get_prev(datetime)

    def next_time(self, now: datetime) -> datetime:
        from croniter import croniter

        return croniter(self.when, now).get_next(datetime)

    def parameters_at(self, moment: datetime) -> dict[str, Any]:
        """The batch parameters with relative periods resolved for the scheduled time ``moment``."""
        return {name: resolve_period(name, value, moment) for name, value in self.parameters.items()}


_TICK = timedelta(seconds=1)  # croniter's get_prev is strictly before its start


def resolve_period(name: str, value: Any, moment: datetime) -> Any:
    """``month: previous`` at 2026-11-01 06:00 is ``2026-10``; ``quarter: previous`` in 2026-10 is
    ``2026Q3``; ``week: previous`` the ISO week before ``moment``'s; ``current`` that period itself.
    Any other value is left as written."""
    if not isinstance(value, str) or value.strip().lower() not in RELATIVE:
        return value
    back = 1 if value.strip().lower() == "previous" else 0
    day = moment.date()
    if name in ("month", "from_month", "to_month"):
        return str(Month(day.year, day.month) - back)
    if name == "quarter":
        return str(Quarter(day.year, (day.month - 1) // 3 + 1) - back)
    if name == "week":
        year, week, _ = (day - timedelta(days=7 * back)).isocalendar()
        return str(IsoWeek(year, week))
    raise ScheduleError(f"Parameter {name!r}: {value!r} is only for month, quarter and week.")


def schedule_path(path: str | Path | None = None) -> Path:
    return Path(path) if path else project_root() / SCHEDULE


def load_schedule(path: str | Path | None = None) -> list[Job]:
    """The jobs of the schedule file; every problem is reported at once, naming the job."""
    import yaml
    from croniter import croniter

    from ..families import FAMILIES

    file = schedule_path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ScheduleError(f"Cannot read the schedule {file}: {exc.strerror}.") from None
    except yaml.YAMLError as exc:
        raise ScheduleError(f"The schedule {file} is not valid YAML: {exc}") from None
    items = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ScheduleError(f"The schedule {file} needs a list 'jobs:'.")
    problems, jobs, names = [], [], set()
    for n, item in enumerate(items, start=1):
        where = f"job {n}"
        if not isinstance(item, dict):
            problems.append(f"{where}: is not a mapping of name, family, parameters, when, send")
            continue
        name = str(item.get("name") or f"job-{n}")
        where = f"job {n} ({name})"
        unknown = sorted(set(item) - {"name", "family", "parameters", "when", "send"})
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(unknown)}")
        if name in names:
            problems.append(f"{where}: the name is used by an earlier job")
        names.add(name)
        family = item.get("family")
        if family not in FAMILIES:
            problems.append(f"{where}: family {family!r} is not one of {', '.join(FAMILIES.names())}")
        when = item.get("when")
        if not isinstance(when, str) or not croniter.is_valid(when):
            problems.append(f"{where}: when {when!r} is not a cron expression (minute hour day month weekday)")
        parameters = item.get("parameters") or {}
        if not isinstance(parameters, dict):
            problems.append(f"{where}: parameters must be a mapping")
            parameters = {}
        send = item.get("send", False)
        if not isinstance(send, bool):
            problems.append(f"{where}: send must be yes or no")
        if not problems:
            job = Job(name, family, dict(parameters), when, bool(send))
            try:
                get = FAMILIES.get(family)
                get.batch_params.parse(job.parameters_at(datetime(2026, 1, 15)))
            except ReportlibError as exc:
                problems.append(f"{where}: {exc}")
            jobs.append(job)
    if problems:
        raise ScheduleError(f"The schedule {file} has {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return jobs


@contextmanager
def due_lock(root: Path) -> Iterator[Path]:
    """Hold the exclusive lock of ``reportlib due`` on ``root`` (the outputs folder), or raise LockBusy."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockBusy(f"Another reportlib due is running ({holder}); this one does nothing.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {_now():%Y-%m-%d %H:%M:%S} UTC\n")
        handle.flush()
        yield path
    finally:
        handle.close()  # closing the file releases the lock (and so does the process ending)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


@dataclass
class DueReport:
    """What one ``reportlib due`` did: per job, ran / not due / failed."""

    lines: list[str] = field(default_factory=list)
    failed: int = 0


def _latest(engine: Engine, job: str) -> Any:
    s = schedule_runs.c
    with engine.connect() as conn:
        return conn.execute(sa.select(schedule_runs).where(s.job == job)
                            .order_by(s.scheduled_for.desc()).limit(1)).first()


def _done(engine: Engine, job: str, moment: datetime) -> bool:
    s = schedule_runs.c
    with engine.connect() as conn:
        return conn.execute(sa.select(s.status).where(s.job == job, s.scheduled_for == moment)).scalar() == "ok"


def _record(engine: Engine, job: Job, moment: datetime, parameters: dict, status: str, summary: str | None) -> None:
    import json

    s = schedule_runs.c
    values = dict(parameters=json.dumps(parameters, default=str), status=status, host=socket.gethostname(),
                  pid=os.getpid(), summary=summary)
    with engine.begin() as conn:
        known = conn.execute(sa.select(s.status).where(s.job == job.name, s.scheduled_for == moment)).first()
        if known is None:
            conn.execute(schedule_runs.insert().values(job=job.name, scheduled_for=moment, started_at=_now(), **values))
        else:
            finished = {"finished_at": _now()} if status != "running" else {"started_at": _now(), "finished_at": None}
            conn.execute(schedule_runs.update().where(s.job == job.name, s.scheduled_for == moment)
                         .values(**values, **finished))


def due(*, db_url: str | None = None, out: str | Path | None = None, path: str | Path | None = None,
        now: datetime | None = None, smtp=None, workers: int | None = None, pdf: bool = True,
        say: Callable[[str], None] = print, run_job: Callable[..., str] | None = None) -> DueReport:
    """Run every job whose latest scheduled time has passed and is not done; then send.

    Holds :func:`due_lock` throughout (raises LockBusy if another ``due`` holds it).
    """
    jobs = load_schedule(path)
    engine = init_db(db_url)
    root = outputs_root(out)
    moment_now = now or _now()
    report = DueReport()
    with due_lock(root):
        for job in jobs:
            moment = job.previous_time(moment_now)
            if _done(engine, job.name, moment):
                report.lines.append(f"{job.name}: done for {moment:%Y-%m-%d %H:%M}; next {job.next_time(moment_now):%Y-%m-%d %H:%M}")
                continue
            parameters = job.parameters_at(moment)
            say(f"{job.name}: due since {moment:%Y-%m-%d %H:%M} UTC — {job.family} {parameters}")
            _record(engine, job, moment, parameters, "running", None)
            try:
                summary = (run_job or _run_job)(job, parameters, db_url=db_url, out=out, smtp=smtp, workers=workers,
                                                pdf=pdf, say=say)
                status = "ok" if not summary.startswith("FAILED") else "failed"
            except ReportlibError as exc:
                summary, status = f"FAILED {exc}", "failed"
            _record(engine, job, moment, parameters, status, summary[:4000])
            if status == "failed":
                report.failed += 1
            report.lines.append(f"{job.name}: {status} for {moment:%Y-%m-%d %H:%M} — {summary.splitlines()[0]}")
    return report


def _run_job(job: Job, parameters: dict[str, Any], *, db_url, out, smtp, workers, pdf, say) -> str:
    """A job: its batch, the PDFs and catalogue, then (if asked) the sending. Its one-line summary."""
    from ..batch import run_batch
    from .publish import after_runs
    from .send import send_reports

    result = run_batch(job.family, parameters, out=out, db_url=db_url, workers=workers, progress=False)
    say(result.summary())
    folders = sorted({r.folder for r in result.results if r.folder})
    pdfs = after_runs(job.family, folders, out=out, db_url=db_url, pdf=pdf, workers=workers, say=say)
    text = (f"{result.count('ok')} ok, {result.count('skipped')} unchanged, {result.count('failed')} failed"
            + (f"; PDF {len(pdfs.made)} made, {len(pdfs.failed)} failed" if pdfs else ""))
    if not result.ok or (pdfs and pdfs.failed):
        return f"FAILED {text}"
    if job.send:
        sent = send_reports(job.family, parameters, db_url=db_url, out=out, smtp=smtp)
        say(sent.summary())
        text += f"; mail {len(sent.written)} written, {len(sent.sent)} sent, {len(sent.failed)} failed"
        if sent.failed:
            return f"FAILED {text}"
    return text


def jobs_status(*, db_url: str | None = None, path: str | Path | None = None,
                now: datetime | None = None) -> list[dict[str, Any]]:
    """Each job with its next scheduled time and its last run (for ``reportlib schedule``)."""
    jobs = load_schedule(path)
    engine = init_db(db_url)
    moment = now or _now()
    rows = []
    for job in jobs:
        last = _latest(engine, job.name)
        rows.append({"job": job, "next": job.next_time(moment), "next_parameters": job.parameters_at(job.next_time(moment)),
                     "last": last})
    return rows

