"""Earlier versions of a report: kept when a re-run changes a document, so a file that was sent
can always be found again and compared.

Before a run publishes its new files over the earlier run's, :func:`keep_earlier_version`
compares each document (every file but the executed notebook, which records its own run's
times) by :func:`content_sha256`. If one changed, appeared or went, the earlier run's files and
manifest are kept, as hard links (no copy of the bytes), in
``<period folder>/versions/<stem>/<when the earlier run started>/``. A re-run that changes
nothing keeps no version.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Iterable

from .files import safe_join
from .manifest import SUFFIX, read_manifest

__all__ = ["VERSIONS", "content_sha256", "keep_earlier_version", "version_folders"]

VERSIONS = "versions"
# Parts of an Office Open XML file that change on every save without any change of content.
_OFFICE_VOLATILE = {"docProps/core.xml"}
_GENERATED_LABEL = b"<t>Generated (UTC)</t>"
# The label's cell, then the value cell right of it: the value is left out of the digest.
_GENERATED = re.compile(rb'(<c r="[A-Z]+\d+"[^>]*t="inlineStr"><is><t>Generated \(UTC\)</t></is></c><c [^>]*>)'
                        rb'<v>[^<]*</v>')
_CELL_IDS = re.compile(rb' id="cell-id=[^"]*"')
# Files of a run that are its record, not a document: they differ on every run.
_NOT_DOCUMENTS = (".ipynb",)


def content_sha256(data: bytes) -> str:
    """The sha256 of a file's content (hex).

    For an Office Open XML file (XLSX, PPTX, DOCX) it is taken over its parts, name and bytes,
    leaving out ``docProps/core.xml`` (the created and modified times every save writes): the
    same workbook written twice has the same digest, and so are the values of a workbook's
    ``Generated (UTC)`` line (the time it was written, which the statement and dashboard
    workbooks show in their summary). An exported notebook page is taken
    without its cells' ids (papermill gives the cell it injects a new id on every run). Any
    other file: its bytes.
    """
    if data[:15].lower().startswith(b"<!doctype html"):
        return hashlib.sha256(_CELL_IDS.sub(b"", data)).hexdigest()
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
                if "[Content_Types].xml" in names:
                    digest = hashlib.sha256(b"ooxml\0")
                    for name in sorted(set(names) - _OFFICE_VOLATILE):
                        part = archive.read(name)
                        if name.startswith("xl/worksheets/") and _GENERATED_LABEL in part:
                            part = _GENERATED.sub(rb"\1", part)
                        digest.update(name.encode() + b"\0" + hashlib.sha256(part).digest())
                    return digest.hexdigest()
        except zipfile.BadZipFile:
            pass
    return hashlib.sha256(data).hexdigest()


def _documents(names: Iterable[str]) -> set[str]:
    return {n for n in names if not n.endswith(_NOT_DOCUMENTS)}


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: a copy keeps the bytes as well
        shutil.copy2(source, target)


def keep_earlier_version(folder: Path, stem: str, new_files: Iterable[Path]) -> Path | None:
    """Keep the earlier good run of ``stem`` in ``folder`` if ``new_files`` change a document.

    Called before the new files replace the earlier ones. Returns the version folder made, or
    None (no earlier run, or no document changed). The new files of PDFs (made after a run) are
    not among ``new_files``: an earlier PDF goes with its earlier version.
    """
    earlier = read_manifest(folder / f"{stem}{SUFFIX}")
    if not earlier or earlier.get("status") != "ok":
        return None
    new = {p.name: p for p in new_files}
    old_names = [e["name"] for e in earlier.get("files", [])]
    made = {n for n in _documents(old_names) if not n.endswith(".pdf")}
    changed = made != _documents(new)
    for name in sorted(made & set(new)):
        path = folder / name
        if not path.is_file() or content_sha256(path.read_bytes()) != content_sha256(new[name].read_bytes()):
            changed = True
            break
    if not changed:
        return None
    started = earlier.get("started_at") or datetime.now().isoformat()
    stamp = datetime.fromisoformat(started).strftime("%Y%m%dT%H%M%SZ")
    target = safe_join(folder, VERSIONS, stem, stamp)
    if target.exists():  # kept already (a run that failed after keeping it, run again)
        return target
    staging = target.with_name(f".{stamp}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in old_names:
        if (folder / name).is_file():
            _link(folder / name, staging / name)
    _link(folder / f"{stem}{SUFFIX}", staging / f"{stem}{SUFFIX}")
    staging.rename(target)  # the version appears whole or not at all
    return target


def version_folders(folder: Path, stem: str) -> list[Path]:
    """The kept versions of ``stem`` in a period folder, oldest first."""
    base = folder / VERSIONS / stem
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
