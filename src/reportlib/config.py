"""Where things are: the project folder, the default database, the outputs folder."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

__all__ = ["DEFAULT_DB_RELATIVE", "HIDDEN", "cache_dir", "default_db_url", "outputs_root", "project_root",
           "public_db_url", "redact_secrets_in_text", "resolve_db_url"]

DEFAULT_DB_RELATIVE = Path("data") / "reportlib.sqlite"


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding reportlib's Makefile.

    ``REPORTLIB_HOME`` wins when set. Notebooks run from ``notebooks/``, so a plain cwd is not
    enough; outside a checkout the cwd itself is the root.
    """
    if os.environ.get("REPORTLIB_HOME"):
        return Path(os.environ["REPORTLIB_HOME"]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return here


def default_db_url() -> str:
    """The embedded SQLite demo database of the project folder."""
    return f"sqlite:///{project_root() / DEFAULT_DB_RELATIVE}"


HIDDEN = "***"
_HIDDEN_ENCODED = "%2A%2A%2A"  # *** inside a query value that the URL percent-encodes
# Query keys of a database URL whose value is a secret, in any driver's spelling: libpq's
# ``password`` and ``sslpassword``, MySQL's ``passwd``, ODBC's ``PWD``, tokens, API and private
# keys, cloud credentials. Hiding a key file's path as well costs nothing.
_SECRET_KEY = re.compile(r"pass|pwd|secret|token|credential|key|auth", re.IGNORECASE)
# Secrets written inside text: ``scheme://user:secret@``, and ``password=secret`` as libpq
# connection strings, ODBC strings (``PWD=secret;``) and URL queries write them.
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][\w+.-]*://[^\s'\"<>`]+")
# (``user:secret@`` also where the URL around it is malformed: ``postgresql//user:secret@host``.)
_USERINFO = re.compile(r"(?P<head>(?:^|(?<=[/\s'\"=]))[^\s:/@'\"]*):[^\s/@'\"]*@")
_ASSIGNED = re.compile(r"(?P<head>\b[\w.-]*(?:pass|pwd|secret|token|credential)[\w.-]*\s*=\s*)"
                       r"(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\{[^}]*\}|[^\s&;,'\"]+)", re.IGNORECASE)


def public_db_url(url: str) -> str:
    """``url`` with every secret it holds shown as ``***``, for anything people read.

    The password (``user:***@host``), any query parameter that holds a secret
    (``?password=***``, ``?sslpassword=***``, ...) and secrets written inside other query values
    (a libpq or ODBC connection string) are hidden; the rest is kept so the URL still says
    which database it is. A URL that cannot be parsed has its secrets masked as text.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return _redact_assigned(url)
    query = {key: _public_query_value(key, value) for key, value in parsed.query.items()}
    if parsed.password is None and query == dict(parsed.query):
        return url
    public = parsed.set(query=query)
    if parsed.password is not None:
        public = public.set(password=HIDDEN)
    # The query's *** reads better as written than percent-encoded; it parses back the same.
    return public.render_as_string(hide_password=True).replace(f"={_HIDDEN_ENCODED}", f"={HIDDEN}")


def _public_query_value(key: str, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
    if isinstance(value, tuple):
        return tuple(_public_query_value(key, v) for v in value)
    return HIDDEN if _SECRET_KEY.search(key) else _redact_assigned(value)


def _redact_assigned(text: str) -> str:
    return _ASSIGNED.sub(lambda m: m.group("head") + HIDDEN, _USERINFO.sub(rf"\g<head>:{HIDDEN}@", text))


def redact_secrets_in_text(text: str) -> str:
    """``text`` (an error message, a summary) with every secret it might hold shown as ``***``:
    database URLs as :func:`public_db_url` shows them, ``user:secret@`` and ``password=secret``."""
    return _redact_assigned(_URL_IN_TEXT.sub(lambda m: public_db_url(m.group(0)), text))


def resolve_db_url(url: str | None = None) -> str:
    """``url`` if given, else ``REPORTLIB_DB``, else the embedded SQLite file.

    A ``url`` whose secrets are hidden (``***``, as the runner injects it into notebooks, so
    that no executed notebook holds a password) means the ``REPORTLIB_DB`` of this process
    when that is the same URL with its secrets.

    A relative SQLite file (``sqlite:///data/x.sqlite``) is made absolute against the current
    folder: a notebook's kernel runs in the run's staging folder, where the same relative path
    would open (and create) an empty database.
    """
    env = os.environ.get("REPORTLIB_DB")
    if url and env and (HIDDEN in url or _HIDDEN_ENCODED in url) and url != env and public_db_url(env) == url:
        return env
    return _absolute_sqlite(url or env or default_db_url())


def _absolute_sqlite(url: str) -> str:
    if not url.startswith("sqlite"):
        return url
    parsed = _relative_sqlite(url)
    if parsed is None:
        return url
    return parsed.set(database=str(Path(parsed.database).resolve())).render_as_string(hide_password=False)


@functools.lru_cache(maxsize=64)
def _relative_sqlite(url: str):
    """The parsed ``url`` if it names a SQLite file by a relative path, else None (a notebook
    connects once per run, and a warm kernel would parse the same URL again for every deck)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database
    if (parsed.get_backend_name() != "sqlite" or not database or database == ":memory:"
            or database.startswith("file:") or Path(database).is_absolute()):
        return None
    return parsed


def outputs_root(path: str | os.PathLike | None = None) -> Path:
    """The folder every output lands under (``--out``, ``REPORTLIB_OUTPUTS`` or ``outputs/``)."""
    chosen = path or os.environ.get("REPORTLIB_OUTPUTS") or project_root() / "outputs"
    return Path(chosen).resolve()


def cache_dir() -> Path:
    """Where derived files that are costly to rebuild are kept between runs.

    ``REPORTLIB_CACHE`` if set, else ``$XDG_CACHE_HOME/reportlib`` (``~/.cache/reportlib``).
    Anything in it can be deleted at any time; it is rebuilt on demand.
    """
    if os.environ.get("REPORTLIB_CACHE"):
        return Path(os.environ["REPORTLIB_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reportlib"
