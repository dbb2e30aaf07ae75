"""Executing a notebook through papermill in a kernel we started, with the client we keep."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Any

from .kernel import Kernel

__all__ = ["NotebookFailed", "execute_in"]

_PAPERMILL_ENGINE = "reportlib-kernel"
_registered = threading.Event()
_lock = threading.Lock()


class NotebookFailed(Exception):
    """A cell raised; ``ename`` and ``evalue`` are the kernel's exception name and message."""

    def __init__(self, ename: str, evalue: str, cell: int | None = None):
        self.ename, self.evalue, self.cell = ename, evalue, cell
        where = f" in cell {cell}" if cell is not None else ""
        super().__init__(f"{ename}{where}: {evalue}")


def execute_in(kernel: Kernel, notebook: Path, output: Path, parameters: dict[str, Any], timeout: int | None, *,
               report_mode: bool = False, log_output: bool = False):
    """Run ``notebook`` through papermill in ``kernel``; the executed notebook (also written to
    ``output``). A failed cell is a NotebookFailed.

    ``report_mode`` and ``log_output`` are papermill's: every code cell's input hidden, and each
    cell's output written to the ``papermill`` logger (on stderr) as it comes. Each output is
    also offered, as it comes, to the run's :class:`~reportlib.render.charts.StaticDrawings`
    if the run set them (:meth:`~reportlib.render.charts.StaticDrawings.offered`).
    """
    from ..patches import import_papermill
    from ..render.charts import offered_drawings

    import_papermill()
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _register_papermill_engine()
    if log_output:
        _log_to_stderr()
    try:
        # cwd=None: papermill would chdir this whole process, which threads and workers share.
        # No save on each cell's start and end (each one serialises and validates the whole
        # notebook): nobody watches a run's private staging folder, and papermill writes the
        # executed notebook once when execution ends, however it ends (``record``: also when
        # a cell times out or the kernel dies, which papermill's own path saves at each cell).
        return papermill.execute_notebook(
            str(notebook), str(output), parameters=parameters, cwd=None, kernel_name=kernel.kernel_name,
            engine_name=_PAPERMILL_ENGINE, progress_bar=False, log_output=log_output, report_mode=report_mode,
            request_save_on_cell_execute=False, execution_timeout=timeout, km=kernel.km, kc=kernel.kc,
            record=str(output), drawings=offered_drawings(),
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(exc.ename, str(exc.evalue).strip() or _said_by_failed_cell(output),
                             exc.exec_count) from None


def _said_by_failed_cell(executed: Path) -> str:
    """What the failed cell wrote to stderr, for an error that has no error output (IPython
    reports a bad magic, a ``UsageError``, on stderr alone); else its first line of code."""
    import nbformat

    try:
        cells = nbformat.read(executed, as_version=4).cells
    except (OSError, ValueError):
        return ""
    for cell in cells:
        if cell.get("metadata", {}).get("papermill", {}).get("exception"):
            said = "".join(o.get("text", "") for o in cell.get("outputs", ()) if o.get("name") == "stderr").strip()
            code = next((line for line in cell.source.splitlines() if line.strip()), "")
            return said.splitlines()[-1] if said else f"the cell `{code}` failed"
    return ""


class _CheckedByReportlib(logging.Filter):
    """papermill's warnings about the parameters, which reportlib says once, before a batch
    starts (:mod:`reportlib.notebooks`), instead of once per run."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Passed unknown parameter")
                    or message.startswith("Input notebook does not contain a cell with tag 'parameters'"))


_stderr_handler: logging.Handler | None = None


class _CurrentStderr(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is when a message comes (not as it was when made)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _log_to_stderr() -> None:
    """papermill's ``--log-output``: what its command line does with the ``papermill`` logger
    (messages alone, on stderr, from INFO up)."""
    global _stderr_handler
    with _lock:
        if _stderr_handler is None:
            logger = logging.getLogger("papermill")
            _stderr_handler = _CurrentStderr()
            _stderr_handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(_stderr_handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False


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
        def execute_notebook(cls, nb, kernel_name, record=None, **kwargs):
            try:
                return super().execute_notebook(nb, kernel_name, **kwargs)
            except BaseException:
                if record:  # as papermill's own path last saved it, for the run's failed notebook
                    import papermill.execute

                    papermill.execute.write_ipynb(nb, record)
                raise

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            kc = kwargs.pop("kc")
            drawings = kwargs.pop("drawings", None)
            kwargs.pop("input_path", None)
            client = (PapermillNotebookClient if drawings is None else _DrawingClient)(
                nb_man, km=kwargs.pop("km"), timeout=execution_timeout, startup_timeout=start_timeout,
                kernel_name=kernel_name, log=logging.getLogger("papermill"), log_output=log_output,
                stdout_file=stdout_file, stderr_file=stderr_file, **kwargs)
            client.kc = kc
            if drawings is not None:
                client.drawings = drawings
            return client.execute()

    class _DrawingClient(PapermillNotebookClient):
        """papermill's client, offering each output to the run's static drawings as it comes."""

        drawings = None

        def process_message(self, *args, **kwargs):
            output = super().process_message(*args, **kwargs)
            if output is not None:
                self.drawings.offer(output)
            return output

    papermill_engines.register(_PAPERMILL_ENGINE, KeptKernelEngine)
    logging.getLogger("papermill").addFilter(_CheckedByReportlib())
    _registered.set()
