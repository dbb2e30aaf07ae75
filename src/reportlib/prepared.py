"""Prepared batch inputs: computed once by a batch, read by every run of it.

A family's :attr:`~reportlib.families.Family.prepare` hook computes all entities' inputs in
one pass and saves them with :func:`save_prepared`; each run's notebook gets the file's path
as its ``prepared`` parameter and reads it with :func:`load_prepared`. A warm kernel keeps
the last file it loaded in memory, so the worker that runs entity after entity of one batch
reads the file once, not once per run.

The file is a pickle that only a batch of this project writes, into its own private folder,
and that is removed when the batch ends. It records what it was prepared for (family and
batch parameters), and :func:`load_prepared` refuses a file prepared for something else.
"""

from __future__ import annotations

import pickle
import threading
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .files import atomic_path

__all__ = ["forget_prepared", "load_prepared", "save_prepared"]

_FORMAT = "reportlib-prepared/1"
_lock = threading.Lock()
# The last file loaded in this process: (path, size, mtime) -> (for, payload).
_cache: dict[tuple[str, int, int], tuple[dict[str, Any], Any]] = {}


def save_prepared(payload: Any, path: str | Path, *, family: str, batch: dict[str, Any]) -> Path:
    """Write ``payload`` (what every run of the batch reads) to ``path``, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            pickle.dump({"format": _FORMAT, "for": {"family": family, "batch": dict(batch)}, "payload": payload},
                        handle, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load_prepared(path: str | Path, *, family: str, expect: dict[str, Any] | None = None) -> Any:
    """The payload a batch prepared at ``path`` for ``family``.

    ``expect`` are the run's own parameters that the batch's must equal (e.g. the quarter):
    a run never silently reads inputs prepared for another period. Raises ConfigError when
    the file is missing, is not a prepared file, or was prepared for something else.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(f"The prepared inputs {path} cannot be read ({exc.strerror}); they exist only while "
                          "their batch runs. Run the notebook without 'prepared' to read the database.") from None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _lock:
        hit = _cache.get(key)
        if hit is None:
            with open(path, "rb") as handle:
                try:
                    stored = pickle.load(handle)
                except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
                    raise ConfigError(f"{path} is not a reportlib prepared file ({exc}).") from None
            if not isinstance(stored, dict) or stored.get("format") != _FORMAT:
                raise ConfigError(f"{path} is not a reportlib prepared file.")
            hit = (stored["for"], stored["payload"])
            _cache.clear()  # keep one batch's inputs, not every batch's this kernel ever served
            _cache[key] = hit
    made_for, payload = hit
    if made_for["family"] != family:
        raise ConfigError(f"{path} was prepared for the {made_for['family']} family, not {family}.")
    for name, value in (expect or {}).items():
        if name in made_for["batch"] and str(made_for["batch"][name]) != str(value):
            raise ConfigError(f"{path} was prepared for {name}={made_for['batch'][name]}, but this run has "
                              f"{name}={value}.")
    return payload


def forget_prepared() -> None:
    """Drop the in-memory copy (tests; a long-lived process that is done with its batch)."""
    with _lock:
        _cache.clear()
