"""Safe file names and atomic writes: nothing half-written, nothing outside ``outputs/``."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .errors import ConfigError

__all__ = ["as_stem", "atomic_path", "atomic_write", "entity_stem", "id_stem", "is_notebook", "plain_id",
           "plain_name", "safe_join", "sha256_file", "slugify"]

_SLUG_MAX = 80
_HASH_LENGTH = 10
# A report's file stem: a slug, or a slug and ``--`` and a hash (a slug never holds ``--``).
_STEM = re.compile(r"[a-z0-9]+(?:--?[a-z0-9]+)*")
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
    slug = _whole_slug(parts)[:_SLUG_MAX].strip("-")
    return slug or fallback


def _whole_slug(parts: tuple) -> str:
    text = " ".join(str(p) for p in parts if p is not None and str(p) != "")
    text = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE)).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def entity_stem(*parts: object, key: tuple[str, ...], plain: bool) -> str:
    """The file stem of one entity's report: ``slugify(*parts)``, made unique by ``key``.

    ``key`` is what identifies the entity exactly (an account id; a customer id and rate plan).
    When ``plain`` (the key can be read back from the slug: see :func:`plain_id`) and the slug
    is whole, the stem is the slug, as it always was (``p001-acme``). Otherwise a hash of the
    exact key follows a double dash, which no slug holds (``p101-acme--5c1e0b2a9f``): ``P101``
    and ``p101``, or ``P001`` and ``'P001 '``, never share a file, even where file names ignore
    case, and the same entity gets the same stem in every run.
    """
    slug = _whole_slug(parts)
    if plain and slug and len(slug) <= _SLUG_MAX:
        return slug
    digest = hashlib.sha256(json.dumps(list(key)).encode("utf-8")).hexdigest()[:_HASH_LENGTH]
    base = slug[:_SLUG_MAX - _HASH_LENGTH - 2].strip("-") or "entity"
    return f"{base}--{digest}"


def id_stem(entity_id: str, *label: object) -> str:
    """:func:`entity_stem` of an entity known by one id (a partner, an account): ``p001-acme``."""
    return entity_stem(entity_id, *label, key=(entity_id,), plain=plain_id(entity_id))


def plain_id(text: str) -> bool:
    """Whether an id is what its slug gives back in capitals: ASCII capitals and digits (``P001``).

    Not ``p101`` (``P101`` would slug the same), not ``'P001 '``, not ``P-1`` (with a name
    ``X`` it would slug as ``P`` named ``1 X``).
    """
    return bool(re.fullmatch(r"[A-Z0-9]+", text))


def plain_name(text: str) -> bool:
    """Whether a name that identifies something (a rate plan) is what its slug gives back with
    one fixed spelling: words of ASCII letters and digits between single spaces, words of up
    to three characters in capitals and longer ones capitalised (``Retail USD``, ``AZ Gold USD``).
    """
    words = text.split(" ")
    return all(re.fullmatch(r"[A-Za-z0-9]+", w) and w == (w.upper() if len(w) <= 3 else w.capitalize())
               for w in words)


def as_stem(text: str) -> str:
    """``text`` if it is a stem already (see :func:`entity_stem`), else its slug."""
    return text if len(text) <= _SLUG_MAX and _STEM.fullmatch(text) else slugify(text)


def is_notebook(word: str) -> bool:
    """Whether the REPORT word of ``run`` or ``batch`` names a notebook file, not a family."""
    return word.lower().endswith(".ipynb")


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
    try:
        with atomic_path(path) as tmp:
            kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
            with open(tmp, mode, **kwargs) as handle:
                yield handle
                if fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        # "File too large" alone does not say which file: name the one being written.
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
