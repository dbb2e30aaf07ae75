"""The kernel-side patches listed in :mod:`reportlib.patches`, run inside a kernel we started.

Each ``install_*`` function changes one thing of ipykernel or IPython in this process and
returns False, changing nothing, when what it replaces is not there. They are applied only
through :func:`reportlib.patches.apply` ``("kernel")``, which checks the installed versions first;
:func:`reportlib.engines.in_kernel.setup` calls it when a kernel starts.
"""

from __future__ import annotations

__all__ = ["install_control_thread_join", "install_quiet_flush", "install_transform_cache"]


def install_quiet_flush() -> bool:
    """stdout and stderr flush only when there is something to flush.

    Before every display, and before and after every execution, ipykernel flushes stdout and
    stderr: two trips to its IOPub thread and a wait for them, even when nothing was written.
    A stream now flushes only when it holds text, has a flush scheduled, or is sending one: a
    write makes the first true, the scheduled flush the second, and sending holds the third
    until its text is queued before anything displayed after it, so output keeps its order.
    """
    from ipykernel.iostream import OutStream

    if not (callable(getattr(OutStream, "flush", None)) and callable(getattr(OutStream, "_flush", None))):
        return False
    flush, send = OutStream.flush, OutStream._flush

    def flush_if_written(self):
        # Read in this order, each state follows the one before it until the text is queued.
        # What this ipykernel does not have reads as "flush", its own behaviour.
        if (getattr(self, "_buffers", True) or getattr(self, "_flush_pending", True)
                or getattr(self, "_rl_flushing", False) or getattr(self, "_subprocess_flush_pending", False)
                or getattr(self, "echo", True) is not None):
            flush(self)

    def flush_marked(self):
        self._rl_flushing = True
        try:
            send(self)
        finally:
            self._rl_flushing = False

    OutStream.flush, OutStream._flush = flush_if_written, flush_marked
    return True


def install_control_thread_join() -> bool:
    """After a shutdown request, let the control thread finish before the kernel closes.

    ipykernel (7.x) can deadlock on a shutdown request: its control thread still publishes
    the request's "idle" status after the handler has stopped the main loop, and the main
    thread's exit (``IPKernelApp.close``, an atexit handler) may stop the IOPub thread first;
    the control thread then blocks for ever on a send and the kernel hangs until it is sent
    SIGTERM, its atexit handlers never run. Registered after ``close``, this handler runs
    before it (atexit runs the last registered first), after a shutdown request only: then
    the control thread is already stopping.
    """
    import atexit

    from ipykernel.kernelapp import IPKernelApp

    if not IPKernelApp.initialized():
        return False
    app = IPKernelApp.instance()
    if not hasattr(app, "control_thread") or not hasattr(app.kernel, "_shutdown_message"):
        return False

    def let_control_finish():
        thread = getattr(app, "control_thread", None)
        if getattr(app.kernel, "_shutdown_message", None) is not None and thread is not None and thread.is_alive():
            thread.join(timeout=5)

    atexit.register(let_control_finish)
    return True


def install_transform_cache() -> bool:
    """Keep IPython's transformed source of each cell, by source text.

    IPython tokenizes a cell's source twice per execution to look for magics; a warm kernel
    runs the same cells again and again, and the result depends only on the source text (the
    injected parameters cell differs each run, so it is transformed each run).
    """
    import functools

    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or not callable(getattr(shell, "transform_cell", None)):
        return False
    shell.transform_cell = functools.lru_cache(maxsize=256)(shell.transform_cell)
    return True
