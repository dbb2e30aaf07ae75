"""Execution engines: how one parameterized notebook is executed.

An engine has ``execute(notebook, output, parameters, cwd)`` and ``close()``; it writes the
executed notebook to ``output`` even when a cell fails (and returns it), and raises
:class:`NotebookFailed` naming the cell's error. Both engines go through ``papermill.execute_notebook``, so the
parameters are injected, and the executed notebook is annotated, exactly as papermill does.

- ``papermill``: a fresh kernel for every notebook (the reference engine).
- ``warm``: one long-lived kernel that executes notebook after notebook. Between runs the
  user namespace is reset (``%reset -f``; imported modules stay loaded), the execution
  counter goes back to 1 and the kernel's working folder becomes the run's. The kernel is
  recycled after ``max_runs`` runs, when its memory goes above ``max_memory_mb``, and after
  any failure, so one bad run never leaks into the next.

Kernels talk to us over IPC sockets in a private folder (no TCP port to race for, nothing
listening on the network), and their start-up chatter goes to a log file, not the terminal.
A batch keeps one engine per worker: :func:`worker_engine`.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .registry import Registry

__all__ = ["ENGINES", "Engine", "NotebookFailed", "PapermillEngine", "WarmEngine", "close_worker_engines",
           "get_engine", "worker_engine"]

# Kernel start-up output: debugpy's frozen-modules notice is noise for a batch.
_KERNEL_ENV = {"PYDEVD_DISABLE_FILE_VALIDATION": "1"}
# No input history: concurrent kernels would contend for IPython's one history database, and
# a warm kernel whose counter restarts at 1 would print "Session/line number was not unique".
_KERNEL_ARGS = ["--HistoryManager.enabled=False"]


# Between two runs in a warm kernel: what ``%reset -f`` does (the same ``shell.reset``) minus its
# forced full garbage collection, which costs ~0.4 s once pandas is loaded, against ~0.3 ms
# for the reset itself; the collector still runs on its own. Then the counter goes back to 1.
_RESET = """\
def _rl_reset(cwd, environment, shell):
    import gc, os
    os.chdir(cwd)
    os.environ.update(environment)
    collect, gc.collect = gc.collect, lambda *args, **kwargs: 0
    try:
        shell.reset(new_session=False)
    finally:
        gc.collect = collect
    shell.execution_count = 1
_rl_reset({cwd!r}, {environment!r}, get_ipython())
"""


# Once, when a kernel starts. traitlets leaves the kernel's logger at DEBUG (only its handler
# filters), so every message built a log record that was then thrown away (~3% of a warm run's
# kernel time). IPython tokenizes a cell's source twice per execution to look for magics (~1 ms
# each time for a QBR cell); a warm kernel runs the same cells again and again, and the result
# depends only on the source text, so it is kept (the injected parameters cell differs each run).
#
# ipykernel (7.4) can deadlock on a shutdown request: its control thread still publishes the
# request's "idle" status after the handler has stopped the main loop, and the main thread's
# exit (``IPKernelApp.close``, an atexit handler) may stop the IOPub thread first; the control
# thread then blocks for ever on a send and the kernel hangs until it is sent SIGTERM, its
# atexit handlers never run. In about half the shutdowns here that cost a whole second. Run
# before ``close`` (atexit runs the last registered first), the handler below lets the control
# thread finish first, after a shutdown request only: then it is already stopping.
#
# Before every display, and before and after every execution, ipykernel flushes stdout and
# stderr: two trips to its IOPub thread and a wait for them, even when nothing was written
# (~0.35 ms of kernel CPU each; a QBR deck makes ~40). A stream now flushes only when it holds
# text, has a flush scheduled, or is sending one: a write makes the first true, the scheduled
# flush the second, and sending holds the third until its text is queued before anything
# displayed after it, so output keeps its order.
_KERNEL_SETUP = """\
import atexit as _atexit, functools as _functools, logging as _logging
get_ipython().kernel.log.setLevel(_logging.WARNING)
get_ipython().transform_cell = _functools.lru_cache(maxsize=256)(get_ipython().transform_cell)
def _rl_let_control_finish():
    from ipykernel.kernelapp import IPKernelApp
    if not IPKernelApp.initialized():
        return
    app = IPKernelApp.instance()
    thread = getattr(app, "control_thread", None)
    if getattr(app.kernel, "_shutdown_message", None) is not None and thread is not None and thread.is_alive():
        thread.join(timeout=5)
_atexit.register(_rl_let_control_finish)
def _rl_quiet_flush(flush):
    def flush_if_written(self):
        # Read in this order, each state follows the one before it until the text is queued.
        # What this ipykernel does not have reads as "flush", its own behaviour.
        if (getattr(self, "_buffers", True) or getattr(self, "_flush_pending", True)
                or getattr(self, "_rl_flushing", False) or getattr(self, "_subprocess_flush_pending", False)
                or getattr(self, "echo", True) is not None):
            flush(self)
    return flush_if_written
def _rl_marked_flush(send):
    def flush_marked(self):
        self._rl_flushing = True
        try:
            send(self)
        finally:
            self._rl_flushing = False
    return flush_marked
try:
    from ipykernel.iostream import OutStream as _OutStream
    _OutStream.flush, _OutStream._flush = _rl_quiet_flush(_OutStream.flush), _rl_marked_flush(_OutStream._flush)
    del _OutStream
except (ImportError, AttributeError):
    pass
del _atexit, _functools, _logging, _rl_let_control_finish, _rl_quiet_flush, _rl_marked_flush
"""


class NotebookFailed(Exception):
    """A cell raised; ``ename`` and ``evalue`` are the kernel's exception name and message."""

    def __init__(self, ename: str, evalue: str, cell: int | None = None):
        self.ename, self.evalue, self.cell = ename, evalue, cell
        where = f" in cell {cell}" if cell is not None else ""
        super().__init__(f"{ename}{where}: {evalue}")


class Engine(Protocol):
    name: str

    def execute(self, notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path,
                environment: dict[str, str] | None = None) -> Any: ...

    def close(self) -> None: ...


class _Kernel:
    """One kernel over IPC sockets in a private folder, with the one client that talks to it.

    Two clients made by ``km.client()`` share a session identity and the second never gets
    replies, so the client made here is the only one, reused for every notebook.
    """

    def __init__(self, kernel_name: str, cwd: Path | None = None, environment: dict[str, str] | None = None):
        from jupyter_client import KernelManager
        from jupyter_client.asynchronous import AsyncKernelClient
        from jupyter_core.utils import run_sync

        self.kernel_name = kernel_name
        _sweep_kernel_folders()
        # Short: IPC socket paths are limited to ~100 characters. The pid says whose it is.
        self.folder = Path(tempfile.mkdtemp(prefix=f"rlk-{os.getpid()}-"))
        self.log = open(self.folder / "kernel.log", "ab")
        # IPC sockets where the platform has them (not Windows): loopback TCP there.
        ipc = os.name == "posix"
        self.km = KernelManager(kernel_name=kernel_name, transport="ipc" if ipc else "tcp",
                                ip=str(self.folder / "k") if ipc else "127.0.0.1",
                                connection_file=str(self.folder / "connection.json"))
        env = dict(os.environ, **_KERNEL_ENV, **(environment or {}))
        try:
            self.km.start_kernel(cwd=str(cwd or self.folder), env=env, stdout=self.log, stderr=self.log,
                                 extra_arguments=_KERNEL_ARGS)
            # nbclient awaits the client's channels from its event loop: the async kind lets it
            # wait on shell and iopub together instead of blocking the loop on one of them.
            self.kc = AsyncKernelClient(**self.km.get_connection_info(session=True),
                                        connection_file=self.km.connection_file, parent=self.km)
            self.kc.start_channels()
            run_sync(self.kc.wait_for_ready)(timeout=60)
            self.run_silently(_KERNEL_SETUP)
        except BaseException:
            self.close()
            raise
        self.runs = 0

    @property
    def pid(self) -> int | None:
        return getattr(self.km.provisioner, "pid", None)

    def memory_mb(self) -> float:
        """Resident memory of the kernel process, in MB (0 when it cannot be read)."""
        import psutil

        try:
            return psutil.Process(self.pid).memory_info().rss / 1e6 if self.pid else 0.0
        except psutil.Error:
            return 0.0

    def alive(self) -> bool:
        return self.km.has_kernel and self.km.is_alive()

    def run_silently(self, code: str, timeout: float = 60) -> None:
        """Execute ``code`` without touching history or the execution counter; raise if it fails."""
        from jupyter_core.utils import run_sync

        reply = run_sync(self.kc.execute_interactive)(code, silent=True, store_history=False, timeout=timeout,
                                                      output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            content = reply["content"]
            raise RuntimeError(f"kernel housekeeping failed: {content.get('ename')}: {content.get('evalue')}")

    def close(self) -> None:
        self.stop_client()
        self.shut_down()

    def stop_client(self) -> None:
        """Close our client's channels (in the thread that used them: they belong to its loop)."""
        kc = getattr(self, "kc", None)
        if kc is not None:
            kc.stop_channels()

    def shut_down(self) -> None:
        """Stop the kernel process and remove its folder; any thread may do it, once the client stopped."""
        try:
            if self.km.has_kernel:
                self.km.shutdown_wait_time = 2.0
                self.km.shutdown_kernel(now=False)
        except Exception:
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
        finally:
            self.km.cleanup_resources()
            self.log.close()
            shutil.rmtree(self.folder, ignore_errors=True)


def _sweep_kernel_folders() -> None:
    """Remove the kernel folders of processes that died without closing their kernels (kill -9)."""
    for folder in Path(tempfile.gettempdir()).glob("rlk-*-*"):
        pid = folder.name.split("-")[1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _kernel_name(notebook: Path, kernel_name: str | None) -> str:
    if kernel_name:
        return kernel_name
    import nbformat

    spec = nbformat.read(notebook, as_version=4).metadata.get("kernelspec") or {}
    return spec.get("name") or "python3"


def _papermill(notebook: Path, output: Path, parameters: dict[str, Any], kernel: _Kernel, timeout: int | None):
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
        raise NotebookFailed(exc.ename, _first_line(exc.evalue), exc.exec_count) from None


_PAPERMILL_ENGINE = "reportlib-kernel"


def _register_papermill_engine() -> None:
    """papermill's nbclient engine, executing in a kernel we started with the client we keep.

    nbclient forgets a client passed to its constructor and makes a second one with the
    same session identity, which then steals the replies meant for ours; so the client is
    set on the executor after construction.
    """
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    if _PAPERMILL_ENGINE in papermill_engines._engines:
        return
    import jupyter_client.jsonutil
    import nbclient.client
    import papermill.execute
    from papermill.iorw import papermill_io

    nbclient.client.output_from_msg = _output_from_msg
    jupyter_client.jsonutil._dateutil_parse = _iso_datetime

    def write_ipynb(nb, path):
        """papermill's own, with the same text made without a deep copy, and written atomically
        to a local file: a write that fails (disk full) leaves the earlier file or none, never a
        truncated notebook for the runner to keep as the failed run's record."""
        if "://" in str(path) or str(path) == "-":
            papermill_io.write(notebook_text(nb), path)
            return
        from .files import atomic_write

        # No fsync: a published notebook's SHA-256 is in the run's manifest, which is synced.
        with atomic_write(path, fsync=False) as handle:
            handle.write(notebook_text(nb))

    papermill.execute.write_ipynb = write_ipynb

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


@dataclass
class PapermillEngine:
    """papermill's own executor: a fresh kernel for every notebook."""

    name: str = "papermill"
    kernel_name: str | None = None
    timeout: int | None = 1800

    _stopping: list[threading.Thread] = field(default_factory=list, repr=False, compare=False)

    def execute(self, notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path,
                environment: dict[str, str] | None = None):
        kernel = _Kernel(_kernel_name(notebook, self.kernel_name), cwd=cwd, environment=environment)
        try:
            return _papermill(notebook, output, parameters, kernel, self.timeout)
        finally:
            kernel.stop_client()
            self._shut_down_later(kernel)

    def _shut_down_later(self, kernel: _Kernel) -> None:
        # A kernel takes 0.5-1 s to exit (module teardown, then our polling notices): the run
        # exports its HTML and writes its manifest meanwhile, and close() waits for it.
        self._stopping = [thread for thread in self._stopping if thread.is_alive()]
        thread = threading.Thread(target=kernel.shut_down, name="reportlib-kernel-shutdown")
        thread.start()
        self._stopping.append(thread)

    def close(self) -> None:
        """Wait until every kernel this engine started has stopped."""
        while self._stopping:
            self._stopping.pop().join()


@dataclass
class WarmEngine:
    """One long-lived kernel executing notebook after notebook (see the module docstring).

    Attributes:
        max_runs: recycle the kernel after this many runs. A QBR kernel's memory stays flat over
            800 runs (445 -> 448 MB on the large demo) while a new kernel costs ~5 s of imports
            and loading the prepared metrics, so the count is a safety net, not a routine: a
            quarter's decks (9,361 on the large demo, two workers) need no new kernel.
        max_memory_mb: recycle the kernel when its resident memory is above this, in MB.
        timeout: seconds one cell may run.
    """

    name: str = "warm"
    kernel_name: str | None = None
    timeout: int | None = 1800
    max_runs: int = 5000
    max_memory_mb: float = 1024.0
    kernels_started: int = 0
    _kernel: _Kernel | None = field(default=None, repr=False)

    def _ready_kernel(self, notebook: Path) -> _Kernel:
        name = _kernel_name(notebook, self.kernel_name)
        if self._kernel is not None and (self._kernel.kernel_name != name or not self._kernel.alive()):
            self.recycle()
        if self._kernel is None:
            self._kernel = _Kernel(name)
            self.kernels_started += 1
        return self._kernel

    def execute(self, notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path,
                environment: dict[str, str] | None = None):
        kernel = self._clean_kernel(notebook, cwd, environment or {})
        try:
            executed = _papermill(notebook, output, parameters, kernel, self.timeout)
        except BaseException:
            self.recycle()  # never run the next notebook in a kernel a failure may have left dirty
            raise
        kernel.runs += 1
        if kernel.runs >= self.max_runs or kernel.memory_mb() > self.max_memory_mb:
            self.recycle()
        return executed

    def warm_up(self, notebook: Path) -> None:
        """Start the kernel and import what ``notebook`` imports, ahead of its first run."""
        kernel = self._ready_kernel(notebook)
        code = notebook_imports(notebook)
        if code:
            kernel.run_silently(code, timeout=300)

    def _clean_kernel(self, notebook: Path, cwd: Path, environment: dict[str, str]) -> _Kernel:
        """A ready kernel with a clean slate that keeps the imported modules (what makes it fast).

        The working folder changes first: the previous run's folder is gone, and the reset
        looks at the current one. The run's environment variables (e.g. the database URL with
        its password) are set outside the notebook, so the executed notebook never holds them.
        """
        code = _RESET.format(cwd=str(cwd), environment=dict(environment))
        kernel = self._ready_kernel(notebook)
        try:
            kernel.run_silently(code)
        except Exception:  # a kernel that cannot even be reset is recycled, once
            self.recycle()
            kernel = self._ready_kernel(notebook)
            try:
                kernel.run_silently(code)
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
        self.recycle()


def _output_from_msg(msg: dict[str, Any]):
    """``nbformat.v4.output_from_msg`` without checking each output against the notebook schema.

    nbclient builds every output a kernel sends with nbformat's ``new_output``, which validates
    it with jsonschema (~1 ms an output, a tenth of a QBR run's client time); the executed
    notebook is validated whole when papermill writes it, so the outputs are still checked once.
    """
    from nbformat import NotebookNode

    kind, content = msg["header"]["msg_type"], msg["content"]
    if kind in ("execute_result", "display_data"):
        output = NotebookNode(output_type=kind, metadata=content["metadata"], data=content["data"])
        if kind == "execute_result":
            output.execution_count = content["execution_count"]
        return output
    if kind == "stream":
        return NotebookNode(output_type=kind, name=content["name"], text=content["text"])
    if kind == "error":
        return NotebookNode(output_type=kind, ename=content["ename"], evalue=content["evalue"],
                            traceback=content["traceback"])
    raise ValueError(f"Unrecognized output msg type: {kind!r}")


def notebook_text(nb) -> str:
    """``nbformat.writes(nb)``, the same text, without its deep copy of the whole notebook.

    nbformat copies the notebook only to split its text into lines and drop a few transient
    keys; here only the containers those two steps change are copied (~0.2 ms against ~2.6 ms
    for a QBR run's notebook), and nbformat's own two steps and JSON options do the rest.
    """
    import json

    import nbformat
    from nbformat import NotebookNode
    from nbformat.v4 import nbjson, rwbase

    if nb.get("nbformat") != 4:
        return nbformat.writes(nb)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:  # as nbformat.writes: logged, and written anyway
        nbformat.get_logger().error("Notebook JSON is invalid: %s", exc)

    def cell_copy(cell):
        cell = NotebookNode(cell, metadata=NotebookNode(cell.get("metadata", {})))
        if "attachments" in cell:
            cell["attachments"] = NotebookNode({k: NotebookNode(v) for k, v in cell["attachments"].items()})
        if "outputs" in cell:
            cell["outputs"] = [NotebookNode(o, **({"data": NotebookNode(o["data"])} if "data" in o else {}))
                               for o in cell["outputs"]]
        return cell

    shallow = NotebookNode(nb, metadata=NotebookNode(nb.get("metadata", {})),
                           cells=[cell_copy(cell) for cell in nb.get("cells", [])])
    shallow = rwbase.strip_transient(rwbase.split_lines(shallow))
    return json.dumps(shallow, cls=nbjson.BytesEncoder, indent=1, sort_keys=True, separators=(",", ": "),
                      ensure_ascii=False)


def _iso_datetime(text: str):
    """jupyter_client's date parser for message headers (dateutil's ``isoparse``, ~0.1 ms a date,
    two dates a message): ``datetime.fromisoformat`` reads the same ISO 8601 dates in a tenth
    of the time; anything it does not read still goes to dateutil."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(text)
    except ValueError:
        from dateutil.parser import isoparse

        return isoparse(text)


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


def _first_line(text: str) -> str:
    return str(text).strip()


ENGINES: Registry[Any] = Registry("execution engine")
ENGINES.register("papermill", PapermillEngine)
ENGINES.register("warm", WarmEngine)


def get_engine(name: str = "papermill", **options: Any) -> Engine:
    """A new engine of the registered kind ``name``."""
    return ENGINES.get(name)(**options)


_workers = threading.local()
_all_worker_engines: list[Engine] = []
_generation = 0  # bumped by close_worker_engines, so every thread drops the engines it closed
_lock = threading.Lock()


def worker_engine(name: str, **options: Any) -> Engine:
    """This thread's engine of kind ``name``, made on first use and kept for the next runs.

    A batch worker (a local worker process, a Dask worker thread) calls this for every run,
    so a warm engine's kernel serves run after run; no two threads ever share one.
    """
    if getattr(_workers, "generation", None) != _generation:
        _workers.engines, _workers.generation = {}, _generation
    engines = _workers.engines
    key = (name, tuple(sorted(options.items())))
    if key not in engines:
        engine = engines[key] = get_engine(name, **options)
        with _lock:
            _all_worker_engines.append(engine)
    return engines[key]


def close_worker_engines() -> None:
    """Shut down every worker engine of this process (at the end of a batch, and at exit)."""
    global _generation
    with _lock:
        engines = list(_all_worker_engines)
        _all_worker_engines.clear()
        _generation += 1
    for engine in engines:
        try:
            engine.close()
        except Exception:  # at exit a kernel may already be gone; nothing left to release
            pass


atexit.register(close_worker_engines)
