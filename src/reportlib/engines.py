"""Execution engines: how one parameterized notebook is executed.

An engine has ``execute(notebook, output, parameters, cwd)``; it writes the executed notebook
to ``output`` even when a cell fails, and raises :class:`NotebookFailed` naming the cell's
error. ``papermill`` (a fresh kernel per run) is the reference engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .registry import Registry

__all__ = ["ENGINES", "Engine", "NotebookFailed", "PapermillEngine", "get_engine"]


class NotebookFailed(Exception):
    """A cell raised; ``ename`` and ``evalue`` are the kernel's exception name and message."""

    def __init__(self, ename: str, evalue: str, cell: int | None = None):
        self.ename, self.evalue, self.cell = ename, evalue, cell
        where = f" in cell {cell}" if cell is not None else ""
        super().__init__(f"{ename}{where}: {evalue}")


class Engine(Protocol):
    name: str

    def execute(self, notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path) -> None: ...


@dataclass
class PapermillEngine:
    """papermill's own executor: a fresh kernel for every notebook."""

    name: str = "papermill"
    kernel_name: str | None = None
    timeout: int | None = 1800

    def execute(self, notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path) -> None:
        import papermill
        from papermill.exceptions import PapermillExecutionError

        try:
            papermill.execute_notebook(
                str(notebook), str(output), parameters=parameters, cwd=str(cwd),
                kernel_name=self.kernel_name, progress_bar=False, log_output=False,
                request_save_on_cell_execute=False, execution_timeout=self.timeout,
            )
        except PapermillExecutionError as exc:
            raise NotebookFailed(exc.ename, _first_line(exc.evalue), exc.exec_count) from None


def _first_line(text: str) -> str:
    return str(text).strip()


ENGINES: Registry[Any] = Registry("execution engine")
ENGINES.register("papermill", PapermillEngine)


def get_engine(name: str = "papermill", **options: Any) -> Engine:
    """A new engine of the registered kind ``name``."""
    return ENGINES.get(name)(**options)
