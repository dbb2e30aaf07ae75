"""Executing a notebook through papermill in a kernel we started, with the client we keep."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from .kernel import Kernel

__all__ = ["NotebookFailed", "execute_in"]

_PAPERMILL_ENGINE = "reportlib-kernel"
_registered = threading.Event()


class NotebookFailed(Exception):
    """A cell raised; ``ename`` and ``evalue`` are the kernel's exception name and message."""

    def __init__(self, ename: str, evalue: str, cell: int | None = None):
        self.ename, self.evalue, self.cell = ename, evalue, cell
        where = f" in cell {cell}" if cell is not None else ""
        super().__init__(f"{ename}{where}: {evalue}")


def execute_in(kernel: Kernel, notebook: Path, output: Path, parameters: dict[str, Any], timeout: int | None):
    """Run ``notebook`` through papermill in ``kernel``; the executed notebook (also written to
    ``output``). A failed cell is a NotebookFailed."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _register_papermill_engine()
    try:
        # cwd=None: papermill would chdir this whole process, which threads and workers share.
        # No save on each cell's start and end (each one serialises and validates the whole
        # notebook): nobody watches a run's private staging folder, and papermill writes the
        # executed notebook once when execution ends, however it ends.
        return papermill.execute_notebook(
            str(notebook), str(output), parameters=parameters, cwd=None, kernel_name=kernel.kernel_name,
            engine_name=_PAPERMILL_ENGINE, progress_bar=False, log_output=False,
            request_save_on_cell_execute=False, execution_timeout=timeout, km=kernel.km, kc=kernel.kc,
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(exc.ename, str(exc.evalue).strip(), exc.exec_count) from None


def _register_papermill_engine() -> None:
    """papermill's nbclient engine, executing in a kernel we started with the client we keep,
    registered through papermill's engine registry; and the runner-side patches applied.

    nbclient forgets a client passed to its constructor and makes a second one with the
    same session identity, which then steals the replies meant for ours; so the client is
    set on the executor after construction.
    """
    if _registered.is_set():
        return
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    from .. import patches

    patches.apply("runner")

    class KeptKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            kc = kwargs.pop("kc")
            kwargs.pop("input_path", None)
            client = PapermillNotebookClient(
                nb_man, km=kwargs.pop("km"), timeout=execution_timeout, startup_timeout=start_timeout,
                kernel_name=kernel_name, log=logging.getLogger("papermill"), log_output=log_output,
                stdout_file=stdout_file, stderr_file=stderr_file, **kwargs)
            client.kc = kc
            return client.execute()

    papermill_engines.register(_PAPERMILL_ENGINE, KeptKernelEngine)
    _registered.set()
