"""Safe file names and atomic writes: nothing half-written, nothing outside ``outputs/``."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .errors import ConfigError

__all__ = ["atomic_path", "atomic_write", "safe_join", "sha256_file", "slugify"]

_SLUG_MAX = 80
# Letters that Unicode does not decompose into an ASCII base letter.
_TRANSLITERATE = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "đ": "d", "Đ": "D",
                                "ł": "l", "Ł": "L", "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "Th"})
_UMASK = os.umask(0)
os.umask(_UMASK)


def slugify(*parts: object, fallback: str = "entity") -> str:
    """A file-name-safe slug of ``parts``: lowercase ASCII letters, digits and single dashes.

    Whatever an entity is called — ``../../etc``, ``=cmd|' /c calc'!A1``, ``CON``, an emoji —
    the slug has no separator, no dot and no leading dash, so it can never leave its folder.
    """
    text = " ".join(str(p) for p in parts if p is not None and str(p) != "")
    text = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE)).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:_SLUG_MAX].strip("-")
    return slug or fallback


def safe_join(root: str | os.PathLike, *parts: str) -> Path:
    """``root / parts``, refusing any result that would resolve outside ``root``."""
    root_path = Path(root).resolve()
    candidate = root_path.joinpath(*parts).resolve()
    if candidate != root_path and root_path not in candidate.parents:
        raise ConfigError(f"Refusing to write {candidate}: it is outside {root_path}.")
    return candidate


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    For libraries that save by file name (openpyxl, python-pptx). On an exception the
    temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes 0600 files; outputs are documents people share, so use the umask.
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8",
                 newline: str | None = None, *, fsync: bool = True) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; rename it over ``path`` on success.

    ``fsync=False`` leaves flushing to the system: for a report's files, whose SHA-256 the run's
    manifest (written with fsync) records, so a file a power cut spoiled is found and remade.
    """
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
