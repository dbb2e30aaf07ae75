"""Run manifests: the commit a run was made from."""

from __future__ import annotations

import subprocess

from reportlib.config import project_root
from reportlib.manifest import _git_commit_lookup, git_commit, look_up_git_commit


def test_the_commit_is_git_s_answer_asked_once_per_process_ahead_of_need():
    look_up_git_commit()  # as a run does before its notebook executes
    look_up_git_commit()
    root = str(project_root())
    head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True,
                          timeout=30).stdout.strip()
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=30).stdout.strip()
    assert [git_commit() for _ in range(3)] == [head + ("+dirty" if dirty else "")] * 3
    assert _git_commit_lookup.cache_info().currsize == 1  # one question to git, however many runs
