"""Report families: what the runner needs to know about one, and nothing more.

A family is a package of metric functions + a notebook + a typed parameter class + a
renderer. It declares its :class:`Family` as an entry point of the group
``reportlib.families`` (see :mod:`reportlib.registry`); the runner and the batch engine only
ever talk to this interface, so they know nothing family-specific and list no family.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .config import project_root
from .errors import ConfigError
from .params import ReportParams
from .registry import Registry

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["FAMILIES", "Family", "get_family", "notebook_path"]


@dataclass(frozen=True)
class Family:
    """One report family as the runner sees it.

    Attributes:
        name: the REPORT word of the CLI (``statement``).
        folder: the folder under ``outputs/`` (``statements``).
        notebook: the notebook file in ``notebooks/``.
        params: the parameter dataclass of one run.
        batch_params: the parameter dataclass of a batch (the run's, minus the entity).
        domain: the data domain whose fingerprint decides whether a run is stale.
        period: params -> the period folder name (``2026-10``).
        stem: (connection, params) -> the file stem for one run, e.g. ``p001-acme``; raises
            UnknownEntityError for an entity that does not exist. Two entities must never get
            the same stem, and an entity always the same one: build it with
            :func:`reportlib.files.entity_stem` (or ``id_stem``), which adds a hash of the exact
            key to any id its slug does not give back. Text that is not a stem is slugified.
        entities: (connection, batch params) -> the raw params of every run of a batch.
        stems: optional ``(connection, list of params) -> list of stems``, what ``stem`` gives
            for each, in one pass: a batch names thousands of runs before it starts any.
        prepare: optional vectorised preparation, ``(connection, batch params, run params
            list, folder) -> dict`` of extra notebook parameters. A batch calls it once before
            fanning out: it computes every entity's inputs in one pass, writes them under
            ``folder`` (private to the batch, on storage every worker sees, removed when the
            batch ends) and returns the parameters that point the runs at them, e.g.
            ``{"prepared": str(folder / "metrics.pkl")}``. Each run's notebook then reads its
            own slice (``None`` when run alone: query the database). These parameters are
            injected but are not part of a run's key: they only say where the same inputs are.
        html: whether the runner exports the executed notebook to HTML.
        after_run: optional ``(database URL, RunResult) -> None``, the family's step after each run:
            the runner calls it once a run is published, failed, or skipped as up to date, in the
            process that runs the report or the batch (never in a notebook's kernel), e.g. to keep a
            record of the runs in the database. The notebook then only computes and writes files,
            so a hand run has no side effect and the skip rule and the record agree. A step that
            raises makes the run's result failed, naming the step (the published files stay).
        pdf: whether the runner prints that HTML page to PDF (headless Chromium, no
            header: ``--to pdf`` of any notebook; the families' PDFs are ``pdfs``).
        pdfs: the run's files that get a PDF of their own, by suffix (``(".html",)``: the page
            printed by headless Chromium; ``(".pptx",)``: the deck converted by LibreOffice).
            :mod:`reportlib.delivery.pdf` makes them after the runs and lists them in each run's
            manifest; ``<stem>.pdf`` is the PDF of the first.
        send: optional, a family's own ``reportlib send`` (the rate amendments keep their
            recipients rules and billing message): ``(batch params, **options) -> report``
            with the options of :func:`reportlib.delivery.send.send_reports`. It records and
            sends through the same delivery log and send path.

    A notebook run as papermill would make it (:mod:`reportlib.notebooks`) is a family too,
    made for the run: its ``notebook`` and ``folder`` are absolute paths, ``domain`` is None
    (no database: no connection, no data fingerprint), and:

    Attributes:
        runner_parameters: whether ``db_url``, ``output_dir`` and ``output_stem`` are injected
            (a family's notebook takes them; any other notebook gets only its own parameters,
            as papermill injects them).
        report_mode: papermill's report mode: every code cell's input hidden.
        cwd: the kernel's working folder; None: the run's private staging folder, whose files
            are the run's outputs.
        options: what else decides what the run produces (part of its run key).
    """

    name: str
    folder: str
    notebook: str
    params: type[ReportParams]
    batch_params: type[ReportParams]
    domain: str | None
    period: Callable[[Any], str]
    stem: Callable[[Connection, Any], str]
    entities: Callable[[Connection, Any], list[dict]]
    prepare: Callable[..., Any] | None = None
    stems: Callable[[Connection, list[Any]], list[str]] | None = None
    html: bool = True
    description: str = ""
    pdfs: tuple[str, ...] = ()
    send: Callable[..., Any] | None = None
    after_run: Callable[[str, Any], None] | None = None
    pdf: bool = False
    runner_parameters: bool = True
    report_mode: bool = False
    cwd: str | None = None
    options: tuple[tuple[str, Any], ...] = ()


# Declared by the families' entry points: ``reportlib run dashboard`` imports the dashboard only.
FAMILIES: Registry[Family] = Registry("report family", group="reportlib.families")


def get_family(name: str) -> Family:
    """The registered family called ``name``; the error lists the known ones."""
    return FAMILIES.get(name)


def notebook_path(family: Family) -> Path:
    """The family's notebook in the project's ``notebooks/`` folder (a notebook run's own path)."""
    if Path(family.notebook).is_absolute():
        return Path(family.notebook)
    path = project_root() / "notebooks" / family.notebook
    if not path.is_file():
        raise ConfigError(f"The {family.name} notebook {family.notebook} is not in {path.parent}; "
                          "run reportlib from the project folder or set REPORTLIB_HOME.")
    return path
