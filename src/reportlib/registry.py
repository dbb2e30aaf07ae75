"""Small explicit registries for the pluggable parts (families, domains, command groups, engines).

A registry is ``register(name, obj)`` and ``get(name)``, whose error names what exists. Given an
entry point ``group``, it also finds what installed packages declare there (papermill finds its
engines and I/O handlers the same way): reportlib's own families declare themselves in its
``pyproject.toml``::

    [project.entry-points."reportlib.families"]
    dashboard = "reportlib.dashboard.family:FAMILY"

so no core module lists them. ``get("dashboard")`` loads that one entry point (importing the
dashboard family alone, nothing of the others), and ``names()`` reads the names without
importing anything.
"""

from __future__ import annotations

import threading
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, Iterator, TypeVar

from .errors import ConfigError, UnknownNameError

__all__ = ["Registry", "declared"]

T = TypeVar("T")


def declared(group: str) -> dict[str, EntryPoint]:
    """The entry points of ``group`` that installed packages declare, by name."""
    return {ep.name: ep for ep in entry_points(group=group)}


class Registry(Generic[T]):
    """``register(name, obj)`` and ``get(name)``; a failed ``get`` names what exists.

    With a ``group``, the entry points of that group are registered on first use, each when it
    is asked for by name (``get``) or when every item is (``items``).
    """

    def __init__(self, kind: str, group: str | None = None):
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._declared: dict[str, EntryPoint] | None = None
        # Reentrant: a module being imported may itself look things up in this registry. Threads (a
        # Dask worker's) may ask at once: none may see an entry point half-loaded.
        self._lock = threading.RLock()

    def register(self, name: str, obj: T) -> T:
        self._items[name] = obj
        return obj

    def declared(self) -> dict[str, EntryPoint]:
        """The group's entry points by name (read once; nothing is imported)."""
        if self._declared is None:
            found = declared(self.group) if self.group else {}
            if self.group and not found:
                raise ConfigError(f"No {self.kind} is declared under the entry point group {self.group!r}: "
                                  "reportlib is not installed in this Python (or its metadata is older than "
                                  "its source). Install it: pip install -e . (make venv).")
            self._declared = found
        return self._declared

    def _load(self, name: str) -> None:
        if name in self._items:
            return
        point = self.declared().get(name) if self.group else None
        if point is None:
            return
        with self._lock:
            if name not in self._items:
                self._items[name] = point.load()

    def get(self, name: str) -> T:
        self._load(name)
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        """Every name, registered or declared, without importing what is declared."""
        return sorted(set(self._items) | set(self.declared() if self.group else ()))

    def items(self) -> Iterator[tuple[str, T]]:
        """Every (name, obj), loading every entry point of the group."""
        for name in self.names():
            yield name, self.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._items or name in (self.declared() if self.group else ())
