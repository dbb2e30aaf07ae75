"""``reportlib serve`` in a child process on a free port of 127.0.0.1, for the tests and the bench."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass
class Server:
    url: str
    db_url: str
    out: Path
    process: subprocess.Popen
    log: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].strip("/"))


def _stop_with_parent() -> None:
    """In the child: a SIGTERM when the process that started it dies (Linux), so a test run
    killed outright leaves no server behind."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_server(db_url: str, out: Path, log: Path, *extra: str, timeout: float = 90) -> Server:
    """``reportlib serve --port 0`` in a child process; returns once it answers (bounded wait)."""
    import httpx

    env = dict(os.environ, REPORTLIB_HOME=str(ROOT), REPORTLIB_PORTAL_SECRET="test-secret-" + "x" * 40,
               PYTHONUNBUFFERED="1")
    env.pop("REPORTLIB_DB", None)
    out.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as handle:  # the child writes its log through its own copy
        process = subprocess.Popen([sys.executable, "-m", "reportlib", "serve", "--port", "0", "--db", db_url,
                                    "--out", str(out), "--forwarded-allow-ips", "127.0.0.1", *extra],
                                   stdout=subprocess.PIPE, stderr=handle, env=env, cwd=ROOT,
                                   preexec_fn=_stop_with_parent)
    deadline = time.monotonic() + timeout
    line = ""
    try:
        while time.monotonic() < deadline and process.poll() is None:
            line = process.stdout.readline().decode(errors="replace")
            match = re.search(r"on (http://127\.0\.0\.1:\d+)/", line)
            if match:
                url = match.group(1)
                break
        else:
            raise RuntimeError(f"reportlib serve did not start: {line!r}; log: {log.read_text()[-3000:]}")
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return Server(url, db_url, out, process, log)
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"reportlib serve did not answer within {timeout} s; log: {log.read_text()[-3000:]}")
    except BaseException:
        stop_server(process)
        raise


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # uvicorn stops, and the server stops its kernels
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process.stdout:
        process.stdout.close()
