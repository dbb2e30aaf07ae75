"""The catalogue: every report under ``outputs/``, what it says, its versions, who received it.

One model of what reports exist, read by both ``outputs/index.html`` and the web portal:
:class:`Reports` reads each run's manifest (``<family>/<period>/<stem>.manifest.json``; the
folder's ``manifest.json`` index does not say which family a run belongs to, and two families
share ``qbr/``) into a :class:`Report`, keeping each parsed manifest until its file changes, and
the earlier versions a changed report keeps (:func:`reportlib.versions.version_folders`). Only
names of one plain path part are followed (no ``..``, no links), so a caller can look up what a
URL names without ever opening a path taken from it.

:func:`entries` adds the delivery log to the reports, one :class:`Entry` per family × period ×
entity; :func:`write_catalogue` renders them as ``outputs/index.html``, one self-contained page
(inline style and script, no network) whose links are relative, so it opens from disk, from a
copy of the folder or behind any web server. The portal (``reportlib.portal.catalogue``) adds
who may see what to :class:`Reports`.

    from reportlib.delivery.catalogue import entries
    for entry in entries("outputs", "sqlite:///data/reportlib.sqlite"):
        print(entry.family, entry.period, entry.name, entry.headline_text, entry.delivery_status)
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..files import atomic_write, slugify
from ..manifest import SUFFIX, read_manifest
from ..versions import version_folders

__all__ = ["CATALOGUE", "Delivered", "Document", "Entry", "FileLink", "Report", "Reports", "Version", "entries",
           "render_catalogue", "write_catalogue"]

# A name the catalogue follows: one plain path part (no "..", no separator, no dot file).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
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
class Report:
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
    headline: dict[str, Any] = field(default_factory=dict, compare=False)
    mtime_ns: int = field(default=0, compare=False)

    @property
    def path(self) -> str:
        """The period folder, relative to the outputs folder (``statements/2026-10``)."""
        return f"{self.folder}/{self.period}"

    @property
    def entity(self) -> str:
        """A short description of whom the run is about: its parameters other than the period."""
        shown = [f"{value}" for key, value in sorted(self.parameters.items())
                 if key not in ("month", "quarter", "week", "from_month", "to_month") and value not in (None, "")]
        return ", ".join(shown) or "all"


def _report_from(manifest: dict[str, Any], folder: str, period: str, mtime_ns: int) -> Report | None:
    stem, family = manifest.get("stem"), manifest.get("family")
    if not isinstance(stem, str) or not isinstance(family, str):
        return None
    files = []
    for entry in manifest.get("files") or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and NAME.fullmatch(entry["name"]):
            files.append(Document(entry["name"], int(entry.get("bytes") or 0), str(entry.get("sha256") or "")))
    parameters = manifest.get("parameters") if isinstance(manifest.get("parameters"), dict) else {}
    headline = manifest.get("headline") if isinstance(manifest.get("headline"), dict) else {}
    return Report(family=family, folder=folder, period=period, stem=stem, status=str(manifest.get("status")),
                  parameters=parameters, started_at=str(manifest.get("started_at") or ""),
                  duration_s=manifest.get("duration_s"), files=tuple(files), error=manifest.get("error"),
                  headline=headline, mtime_ns=mtime_ns)


class Reports:
    """The reports under one outputs folder, read from their manifests (cached until they change)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self._cache: dict[str, tuple[int, int, Report | None]] = {}
        self._lock = threading.Lock()

    def _read(self, path: str, stat: os.stat_result, folder: str, period: str) -> Report | None:
        with self._lock:
            cached = self._cache.get(path)
        if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        try:
            with open(path, encoding="utf-8") as handle:
                manifest = json.load(handle)
            report = _report_from(manifest, folder, period, stat.st_mtime_ns) if isinstance(manifest, dict) else None
        except (OSError, ValueError):
            report = None
        with self._lock:
            self._cache[path] = (stat.st_mtime_ns, stat.st_size, report)
        return report

    @staticmethod
    def _folders(path: str | Path) -> list[os.DirEntry]:
        try:
            with os.scandir(path) as found:
                return sorted((e for e in found if NAME.fullmatch(e.name) and e.is_dir(follow_symlinks=False)),
                              key=lambda e: e.name)
        except OSError:
            return []

    def in_period(self, folder: str, period: str) -> list[Report]:
        """The reports of one period folder (``folder``/``period``: names, never paths), by stem."""
        if not (NAME.fullmatch(folder or "") and NAME.fullmatch(period or "")):
            return []
        path = self.root / folder / period
        if path.is_symlink() or path.parent.is_symlink():
            return []
        try:
            with os.scandir(path) as found:
                manifests = [e for e in found if e.name.endswith(SUFFIX) and not e.name.startswith(".")
                             and e.is_file(follow_symlinks=False)]
        except OSError:
            return []
        reports = []
        for entry in manifests:
            report = self._read(entry.path, entry.stat(follow_symlinks=False), folder, period)
            if report is not None and f"{report.stem}{SUFFIX}" == entry.name:
                reports.append(report)
        return sorted(reports, key=lambda r: r.stem)

    def all(self) -> list[Report]:
        """Every report with a readable manifest, by family folder, period folder and stem."""
        return [report for family in self._folders(self.root) for period in self._folders(family.path)
                for report in self.in_period(family.name, period.name)]

    def get(self, folder: str, period: str, stem: str) -> Report | None:
        """The report ``folder/period/stem`` (names, never paths), or None."""
        if not all(NAME.fullmatch(part or "") for part in (folder, period, stem)):
            return None
        path = self.root / folder / period / f"{stem}{SUFFIX}"
        try:
            stat = path.stat(follow_symlinks=False)
        except OSError:
            return None
        if not path.is_file() or path.is_symlink() or path.parent.is_symlink():
            return None
        report = self._read(str(path), stat, folder, period)
        return report if report is not None and report.stem == stem else None

    def file(self, report: Report, document: Document) -> Path | None:
        """Where ``document`` of ``report`` is: a regular file (not a link) inside the outputs folder, or None."""
        path = self.root / report.folder / report.period / document.name
        try:
            if path.is_symlink() or not path.is_file():
                return None
            return path if path.resolve().is_relative_to(self.root) else None
        except OSError:
            return None

    def versions(self, report: Report) -> list[tuple[str, Path, dict[str, Any]]]:
        """The earlier versions ``report`` kept, oldest first: (when it was made, its folder, its manifest)."""
        kept = []
        for folder in version_folders(self.root / report.folder / report.period, report.stem):
            manifest = read_manifest(folder / f"{report.stem}{SUFFIX}") or {}
            kept.append((manifest.get("started_at") or folder.name, folder, manifest))
        return kept


CATALOGUE = "index.html"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class FileLink:
    """A file of a run: its name, its link relative to the outputs folder, its size."""

    name: str
    href: str
    bytes: int

    @property
    def kind(self) -> str:
        return self.name.rsplit(".", 1)[-1] if "." in self.name else ""


@dataclass(frozen=True)
class Delivered:
    """One address of one delivery, as the delivery log has it."""

    delivery: int
    address: str
    role: str
    status: str  # pending | sent | failed
    reason: str  # first | changed | recipients | resend
    created_at: datetime
    sent_at: datetime | None
    error: str | None
    eml: str  # the .eml file's name in the outbox


@dataclass(frozen=True)
class Version:
    """A run's files at one time: the current run, or an earlier one kept under ``versions/``."""

    made_at: str
    files: tuple[FileLink, ...]
    current: bool
    delivered: tuple[Delivered, ...] = ()


@dataclass(frozen=True)
class Entry:
    """One report: a family's run for an entity in a period, its versions and deliveries."""

    family: str
    period: str
    folder: str  # the period folder, relative to the outputs folder
    stem: str
    entity: str
    name: str
    status: str  # ok | failed
    made_at: str
    duration_s: float | None
    headline: tuple[dict[str, Any], ...]
    files: tuple[FileLink, ...]
    versions: tuple[Version, ...]  # oldest first; the last is the current run
    error: str | None = None

    @property
    def anchor(self) -> str:
        """The page's anchor of this entry (what a message's catalogue link points at)."""
        return f"{slugify(self.family)}-{self.folder.rsplit('/', 1)[-1]}-{self.stem}"

    @property
    def headline_text(self) -> str:
        """The first headline figure as read (``Health score 90.8 (Excellent)``), or ''."""
        if not self.headline:
            return ""
        first = self.headline[0]
        return f"{first['label']} {first['text']}" + (f" ({first['note']})" if first.get("note") else "")

    @property
    def delivered(self) -> tuple[Delivered, ...]:
        return tuple(d for v in self.versions for d in v.delivered)

    @property
    def delivery_status(self) -> str:
        """``not sent``, or per state the addresses (latest delivery of each address)."""
        latest: dict[str, Delivered] = {}
        for d in sorted(self.delivered, key=lambda d: (d.created_at, d.delivery)):
            latest[d.address.lower()] = d
        if not latest:
            return "not sent"
        by_status: dict[str, list[str]] = {}
        for d in latest.values():
            by_status.setdefault(d.status, []).append(d.address)
        return "; ".join(f"{status} ({len(people)}): {', '.join(people)}"
                         for status, people in sorted(by_status.items(), key=lambda kv: ("sent", "pending",
                                                                                           "failed").index(kv[0])))


def _files(root: Path, folder: Path, manifest: dict[str, Any]) -> tuple[FileLink, ...]:
    links = []
    for entry in manifest.get("files", []):
        path = folder / entry["name"]
        if path.is_file():
            links.append(FileLink(entry["name"], path.relative_to(root).as_posix(), int(entry.get("bytes") or 0)))
    return tuple(sorted(links, key=lambda f: (f.kind != "pdf", f.name)))


def _delivery_log(engine: Engine | None) -> dict[tuple[str, str], list[Delivered]]:
    """Deliveries by (outbox folder, .eml name), from the delivery log (empty without a database)."""
    if engine is None:
        return {}
    from .log import deliveries, delivery_recipients

    d, r = deliveries.c, delivery_recipients.c
    query = (sa.select(d.id, d.reason, d.created_at, d.eml_file, r.address, r.role, r.status, r.sent_at,
                       r.last_error, r.closed)
             .join(delivery_recipients, r.delivery_id == d.id).order_by(d.id, r.position))
    found: dict[tuple[str, str], list[Delivered]] = {}
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    except sa.exc.DBAPIError:  # a database without the delivery tables: nothing was delivered
        return {}
    for row in rows:
        if row.closed and row.status != "sent":
            continue
        eml = Path(row.eml_file)
        found.setdefault((str(eml.parent.parent.resolve()), eml.name), []).append(Delivered(
            row.id, row.address, row.role, row.status, row.reason, row.created_at, row.sent_at, row.last_error,
            eml.name))
    return found


_NUMBERED = re.compile(r"(.+)\.(\d+)")


def _by_stem(log: dict[tuple[str, str], list[Delivered]]) -> dict[tuple[str, str], list[Delivered]]:
    """The log by (outbox's folder, stem): ``<stem>.eml`` and the later ``<stem>.<n>.eml`` of a
    stem, each looked up once per report instead of scanning the whole log for each."""
    found: dict[tuple[str, str], list[Delivered]] = {}
    for (where, name), items in log.items():
        if not name.endswith(".eml"):
            continue
        base = name[:-4]
        found.setdefault((where, base), []).extend(items)
        numbered = _NUMBERED.fullmatch(base)
        if numbered:
            found.setdefault((where, numbered.group(1)), []).extend(items)
    return found


def _of_stem(log: dict[tuple[str, str], list[Delivered]], folder: Path, stem: str) -> list[Delivered]:
    """``log`` made by :func:`_by_stem`."""
    return sorted(log.get((str(folder.resolve()), stem), ()), key=lambda d: (d.created_at, d.delivery))


def _when(text: str | None) -> datetime:
    try:
        return datetime.fromisoformat(text or "").replace(tzinfo=None)
    except ValueError:
        return datetime.min


def entries(root: str | Path, db: str | Engine | None = None) -> list[Entry]:
    """Every report under the outputs folder ``root``: family, period and entity order.

    ``db`` (a URL or an engine) is where the delivery log is; None leaves deliveries out.
    """
    from ..db import engine_for

    reports = Reports(root)
    if not reports.root.is_dir():
        return []
    # Only read: a database without the delivery log's tables has delivered nothing (and the
    # catalogue follows every run, which need not declare every domain's tables first).
    engine = db if isinstance(db, Engine) or db is None else engine_for(db)
    log = _by_stem(_delivery_log(engine))
    found: list[Entry] = []
    for report in reports.all():
        folder = reports.root / report.path
        headline = report.headline
        delivered = _of_stem(log, folder, report.stem)
        kept = [(made_at, _files(reports.root, where, manifest))
                for made_at, where, manifest in reports.versions(report)]
        current = (report.started_at, _files(reports.root, folder, {"files": [
            {"name": d.name, "bytes": d.bytes} for d in report.files]}))
        timeline = kept + [current]
        versions = []
        for n, (made_at, files) in enumerate(timeline):
            start = _when(made_at)
            end = _when(timeline[n + 1][0]) if n + 1 < len(timeline) else datetime.max
            mine = tuple(d for d in delivered if start <= d.created_at < end or (n == 0 and d.created_at < start))
            versions.append(Version(made_at, files, n == len(timeline) - 1, mine))
        found.append(Entry(
            family=report.family, period=headline.get("period") or report.period, folder=report.path,
            stem=report.stem, entity=headline.get("entity") or "", name=headline.get("name") or report.stem,
            status=report.status if report.status != "None" else "unknown", made_at=report.started_at,
            duration_s=report.duration_s, headline=tuple(headline.get("figures") or ()), files=current[1],
            versions=tuple(versions), error=report.error))
    return sorted(found, key=lambda e: (e.family, e.folder, e.entity or e.stem, e.stem))


def render_catalogue(items: list[Entry], *, title: str = "Reports") -> str:
    """The catalogue page of ``items``: one self-contained HTML document."""
    import jinja2

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    families: dict[str, dict[str, list[Entry]]] = {}
    for item in items:
        families.setdefault(item.family, {}).setdefault(item.folder, []).append(item)
    made = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return environment.get_template("catalogue.html.j2").render(
        title=title, families=families, total=len(items), made=made, when=_shown_time,
        size=lambda n: f"{n / 1_048_576:.1f} MB" if n >= 1_048_576 else f"{max(1, round(n / 1024))} KB",
        search_index=json.dumps)


def _shown_time(text: str | datetime | None) -> str:
    if not text:
        return ""
    moment = text if isinstance(text, datetime) else _when(text)
    return "" if moment == datetime.min else f"{moment:%Y-%m-%d %H:%M}"


def write_catalogue(root: str | Path, db: str | Engine | None = None) -> Path:
    """Rebuild ``<root>/index.html`` from the manifests and the delivery log; its path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    page = render_catalogue(entries(root, db))
    path = root / CATALOGUE
    with atomic_write(path, fsync=False) as handle:
        handle.write(page)
    return path

