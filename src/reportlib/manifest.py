"""Run manifests: what produced each output, so a run can be trusted, audited and skipped.

Each run writes ``<stem>.manifest.json`` beside its files: parameters, the input-data
fingerprint, package version and git commit, start, duration, status, and every file with
its size and SHA-256. The folder's ``manifest.json`` indexes all runs in that folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from concurrent.futures import Future
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

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


def write_folder_index(folder: Path, stems: Iterable[str] | None = None) -> None:
    """Bring the folder's ``manifest.json``, the index of its runs, up to date.

    ``stems`` names the runs just written. Only their manifests are read, and their entries
    replace theirs in the index, as long as the index lists exactly the other run manifests in
    the folder; otherwise every manifest is read, as without ``stems``. A run in a folder of
    thousands of decks used to read them all. Either way the index is the one a full rebuild
    writes, byte for byte. Writers of one folder take turns (an exclusive ``flock`` on the
    folder itself), so two runs that end at once both stay listed.
    """
    with _taking_turns(folder):
        runs = _updated_runs(folder, set(stems)) if stems is not None else None
        if runs is None:
            runs = [_index_entry(m) for m in map(read_manifest, sorted(folder.glob(f"*{SUFFIX}"))) if m]
        _write_index(folder, runs)


_INDEXED = ("stem", "status", "parameters", "started_at", "duration_s", "files", "error")


def _index_entry(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: manifest.get(k) for k in _INDEXED}


def _updated_runs(folder: Path, stems: set[str]) -> list[dict[str, Any]] | None:
    """The index's runs with those of ``stems`` read again; None when the index is missing,
    unreadable or does not list exactly the folder's other run manifests (then only a full
    rebuild gives the right index)."""
    try:
        runs = json.loads((folder / INDEX).read_text(encoding="utf-8"))["runs"]
        listed = [run["stem"] for run in runs]
        named = set(listed)  # TypeError: an entry that is no run, or a stem that is no name
    except (OSError, ValueError, KeyError, TypeError):
        return None
    on_disk = {name[:-len(SUFFIX)] for name in os.listdir(folder) if name.endswith(SUFFIX) and not name.startswith(".")}
    if len(named) != len(listed) or named - stems != on_disk - stems:
        return None
    runs = [run for run in runs if run["stem"] not in stems]
    for stem in stems:
        manifest = read_manifest(folder / f"{stem}{SUFFIX}")
        if manifest is None:
            continue
        if manifest.get("stem") != stem:  # a full rebuild lists it by its file's place, under its own stem
            return None
        runs.append(_index_entry(manifest))
    # A full rebuild lists the runs in the order of their manifests' file names.
    return sorted(runs, key=lambda run: f"{run['stem']}{SUFFIX}")


def _write_index(folder: Path, runs: list[dict[str, Any]]) -> None:
    """The index, one run a line: encoded by the json module's C encoder, which an indented dump
    cannot use (a 9,361-deck folder's index took about a second to write indented). Not synced
    to disk: it is made from the manifests, which are, and an index a power cut spoiled is
    unreadable, so the next write rebuilds it whole."""
    encode = json.JSONEncoder(sort_keys=True, default=str).encode
    with atomic_write(folder / INDEX, fsync=False) as handle:
        handle.write(f'{{"folder": {encode(folder.name)}, "runs": [')
        handle.write(",".join(f"\n  {encode(run)}" for run in runs))
        handle.write("\n]}\n" if runs else "]}\n")


@contextmanager
def _taking_turns(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` (no lock file among the reports); where there
    is no ``flock`` (not POSIX), nothing is held."""
    try:
        import fcntl
    except ImportError:
        fcntl = None
    handle = os.open(folder, os.O_RDONLY) if fcntl is not None else None
    try:
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        if handle is not None:
            os.close(handle)
