"""What the portal lists and serves: the runs under ``outputs/``, read from their manifests.

Every reading of the outputs folder happens here, so that the portal can move to the delivery
catalogue (``../shared/spec/delivery.md``) by changing this one module. Today it reads each
run's ``<family>/<period>/<stem>.manifest.json`` (the folder's ``manifest.json`` index does not
say which family a run belongs to, and two families share ``qbr/``), keeping each parsed
manifest until the file changes.

A file is served only if a run's manifest lists it, it is a regular file (not a link) inside
the outputs folder, and the user may see the run: the portal never opens a path taken from a
URL, it looks the URL's three names up in what it found on disk. A partner user sees the runs
whose parameters name its partner account (``partner``: its statements and QBR decks), only
the good ones, and only their documents (not the executed notebooks); analysts and admins see
every run and every file.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .users import User

__all__ = ["Catalogue", "Document", "Run", "may_download", "may_see_run"]

_MANIFEST = ".manifest.json"
# The parameter that says which partner account a run belongs to.
PARTNER_PARAMETER = "partner"
# Files of a run a partner user may download; the executed notebook (.ipynb) is for analysts.
PARTNER_SUFFIXES = (".xlsx", ".pptx", ".html", ".pdf", ".csv")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
KINDS = {".xlsx": "Excel workbook", ".pptx": "PowerPoint deck", ".html": "web page", ".pdf": "PDF",
         ".csv": "CSV", ".ipynb": "executed notebook", ".eml": "e-mail"}


@dataclass(frozen=True)
class Document:
    """One file of a run, as its manifest lists it."""

    name: str
    bytes: int
    sha256: str

    @property
    def suffix(self) -> str:
        return os.path.splitext(self.name)[1].lower()

    @property
    def kind(self) -> str:
        return KINDS.get(self.suffix, self.suffix.lstrip(".") or "file")


@dataclass(frozen=True)
class Run:
    """One run as its manifest describes it, and where it lies under the outputs folder."""

    family: str
    folder: str  # the family's folder under outputs/ (statements, qbr, ...)
    period: str  # the period's folder (2026-10, 2026q3, batch-3, ...)
    stem: str
    status: str
    parameters: dict[str, Any]
    started_at: str
    duration_s: float | None
    files: tuple[Document, ...]
    error: str | None = None
    mtime_ns: int = field(default=0, compare=False)

    @property
    def partner(self) -> str | None:
        value = self.parameters.get(PARTNER_PARAMETER)
        return value if isinstance(value, str) else None

    @property
    def entity(self) -> str:
        """A short description of whom the run is about: its parameters other than the period."""
        shown = [f"{value}" for key, value in sorted(self.parameters.items())
                 if key not in ("month", "quarter", "week", "from_month", "to_month") and value not in (None, "")]
        return ", ".join(shown) or "all"


def may_see_run(user: User, run: Run) -> bool:
    """Whether ``user`` may see ``run`` at all (partner users: their own good runs only)."""
    if user.sees_everything:
        return True
    return run.status == "ok" and user.partner is not None and run.partner == user.partner


def may_download(user: User, run: Run, document: Document) -> bool:
    """Whether ``user`` may download ``document`` of ``run`` (partner users: documents, not notebooks)."""
    return may_see_run(user, run) and (user.sees_everything or document.suffix in PARTNER_SUFFIXES)


def _run_from(manifest: dict[str, Any], folder: str, period: str, mtime_ns: int) -> Run | None:
    stem = manifest.get("stem")
    family = manifest.get("family")
    if not isinstance(stem, str) or not isinstance(family, str):
        return None
    files = []
    for entry in manifest.get("files") or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and _NAME.fullmatch(entry["name"]):
            files.append(Document(entry["name"], int(entry.get("bytes") or 0), str(entry.get("sha256") or "")))
    parameters = manifest.get("parameters") if isinstance(manifest.get("parameters"), dict) else {}
    return Run(family=family, folder=folder, period=period, stem=stem, status=str(manifest.get("status")),
               parameters=parameters, started_at=str(manifest.get("started_at") or ""),
               duration_s=manifest.get("duration_s"), files=tuple(files), error=manifest.get("error"),
               mtime_ns=mtime_ns)


class Catalogue:
    """The runs under one outputs folder, read from their manifests (cached until they change)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self._cache: dict[str, tuple[int, int, Run | None]] = {}
        self._lock = threading.Lock()

    def _read(self, path: str, stat: os.stat_result, folder: str, period: str) -> Run | None:
        with self._lock:
            cached = self._cache.get(path)
        if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        try:
            with open(path, encoding="utf-8") as handle:
                manifest = json.load(handle)
            run = _run_from(manifest, folder, period, stat.st_mtime_ns) if isinstance(manifest, dict) else None
        except (OSError, ValueError):
            run = None
        with self._lock:
            self._cache[path] = (stat.st_mtime_ns, stat.st_size, run)
        return run

    def _folders(self, path: Path) -> Iterable[os.DirEntry]:
        try:
            with os.scandir(path) as entries:
                found = [e for e in entries if _NAME.fullmatch(e.name) and e.is_dir(follow_symlinks=False)]
        except OSError:
            return []
        return sorted(found, key=lambda e: e.name)

    def _period_runs(self, folder: str, period: str, path: str) -> list[Run]:
        try:
            with os.scandir(path) as entries:
                manifests = [e for e in entries if e.name.endswith(_MANIFEST) and not e.name.startswith(".")
                             and e.is_file(follow_symlinks=False)]
        except OSError:
            return []
        found = []
        for entry in manifests:
            run = self._read(entry.path, entry.stat(follow_symlinks=False), folder, period)
            if run is not None and f"{run.stem}{_MANIFEST}" == entry.name:
                found.append(run)
        return found

    def runs(self) -> list[Run]:
        """Every run with a readable manifest, newest period first, then by family and stem."""
        found = []
        for family_folder in self._folders(self.root):
            for period_folder in self._folders(Path(family_folder.path)):
                found += self._period_runs(family_folder.name, period_folder.name, period_folder.path)
        found.sort(key=lambda r: (r.folder, r.stem))
        found.sort(key=lambda r: r.period, reverse=True)
        return found

    def visible(self, user: User) -> list[Run]:
        """The runs ``user`` may see."""
        return [run for run in self.runs() if may_see_run(user, run)]

    def run(self, user: User, folder: str, period: str, stem: str) -> Run | None:
        """The run ``folder/period/stem`` if it exists and ``user`` may see it, else None."""
        if not all(_NAME.fullmatch(part or "") for part in (folder, period, stem)):
            return None
        path = self.root / folder / period / f"{stem}{_MANIFEST}"
        try:
            stat = path.stat(follow_symlinks=False)
        except OSError:
            return None
        if not path.is_file() or path.is_symlink():
            return None
        run = self._read(str(path), stat, folder, period)
        if run is None or run.stem != stem or not may_see_run(user, run):
            return None
        return run

    def document(self, user: User, folder: str, period: str, name: str) -> tuple[Run, Document, Path] | None:
        """The file ``name`` of a run in ``folder/period`` that ``user`` may download, or None.

        None alike for a name no manifest lists, a run the user may not see, a file that is
        missing, not a regular file, or lies outside the outputs folder.
        """
        if not all(_NAME.fullmatch(part or "") for part in (folder, period, name)):
            return None
        period_path = self.root / folder / period
        if period_path.is_symlink() or period_path.parent.is_symlink():
            return None
        for run in self._period_runs(folder, period, str(period_path)):
            for document in run.files:
                if document.name == name and may_download(user, run, document):
                    path = self.root / folder / period / name
                    if self._inside(path):
                        return run, document, path
                    return None
        return None

    def _inside(self, path: Path) -> bool:
        try:
            if path.is_symlink() or not path.is_file():
                return False
            return path.resolve().is_relative_to(self.root)
        except OSError:
            return False
