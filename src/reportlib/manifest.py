"""Run manifests: what produced each output, so a run can be trusted, audited and skipped.

Each run writes ``<stem>.manifest.json`` beside its files: parameters, the input-data
fingerprint, package version and git commit, start, duration, status, and every file with
its size and SHA-256. The folder's ``manifest.json`` indexes all runs in that folder.
"""

from __future__ import annotations

import json
import subprocess
import threading
from concurrent.futures import Future
from functools import lru_cache
from pathlib import Path
from typing import Any

from .config import project_root
from .files import atomic_write, sha256_file

__all__ = ["git_commit", "look_up_git_commit", "read_manifest", "run_key", "write_folder_index", "write_manifest"]

INDEX = "manifest.json"
SUFFIX = ".manifest.json"


def git_commit() -> str | None:
    """The checkout's HEAD commit, with ``+dirty`` when tracked files changed; None outside git.

    Asked of git once per process (:func:`look_up_git_commit` starts that ahead of need)."""
    return _git_commit_lookup().result()


def look_up_git_commit() -> None:
    """Start asking git for :func:`git_commit` in the background, if not asked yet: a run does
    so before its notebook executes, so its manifest finds the answer ready."""
    _git_commit_lookup()


@lru_cache(maxsize=1)
def _git_commit_lookup() -> Future:
    found: Future = Future()

    def ask() -> None:
        try:
            found.set_result(_ask_git())
        except BaseException as exc:  # noqa: BLE001 - given to whoever waits for the answer
            found.set_exception(exc)

    threading.Thread(target=ask, name="reportlib-git-commit", daemon=True).start()
    return found


def _ask_git() -> str | None:
    root = project_root()
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def run_key(notebook_sha256: str, parameters: dict[str, Any], fingerprint: str | None, version: str, *,
            options: tuple[tuple[str, Any], ...] = ()) -> str:
    """What decides whether a run is stale: notebook, parameters, input data, reportlib version,
    and the run's ``options`` (a notebook run's report mode and outputs; none for a family)."""
    import hashlib

    # Without options the key is what it always was, so existing reports stay up to date.
    what = [notebook_sha256, parameters, fingerprint, version] + ([sorted(options)] if options else [])
    blob = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def read_manifest(path: Path) -> dict[str, Any] | None:
    """A manifest, or None if it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    with atomic_write(path) as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")


def file_entry(path: Path) -> dict[str, Any]:
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def outputs_intact(folder: Path, manifest: dict[str, Any]) -> bool:
    """Every file the manifest lists is there with the same SHA-256."""
    for entry in manifest.get("files", []):
        path = folder / entry["name"]
        if not path.is_file() or path.stat().st_size != entry.get("bytes") or sha256_file(path) != entry.get("sha256"):
            return False
    return True


def write_folder_index(folder: Path) -> None:
    """Rebuild the folder's ``manifest.json`` from the run manifests in it."""
    runs = []
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        manifest = read_manifest(path)
        if manifest:
            runs.append({k: manifest.get(k) for k in
                         ("stem", "status", "parameters", "started_at", "duration_s", "files", "error")})
    write_manifest(folder / INDEX, {"folder": folder.name, "runs": runs})
