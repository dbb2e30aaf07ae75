"""Batches: one run per entity, fanned out over a pluggable executor, with a progress bar.

One failure never stops a batch; each run's result is collected, the failed executed
notebooks are kept, and :class:`BatchResult` says what happened. Executors:

- ``local``: a pool of worker processes on this machine (``--workers``, default: cores);
  with one worker the runs happen in this process.
- ``dask``: the workers of an existing Dask distributed cluster (``--scheduler ADDRESS``).

A batch sent to the kernel pool (``reportlib pool``) runs in the worker that took it, with
:class:`PoolExecutor` (made there, not named: it needs that worker's warm engine).

Every worker keeps its own execution engine for all its runs (with the ``warm`` engine,
its own long-lived kernel), so nothing mutable is shared between runs: each run has its own
staging folder and output names, no process changes directory, and kernels talk over IPC
sockets, so there is no port to race for.

A batch first asks the family to *prepare* (:attr:`Family.prepare`): compute every entity's
inputs in one pass into a folder, and give the runs the notebook parameters (e.g. the path
of a prepared file) that let each read its own slice instead of querying the database.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import functools
import gc
import os
import shutil
import sys
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .config import outputs_root, redact_secrets_in_text, resolve_db_url
from .db import connect, data_fingerprint
from .engines import ENGINES, Engine, close_worker_engines, worker_engine
from .engines.pool import start_worker
from .errors import ConfigError, ReportlibError, RunError
from .families import Family, get_family
from .manifest import write_folder_index
from .family_notebooks import check_notebook
from .registry import Registry
from .run import RunPlan, RunResult, after_run, execute_plan, is_fresh, notebook_path, plan_run, sweep_staging

__all__ = ["BatchResult", "DEFAULT_ENGINE", "EXECUTORS", "Job", "PoolExecutor", "run_batch", "run_job_fields",
           "run_runs"]

DEFAULT_ENGINE = "warm"
# run_runs's own options; the rest of a batch's options are its executor's.
_BATCH_OPTIONS = frozenset({"workers", "force", "progress", "engine_options", "by_name"})
# What a worker imports while its kernel starts: this module (its runs' function) and papermill.
_WORKER_IMPORTS = ("reportlib.batch", "papermill")


@dataclass
class BatchResult:
    """Every run's result and the totals."""

    family: str
    results: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> list[RunResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [f"{self.family}: {len(self.results)} run(s) in {self.seconds:.1f} s — "
                 f"{self.count('ok')} ok, {self.count('skipped')} skipped (unchanged), {self.count('failed')} failed"]
        for r in self.failed:
            lines.append(f"  FAILED {r.stem}: {r.error}")
            if r.failed_notebook:
                lines.append(f"         executed notebook: {r.failed_notebook}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Job:
    """One run of a batch, as shipped to a worker: plain, picklable, with absolute paths."""

    family: str | Family  # a registered family's name, or a notebook's family itself
    raw: dict[str, Any]
    out: str
    db_url: str
    notebook: str
    engine: str
    force: bool
    extra: dict[str, Any] = field(default_factory=dict)
    engine_options: dict[str, Any] = field(default_factory=dict)
    stem: str | None = None  # as the batch named the run (None: the worker asks the database)
    fingerprint: Any = ...  # the data fingerprint the batch saw (...: the worker reads it)


def run_job(job: Job, engine: Engine | None = None) -> RunResult:
    """One run of a batch, in whatever process or thread the executor chose (with ``engine``, else
    this thread's worker engine); never raises."""
    try:
        plan = plan_run(job.family, job.raw, out=job.out, db_url=job.db_url, notebook=job.notebook, extra=job.extra,
                        stem=job.stem, fingerprint=job.fingerprint)
        engine = engine if engine is not None else worker_engine(job.engine, **job.engine_options)
        return execute_plan(plan, engine=engine, force=job.force)
    except ReportlibError as exc:
        error = str(exc)
    except Exception as exc:  # a worker must report, never die: the batch goes on
        error = f"{type(exc).__name__}: {exc}"
    return RunResult(_family_name(job), _job_stem(job), "failed", "", error=redact_secrets_in_text(error),
                     parameters=job.raw)


def run_job_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """One run of a batch in a kernel pool's worker (:class:`PoolExecutor`), with the worker's
    warm engine: the job's fields in, the result's out (both plain, as they travel)."""
    from .pool.worker import pool_engine

    job = Job(**fields)
    return dataclasses.asdict(run_job(job, pool_engine(job.engine_options)))


def _job_fields(job: Job) -> dict[str, Any]:
    fields = dataclasses.asdict(job)
    if job.fingerprint is ...:  # the worker reads it
        del fields["fingerprint"]
    return fields


def _family_name(job: Job) -> str:
    return job.family if isinstance(job.family, str) else job.family.name


def _job_stem(job: Job) -> str:
    """A name for a run that could not be planned (its real stem needs the database)."""
    return "-".join(str(v) for v in job.raw.values())


def _plan_all(family: Family, runs: list[dict], url: str, root: Path, notebook: Path, *,
              force: bool = False) -> tuple[list[tuple[dict, RunPlan | None]], list[RunResult], str | None]:
    """Plan every run: those still to do (each with its plan, or None when it cannot be planned
    here: its worker reports why), a "skipped" result for each run whose report is up to date
    (none when ``force``), and the data fingerprint.

    One connection and one fingerprint for all of them, and the family names every run at once
    where it can: planning 9,361 QBR decks takes seconds, where running them takes minutes.
    """
    todo: list[tuple[dict, RunPlan | None]] = []
    fresh = []
    # A notebook's family reads no database of ours: no connection, no fingerprint.
    with connect(url) if family.domain is not None else contextlib.nullcontext() as conn:
        fingerprint = data_fingerprint(conn, family.domain) if family.domain is not None else None
        parsed: list[Any] = []
        for raw in runs:
            try:
                parsed.append(family.params.parse(raw))
            except ReportlibError:
                parsed.append(None)
        stems: list[str | None] = [None] * len(runs)
        if family.stems is not None:
            valid = [p for p in parsed if p is not None]
            try:
                named = iter(family.stems(conn, valid))
                stems = [next(named) if p is not None else None for p in parsed]
            except ReportlibError:  # some entity is unknown: name them one by one below
                pass
        plans: list[tuple[dict, RunPlan | None]] = []
        for raw, params, stem in zip(runs, parsed, stems):
            plan = None
            if params is not None:
                try:
                    plan = plan_run(family, params, out=root, db_url=url, notebook=notebook, conn=conn,
                                    fingerprint=fingerprint, stem=stem)
                except ReportlibError:
                    pass
            plans.append((raw, plan))
    _refuse_shared_stems(family, [plan for _, plan in plans if plan is not None])
    for raw, plan in plans:
        if plan is not None and not force and is_fresh(plan):
            fresh.append(RunResult(family.name, plan.stem, "skipped", str(plan.folder),
                                   parameters=plan.params.to_notebook()))
        else:
            todo.append((raw, plan))
    return todo, fresh, fingerprint


def _refuse_shared_stems(family: Family, plans: list[RunPlan]) -> None:
    """One RunError naming every group of runs that would write the same files (compared as a
    file system that ignores case would), before anything runs: one report would replace another."""
    by_file: dict[tuple[Path, str], list[RunPlan]] = {}
    for plan in plans:
        by_file.setdefault((plan.folder, plan.stem.casefold()), []).append(plan)
    clashes = [group for group in by_file.values() if len(group) > 1]
    if clashes:
        lines = [f"  {group[0].stem}: " + ", ".join(_entity(plan) for plan in group) for group in clashes]
        fix = ("Give these entities distinct ids (or fix the family's stem function)" if family.domain is not None
               else "Make --name tell these runs apart (name the parameters that differ, e.g. --name "
                    "'{region}-{month}')")
        raise RunError(f"The {family.name} batch would write {len(clashes)} file name(s) for more than one "
                       f"entity, so one report would replace another; nothing was run. {fix}:\n" + "\n".join(lines),
                       family=family.name)


def _entity(plan: RunPlan) -> str:
    return " ".join(f"{name}={value!r}" for name, value in plan.params.to_notebook().items())


@contextlib.contextmanager
def _memory_released() -> Iterator[None]:
    """Give the memory of what the block made and then dropped back to the system (glibc keeps
    it otherwise).

    Preparing every QBR partner of a quarter takes hundreds of MB in this process; without
    this, most of it stays resident for the whole batch, beside every worker's kernel. Only
    the objects the block made are searched for garbage: everything older (the modules this
    process imported, hundreds of thousands of objects) is frozen meanwhile, and was no
    garbage of the block's anyway.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.collect()
        gc.unfreeze()
        try:
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): the allocator decides
            pass


class LocalExecutor:
    """Worker processes on this machine, each with its own engine (and kernel) for all its runs."""

    def __init__(self, workers: int | None = None, **_: Any):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._started: list[Any] = []  # the started workers' processes (psutil)

    def start(self, runs: int, engine: str, options: dict[str, Any], notebook: str) -> None:
        """Start the worker processes now, each starting its kernel and importing what the
        notebook imports (:func:`~reportlib.engines.pool.start_worker`), so that they are ready
        when the runs come: a batch starts them before it selects, plans and prepares its runs
        (a kernel's start and imports take seconds, done while it computes)."""
        if self.workers > 1 and runs > 1 and self._pool is None:
            import psutil

            count = min(self.workers, runs)
            before = {child.pid for child in psutil.Process().children()}
            self._pool = ProcessPoolExecutor(count, mp_context=get_context("spawn"), initializer=functools.partial(
                start_worker, os.getpid(), engine, options, notebook, _WORKER_IMPORTS))
            for _ in range(count):  # the pool starts a process per task it is given
                self._pool.submit(int)
            self._started = [child for child in psutil.Process().children()
                             if child.pid not in before and _is_spawned_worker(child)]

    def close(self) -> None:
        """Stop the worker processes started by :meth:`start` if no run used them: at once, as
        they may still be starting their kernels (which end with them)."""
        if self._pool is not None:
            import psutil

            for process in self._started:
                with contextlib.suppress(psutil.Error):
                    process.terminate()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._started = []

    def map(self, fn: Callable[[Job], RunResult], jobs: list[Job]) -> Iterable[RunResult]:
        if self.workers == 1 or len(jobs) == 1:
            self.close()
            try:
                for job in jobs:
                    yield fn(job)
            finally:
                close_worker_engines()
            return
        # spawn, not fork: the parent may hold database connections and threads.
        pool, self._pool, self._started = self._pool, None, []
        if pool is None:
            pool = ProcessPoolExecutor(min(self.workers, len(jobs)), mp_context=get_context("spawn"),
                                       initializer=functools.partial(start_worker, os.getpid()))
        yield from _as_completed(pool, fn, jobs)


def _as_completed(executor: Any, fn: Callable[[Job], RunResult], jobs: list[Job]) -> Iterable[RunResult]:
    """Each job's result as it comes from ``executor`` (a concurrent.futures one, shut down at the
    end); the jobs not started are cancelled when the caller stops early."""
    with executor:
        futures = [executor.submit(fn, job) for job in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _is_spawned_worker(process: Any) -> bool:
    """Whether ``process`` (psutil) is a worker a spawn context started (not its resource tracker)."""
    import psutil

    try:
        return any("spawn_main" in part for part in process.cmdline())
    except psutil.Error:
        return False


class DaskExecutor:
    """The workers of an existing Dask distributed cluster.

    Each worker thread keeps its own engine, so a warm kernel serves every run that thread
    gets, across batches, until the worker stops. Workers need reportlib installed, the
    project at the same path (for the notebooks), the database URL reachable, and the
    outputs folder on storage they all share.
    """

    def __init__(self, scheduler: str, workers: int | None = None, connect_timeout: float = 30, **_: Any):
        self.scheduler = scheduler
        self.connect_timeout = connect_timeout

    def map(self, fn: Callable[[Job], RunResult], jobs: list[Job]) -> Iterable[RunResult]:
        try:
            from distributed import Client, as_completed as dask_completed
        except ImportError as exc:  # pragma: no cover - a dependency of reportlib
            raise ConfigError("--scheduler needs dask.distributed: pip install 'dask[distributed]'.") from exc
        try:
            client = Client(self.scheduler, timeout=self.connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"Cannot reach the Dask scheduler at {self.scheduler}: {exc}. Start it with "
                              "`dask scheduler` and its workers with `dask worker ADDRESS`.") from None
        try:
            futures = {client.submit(fn, job, pure=False, key=f"reportlib-{uuid.uuid4().hex}"): job for job in jobs}
            for future in dask_completed(list(futures), loop=client.loop):
                try:
                    yield future.result()
                except Exception as exc:  # the worker died or the cluster lost the task
                    job = futures[future]
                    yield RunResult(_family_name(job), _job_stem(job), "failed", "", parameters=job.raw,
                                    error=redact_secrets_in_text(
                                        f"the Dask cluster lost this run: {type(exc).__name__}: {exc}"))
        finally:
            client.close()


class PoolExecutor:
    """A batch sent to this project's kernel pool (``reportlib pool``), in the worker that took it:
    this worker runs jobs with its warm engine, and every other worker of the pool that is free
    runs jobs too, one after another over one link each (:class:`reportlib.pool.client.JobLink`).

    The jobs wait in one queue that all of them take from. A link waits for its worker only while
    jobs are left: a busy worker (another command) never holds the batch up, and two batches sent
    to two workers at once never wait for each other. A job whose worker went away is run here.
    When the batch's client goes away (Ctrl-C), no further run starts; the runs under way end.
    """

    def __init__(self, pool_out: str | Path | None = None, pool_workers: int = 1, **_: Any):
        self.out, self.workers = pool_out, max(1, pool_workers)
        self.elsewhere = 0  # runs the other workers made, for the batch's summary

    def map(self, fn: Callable[[Job], RunResult], jobs: list[Job]) -> Iterable[RunResult]:
        import collections
        import queue

        from .pool.worker import client_gone, pool_engine

        todo = collections.deque(jobs)
        done: queue.SimpleQueue[RunResult | None] = queue.SimpleQueue()  # None: a job came back to the queue
        for _ in range(min(self.workers, len(jobs)) - 1):
            threading.Thread(target=self._lend, args=(todo, done), name="reportlib-pool-link", daemon=True).start()
        pending = len(jobs)
        try:
            while pending:
                if client_gone():  # Ctrl-C: no run starts any more; the runs under way end
                    pending -= _drain(todo)
                    if not pending:
                        break
                try:
                    job = todo.popleft()
                except IndexError:  # the rest runs elsewhere: wait for it
                    arrived = [done.get()]
                else:
                    yield run_job(job, pool_engine(job.engine_options))
                    pending -= 1
                    arrived = []
                arrived += _arrived(done)
                for came in arrived:
                    if came is not None:
                        pending -= 1
                        self.elsewhere += 1
                        yield came
        finally:
            todo.clear()  # a batch stopped early: the links take no further job

    def _lend(self, todo: Any, done: Any) -> None:
        """One other worker's share: its link takes jobs from ``todo`` until none is left."""
        from .pool.client import JobLink, PoolUnavailable

        try:
            link = JobLink(self.out)
        except PoolUnavailable:
            return
        try:
            if not link.wait_started(lambda: not todo):
                return
            while True:
                try:
                    job = todo.popleft()
                except IndexError:
                    return
                try:
                    result = RunResult(**link.run(_job_fields(job)))
                except PoolUnavailable:
                    todo.appendleft(job)  # this worker runs it
                    done.put(None)
                    return
                done.put(result)
        finally:
            link.close()


def _arrived(done: Any) -> list[RunResult | None]:
    """What the other workers sent to ``done`` (a SimpleQueue) so far, without waiting."""
    import queue

    arrived = []
    while True:
        try:
            arrived.append(done.get_nowait())
        except queue.Empty:
            return arrived


def _drain(todo: Any) -> int:
    """Empty ``todo`` (a deque other threads take from); how many jobs this took out of it."""
    taken = 0
    while True:
        try:
            todo.popleft()
        except IndexError:
            return taken
        taken += 1


EXECUTORS: Registry[Any] = Registry("batch executor")
EXECUTORS.register("local", LocalExecutor)
EXECUTORS.register("dask", DaskExecutor)


def run_batch(family_name: str, raw: dict[str, Any], *, out: str | Path | None = None, db_url: str | None = None,
              engine: str | None = None, limit: int | None = None, **options: Any) -> BatchResult:
    """Run the family's notebook for every entity the batch parameters select (the first ``limit``);
    ``options`` as :func:`run_runs` takes them (``runner``: an executor already made, instead of one
    made from ``executor`` and its options)."""
    family: Family = get_family(family_name)
    batch_params = family.batch_params.parse(raw)
    ENGINES.get(engine or DEFAULT_ENGINE)  # an unknown engine is one clear error, not N failed runs
    url = resolve_db_url(db_url)
    notebook = notebook_path(family)
    check_notebook(family, notebook)
    # The workers start their kernels now, while this process connects, selects the entities and
    # plans the runs: a kernel's start and imports take seconds. A batch that then has nothing to
    # run (every report up to date) stops them.
    runner = options.pop("runner", None)
    executor = options.pop("executor", "local")
    if runner is None:
        runner = _executor(executor, options)
    start = getattr(runner, "start", None)
    if start is not None and limit != 0:
        start(limit or sys.maxsize, engine or DEFAULT_ENGINE, dict(options.get("engine_options") or {}), str(notebook))
    try:
        with connect(url) as conn:
            jobs_params = family.entities(conn, batch_params)
        if limit is not None:
            jobs_params = jobs_params[:max(0, limit)]
        if not jobs_params:
            raise RunError(f"The {family.name} batch selects no entity for {batch_params.to_notebook()}; "
                           "check the period and that the data is loaded.", family=family.name)
    except BaseException:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
        raise
    return run_runs(family, jobs_params, batch_params=batch_params, out=out, db_url=url, engine=engine,
                    runner=runner, **options)


def _executor(name: str, options: dict[str, Any]) -> Any:
    """The executor called ``name``, made with the executor options among ``options`` (which keeps
    the options of the batch itself)."""
    own = {key: options.pop(key) for key in list(options) if key not in _BATCH_OPTIONS}
    return EXECUTORS.get(name)(workers=options.get("workers"), **own)


def run_runs(family: Family, jobs_params: list[dict[str, Any]], *, batch_params: Any = None,
             out: str | Path | None = None, db_url: str | None = None, workers: int | None = None,
             executor: str = "local", engine: str | None = None, force: bool = False, progress: bool | None = None,
             engine_options: dict[str, Any] | None = None, by_name: bool = True, runner: Any = None,
             **executor_options: Any) -> BatchResult:
    """Run ``family``'s notebook once for each of ``jobs_params`` (raw run parameters): planned
    all at once (unchanged reports skipped, clashing names refused), prepared, fanned out.

    ``by_name``: workers look the family up by its name (a registered family); otherwise the
    :class:`Family` itself goes to them (a notebook's, which pickles). ``runner``: an executor
    already made (and started) for this batch, instead of one made from ``executor``.
    """
    ENGINES.get(engine or DEFAULT_ENGINE)
    url = resolve_db_url(db_url) if family.domain is not None else ""
    root = outputs_root(out)
    notebook = notebook_path(family)
    if runner is None:
        runner = EXECUTORS.get(executor)(workers=workers, **executor_options)
    prepared = root / ".prepared" / f"{family.name}-{uuid.uuid4().hex[:12]}"
    result = BatchResult(family.name)
    clock = time.perf_counter()
    show = sys.stderr.isatty() if progress is None else progress
    from tqdm import tqdm

    folders: dict[str, set[str] | None] = {}  # each folder's runs, None where one has no stem
    try:
        total = len(jobs_params)
        # An unchanged report costs no preparation and no worker (unless forced): say so up front.
        planned, fresh, fingerprint = _plan_all(family, jobs_params, url, root, notebook, force=force)
        result.results.extend(after_run(family, url, run) for run in fresh)
        for run in fresh:
            _note_run(folders, run)
        jobs_params = [raw for raw, _ in planned]
        start = getattr(runner, "start", None)
        if start is not None and jobs_params:  # the workers warm up while the batch prepares
            start(len(jobs_params), engine or DEFAULT_ENGINE, dict(engine_options or {}), str(notebook))
        extra: dict[str, Any] = {}
        if family.prepare is not None and jobs_params:
            prepared.mkdir(parents=True)
            # What preparing all entities took is not needed while the runs go on.
            with _memory_released(), connect(url) as conn:
                extra = dict(family.prepare(conn, batch_params, jobs_params, prepared) or {})
        jobs = [Job(family.name if by_name else family, raw, str(root), url, str(notebook), engine or DEFAULT_ENGINE,
                    force, extra,
                    dict(engine_options or {}), stem=plan.stem if plan else None,
                    fingerprint=fingerprint if plan else ...) for raw, plan in planned]
        with tqdm(total=total, initial=total - len(jobs), desc=f"{family.name} batch", unit="report",
                  disable=not show, file=sys.stderr) as bar:
            failed = 0
            bar.set_postfix(failed=failed, refresh=False)
            for run in runner.map(run_job, jobs) if jobs else ():
                run = after_run(family, url, run)
                result.results.append(run)
                _note_run(folders, run)
                if run.status == "failed":
                    failed += 1
                    bar.set_postfix(failed=failed, refresh=False)
                bar.update(1)
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
        shutil.rmtree(prepared, ignore_errors=True)
        if prepared.parent.is_dir() and not any(prepared.parent.iterdir()):
            prepared.parent.rmdir()
        for folder, stems in folders.items():
            write_folder_index(Path(folder), stems=stems)
            sweep_staging(Path(folder))
    result.seconds = time.perf_counter() - clock
    return result


def _note_run(folders: dict[str, set[str] | None], run: RunResult) -> None:
    """Note the folder and stem of ``run``, whose index entry the batch brings up to date."""
    if not run.folder:
        return
    stems = folders.setdefault(run.folder, set())
    if stems is not None and run.stem:
        stems.add(run.stem)
    else:
        folders[run.folder] = None
