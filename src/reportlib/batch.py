"""Batches: one run per entity, fanned out over a pluggable executor, with a progress bar.

One failure never stops a batch; each run's result is collected, the failed executed
notebooks are kept, and :class:`BatchResult` says what happened. Executors:

- ``local``: a pool of worker processes on this machine (``--workers``, default: cores).
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterable

from .config import resolve_db_url
from .db import connect
from .errors import ReportlibError, RunError
from .families import Family, get_family
from .manifest import write_folder_index
from .registry import Registry
from .run import RunResult, execute_plan, plan_run

__all__ = ["BatchResult", "EXECUTORS", "run_batch"]


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


def _run_one(family_name: str, raw: dict[str, Any], out: str | None, db_url: str, engine: str,
             force: bool) -> RunResult:
    """One run of a batch, in whatever process the executor chose; never raises."""
    try:
        plan = plan_run(family_name, raw, out=out, db_url=db_url)
    except ReportlibError as exc:
        stem = "-".join(str(v) for v in raw.values())
        return RunResult(family_name, stem, "failed", "", error=str(exc), parameters=raw)
    return execute_plan(plan, engine=engine, force=force)


class LocalExecutor:
    """Worker processes on this machine; each run gets its own kernel and staging folder."""

    def __init__(self, workers: int | None = None, **_: Any):
        self.workers = max(1, workers or os.cpu_count() or 1)

    def map(self, fn: Callable[..., RunResult], jobs: list[tuple]) -> Iterable[RunResult]:
        if self.workers == 1:
            for job in jobs:
                yield fn(*job)
            return
        # spawn, not fork: the parent may hold database connections and threads.
        with ProcessPoolExecutor(self.workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(fn, *job) for job in jobs]
            for future in as_completed(futures):
                yield future.result()


EXECUTORS: Registry[Any] = Registry("batch executor")
EXECUTORS.register("local", LocalExecutor)


def run_batch(family_name: str, raw: dict[str, Any], *, out: str | Path | None = None, db_url: str | None = None,
              workers: int | None = None, executor: str = "local", engine: str = "papermill",
              force: bool = False, progress: bool | None = None, **executor_options: Any) -> BatchResult:
    """Run the family's notebook for every entity the batch parameters select."""
    family: Family = get_family(family_name)
    batch_params = family.batch_params.parse(raw)
    url = resolve_db_url(db_url)
    with connect(url) as conn:
        jobs_params = family.entities(conn, batch_params)
        if family.prepare is not None:
            family.prepare(conn, batch_params, jobs_params)
    if not jobs_params:
        raise RunError(f"The {family.name} batch selects no entity for {batch_params.to_notebook()}; "
                       "check the period and that the data is loaded.", family=family.name)
    out_str = str(out) if out is not None else None
    jobs = [(family.name, p, out_str, url, engine, force) for p in jobs_params]
    runner = EXECUTORS.get(executor)(workers=workers, **executor_options)
    result = BatchResult(family.name)
    clock = time.perf_counter()
    show = sys.stderr.isatty() if progress is None else progress
    from tqdm import tqdm

    folders: set[str] = set()
    with tqdm(total=len(jobs), desc=f"{family.name} batch", unit="report", disable=not show,
              file=sys.stderr) as bar:
        for run in runner.map(_run_one, jobs):
            result.results.append(run)
            if run.folder:
                folders.add(run.folder)
            bar.set_postfix(failed=result.count("failed"), refresh=False)
            bar.update(1)
    for folder in folders:
        write_folder_index(Path(folder))
    result.seconds = time.perf_counter() - clock
    return result
