"""Code that runs inside the kernels we start (imported there, called through the kernel client).

:func:`setup` once when a kernel starts, :func:`reset` between two runs of a warm kernel.
"""

from __future__ import annotations

import gc
import logging
import os

__all__ = ["reset", "setup"]


def setup(parent_pid: int) -> list[str]:
    """Make this kernel exit with the process that started it, quieten its logger, and apply
    the kernel-side patches (:mod:`reportlib.patches`); the names of the patches applied.

    traitlets leaves the kernel's logger at DEBUG (only its handler filters), so every message
    built a log record that was then thrown away.
    """
    from IPython import get_ipython

    from .. import patches
    from ..lifeline import exit_with_parent

    exit_with_parent(parent_pid)
    get_ipython().kernel.log.setLevel(logging.WARNING)
    return patches.apply("kernel")


def reset(cwd: str, environment: dict[str, str | None]) -> None:
    """A clean slate for the next run: its working folder and environment, an empty user
    namespace (imported modules stay loaded) and the execution counter back at 1.

    This is what ``%reset -f`` does (the same ``shell.reset``) minus its forced full garbage
    collection, which walks every object pandas and the rest hold for nothing: the collector
    still runs on its own. The folder changes first: the previous run's folder is gone, and the
    reset looks at the current one.
    """
    from IPython import get_ipython

    shell = get_ipython()
    os.chdir(cwd)
    for name, value in environment.items():  # None: a variable the run's environment does not have
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    collect, gc.collect = gc.collect, lambda *args, **kwargs: 0
    try:
        shell.reset(new_session=False)
    finally:
        gc.collect = collect
    shell.execution_count = 1
