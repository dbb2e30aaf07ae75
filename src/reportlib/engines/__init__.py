"""Execution engines: how one parameterized notebook is executed.

An engine has ``execute(notebook, output, parameters, cwd, environment)`` and ``close()``; it
writes the executed notebook to ``output`` even when a cell fails, and raises
:class:`NotebookFailed` naming the cell's error. Engines (``ENGINES``, :func:`get_engine`):

- ``papermill``: a fresh kernel for every notebook (:mod:`.fresh`).
- ``warm``: one long-lived kernel that executes notebook after notebook (:mod:`.warm`).
- ``reference``: papermill's own path with no reportlib patch, in a subprocess; what the
  tests compare the other two with (:mod:`.reference`).

``papermill`` and ``warm`` go through ``papermill.execute_notebook`` in kernels we start
(:mod:`.kernel`), so the parameters are injected, and the executed notebook is annotated,
exactly as papermill does (:mod:`.execute`). Kernels talk to us over IPC sockets in a private
folder; each runs :mod:`.in_kernel` when it starts, and exits when the process that started it
is gone. A batch keeps one engine per worker thread: :func:`worker_engine` (:mod:`.pool`).
"""

from __future__ import annotations

from ..lifeline import process_alive
from .base import ENGINES, Engine, get_engine
from .execute import NotebookFailed
from .fresh import PapermillEngine
from .pool import close_worker_engines, worker_engine
from .reference import ReferenceEngine
from .warm import WarmEngine

__all__ = ["ENGINES", "Engine", "NotebookFailed", "PapermillEngine", "ReferenceEngine", "WarmEngine",
           "close_worker_engines", "get_engine", "process_alive", "worker_engine"]
