"""What the portal lists and serves: the delivery catalogue's reports, as each user may see them.

What reports exist under ``outputs/`` (and their versions) is one model, read by both this
portal and ``outputs/index.html``: :class:`reportlib.delivery.catalogue.Reports`. This module
adds only who may see what.

A file is served only if a run's manifest lists it, it is a regular file (not a link) inside
the outputs folder, and the user may see the run: the portal never opens a path taken from a
URL, it looks the URL's three names up in what the catalogue found on disk. A partner user sees
the runs whose parameters name its partner account (``partner``: its statements and QBR
decks), only the good ones, and only their documents (not the executed notebooks); analysts and
admins see every run and every file.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..delivery.catalogue import Document, Report, Reports
from .users import User

__all__ = ["Catalogue", "Document", "Run", "may_download", "may_see_run"]

Run = Report  # the portal's name for a report it lists

# The parameter that says which partner account a run belongs to.
PARTNER_PARAMETER = "partner"
# Files of a run a partner user may download; the executed notebook (.ipynb) is for analysts.
PARTNER_SUFFIXES = (".xlsx", ".pptx", ".html", ".pdf", ".csv")


def _partner(run: Run) -> str | None:
    value = run.parameters.get(PARTNER_PARAMETER)
    return value if isinstance(value, str) else None


def may_see_run(user: User, run: Run) -> bool:
    """Whether ``user`` may see ``run`` at all (partner users: their own good runs only)."""
    if user.sees_everything:
        return True
    return run.status == "ok" and user.partner is not None and _partner(run) == user.partner


def may_download(user: User, run: Run, document: Document) -> bool:
    """Whether ``user`` may download ``document`` of ``run`` (partner users: documents, not notebooks)."""
    return may_see_run(user, run) and (user.sees_everything or document.suffix in PARTNER_SUFFIXES)


class Catalogue:
    """The reports under one outputs folder (:class:`~reportlib.delivery.catalogue.Reports`), per user."""

    def __init__(self, root: str | os.PathLike):
        self.reports = Reports(root)
        self.root = self.reports.root

    def runs(self) -> list[Run]:
        """Every run with a readable manifest, newest period first, then by family folder and stem."""
        found = self.reports.all()
        found.sort(key=lambda r: (r.folder, r.stem))
        found.sort(key=lambda r: r.period, reverse=True)
        return found

    def visible(self, user: User) -> list[Run]:
        """The runs ``user`` may see."""
        return [run for run in self.runs() if may_see_run(user, run)]

    def run(self, user: User, folder: str, period: str, stem: str) -> Run | None:
        """The run ``folder/period/stem`` if it exists and ``user`` may see it, else None."""
        run = self.reports.get(folder, period, stem)
        return run if run is not None and may_see_run(user, run) else None

    def document(self, user: User, folder: str, period: str, name: str) -> tuple[Run, Document, Path] | None:
        """The file ``name`` of a run in ``folder/period`` that ``user`` may download, or None.

        None alike for a name no manifest lists, a run the user may not see, a file that is
        missing, not a regular file, or lies outside the outputs folder.
        """
        for run in self.reports.in_period(folder, period):
            for document in run.files:
                if document.name == name and may_download(user, run, document):
                    path = self.reports.file(run, document)
                    return (run, document, path) if path is not None else None
        return None
