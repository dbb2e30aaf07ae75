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
from ..versions import VERSIONS, version_folders

__all__ = ["CACHE", "CATALOGUE", "Delivered", "Document", "Entry", "FileLink", "Refreshed", "Report", "Reports",
           "Version", "entries", "refresh_catalogue", "render_catalogue", "write_catalogue"]

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

    def manifests(self, folder: str, period: str) -> list[os.DirEntry]:
        """The run manifests of one period folder (``folder``/``period``: names, never paths)."""
        if not (NAME.fullmatch(folder or "") and NAME.fullmatch(period or "")):
            return []
        path = self.root / folder / period
        if path.is_symlink() or path.parent.is_symlink():
            return []
        try:
            with os.scandir(path) as found:
                return [e for e in found if e.name.endswith(SUFFIX) and not e.name.startswith(".")
                        and e.is_file(follow_symlinks=False)]
        except OSError:
            return []

    def in_period(self, folder: str, period: str) -> list[Report]:
        """The reports of one period folder (``folder``/``period``: names, never paths), by stem."""
        reports = []
        for entry in self.manifests(folder, period):
            report = self._read(entry.path, entry.stat(follow_symlinks=False), folder, period)
            if report is not None and f"{report.stem}{SUFFIX}" == entry.name:
                reports.append(report)
        return sorted(reports, key=lambda r: r.stem)

    def periods(self) -> list[tuple[str, str]]:
        """Every (family folder, period folder) under the outputs folder, by name."""
        return [(family.name, period.name) for family in self._folders(self.root)
                for period in self._folders(family.path)]

    def all(self) -> list[Report]:
        """Every report with a readable manifest, by family folder, period folder and stem."""
        return [report for folder, period in self.periods() for report in self.in_period(folder, period)]

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
    from .tables import deliveries, delivery_recipients

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


def _of_stem(log: dict[tuple[str, str], list[Delivered]], folder: Path | str, stem: str) -> list[Delivered]:
    """``log`` made by :func:`_by_stem`; ``folder`` a path, or its resolved path as text."""
    where = folder if isinstance(folder, str) else str(folder.resolve())
    return sorted(log.get((where, stem), ()), key=lambda d: (d.created_at, d.delivery))


def _when(text: str | None) -> datetime:
    try:
        return datetime.fromisoformat(text or "").replace(tzinfo=None)
    except ValueError:
        return datetime.min


def _engine(db: str | Engine | None) -> Engine | None:
    from ..db import engine_for

    return db if isinstance(db, Engine) or db is None else engine_for(db)


def _entry(reports: Reports, report: Report, delivered: list[Delivered]) -> Entry:
    """``report`` as the catalogue lists it, with its versions and the deliveries of its messages."""
    folder = reports.root / report.path
    headline = report.headline
    kept = [(made_at, _files(reports.root, where, manifest)) for made_at, where, manifest in reports.versions(report)]
    current = (report.started_at, _files(reports.root, folder, {"files": [
        {"name": d.name, "bytes": d.bytes} for d in report.files]}))
    timeline = kept + [current]
    versions = []
    for n, (made_at, files) in enumerate(timeline):
        start = _when(made_at)
        end = _when(timeline[n + 1][0]) if n + 1 < len(timeline) else datetime.max
        mine = tuple(d for d in delivered if start <= d.created_at < end or (n == 0 and d.created_at < start))
        versions.append(Version(made_at, files, n == len(timeline) - 1, mine))
    return Entry(
        family=report.family, period=headline.get("period") or report.period, folder=report.path,
        stem=report.stem, entity=headline.get("entity") or "", name=headline.get("name") or report.stem,
        status=report.status if report.status != "None" else "unknown", made_at=report.started_at,
        duration_s=report.duration_s, headline=tuple(headline.get("figures") or ()), files=current[1],
        versions=tuple(versions), error=report.error)


def _order(entry: Entry) -> tuple[str, str, str, str]:
    return entry.family, entry.folder, entry.entity or entry.stem, entry.stem


def entries(root: str | Path, db: str | Engine | None = None) -> list[Entry]:
    """Every report under the outputs folder ``root``: family, period and entity order.

    ``db`` (a URL or an engine) is where the delivery log is; None leaves deliveries out.
    """
    reports = Reports(root)
    if not reports.root.is_dir():
        return []
    # Only read: a database without the delivery log's tables has delivered nothing (and the
    # catalogue follows every run, which need not declare every domain's tables first).
    log = _by_stem(_delivery_log(_engine(db)))
    found = [_entry(reports, report, _of_stem(log, reports.root / report.path, report.stem))
             for report in reports.all()]
    return sorted(found, key=_order)


_ROW = "catalogue_row.html.j2"
_PAGE = "catalogue.html.j2"
_environment: Any = None


def _templates() -> Any:
    """The catalogue's Jinja environment, made once per process; compiled templates are kept in
    the cache folder (:func:`reportlib.config.cache_dir`), so a new process does not compile them."""
    global _environment
    if _environment is None:
        import jinja2

        from ..config import cache_dir

        compiled = None
        try:
            folder = cache_dir() / "jinja"
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                compiled = jinja2.FileSystemBytecodeCache(str(folder))
        except OSError:  # no cache folder: templates are compiled in each process
            pass
        _environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                                          undefined=jinja2.StrictUndefined, bytecode_cache=compiled)
    return _environment


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB" if n >= 1_048_576 else f"{max(1, round(n / 1024))} KB"


def _row(entry: Entry) -> str:
    """The catalogue's table row of ``entry`` (HTML)."""
    return _templates().get_template(_ROW).render(e=entry, when=_shown_time, size=_size)


def _page(rows: list[tuple[str, str, str, str]], title: str, made: str | None) -> str:
    """The page of ``rows``, each (family, period folder, period, its row's HTML), in order."""
    from markupsafe import Markup

    families: dict[str, dict[str, dict[str, Any]]] = {}
    for family, folder, period, row in rows:
        group = families.setdefault(family, {}).setdefault(folder, {"period": period, "rows": []})
        group["rows"].append(Markup(row))
    made = made or datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return _templates().get_template(_PAGE).render(title=title, families=families, total=len(rows), made=made)


def render_catalogue(items: list[Entry], *, title: str = "Reports", made: str | None = None) -> str:
    """The catalogue page of ``items``: one self-contained HTML document (``made``: the time it
    says it was made, default now)."""
    return _page([(item.family, item.folder, item.period, _row(item)) for item in items], title, made)


def _shown_time(text: str | datetime | None) -> str:
    if not text:
        return ""
    moment = text if isinstance(text, datetime) else _when(text)
    return "" if moment == datetime.min else f"{moment:%Y-%m-%d %H:%M}"


# Beside the page: each report's row as last rendered, with what it was rendered from.
CACHE = ".catalogue-cache.json"


@dataclass(frozen=True)
class Refreshed:
    """What :func:`write_catalogue` did: the page, and how many reports' rows it made or kept."""

    path: Path
    made: int  # rows made now: new or changed reports (every report on a full rebuild)
    kept: int  # rows taken unchanged from the previous catalogue


def _stat_key(stat: os.stat_result | None) -> list[int] | None:
    return None if stat is None else [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _stat_of(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def _listed(where: Path, report: Report) -> dict[str, list[str]]:
    """The files ``report`` and each of its kept versions list: "" the current run, else the
    version's folder name."""
    listed = {"": [d.name for d in report.files]}
    for folder in version_folders(where, report.stem):
        manifest = read_manifest(folder / f"{report.stem}{SUFFIX}") or {}
        listed[folder.name] = [str(f.get("name")) for f in manifest.get("files", []) if isinstance(f, dict)]
    return listed


@dataclass(frozen=True)
class _Listing:
    """A period folder's file names and the stems that have kept versions, listed once for all
    its reports' signatures: a folder of 9,400 decks took half a second when each signature
    looked for its files one by one."""

    files: frozenset[str]
    versioned: frozenset[str]

    @classmethod
    def of(cls, where: Path) -> _Listing:
        def names(path: Path, wanted) -> frozenset[str]:
            try:
                with os.scandir(path) as found:
                    return frozenset(entry.name for entry in found if wanted(entry))
            except OSError:
                return frozenset()

        return cls(names(where, os.DirEntry.is_file), names(where / VERSIONS, os.DirEntry.is_dir))


def _signature(where: Path, stem: str, manifest: os.stat_result, listed: dict[str, list[str]],
               delivered: list[Delivered], listing: _Listing) -> list[Any]:
    """Everything a report's row is made from, as plain values: its manifest's file, its kept
    versions' manifests, which of the files they list are there, and its deliveries. Taken
    before the row is made (``listing`` too), so a change made meanwhile shows as a difference
    the next time."""
    kept = version_folders(where, stem) if stem in listing.versioned else []
    there = {version: [name for name in names if (
        name in listing.files if not version else os.path.isfile(os.path.join(where, VERSIONS, stem, version, name)))]
        for version, names in listed.items()}
    return [_stat_key(manifest), [[v.name, _stat_key(_stat_of(v / f"{stem}{SUFFIX}"))] for v in kept],
            [[version, there[version]] for version in sorted(there)],
            [[d.delivery, d.address, d.role, d.status, d.reason, d.created_at.isoformat(),
              d.sent_at.isoformat() if d.sent_at else None, d.error, d.eml] for d in delivered]]


def _code() -> str:
    """What the rows are made by (this module, its templates, reportlib's version): a change of it
    remakes every row."""
    import hashlib

    from ..version import __version__

    digest = hashlib.sha256(__version__.encode() + b"\0" + Path(__file__).read_bytes())
    for name in (_ROW, _PAGE):
        digest.update((TEMPLATES / name).read_bytes())
    return digest.hexdigest()


def _read_cache(path: Path, code: str) -> dict[str, dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            cache = json.load(handle)
    except (OSError, ValueError):
        return {}
    if not isinstance(cache, dict) or cache.get("code") != code or not isinstance(cache.get("rows"), dict):
        return {}
    return cache["rows"]


def write_catalogue(root: str | Path, db: str | Engine | None = None, *, full: bool = False) -> Path:
    """Bring ``<root>/index.html`` up to date with the manifests and the delivery log; its path.

    Only the rows of new or changed reports are made again (:func:`refresh_catalogue`);
    ``full`` makes every row, as ``reportlib catalogue`` does.
    """
    return refresh_catalogue(root, db, full=full).path


def refresh_catalogue(root: str | Path, db: str | Engine | None = None, *, full: bool = False,
                      made: str | None = None) -> Refreshed:
    """:func:`write_catalogue`, saying how many rows it made and kept (``made``: the time the page
    says it was made, default now).

    Each report's row is kept beside the page (:data:`CACHE`) with what it was made from
    (:func:`_signature`); a report whose manifest, kept versions, files or deliveries changed
    since, or that is new, gets its row made again, one that is gone loses it. The page is the
    same as one made from every manifest (:func:`render_catalogue` of :func:`entries`).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    reports = Reports(root)
    log = _by_stem(_delivery_log(_engine(db)))
    code = _code()
    cache_path = reports.root / CACHE
    cached = {} if full else _read_cache(cache_path, code)
    rows: dict[str, dict[str, Any]] = {}
    made_now = 0
    for folder, period in reports.periods():
        where = reports.root / folder / period
        resolved = str(where.resolve())
        listing = _Listing.of(where)
        for found in reports.manifests(folder, period):
            stem = found.name[:-len(SUFFIX)]
            key = f"{folder}/{period}/{stem}"
            delivered = _of_stem(log, resolved, stem)
            stat = found.stat(follow_symlinks=False)  # before anything is read (see _signature)
            row = cached.get(key)
            if row is not None and row.get("signature") == _signature(where, stem, stat, row.get("listed") or {},
                                                                      delivered, listing):
                rows[key] = row
                continue
            report = reports._read(found.path, stat, folder, period)
            if report is None or report.stem != stem:
                continue
            listed = _listed(where, report)
            signature = _signature(where, stem, stat, listed, delivered, listing)
            entry = _entry(reports, report, delivered)
            rows[key] = {"signature": signature, "listed": listed, "order": list(_order(entry)),
                         "family": entry.family, "folder": entry.folder, "period": entry.period, "row": _row(entry)}
            made_now += 1
    ordered = sorted(rows.values(), key=lambda row: row["order"])
    page = _page([(row["family"], row["folder"], row["period"], row["row"]) for row in ordered], "Reports", made)
    path = reports.root / CATALOGUE
    with atomic_write(path, fsync=False) as handle:
        handle.write(page)
    if made_now or rows.keys() != cached.keys():
        try:
            with atomic_write(cache_path, fsync=False) as handle:
                handle.write(json.dumps({"code": code, "rows": rows}))
        except OSError:  # the next catalogue makes every row again
            pass
    return Refreshed(Path(root) / CATALOGUE, made_now, len(rows) - made_now)
