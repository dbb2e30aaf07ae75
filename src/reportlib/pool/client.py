"""The client side of the kernel pool: light enough that ``reportlib run`` asks it first.

It imports the standard library and :mod:`reportlib.config` alone (no SQLAlchemy, pandas,
papermill or jupyter_client): a run that goes through the pool must not pay the imports the
pool is there to save. A pool is found by its project and outputs folder
(:func:`pool_place`); a run is sent as its command line with the client's folder and
environment, and the pool's answer comes back as frames of JSON, one a line: what the command
printed on stdout and stderr, then its exit code.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..config import outputs_root, project_root
from ..lifeline import process_alive

__all__ = ["JobLink", "PoolPlace", "PoolUnavailable", "available", "code_fingerprint", "pool_place", "pool_status",
           "read_frames", "run_in_pool", "runtime_folder", "send_frame", "stop_pool"]

# Variables read when a process or kernel starts, which a warm worker cannot take from a run's
# request: a client whose values differ is another pool's.
START_VARIABLES = ("PYTHONPATH", "REPORTLIB_NO_PATCHES")


def available() -> bool:
    """Whether this platform has a pool (Unix domain sockets, file locks): not on Windows."""
    return os.name == "posix" and hasattr(socket, "AF_UNIX")


def runtime_folder(create: bool = False) -> Path | None:
    """The private folder of this user's pools: ``$XDG_RUNTIME_DIR/reportlib``, else
    ``<temp>/reportlib-<uid>``, made with mode 0700. None when it does not exist (and ``create``
    is false) or is not private (another user's, or readable by others): no pool is used then."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir():
        folder = Path(base) / "reportlib"
    else:
        import tempfile

        folder = Path(tempfile.gettempdir()) / f"reportlib-{os.getuid()}"
    if create:
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            return None
    try:
        status = folder.lstat()
    except OSError:
        return None
    import stat

    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid() or status.st_mode & 0o077:
        return None
    return folder


@dataclass(frozen=True)
class PoolPlace:
    """Where one project's pool lives: its socket, lock, description and last-activity files."""

    folder: Path
    key: str
    project: Path
    outputs: Path

    def path(self, suffix: str) -> Path:
        return self.folder / f"pool-{self.key}{suffix}"

    @property
    def socket(self) -> Path:
        return self.path(".sock")

    @property
    def lock(self) -> Path:
        return self.path(".lock")

    @property
    def info(self) -> Path:
        return self.path(".json")

    @property
    def activity(self) -> Path:
        return self.path(".last")


def pool_place(out: str | os.PathLike | None = None, *, create: bool = False) -> PoolPlace | None:
    """The pool of this project and outputs folder (``--out``, ``REPORTLIB_OUTPUTS`` or
    ``outputs/``), named by a hash of both: two projects never share a pool, and the socket's
    path stays short (a Unix socket's path is limited to about 100 characters)."""
    folder = runtime_folder(create=create)
    if folder is None:
        return None
    project, outputs = project_root(), outputs_root(out)
    key = hashlib.sha256(f"{project}\0{outputs}".encode()).hexdigest()[:20]
    return PoolPlace(folder, key, project, outputs)


def code_fingerprint() -> str:
    """What a warm worker must share with a client to run its command: reportlib's source files
    (paths, sizes, modification times), the Python executable, the installed packages' folder
    (changed when a package is installed or removed) and :data:`START_VARIABLES`.

    Stat calls only, no file read: it is asked on every run."""
    import sysconfig

    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    stack = [package]
    entries = []
    while stack:
        with os.scandir(stack.pop()) as found:
            for entry in found:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(Path(entry.path))
                elif entry.name.endswith(".py"):
                    status = entry.stat()
                    entries.append(f"{entry.path}\0{status.st_size}\0{status.st_mtime_ns}")
    executable = os.path.realpath(sys.executable)
    for path in (executable, sysconfig.get_paths()["purelib"]):
        try:
            status = os.stat(path)
            entries.append(f"{path}\0{status.st_size}\0{status.st_mtime_ns}")
        except OSError:
            entries.append(path)
    entries += [f"{name}={os.environ.get(name, '')}" for name in START_VARIABLES]
    for entry in sorted(entries):
        digest.update(entry.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def send_frame(sock: socket.socket, frame: dict[str, Any]) -> None:
    sock.sendall(json.dumps(frame).encode("utf-8") + b"\n")


def read_frames(sock: socket.socket):
    """The frames sent on ``sock``, one JSON object a line, until the other side closes it."""
    with sock.makefile("rb") as stream:
        for line in stream:
            yield json.loads(line)


def _connect(place: PoolPlace, timeout: float = 5.0) -> socket.socket | None:
    """A connection to the pool's socket, or None: no socket, or a stale one (its pool died)."""
    if not place.socket.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(place.socket))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTSOCK, errno.EACCES, errno.EPERM):
            return None
        raise
    sock.settimeout(None)  # a run takes as long as its notebook does
    return sock


def run_in_pool(command: str, argv: list[str], out: str | os.PathLike | None = None, *,
                say: Callable[[str], None] | None = None) -> int | None:
    """Run ``reportlib ARGV`` (a ``command`` the pool runs) in this project's pool; its exit code,
    what it printed written here as it comes. None when no pool serves this project (none up,
    a stale socket, another platform) or it may not run this client's code: run cold then.

    Nothing has run when None is returned: a pool that cannot take the request says so first.
    """
    say = say or (lambda text: print(text, file=sys.stderr))
    if not available():
        return None
    place = pool_place(out)
    if place is None:
        return None
    try:
        sock = _connect(place)
    except OSError as exc:
        say(f"reportlib: the kernel pool did not answer ({exc}); running without it.")
        return None
    if sock is None:
        return None
    request = {"op": command, "argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
               "fingerprint": code_fingerprint(), "tty": [_isatty(sys.stdout), _isatty(sys.stderr)]}
    started = False
    with sock:
        frames = read_frames(sock)
        while True:
            try:
                if request is not None:
                    send_frame(sock, request)
                    request = None
                frame = next(frames, None)
            except (OSError, ValueError) as exc:
                if not started:
                    say(f"reportlib: the kernel pool did not answer ({exc}); running without it.")
                    return None
                say(f"error: the kernel pool stopped during the run ({exc}); run the command again.")
                return 2
            if frame is None:
                break
            if "refused" in frame:
                say(f"reportlib: {frame['refused']}; running without the kernel pool.")
                return None
            if "exit" in frame:
                return int(frame["exit"])
            started = started or "started" in frame
            _show(frame)  # an error writing here (a closed pipe) is this command's, not the pool's
    if not started:  # the pool closed the connection before taking it (it was stopping)
        return None
    say("error: the kernel pool stopped during the run; run the command again.")
    return 2


class PoolUnavailable(Exception):
    """Another worker of the pool could not take or finish a batch's runs (it stopped, refused, or
    went away)."""


class JobLink:
    """A connection to another worker of this project's pool, which runs a batch's runs one after
    another for the worker that runs the batch (:class:`reportlib.batch.PoolExecutor`).

    It asks with this process's folder and environment (the batch's client's, in the worker
    that runs the batch). A worker takes connections one at a time, so the link may wait in
    the socket's queue while that worker is busy with another command: :meth:`wait_started`
    gives up when the batch no longer needs it.
    """

    def __init__(self, out: str | os.PathLike | None = None):
        place = pool_place(out) if available() else None
        try:
            sock = _connect(place) if place is not None else None
        except OSError as exc:
            raise PoolUnavailable(f"the kernel pool did not answer ({exc})") from None
        if sock is None:
            raise PoolUnavailable("no kernel pool runs for this project")
        self.sock = sock
        self.stream = sock.makefile("rb")
        try:
            send_frame(sock, {"op": "jobs", "argv": ["jobs"], "cwd": os.getcwd(), "env": dict(os.environ),
                              "fingerprint": code_fingerprint(), "tty": [False, False]})
        except OSError as exc:
            self.close()
            raise PoolUnavailable(f"the kernel pool did not answer ({exc})") from None

    def wait_started(self, give_up: Callable[[], bool], poll_s: float = 0.05) -> bool:
        """Whether a worker took this link; False when it refused, went away, or ``give_up()``
        said true before one did (asked every ``poll_s`` seconds)."""
        import select

        while True:
            try:
                ready, _, _ = select.select([self.sock], [], [], poll_s)
            except (OSError, ValueError):
                return False
            if not ready:
                if give_up():
                    return False
                continue
            try:
                line = self.stream.readline()
                frame = json.loads(line) if line else {}
            except (OSError, ValueError):
                return False
            return "started" in frame

    def run(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Have the other worker run one job (its fields); the result's fields. What the run
        prints there is written here. PoolUnavailable when the worker went away meanwhile."""
        try:
            send_frame(self.sock, {"job": fields})
            for line in self.stream:
                frame = json.loads(line)
                if "result" in frame:
                    return frame["result"]
                _show(frame)
        except (OSError, ValueError) as exc:
            raise PoolUnavailable(f"the kernel pool's worker stopped during a run ({exc})") from None
        raise PoolUnavailable("the kernel pool's worker stopped during a run")

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            self.sock.close()


def _show(frame: dict[str, Any]) -> None:
    for key, stream in (("out", sys.stdout), ("err", sys.stderr)):
        if key in frame:
            stream.write(frame[key])
            stream.flush()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def pool_status(out: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """What the running pool of this project says of itself (its description file), or None when
    none runs (no description, or its process is gone)."""
    place = pool_place(out) if available() else None
    if place is None:
        return None
    try:
        info = json.loads(place.info.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pid = int(info.get("pid", 0))
    if pid <= 0 or not process_alive(pid):
        return None
    try:
        info["last_run"] = place.activity.stat().st_mtime
    except OSError:
        info["last_run"] = None
    return info


def stop_pool(out: str | os.PathLike | None = None) -> int | None:
    """Ask this project's pool to stop (SIGTERM: it lets a running command finish); its process
    id, or None when none runs."""
    import signal

    info = pool_status(out)
    if info is None:
        return None
    os.kill(int(info["pid"]), signal.SIGTERM)
    return int(info["pid"])

