"""Processes that exit when their parent is gone.

A batch's worker processes and every kernel hold memory and wait for work from the process
that started them. When that process dies outright (``kill -9``, the machine's OOM killer),
nothing would tell them: they would stay, stalled, holding their memory. Each of them calls
:func:`exit_with_parent` when it starts.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

__all__ = ["exit_with_parent", "process_alive"]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_POLL_SECONDS = 1.0


def exit_with_parent(parent_pid: int, *, use_prctl: bool = True) -> str:
    """End this process as soon as process ``parent_pid`` (its parent) is gone.

    On Linux the kernel sends this process SIGKILL when its parent exits
    (``prctl(PR_SET_PDEATHSIG)``); elsewhere, or with ``use_prctl=False``, a daemon thread
    checks the parent every second and ends the process when it changed. Returns which
    (``prctl`` or ``watchdog``); if the parent is already gone, ends the process at once.

    PR_SET_PDEATHSIG fires when the *thread* that started this process ends, not the whole
    parent: call this only in processes started from a thread that lives as long as its
    process needs them (a batch starts its workers from its main thread; a kernel's is the
    thread that owns the engine, which drops the kernel with it anyway).
    """
    how = "watchdog"
    if use_prctl and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                how = "prctl"
        except (OSError, AttributeError):
            pass
    # The parent may have died before the signal was asked for: then it never comes.
    if os.getppid() != parent_pid:
        os._exit(1)
    if how == "watchdog":
        threading.Thread(target=_watch, args=(parent_pid,), name="reportlib-parent-watch", daemon=True).start()
    return how


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(_POLL_SECONDS)
    os._exit(1)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
