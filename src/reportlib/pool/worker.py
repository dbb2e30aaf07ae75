"""One worker of the kernel pool: a warm engine, and the commands clients send it.

A worker is a process of its own (``reportlib pool`` starts it), so that a command runs in it
as it would in the client's process: the worker takes the client's working folder, environment
and terminal streams for the time of the command, and nothing of one command is left for the
next but loaded modules and the warm kernel (whose namespace is reset between runs). Workers
take connections from the pool's one listening socket, one at a time each: a second client
waits in the socket's queue until a worker is free.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Callable

from ..engines.pool import start_worker, worker_engine
from ..engines.warm import WarmEngine
from .client import code_fingerprint, send_frame

__all__ = ["PoolEngine", "client_gone", "pool_engine", "pool_size", "serve_worker"]

# Runner-side modules a command needs, imported while the kernel imports the notebooks'.
_PRELOAD = ("reportlib.run", "reportlib.batch", "reportlib.delivery.publish", "reportlib.delivery.catalogue",
            "papermill")
# Exit code of a worker that leaves so that the pool starts one on the code as it is now.
RESTART = 75


class PoolEngine:
    """The worker's warm engine as a command's run sees it (``name`` "warm", as in a batch).

    A run gets the client's ``REPORTLIB_*`` variables in its kernel, and those the client does
    not have are removed there, as a cold run's kernel would inherit the client's environment.
    ``close`` keeps the kernel: it is the worker's, for its next command.
    """

    name = "warm"

    def __init__(self, warm: WarmEngine):
        self.warm = warm
        self._defaults = (warm.timeout, warm.log_output)
        self._known = {name for name in os.environ if name.startswith("REPORTLIB_")}
        self._environment: dict[str, str | None] = {}

    def prepare(self, environment: dict[str, str], options: dict[str, Any]) -> PoolEngine:
        """Ready for one command: the client's environment and its ``timeout`` / ``log_output``."""
        ours = {name: value for name, value in environment.items() if name.startswith("REPORTLIB_")}
        self._known |= set(ours)
        self._environment = {name: ours.get(name) for name in self._known}
        self.warm.timeout = options.get("timeout", self._defaults[0])
        self.warm.log_output = options.get("log_output", self._defaults[1])
        # --log-output shows papermill's messages from INFO up; a later command without it must not.
        import logging

        logging.getLogger("papermill").setLevel(logging.INFO if self.warm.log_output else logging.WARNING)
        return self

    def execute(self, notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path,
                environment: dict[str, str] | None = None, report_mode: bool = False):
        return self.warm.execute(notebook, output, parameters, cwd, {**self._environment, **(environment or {})},
                                 report_mode=report_mode)

    def close(self) -> None:
        pass


_engine: PoolEngine | None = None
_request_environment: dict[str, str] = {}
_workers = 1
_gone = threading.Event()


def pool_engine(options: dict[str, Any]) -> PoolEngine | None:
    """The engine of this pool worker for the command it is running, or None outside a pool worker."""
    if _engine is None:
        return None
    return _engine.prepare(_request_environment, options)


def pool_size() -> int:
    """How many workers the pool of this worker has (a batch sent here shares its runs among them)."""
    return _workers


class _Relay(io.TextIOBase):
    """A client's stdout or stderr inside the worker: each write goes to the client as a frame.

    A client that went away (Ctrl-C) no longer gets them; the command still ends as it would.
    """

    def __init__(self, connection: _Connection, kind: str, tty: bool):
        self._connection, self._kind, self._tty = connection, kind, tty

    def write(self, text: str) -> int:
        if text:
            self._connection.send({self._kind: text})
        return len(text)

    def isatty(self) -> bool:
        return self._tty

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return "utf-8"


class _Connection:
    def __init__(self, sock: socket.socket):
        self.sock, self.gone = sock, False
        self._lock = threading.Lock()

    def send(self, frame: dict[str, Any]) -> None:
        with self._lock:
            if self.gone:
                return
            try:
                send_frame(self.sock, frame)
            except OSError:
                self.gone = True


class _Leave(BaseException):
    """Raised by a signal while the worker waits for a client: it stops, or restarts."""

    def __init__(self, code: int):
        self.code = code


def serve_worker(listen_fd: int, status_fd: int, handle: Callable[[list[str]], int],
                 run_job: Callable[[dict[str, Any]], dict[str, Any]], workers: int = 1,
                 rehearse_db: str | None = None) -> int:
    """A worker's life: warm up, then run each client's command with ``handle`` (the command
    line's ``main``) and each batch's run with ``run_job`` (a job's fields -> its result's) until
    the pool stops it (SIGTERM) or asks for a restart (SIGUSR1); the exit code. ``workers``: how
    many the pool has (:func:`pool_size`), among which a batch sent here shares its runs.

    ``rehearse_db``: a database to run every family's notebook on once, with its defaults, in a
    scratch folder, so that the first command finds what a run first touches ready in the kernel
    (the database driver, the chart engine) and here (the HTML export).

    A signal that comes during a command takes effect when the command has ended.
    """
    global _engine, _workers
    _workers = max(1, workers)
    fingerprint = code_fingerprint()  # of the code this worker loads from here on
    state = {"busy": False, "leave": None}

    def leave(code: int) -> None:
        state["leave"] = code
        if not state["busy"]:
            raise _Leave(code)

    signal.signal(signal.SIGTERM, lambda *_: leave(0))
    signal.signal(signal.SIGUSR1, lambda *_: leave(RESTART))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool's own process answers Ctrl-C

    def tell(what: str) -> None:
        try:
            os.write(status_fd, f"{os.getpid()} {what}\n".encode())
        except OSError:
            pass

    listener = socket.socket(fileno=listen_fd)
    try:
        families = _warm_up()
        if rehearse_db:
            _rehearse(worker_engine("warm"), families, rehearse_db)
        _engine = PoolEngine(worker_engine("warm"))
        tell("ready")
        while state["leave"] is None:
            connection, _ = listener.accept()
            state["busy"] = True
            tell("busy")
            try:
                with connection:
                    if _serve(connection, handle, run_job, fingerprint):
                        state["leave"] = RESTART
            finally:
                state["busy"] = False
                tell("idle")
        return int(state["leave"])
    except _Leave as exc:
        return exc.code
    finally:
        listener.close()


def _warm_up() -> list[tuple[Any, Path]]:
    """Start the kernel and import every family's notebook imports in it, while this process
    imports the runner (:func:`reportlib.engines.pool.start_worker`, as a batch's worker does);
    each family with its notebook."""
    from ..families import FAMILIES, notebook_path

    families = []
    for name in FAMILIES.names():
        try:
            family = FAMILIES.get(name)
            families.append((family, notebook_path(family)))
        except Exception:  # noqa: BLE001 - a family that cannot load is reported by its own runs
            continue
    notebooks = [notebook for _, notebook in families]
    start_worker(os.getppid(), "warm", {}, str(notebooks[0]) if notebooks else None, _PRELOAD)
    engine = worker_engine("warm")
    for notebook in notebooks[1:]:
        try:
            engine.warm_up(notebook)
        except Exception:  # noqa: BLE001 - the first run of that family starts what it needs
            pass
    from ..render.charts import draws_static_charts
    from ..render.html import warm_html_export

    warm_html_export(static_charts=any(draws_static_charts(notebook) for notebook in notebooks))
    return families


def _rehearse(engine: WarmEngine, families: list[tuple[Any, Path]], db_url: str) -> None:
    """Run each notebook with its own defaults on ``db_url`` in a scratch folder, its page
    exported, and prepare a batch of its family (what a batch sent here first imports and reads);
    a failure only means that this rehearsal taught nothing."""
    import shutil
    import tempfile

    from ..config import public_db_url
    from ..render.html import write_notebook_html

    public = public_db_url(db_url)
    environment = {"REPORTLIB_DB": db_url} if public != db_url else {}
    for family, notebook in families:
        scratch = Path(tempfile.mkdtemp(prefix="reportlib-pool-"))
        try:
            executed = engine.execute(notebook, scratch / "rehearsal.ipynb",
                                      {"db_url": public, "output_dir": str(scratch), "output_stem": "rehearsal"},
                                      scratch, environment)
            write_notebook_html(executed, scratch / "rehearsal.html", consume=True, notes=False)
            _rehearse_preparation(family, notebook, db_url, scratch)
        except Exception:  # noqa: BLE001 - a notebook without defaults for this database
            pass
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _rehearse_preparation(family: Any, notebook: Path, db_url: str, scratch: Path) -> None:
    """The family's batch preparation (:attr:`~reportlib.families.Family.prepare`) for its
    notebook's default period, of one entity, into ``scratch``."""
    if family.prepare is None or family.domain is None:
        return
    import dataclasses

    from ..db import connect
    from ..family_notebooks import parameters_cell

    names = {field.name for field in dataclasses.fields(family.batch_params)}
    params = family.batch_params.parse({k: v for k, v in parameters_cell(notebook).items() if k in names})
    with connect(db_url) as conn:
        runs = family.entities(conn, params)[:1]
        if runs:
            family.prepare(conn, params, runs, scratch)


def _serve(sock: socket.socket, handle: Callable[[list[str]], int], run_job: Callable[[dict[str, Any]], dict[str, Any]],
           fingerprint: str) -> bool:
    """Do what one client asks (``run`` or ``batch``: a command; ``jobs``: a batch's runs, one
    after another, for the worker that runs the batch); whether this worker must restart (the
    code changed on disk)."""
    global _request_environment
    connection = _Connection(sock)
    with sock.makefile("rb") as stream:
        line = stream.readline()
        try:
            request = json.loads(line)
            argv, cwd, environment = list(request["argv"]), str(request["cwd"]), dict(request["env"])
        except (ValueError, KeyError, TypeError):
            if line:  # nothing at all: a batch's link that was no longer needed when it got here
                connection.send({"refused": "the kernel pool could not read the request"})
            return False
        if request.get("fingerprint") != fingerprint:
            restart = code_fingerprint() == request.get("fingerprint")
            connection.send({"refused": "reportlib's code changed since the kernel pool started (it restarts its "
                                        "workers for the next run)" if restart else
                             "the kernel pool runs another Python, reportlib or environment (PYTHONPATH, "
                             "REPORTLIB_NO_PATCHES) than this command"})
            return restart
        op = request.get("op")
        if not argv or argv[0] != op or op not in ("run", "batch", "jobs"):
            connection.send({"refused": f"the kernel pool does not run `reportlib {' '.join(argv[:1])}`"})
            return False
        saved_environment, saved_cwd = dict(os.environ), os.getcwd()
        try:
            os.chdir(cwd)
        except OSError as exc:
            connection.send({"refused": f"the kernel pool cannot work in {cwd} ({exc.strerror})"})
            return False
        tty = request.get("tty") or [False, False]
        saved_streams = sys.stdout, sys.stderr
        os.environ.clear()
        os.environ.update(environment)
        _request_environment = environment
        if op == "batch":  # the client sends nothing more: the connection's end is its Ctrl-C
            _watch_client(sock)
        connection.send({"started": os.getpid()})
        sys.stdout, sys.stderr = _Relay(connection, "out", bool(tty[0])), _Relay(connection, "err", bool(tty[1]))
        try:
            try:
                code = _run_jobs(stream, connection, run_job) if op == "jobs" else handle(argv)
            except SystemExit as exc:  # argparse's errors, as the command line exits on them
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:  # noqa: BLE001 - as an uncaught error ends a command: a traceback, status 1
                sys.stderr.write(traceback.format_exc())
                code = 1
        finally:
            sys.stdout, sys.stderr = saved_streams
            os.environ.clear()
            os.environ.update(saved_environment)
            _request_environment = {}
            os.chdir(saved_cwd)
    if op != "jobs":
        connection.send({"exit": code})
    return False


def _watch_client(sock: socket.socket) -> None:
    """Note when the client of the command now starting closes its connection (:func:`client_gone`)."""
    global _gone
    gone = _gone = threading.Event()

    def watch() -> None:
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
        gone.set()

    threading.Thread(target=watch, name="reportlib-pool-client-watch", daemon=True).start()


def client_gone() -> bool:
    """Whether the client of the batch this worker runs went away (Ctrl-C): the batch stops
    starting runs."""
    return _gone.is_set()


def _run_jobs(stream, connection: _Connection, run_job: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """Run each job the link sends (``{"job": fields}``, one a line), answering each with its
    result, until the worker that runs the batch closes the link."""
    for line in stream:
        try:
            fields = json.loads(line)["job"]
        except (ValueError, KeyError, TypeError):
            return 1
        connection.send({"result": run_job(dict(fields))})
        if connection.gone:
            return 1
    return 0
