"""On-demand rendering: a statement or a QBR deck for one partner and period, from warm kernels.

The server keeps a small pool of worker threads, each with its own warm engine
(:class:`reportlib.engines.WarmEngine`: one long-lived kernel that has imported what the
notebooks import). A request is checked and planned at once with the runner's own
:func:`reportlib.run.plan_run` (unknown partner, bad period: answered before anything queues),
then queued; a worker executes it with :func:`reportlib.run.execute_plan` into the outputs
folder, so the result has its manifest and appears in the catalogue like any batch's. The web
server's event loop never waits for a kernel: it polls the job's status.

A request for a run that is queued or running already joins that job; a run whose outputs are
up to date is not executed again (the runner skips it, the files are there).
"""

from __future__ import annotations

import logging
import queue
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import redact_secrets_in_text
from ..engines import WarmEngine
from ..errors import ConfigError, ReportlibError
from ..families import get_family
from ..manifest import write_folder_index
from ..run import RunPlan, execute_plan, notebook_path, plan_run, sweep_staging
from .users import User

__all__ = ["FAMILIES", "Job", "RenderPool"]

log = logging.getLogger("reportlib.portal")

# family -> (its period parameter, label); every one of them is one partner × one period.
FAMILIES = {"statement": ("month", "Statement pack (XLSX + HTML)"), "qbr": ("quarter", "QBR deck (PPTX + HTML)")}
KEEP_JOBS = 500
# First guesses of a run's seconds, for the progress bar until this server has timed its own.
EXPECTED_S = {"statement": 1.5, "qbr": 2.5}


@dataclass
class Job:
    """One on-demand run and where it stands; ``partner`` decides who may see it."""

    id: str
    family: str
    partner: str
    period: str
    requested_by: str
    plan: RunPlan = field(repr=False)
    status: str = "queued"  # queued, running, done, failed
    stage: str = "waiting for a kernel"
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    expected_s: float = 2.0
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    requested_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def key(self) -> tuple[str, str]:
        return str(self.plan.folder), self.plan.stem

    def seconds(self) -> float:
        return round((self.finished or time.monotonic()) - self.created, 2)

    def progress(self) -> float:
        """0 to 1: done is 1; while running, the share of the expected time gone (at most 0.95)."""
        if self.status in ("done", "failed"):
            return 1.0
        if self.started is None:
            return 0.0
        return min(0.95, (time.monotonic() - self.started) / max(self.expected_s, 0.1))

    def status_dict(self) -> dict[str, Any]:
        return {"id": self.id, "family": self.family, "partner": self.partner, "period": self.period,
                "status": self.status, "stage": self.stage, "progress": round(self.progress(), 3),
                "seconds": self.seconds(), "error": self.error, "result": self.result}


def may_see_job(user: User, job: Job) -> bool:
    return user.sees_everything or (user.partner is not None and job.partner == user.partner)


class RenderPool:
    """Worker threads with warm kernels, a queue of jobs, and the jobs' statuses.

    Args:
        db_url: the database the runs read.
        out: the outputs folder (the catalogue's).
        kernels: worker threads, each with one warm kernel (0: no on-demand rendering).
        rehearse: run one statement in a scratch folder at start-up, so that the first real
            request finds everything a run touches loaded (chart engine, templates, caches).
    """

    def __init__(self, db_url: str, out: str | Path, kernels: int = 1, rehearse: bool = True):
        self.db_url, self.out, self.kernels, self.rehearse = db_url, Path(out), max(0, kernels), rehearse
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._ready = threading.Event()
        self._warm = 0
        self._durations: dict[str, float] = dict(EXPECTED_S)

    # -- life cycle
    def start(self) -> None:
        for number in range(self.kernels):
            thread = threading.Thread(target=self._work, name=f"reportlib-portal-kernel-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self, timeout: float = 30) -> None:
        """Let the running jobs finish, drop the queued ones, stop the workers and their kernels."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.status, job.stage, job.finished = "failed", "failed", time.monotonic()
                job.error = "the server stopped before this run started; ask again"
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        self._threads.clear()

    @property
    def ready(self) -> bool:
        """Every kernel is started and warmed up."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    # -- requests
    def submit(self, user: User, family: str, partner: str, period: str) -> Job:
        """Plan a run (ReportlibError for bad parameters or an unknown partner) and queue it."""
        if self.kernels == 0:
            raise ConfigError("On-demand rendering is off on this server (it was started with --kernels 0).")
        if family not in FAMILIES:
            raise KeyError(family)
        plan = plan_run(family, {"partner": partner, FAMILIES[family][0]: period}, out=self.out, db_url=self.db_url)
        with self._lock:
            for job in self._jobs.values():
                if job.status in ("queued", "running") and job.key == (str(plan.folder), plan.stem):
                    return job
            job = Job(secrets.token_urlsafe(16), family, partner, str(plan.family.period(plan.params)),
                      user.name, plan, expected_s=self._durations.get(family, 2.0))
            waiting = sum(1 for j in self._jobs.values() if j.status == "queued")
            job.stage = f"waiting for a kernel ({waiting} ahead)" if waiting else "waiting for a kernel"
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].status in ("queued", "running"):
                    break
                self._jobs.pop(oldest)
        self._queue.put(job)
        return job

    def job(self, user: User, job_id: str) -> Job | None:
        """The job ``job_id`` if ``user`` may see it, else None."""
        with self._lock:
            job = self._jobs.get(job_id) if isinstance(job_id, str) else None
        return job if job is not None and may_see_job(user, job) else None

    def jobs(self, user: User, limit: int = 20) -> list[Job]:
        """The latest jobs ``user`` may see, newest first."""
        with self._lock:
            jobs = [j for j in reversed(self._jobs.values()) if may_see_job(user, j)]
        return jobs[:limit]

    # -- the workers
    def _work(self) -> None:
        engine = WarmEngine()
        try:
            self._warm_up(engine)
            while True:
                job = self._queue.get()
                if job is None:
                    return
                self._run(engine, job)
        finally:
            engine.close()

    def _warm_up(self, engine: WarmEngine) -> None:
        try:
            for family in FAMILIES:
                engine.warm_up(notebook_path(get_family(family)))
            if self.rehearse:
                self._rehearse(engine)
        except Exception as exc:  # a pool that could not warm up still runs jobs, cold
            log.warning("on-demand kernel warm-up failed: %s", redact_secrets_in_text(str(exc)))
        finally:
            with self._lock:
                self._warm += 1
                if self._warm >= self.kernels:
                    self._ready.set()

    def _rehearse(self, engine: WarmEngine) -> None:
        from ..db import connect
        from ..periods import Month
        from ..statements.family import active_partners

        with connect(self.db_url) as conn:
            partners = active_partners(conn)
        if not partners:
            return
        scratch = Path(tempfile.mkdtemp(prefix="reportlib-portal-"))
        try:
            month = Month.parse(f"{datetime.now(timezone.utc):%Y-%m}") - 1
            plan = plan_run("statement", {"partner": partners[0], "month": str(month)}, out=scratch, db_url=self.db_url)
            execute_plan(plan, engine=engine, force=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _run(self, engine: WarmEngine, job: Job) -> None:
        job.status, job.stage, job.started = "running", "running the notebook", time.monotonic()
        try:
            result = execute_plan(job.plan, engine=engine)
            job.stage = "publishing"
            with self._index_lock:
                write_folder_index(job.plan.folder, stems=[job.plan.stem])
                sweep_staging(job.plan.folder)
        except ReportlibError as exc:
            job.status, job.error, job.stage = "failed", redact_secrets_in_text(str(exc)), "failed"
        except Exception as exc:
            log.exception("on-demand run %s failed", job.id)
            job.status, job.stage = "failed", "failed"
            job.error = f"the run could not be executed ({type(exc).__name__}); the server log has the details"
        else:
            if result.status == "failed":
                job.status, job.stage = "failed", "failed"
                job.error = redact_secrets_in_text(result.error or "the notebook failed")
            else:
                job.status = "done"
                job.stage = "up to date (rendered before)" if result.status == "skipped" else "done"
                job.result = {"folder": job.plan.folder.parent.name, "period": job.plan.folder.name,
                              "stem": job.plan.stem, "skipped": result.status == "skipped"}
                if result.status == "ok":
                    previous = self._durations.get(job.family, result.duration_s)
                    self._durations[job.family] = 0.7 * previous + 0.3 * result.duration_s
        finally:
            job.finished = time.monotonic()
