"""Processes that exit when their parent is gone, by the kernel's signal or by the watchdog."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from reportlib.lifeline import process_alive

# A parent that starts a child which watches it, prints the child's pid and how it watches,
# then waits to be killed.
_PARENT = """\
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdout=subprocess.PIPE, text=True)
print(child.pid, child.stdout.readline().strip(), flush=True)
time.sleep(600)
"""
_CHILD = """\
import os, sys, time
from reportlib.lifeline import exit_with_parent
print(exit_with_parent(os.getppid(), use_prctl=sys.argv[1] == "prctl"), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("how", ["prctl", "watchdog"] if sys.platform.startswith("linux") else ["watchdog"])
def test_a_process_exits_when_its_parent_is_killed(how):
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, _CHILD, how], stdout=subprocess.PIPE, text=True)
    try:
        pid, used = parent.stdout.readline().split()
        child = psutil.Process(int(pid))
        assert used == how and child.is_running()
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    try:
        child.wait(timeout=20)  # not our child: psutil polls until it is gone
    except psutil.TimeoutExpired:
        child.kill()
        pytest.fail(f"the {how} child was still running 20 s after its parent was killed")


def test_a_process_whose_parent_is_already_gone_exits_at_once():
    """The parent may die before the watch starts: the process must not wait for a signal that
    can no longer come."""
    code = "import os\nfrom reportlib.lifeline import exit_with_parent\nexit_with_parent(os.getppid() + 1)\nprint('alive')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "alive" not in done.stdout


def test_process_alive():
    assert process_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid)
