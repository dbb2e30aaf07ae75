"""One engine per worker thread, kept for all the runs it gets, closed at the end of a batch."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from importlib import import_module
from pathlib import Path
from typing import Any

from ..lifeline import exit_with_parent
from .base import Engine, get_engine

__all__ = ["close_worker_engines", "start_worker", "worker_engine"]

_workers = threading.local()
_all_worker_engines: list[Engine] = []
_generation = 0  # bumped by close_worker_engines, so every thread drops the engines it closed
_lock = threading.Lock()


def worker_engine(name: str, **options: Any) -> Engine:
    """This thread's engine of kind ``name``, made on first use and kept for the next runs.

    A batch worker (a local worker process, a Dask worker thread) calls this for every run,
    so a warm engine's kernel serves run after run; no two threads ever share one.
    """
    if getattr(_workers, "generation", None) != _generation:
        _workers.engines, _workers.generation = {}, _generation
    engines = _workers.engines
    key = (name, tuple(sorted(options.items())))
    if key not in engines:
        engine = engines[key] = get_engine(name, **options)
        with _lock:
            _all_worker_engines.append(engine)
    return engines[key]


def close_worker_engines() -> None:
    """Shut down every worker engine of this process (at the end of a batch, and at exit)."""
    global _generation
    with _lock:
        engines = list(_all_worker_engines)
        _all_worker_engines.clear()
        _generation += 1
    for engine in engines:
        try:
            engine.close()
        except Exception:  # at exit a kernel may already be gone; nothing left to release
            pass


atexit.register(close_worker_engines)


def start_worker(parent_pid: int, engine: str | None = None, options: dict[str, Any] | None = None,
                 notebook: str | None = None, preload_modules: tuple[str, ...] = ()) -> None:
    """A batch worker process's first act (its pool's initializer, in this light module so that
    the worker starts its kernel before it imports the runner).

    The worker exits with the batch's process (a batch killed outright must not leave its
    workers and their kernels behind). Given an ``engine``, it starts that engine's kernel and has
    it import what ``notebook`` imports (``warm_up``); once the kernel has started, a thread
    imports the ``preload_modules`` (the runner, papermill) and readies the HTML export while the
    kernel imports: the kernel's imports and the worker's own take seconds each, and happen at once.
    At its exit the worker ends its kernels and leaves at once (:func:`_exit_at_once`).

    Never raises (a failing initializer would break the whole pool): whatever is not ready here
    is started by the first run, which reports any error as its own.
    """
    exit_with_parent(parent_pid)
    atexit.register(_exit_at_once)
    preloaded = threading.Event()

    def preload() -> None:
        preloaded.set()
        _preload(preload_modules, notebook)

    try:
        if engine is not None and notebook is not None:
            warm_up = getattr(worker_engine(engine, **(options or {})), "warm_up", None)
            if warm_up is not None:
                warm_up(Path(notebook), preload)
    except Exception:  # noqa: BLE001 - the first run starts its kernel and reports why it cannot
        pass
    if not preloaded.is_set():
        _preload(preload_modules, notebook)


def _exit_at_once() -> None:
    """A worker's last act (the first of its exit handlers): end its kernels, then exit without
    freeing every module it loaded, which the batch would wait for."""
    close_worker_engines()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _preload(modules: tuple[str, ...], notebook: str | None = None) -> None:
    try:
        from ..patches import import_papermill

        import_papermill()  # before any preloaded module imports papermill its own way
        for name in modules:
            import_module(name)
        from ..render.charts import draws_static_charts
        from ..render.html import warm_html_export

        warm_html_export(static_charts=notebook is not None and draws_static_charts(notebook))
    except Exception:  # noqa: BLE001 - the run imports them again and reports the error
        pass
