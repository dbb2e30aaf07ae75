"""Small explicit registries for the pluggable parts (families, domains, engines)."""

from __future__ import annotations

import importlib
import threading
from typing import Generic, Iterable, Mapping, TypeVar

from .errors import UnknownNameError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """``register(name, obj)`` and ``get(name)``; a failed ``get`` names what exists.

    ``modules`` are imported on first use, so that registering stays a side effect of
    importing the module that defines the thing, with no import cycles. Given as a mapping
    ``{name: module}``, ``get(name)`` imports that one module only (a report's command line
    then never pays for importing the other families); listing the names imports them all.
    """

    def __init__(self, kind: str, modules: Iterable[str] | Mapping[str, str] = ()):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._homes = dict(modules) if isinstance(modules, Mapping) else {}
        self._modules = tuple(dict.fromkeys(self._homes.values())) if self._homes else tuple(modules)
        self._loaded = False
        # Reentrant: a module being imported may itself look things up in this registry.
        self._lock = threading.RLock()

    def register(self, name: str, obj: T) -> T:
        self._items[name] = obj
        return obj

    def _load(self) -> None:
        # Threads (a Dask worker's) may ask at once: none may see the registry half-loaded.
        if self._loaded:
            return
        with self._lock:
            if not self._loaded and not getattr(self, "_loading", False):
                self._loading = True
                try:
                    for module in self._modules:
                        importlib.import_module(module)
                    self._loaded = True
                finally:
                    self._loading = False

    def _load_home(self, name: str) -> None:
        """Import the module that registers ``name``, if known; else every module."""
        if name in self._items:
            return
        home = self._homes.get(name)
        if home is not None:
            with self._lock:
                importlib.import_module(home)
            if name in self._items:
                return
        self._load()

    def get(self, name: str) -> T:
        self._load_home(name)
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, list(self._items)) from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self._load_home(name)
        return name in self._items
