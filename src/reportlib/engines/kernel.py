"""A kernel's life: started over private IPC sockets, set up, talked to, shut down."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..lifeline import process_alive

__all__ = ["Kernel", "kernel_name"]

# Kernel start-up output: debugpy's frozen-modules notice is noise for a batch.
_KERNEL_ENV = {"PYDEVD_DISABLE_FILE_VALIDATION": "1"}
# No input history: concurrent kernels would contend for IPython's one history database, and
# a warm kernel whose counter restarts at 1 would print "Session/line number was not unique".
_KERNEL_ARGS = ["--HistoryManager.enabled=False"]


class Kernel:
    """One kernel over IPC sockets in a private folder, with the one client that talks to it.

    Two clients made by ``km.client()`` share a session identity and the second never gets
    replies, so the client made here is the only one, reused for every notebook. Once started,
    the kernel runs :func:`reportlib.engines.in_kernel.setup`: it exits when this process is
    gone, and applies the kernel-side patches of :mod:`reportlib.patches`.
    """

    def __init__(self, kernel_name: str, cwd: Path | None = None, environment: dict[str, str] | None = None, *,
                 connect: bool = True):
        """Start the kernel process; with ``connect`` (the default) also wait until it answers
        and set it up, else :meth:`connect` does that later (in the thread that will use it)."""
        from jupyter_client import KernelManager

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
        self.kc = None
        self.runs = 0
        try:
            self.km.start_kernel(cwd=str(cwd or self.folder), env=env, stdout=self.log, stderr=self.log,
                                 extra_arguments=_KERNEL_ARGS)
        except BaseException:
            self.close()
            raise
        if connect:
            self.connect()

    def connect(self) -> None:
        """Wait until the started kernel answers, with this thread's client, and set it up
        (:func:`reportlib.engines.in_kernel.setup`); a kernel that cannot is shut down."""
        try:
            self.kc = self._client(self.km.session)
            self.run_silently(f"__import__('reportlib.engines.in_kernel', fromlist=['setup']).setup({os.getpid()})")
        except BaseException:
            self.close()
            raise

    def _client(self, session):
        """A started client of this kernel, ready, speaking as ``session``."""
        from jupyter_client.asynchronous import AsyncKernelClient
        from jupyter_core.utils import run_sync

        # nbclient awaits the client's channels from its event loop: the async kind lets it
        # wait on shell and iopub together instead of blocking the loop on one of them.
        info = dict(self.km.get_connection_info(session=True), session=session)
        kc = AsyncKernelClient(**info, connection_file=self.km.connection_file, parent=self.km)
        kc.start_channels()
        run_sync(_wait_for_ready)(kc, self.km, timeout=60)
        return kc

    def reconnect(self) -> None:
        """A new client for this thread, once the thread that started the kernel stopped its own
        (:meth:`stop_client`): a client's channels belong to the event loop of the thread that
        made them. The new one has a session of its own, as two clients of one session identity
        get each other's replies."""
        from jupyter_client.session import Session

        self.kc = self._client(Session(key=self.km.session.key, signature_scheme=self.km.session.signature_scheme))

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

    def reset(self, cwd: Path, environment: dict[str, str]) -> None:
        """A clean slate for the next notebook: its working folder and environment, an empty
        namespace (imported modules stay loaded), the execution counter at 1
        (:func:`reportlib.engines.in_kernel.reset`)."""
        self.run_silently(f"__import__('reportlib.engines.in_kernel', fromlist=['reset'])"
                          f".reset({str(cwd)!r}, {dict(environment)!r})")

    def close(self) -> None:
        self.stop_client()
        self.shut_down()

    def stop_client(self) -> None:
        """Close our client's channels (in the thread that used them: they belong to its loop)."""
        kc = getattr(self, "kc", None)
        if kc is not None:
            kc.stop_channels()

    def request_exit(self) -> None:
        """Ask the kernel to exit, without waiting: it tears down while the run writes its files,
        and :meth:`end` then removes whatever is left (once the client stopped)."""
        try:
            if self.km.has_kernel:
                self.km.request_shutdown()
        except Exception:  # noqa: BLE001 - end() kills a kernel that did not get the request
            pass

    def end(self) -> None:
        """Stop the kernel process now, exited or not, and remove its folder: for a kernel whose
        run's files are all written, where waiting for its teardown would only delay the run."""
        try:
            if self.km.has_kernel:  # also reaps a kernel that has exited already
                self._kill_and_reap()
                self.km.shutdown_kernel(now=True)
        finally:
            self.km.cleanup_resources()
            self.log.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    def _kill_and_reap(self) -> None:
        """Kill a local kernel's process group, as ``shutdown_kernel(now=True)`` does, and wait
        for its process with a blocking wait: jupyter_client looks whether it is gone every
        tenth of a second, and a kernel killed just now is still there at the first look, so
        every run would wait that tenth. Its shutdown then finds the process reaped. Other
        provisioners (no local process) are left to jupyter_client."""
        from jupyter_core.utils import run_sync

        process = getattr(self.km.provisioner, "process", None)
        if process is None or process.poll() is not None:
            return
        try:
            run_sync(self.km.provisioner.kill)()
            process.wait(timeout=5)
        except Exception:  # noqa: BLE001 - shutdown_kernel kills and waits its own way
            pass

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


async def _wait_for_ready(kc, km, timeout: float) -> None:
    """Wait until the kernel answers ``kc`` on its shell channel and its IOPub channel reaches
    ``kc``: ``kc.wait_for_ready`` without its last step, which then waits until IOPub has been
    quiet for 0.2 s (each cold run waited that twice before its first cell: once for the
    early kernel's start, once for the run's own client). What may be left on IOPub (the
    kernel's start-up status) is skipped by every reader here, as each waits for the messages
    of its own request. A kernel of another protocol version gets jupyter_client's own wait,
    which adapts the session to it.
    """
    import time
    from queue import Empty

    from jupyter_client import protocol_version_info

    deadline = time.monotonic() + timeout
    while True:
        kc.kernel_info()
        try:
            reply = await kc.shell_channel.get_msg(timeout=1)
        except Empty:
            reply = None
        if reply is not None and reply["msg_type"] == "kernel_info_reply":
            version = str(reply["content"].get("protocol_version", ""))
            if version.split(".")[0] != str(protocol_version_info[0]):
                await kc.wait_for_ready(timeout=max(1.0, deadline - time.monotonic()))
                return
            try:  # IOPub is connected once a message comes on it; else ask again
                await kc.iopub_channel.get_msg(timeout=0.2)
                return
            except Empty:
                pass
        if not km.is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")


def _sweep_kernel_folders() -> None:
    """Remove the kernel folders of processes that died without closing their kernels (kill -9)."""
    for folder in Path(tempfile.gettempdir()).glob("rlk-*-*"):
        pid = folder.name.split("-")[1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def kernel_name(notebook: Path, name: str | None = None) -> str:
    """``name``, else the kernel the notebook's metadata names, else ``python3``."""
    if name:
        return name
    import json

    # The notebook's JSON as it is (no nbformat: a worker asks this before its kernel starts).
    spec = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata", {}).get("kernelspec") or {}
    return spec.get("name") or "python3"
