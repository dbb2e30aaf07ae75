"""The ``papermill`` engine: a fresh kernel for every notebook."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .execute import execute_in
from .kernel import Kernel, kernel_name

__all__ = ["PapermillEngine"]


@dataclass
class PapermillEngine:
    """papermill's own executor: a fresh kernel for every notebook."""

    name: str = "papermill"
    kernel_name: str | None = None
    timeout: int | None = 1800
    log_output: bool = False

    _stopping: list[threading.Thread] = field(default_factory=list, repr=False, compare=False)

    def execute(self, notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path,
                environment: dict[str, str] | None = None, report_mode: bool = False):
        kernel = Kernel(kernel_name(notebook, self.kernel_name), cwd=cwd, environment=environment)
        try:
            return execute_in(kernel, notebook, output, parameters, self.timeout, report_mode=report_mode,
                              log_output=self.log_output)
        finally:
            kernel.stop_client()
            self._shut_down_later(kernel)

    def _shut_down_later(self, kernel: Kernel) -> None:
        # A kernel takes a while to exit (module teardown, then our polling notices): the run
        # exports its HTML and writes its manifest meanwhile, and close() waits for it.
        self._stopping = [thread for thread in self._stopping if thread.is_alive()]
        thread = threading.Thread(target=kernel.shut_down, name="reportlib-kernel-shutdown")
        thread.start()
        self._stopping.append(thread)

    def close(self) -> None:
        """Wait until every kernel this engine started has stopped."""
        while self._stopping:
            self._stopping.pop().join()


