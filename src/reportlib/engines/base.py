"""What an engine is, and the registry of the engines there are."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from ..registry import Registry

__all__ = ["ENGINES", "Engine", "get_engine"]


class Engine(Protocol):
    name: str

    def execute(self, notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path,
                environment: dict[str, str] | None = None, report_mode: bool = False) -> Any: ...

    def close(self) -> None: ...


# Declared as entry points (group ``reportlib.engines``), as papermill finds its engines.
ENGINES: Registry[Any] = Registry("execution engine", group="reportlib.engines")


def get_engine(name: str = "papermill", **options: Any) -> Engine:
    """A new engine of the registered kind ``name``."""
    return ENGINES.get(name)(**options)
