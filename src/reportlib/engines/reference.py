"""The ``reference`` engine: papermill's own path, untouched, in a process of its own.

``papermill.execute_notebook`` with papermill's defaults (its kernel manager and client,
nbclient, loopback TCP) in a new Python process that never imports reportlib, with
``REPORTLIB_NO_PATCHES=1`` in its environment: none of :mod:`reportlib.patches` applies
there, nor in its kernel. It is slow (a new interpreter and kernel per notebook) and exists to
be compared with: the tests hold the ``warm`` and ``papermill`` engines, patched, to the
notebooks, outputs and manifests it produces.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .execute import NotebookFailed
from .kernel import kernel_name

__all__ = ["ReferenceEngine"]

_RUN = """\
import json, logging, sys
import papermill
job = json.loads(sys.argv[1])
if job["log_output"]:
    logging.basicConfig(level="INFO", format="%(message)s")
papermill.execute_notebook(job["notebook"], job["output"], parameters=job["parameters"], cwd=job["cwd"],
                           kernel_name=job["kernel"], progress_bar=False, execution_timeout=job["timeout"],
                           report_mode=job["report_mode"], log_output=job["log_output"])
"""


@dataclass
class ReferenceEngine:
    """papermill, unpatched, in a subprocess (see the module docstring)."""

    name: str = "reference"
    kernel_name: str | None = None
    timeout: int | None = 1800
    log_output: bool = False

    def execute(self, notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path,
                environment: dict[str, str] | None = None, report_mode: bool = False) -> None:
        job = {"notebook": str(notebook), "output": str(output), "parameters": parameters, "cwd": str(cwd),
               "kernel": kernel_name(notebook, self.kernel_name), "timeout": self.timeout,
               "report_mode": report_mode, "log_output": self.log_output}
        env = dict(os.environ, **(environment or {}), REPORTLIB_NO_PATCHES="1")
        done = subprocess.run([sys.executable, "-c", _RUN, json.dumps(job)], env=env, cwd=str(cwd),
                              stdout=subprocess.PIPE, stderr=None if self.log_output else subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise _failure(output, done.stderr or "")
        return None

    def close(self) -> None:
        pass


def _failure(output: Path, stderr: str) -> Exception:
    """The failed cell's error from the executed notebook papermill wrote, else papermill's words."""
    import nbformat

    if output.is_file():
        for cell in nbformat.read(output, as_version=4).cells:
            for out in cell.get("outputs", ()):
                if out.get("output_type") == "error":
                    return NotebookFailed(out["ename"], str(out["evalue"]).strip(), cell.get("execution_count"))
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return RuntimeError(f"papermill failed: {lines[-1] if lines else 'no message'}")


