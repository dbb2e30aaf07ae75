"""``reportlib pool``: the process that keeps a project's warm workers.

It holds the pool's lock (a second pool for the same project and outputs folder refuses to
start), listens on the pool's Unix socket in the user's private runtime folder, and starts the
worker processes (:mod:`.worker`), which take the connections themselves. It starts a new
worker for one that died, restarts them all when one saw reportlib's code changed, and stops
after ``idle`` minutes without a command, on SIGTERM (``reportlib pool --stop``) or Ctrl-C:
workers finish the command they are running, then exit.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Callable

from ..errors import ConfigError
from .client import PoolPlace, available, code_fingerprint, pool_place, pool_status
from .worker import RESTART

__all__ = ["serve_pool"]

# A worker that exits this often within a minute of its start is not started again.
_CRASHES = 3
# Seconds a stopping pool waits for its workers to finish their command before it kills them.
_GRACE = 60.0


def serve_pool(workers: int = 1, idle_minutes: float = 30, out: str | None = None, rehearse_db: str | None = None,
               say: Callable[[str], None] = print) -> int:
    """Run the pool in the foreground until it is stopped or idle; its exit status.

    ``rehearse_db``: the database each worker runs every family's notebook on once as it warms
    up (:func:`.worker.serve_worker`); the runs use the database their command names."""
    if not available():
        raise ConfigError("The kernel pool needs Unix domain sockets, which this platform does not have; "
                          "reportlib run works without it (each run starts its own kernel).")
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}.")
    place = pool_place(out, create=True)
    if place is None:
        raise ConfigError("The kernel pool needs a private folder for its socket ($XDG_RUNTIME_DIR/reportlib or "
                          "<temp>/reportlib-<uid>, mode 0700, yours); the one there is not: remove it.")
    lock = _take_lock(place, out)
    try:
        return _Pool(place, workers, idle_minutes, say, rehearse_db).run()
    finally:
        place.lock.unlink(missing_ok=True)  # while held: a pool starting now finds it gone and takes a new one
        lock.close()


def _take_lock(place: PoolPlace, out: str | None):
    """The pool's lock file, open and locked; ConfigError when another pool holds it."""
    import fcntl

    while True:
        lock = open(place.lock, "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            running = pool_status(out)
            pid = f" (process {running['pid']})" if running else ""
            raise ConfigError(f"A kernel pool already runs for {place.project} with outputs in {place.outputs}{pid}; "
                              "stop it first: reportlib pool --stop") from None
        try:
            if os.fstat(lock.fileno()).st_ino == os.stat(place.lock).st_ino:
                return lock
        except FileNotFoundError:  # the pool that held it stopped and removed it meanwhile
            pass
        lock.close()


class _Pool:
    def __init__(self, place: PoolPlace, workers: int, idle_minutes: float, say: Callable[[str], None],
                 rehearse_db: str | None):
        self.place, self.count, self.idle_s, self.say = place, workers, idle_minutes * 60, say
        self.rehearse_db = rehearse_db
        self.workers: dict[int, subprocess.Popen] = {}
        self.states: dict[int, str] = {}
        self.starts: list[float] = []
        # Workers started before reportlib's code last changed are of an older generation.
        self.generation = 0
        self.generations: dict[int, int] = {}
        self.stopping = False
        self.last = time.monotonic()
        self.ready_said = False

    def run(self) -> int:
        place = self.place
        place.socket.unlink(missing_ok=True)  # a pool that died left it; we hold the lock
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(place.socket))
        os.chmod(place.socket, 0o600)
        self.listener.listen(64)
        self.status_read, self.status_write = os.pipe()
        os.set_blocking(self.status_read, False)
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.fingerprint = code_fingerprint()
        try:
            for _ in range(self.count):
                self._start_worker()
            self._describe()
            self.say(f"Kernel pool for {place.project} (outputs: {place.outputs}): {self.count} worker(s) warming "
                     f"up; stops after {self.idle_s / 60:g} min without a run, on Ctrl-C or `reportlib pool --stop`.")
            code = self._watch()
        finally:
            self.listener.close()
            place.socket.unlink(missing_ok=True)
            self._end_workers()
            place.info.unlink(missing_ok=True)
            place.activity.unlink(missing_ok=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(self.status_read)
            os.close(self.status_write)
        self.say("Kernel pool stopped.")
        return code

    def _stop(self, signum, frame) -> None:
        if self.stopping and signum == signal.SIGINT:  # a second Ctrl-C: no more waiting
            for process in self.workers.values():
                process.kill()
        self.stopping = True

    def _start_worker(self) -> None:
        fds = f"{self.listener.fileno()},{self.status_write}"
        command = [sys.executable, "-m", "reportlib", "pool", "--worker", fds, "--out", str(self.place.outputs),
                   "--workers", str(self.count)]
        if self.rehearse_db:  # in the environment, not on a command line others may read
            os.environ["REPORTLIB_POOL_REHEARSE_DB"] = self.rehearse_db
        # Its own session: a Ctrl-C in the pool's terminal reaches the pool alone, which stops
        # the workers in order (a worker and its kernel would each take the interrupt otherwise).
        process = subprocess.Popen(command, pass_fds=(self.listener.fileno(), self.status_write),
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        self.workers[process.pid] = process
        self.states[process.pid] = "warming up"
        self.generations[process.pid] = self.generation
        self.starts.append(time.monotonic())

    def _describe(self) -> None:
        info = {"pid": os.getpid(), "project": str(self.place.project), "outputs": str(self.place.outputs),
                "workers": {str(pid): self.states.get(pid, "?") for pid in self.workers},
                "idle_minutes": self.idle_s / 60, "python": sys.executable,
                "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        temporary = self.place.info.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(info), encoding="utf-8")
        temporary.replace(self.place.info)

    def _watch(self) -> int:
        while not self.stopping:
            try:
                readable, _, _ = select.select([self.status_read], [], [], 1.0)
            except InterruptedError:
                continue
            if readable:
                self._read_states()
            if self._reap():
                return 1
            if any(state == "busy" for state in self.states.values()):
                self.last = time.monotonic()
            elif time.monotonic() - self.last > self.idle_s:
                self.say(f"No run for {self.idle_s / 60:g} min: the kernel pool stops.")
                return 0
        return 0

    def _read_states(self) -> None:
        try:
            data = os.read(self.status_read, 65536).decode()
        except BlockingIOError:
            return
        for line in data.splitlines():
            pid, _, state = line.partition(" ")
            if pid.isdigit() and int(pid) in self.workers:
                self.states[int(pid)] = state
                if state in ("busy", "idle"):
                    self.last = time.monotonic()
                    self.place.activity.touch()
        if not self.ready_said and self.states and all(s != "warming up" for s in self.states.values()):
            self.ready_said = True
            self.say(f"Kernel pool ready: {len(self.workers)} warm worker(s).")
        self._describe()

    def _reap(self) -> bool:
        """Start a worker for each that exited (all of them anew when one saw the code changed);
        True when workers keep dying at start, and the pool gives up."""
        changed = False
        for pid, process in list(self.workers.items()):
            code = process.poll()
            if code is None:
                continue
            del self.workers[pid]
            self.states.pop(pid, None)
            generation = self.generations.pop(pid, 0)
            if code == RESTART and generation == self.generation:
                changed = True
                self.generation += 1
            elif code != RESTART and not self.stopping:
                self.say(f"A worker (process {pid}) exited with status {code}; starting another.")
            recent = [t for t in self.starts if time.monotonic() - t < 60]
            if code != RESTART and len(recent) >= _CRASHES * self.count:
                self.say("Workers keep exiting as they start: the kernel pool stops (their errors are above).")
                return True
            self._start_worker()
        if changed:
            self.say("reportlib's code changed: the kernel pool restarts its workers.")
            self.ready_said = False
            for pid, process in self.workers.items():
                if self.generations.get(pid, 0) < self.generation:
                    process.send_signal(signal.SIGUSR1)  # each leaves once its command has ended
        if changed or self.workers.keys() != self.states.keys():
            self._describe()
        return False

    def _end_workers(self) -> None:
        for process in self.workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + _GRACE
        for process in self.workers.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers.clear()
