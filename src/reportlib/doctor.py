"""``reportlib doctor``: what this installation runs on, which patches are active, what it finds."""

from __future__ import annotations

import platform
import shutil
from importlib.metadata import PackageNotFoundError, requires, version

__all__ = ["diagnose"]

# The outside programs some features and tests use, by the names they are installed under.
PROGRAMS = {
    "soffice": ("soffice", "libreoffice"),
    "pdftotext": ("pdftotext",),
    "chromium": ("chromium", "chromium-browser", "google-chrome"),
}


def diagnose(db_url: str | None = None) -> tuple[list[str], bool]:
    """The lines ``reportlib doctor`` prints, and whether the database answered."""
    from . import patches
    from .version import __version__
    from .config import public_db_url, resolve_db_url

    lines = [f"reportlib {__version__} on Python {platform.python_version()} ({platform.system()})", "",
             "Dependencies (installed / required):"]
    for requirement in _requirements():
        name = requirement.name
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "MISSING"
        lines.append(f"  {name:<20} {installed:<12} {requirement.specifier}")
    lines += ["", "Patches of other packages' internals (reportlib.patches; REPORTLIB_NO_PATCHES=1 turns them off):"]
    for row in patches.status():
        state = "active" if row.active else "off"
        lines.append(f"  {state:<7} {row.patch.side:<7} {row.patch.name:<34} {row.patch.library} "
                     f"{row.installed or '-'}" + ("" if row.active else f": {row.reason}"))
    lines += ["", "Programs:"]
    for what, names in PROGRAMS.items():
        found = next((path for path in map(shutil.which, names) if path), None)
        lines.append(f"  {what:<10} {found or 'not found'}")
    url = resolve_db_url(db_url)
    reachable, answer = _database(url)
    lines += ["", "Database:", f"  {public_db_url(url)}: {answer}"]
    return lines, reachable


def _requirements() -> list:
    """reportlib's own dependencies (not its extras), as installed metadata declares them."""
    from packaging.requirements import Requirement

    found = []
    for text in requires("reportlib") or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            found.append(requirement)
    return found


def _database(url: str) -> tuple[bool, str]:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
                return True, f"reachable ({engine.dialect.name})"
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - whatever stops a connection is the answer
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return False, f"NOT reachable: {type(exc).__name__}: {first}"
