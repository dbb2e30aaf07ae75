"""The ``warm`` engine: one long-lived kernel executing notebook after notebook."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .execute import execute_in
from .kernel import Kernel, kernel_name

__all__ = ["WarmEngine", "notebook_imports"]



@dataclass
class WarmEngine:
    """One long-lived kernel executing notebook after notebook.

    Between runs the user namespace is reset (imported modules stay loaded), the execution
    counter goes back to 1 and the kernel's working folder becomes the run's
    (:func:`reportlib.engines.in_kernel.reset`). The kernel is recycled after ``max_runs``
    runs, when its memory goes above ``max_memory_mb``, and after any failure, so one bad run
    never leaks into the next.

    Attributes:
        max_runs: recycle the kernel after this many runs. A QBR kernel's memory stays flat over
            hundreds of runs while a new kernel pays its imports and reads the prepared metrics
            again, so the count is a safety net, not a routine: a quarter's decks on the large
            demo need no new kernel.
        max_memory_mb: recycle the kernel when its resident memory is above this, in MB.
        timeout: seconds one cell may run.
        log_output: papermill's ``--log-output``: each cell's output on stderr as it comes.
    """

    name: str = "warm"
    kernel_name: str | None = None
    timeout: int | None = 1800
    log_output: bool = False
    max_runs: int = 5000
    max_memory_mb: float = 1024.0
    kernels_started: int = 0
    _kernel: Kernel | None = field(default=None, repr=False)

    def _ready_kernel(self, notebook: Path) -> Kernel:
        name = kernel_name(notebook, self.kernel_name)
        if self._kernel is not None and (self._kernel.kernel_name != name or not self._kernel.alive()):
            self.recycle()
        if self._kernel is None:
            self._kernel = Kernel(name)
            self.kernels_started += 1
        return self._kernel

    def execute(self, notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path,
                environment: dict[str, str] | None = None, report_mode: bool = False):
        kernel = self._clean_kernel(notebook, cwd, environment or {})
        try:
            executed = execute_in(kernel, notebook, output, parameters, self.timeout, report_mode=report_mode,
                                  log_output=self.log_output)
        except BaseException:
            self.recycle()  # never run the next notebook in a kernel a failure may have left dirty
            raise
        kernel.runs += 1
        if kernel.runs >= self.max_runs or kernel.memory_mb() > self.max_memory_mb:
            self.recycle()
        return executed

    def warm_up(self, notebook: Path, meanwhile: Callable[[], None] | None = None) -> None:
        """Start the kernel and import what ``notebook`` imports, ahead of its first run;
        ``meanwhile`` runs in a thread of this process while the kernel imports (once it started)."""
        kernel = self._ready_kernel(notebook)
        thread = threading.Thread(target=meanwhile, name="reportlib-meanwhile") if meanwhile else None
        if thread is not None:
            thread.start()
        try:
            code = notebook_imports(notebook)
            if code:
                kernel.run_silently(code, timeout=300)
        finally:
            if thread is not None:
                thread.join()

    def _clean_kernel(self, notebook: Path, cwd: Path, environment: dict[str, str]) -> Kernel:
        """A ready kernel with a clean slate that keeps the imported modules (what makes it fast).

        The run's environment variables (e.g. the database URL with its password) are set
        outside the notebook, so the executed notebook never holds them.
        """
        kernel = self._ready_kernel(notebook)
        try:
            kernel.reset(cwd, environment)
        except Exception:  # a kernel that cannot even be reset is recycled, once
            self.recycle()
            kernel = self._ready_kernel(notebook)
            try:
                kernel.reset(cwd, environment)
            except BaseException:
                self.recycle()
                raise
        return kernel

    @property
    def kernel_pid(self) -> int | None:
        """The current kernel's process id (None before the first run or after a recycle)."""
        return self._kernel.pid if self._kernel else None

    def recycle(self) -> None:
        """Shut the kernel down; the next run starts a new one."""
        kernel, self._kernel = self._kernel, None
        if kernel is not None:
            kernel.close()

    def close(self) -> None:
        """End the kernel: every run's files are written by now, so it is killed, not waited for
        while it tears down (a batch's end would wait for every worker's kernel)."""
        kernel, self._kernel = self._kernel, None
        if kernel is not None:
            kernel.stop_client()
            kernel.end()




def notebook_imports(notebook: Path) -> str:
    """The top-level import statements of the notebook's code cells (cells that are not plain
    Python, e.g. with magics, are left out)."""
    import ast

    import nbformat

    lines = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        lines += [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(lines)
