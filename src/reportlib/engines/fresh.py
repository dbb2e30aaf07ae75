"""The ``papermill`` engine: a fresh kernel for every notebook."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .execute import execute_in
from .kernel import Kernel, kernel_name

__all__ = ["PapermillEngine"]


class _EarlyKernel:
    """The next run's kernel, started in a background thread before the run is planned.

    It starts in a folder of its own and imports what the notebook imports as soon as it is
    told the notebook (:meth:`expect`); the run then moves it to its own folder and environment
    with an empty namespace (:meth:`Kernel.reset`), as a new kernel would have. Whatever fails
    here is left to the run, which starts a kernel of its own and reports its own error.
    """

    def __init__(self, name: str):
        self.name = name
        self.kernel: Kernel | None = None
        self._notebook: Path | None = None
        self._told = threading.Event()
        self._ready = threading.Event()
        self._released = threading.Event()
        # The process starts here, before the caller imports anything else: in a thread, its
        # launch would wait on the caller's imports for the interpreter lock. The thread then
        # waits for it to answer and has it import while the caller goes on.
        try:
            launched: Kernel | None = Kernel(name, connect=False)
        except Exception:  # noqa: BLE001 - the run starts its own kernel and reports why it cannot
            launched = None
        self._thread = threading.Thread(target=self._start, args=(launched,), name="reportlib-early-kernel",
                                        daemon=True)
        self._thread.start()

    def _start(self, kernel: Kernel | None) -> None:
        try:
            if kernel is None:
                raise RuntimeError("the kernel did not start")
            kernel.connect()
        except Exception:  # noqa: BLE001 - the run starts its own kernel and reports why it cannot
            self._ready.set()
            return
        # The runner knows the notebook once it has imported the family: a run that never says
        # (it was up to date) leaves the kernel idle until it is shut down.
        self._told.wait(timeout=600)
        if self._notebook is not None:
            from .warm import notebook_imports

            try:
                code = notebook_imports(self._notebook)
                if code:
                    kernel.run_silently(code, timeout=600)
            except Exception:  # noqa: BLE001 - the notebook's own import cell will raise it again
                pass
        kernel.stop_client()  # the run's thread connects a client of its own
        self.kernel = kernel
        self._ready.set()
        # A kernel exits when the thread that started it ends (reportlib.lifeline): this one
        # stays until the kernel is shut down.
        self._released.wait()

    def expect(self, notebook: Path) -> None:
        if not self._told.is_set():
            self._notebook = notebook
            self._told.set()

    def discard(self) -> None:
        """Shut the kernel down unused (the run was up to date, or failed before it ran)."""
        self._told.set()
        self._ready.wait()
        kernel, self.kernel = self.kernel, None
        if kernel is not None:
            kernel.end()
        self.release()

    def release(self) -> None:
        """Let the starting thread end (once its kernel is shut down)."""
        self._released.set()
        self._thread.join()

    def take(self, name: str) -> Kernel | None:
        """The kernel, once started and warmed up, connected to this thread, if it is of kind
        ``name`` and alive; else None (and any kernel it did start is shut down)."""
        self._told.set()
        self._ready.wait()
        kernel, self.kernel = self.kernel, None
        if kernel is not None and kernel.kernel_name == name and kernel.alive():
            try:
                kernel.reconnect()
                return kernel
            except Exception:  # noqa: BLE001 - the run starts a kernel of its own
                kernel.stop_client()
        if kernel is not None:
            kernel.shut_down()
        self.release()
        return None


@dataclass
class PapermillEngine:
    """papermill's own executor: a fresh kernel for every notebook.

    :meth:`start_early` starts the next notebook's kernel ahead of it, in the background: a
    ``reportlib run`` calls it first thing, so the kernel starts and imports while the run
    imports and plans (they share nothing but the time).
    """

    name: str = "papermill"
    kernel_name: str | None = None
    timeout: int | None = 1800
    log_output: bool = False

    _ending: list[tuple[Kernel, _EarlyKernel | None]] = field(default_factory=list, repr=False, compare=False)
    _early: _EarlyKernel | None = field(default=None, repr=False, compare=False)

    def start_early(self, notebook: Path | None = None) -> None:
        """Start the next run's kernel now, in the background (if not started yet), and once
        ``notebook`` is given, import what it imports there; returns at once."""
        if self._early is None:
            self._early = _EarlyKernel(self.kernel_name or "python3")
        if notebook is not None:
            self._early.expect(Path(notebook))

    def execute(self, notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path,
                environment: dict[str, str] | None = None, report_mode: bool = False):
        self._end_kernels()  # the previous runs' files are written by now
        name = kernel_name(notebook, self.kernel_name)
        early, self._early = self._early, None
        kernel = self._early_kernel(early, name, cwd, environment or {}) if early is not None else None
        if kernel is None:
            early = None
            kernel = Kernel(name, cwd=cwd, environment=environment)
        try:
            return execute_in(kernel, notebook, output, parameters, self.timeout, report_mode=report_mode,
                              log_output=self.log_output)
        finally:
            kernel.stop_client()
            kernel.request_exit()  # it tears down while the run exports and writes its files
            self._ending.append((kernel, early))

    @staticmethod
    def _early_kernel(early: _EarlyKernel, name: str, cwd: Path, environment: dict[str, str]) -> Kernel | None:
        kernel = early.take(name)
        if kernel is None:
            return None
        try:
            kernel.reset(cwd, environment)
        except Exception:  # noqa: BLE001 - a kernel that cannot be reset is replaced by a new one
            kernel.close()
            early.release()
            return None
        return kernel

    def close(self) -> None:
        """End every kernel this engine started: the runs' files are written by now, so a kernel
        still tearing down after its shutdown request is killed rather than waited for."""
        early, self._early = self._early, None
        if early is not None:  # started for a run that did not need it (up to date)
            early.discard()
        self._end_kernels()

    def _end_kernels(self) -> None:
        while self._ending:
            kernel, started_by = self._ending.pop()
            try:
                kernel.end()
            finally:
                if started_by is not None:
                    started_by.release()
