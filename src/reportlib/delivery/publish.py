"""What follows every run and batch: the PDFs of the new reports when asked, then the catalogue.

The command line calls :func:`after_runs` after ``reportlib run``, ``reportlib batch``,
``reportlib rates amendments make`` and each job of ``reportlib due``. PDFs are made for
``run --pdf``, ``batch --pdf`` and scheduled jobs; otherwise ``reportlib send`` makes the ones
it attaches and ``reportlib pdf`` makes them on demand, so an analyst's run does not wait for
LibreOffice. PDFs that are up to date are skipped; a missing program (no Chromium, no
LibreOffice) leaves the PDFs out with a warning, never the reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from ..config import outputs_root, resolve_db_url
from ..families import get_family
from .catalogue import write_catalogue

if TYPE_CHECKING:  # the PDF step's modules are imported when PDFs are asked for
    from .pdf import PdfReport

__all__ = ["after_runs"]


def after_runs(family_name: str, folders: Iterable[str | Path], *, stems: Iterable[str] | None = None,
               out: str | Path | None = None, db_url: str | None = None, pdf: bool = True,
               workers: int | None = None, say: Callable[[str], None] = print) -> PdfReport | None:
    """Make the PDFs of ``family``'s runs in ``folders`` (only ``stems`` if given) and rebuild the
    catalogue; returns what the PDF step did (None when PDFs were not asked for or not made)."""
    family = get_family(family_name)
    report = None
    if pdf and family.pdfs:
        from .pdf import make_pdfs

        report = make_pdfs(family, [Path(f) for f in folders], stems=stems, workers=workers)
        say(report.summary())
    page = write_catalogue(outputs_root(out), resolve_db_url(db_url))
    say(f"Catalogue: {page}")
    return report
