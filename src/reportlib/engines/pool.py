"""One engine per worker thread, kept for all the runs it gets, closed at the end of a batch."""

from __future__ import annotations

import atexit
import threading
from typing import Any

from .base import Engine, get_engine

__all__ = ["close_worker_engines", "worker_engine"]

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
