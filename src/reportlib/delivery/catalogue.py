"""The catalogue: every report under ``outputs/``, what it says, its versions, who received it.

:func:`entries` reads the run manifests (and their kept versions) and the delivery log into
plain records, one :class:`Entry` per family × period × entity; :func:`write_catalogue`
renders them as ``outputs/index.html``, one self-contained page (inline style and script, no
network) whose links are relative, so it opens from disk, from a copy of the folder or
behind any web server. The web portal reads :func:`entries` too.

    from reportlib.delivery.catalogue import entries
    for entry in entries("outputs", "sqlite:///data/reportlib.sqlite"):
        print(entry.family, entry.period, entry.name, entry.headline_text, entry.delivery_status)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..files import atomic_write, slugify
from ..manifest import INDEX, SUFFIX, read_manifest
from ..versions import version_folders

__all__ = ["CATALOGUE", "Delivered", "Entry", "FileLink", "Version", "entries", "render_catalogue",
           "write_catalogue"]

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


def _of_stem(log: dict[tuple[str, str], list[Delivered]], folder: Path, stem: str) -> list[Delivered]:
    key = str(folder.resolve())
    out = []
    for (where, name), items in log.items():
        if where == key and (name == f"{stem}.eml" or (name.startswith(f"{stem}.") and name[len(stem) + 1:-4].isdigit())):
            out += items
    return sorted(out, key=lambda d: (d.created_at, d.delivery))


def _when(text: str | None) -> datetime:
    try:
        return datetime.fromisoformat(text or "").replace(tzinfo=None)
    except ValueError:
        return datetime.min


def _period_folders(root: Path) -> Iterable[Path]:
    for family_folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for folder in sorted(p for p in family_folder.iterdir() if p.is_dir() and (p / INDEX).is_file()):
            yield folder


def entries(root: str | Path, db: str | Engine | None = None) -> list[Entry]:
    """Every report under the outputs folder ``root``: family, period and entity order.

    ``db`` (a URL or an engine) is where the delivery log is; None leaves deliveries out.
    """
    from ..db import init_db

    root = Path(root).resolve()
    if not root.is_dir():
        return []
    engine = db if isinstance(db, Engine) or db is None else init_db(db)
    log = _delivery_log(engine)
    found: list[Entry] = []
    for folder in _period_folders(root):
        for path in sorted(folder.glob(f"*{SUFFIX}")):
            manifest = read_manifest(path)
            if not manifest or "stem" not in manifest:
                continue
            stem = manifest["stem"]
            headline = manifest.get("headline") or {}
            delivered = _of_stem(log, folder, stem)
            kept = []
            for version in version_folders(folder, stem):
                old = read_manifest(version / f"{stem}{SUFFIX}") or {}
                kept.append((old.get("started_at") or version.name, _files(root, version, old)))
            current = (manifest.get("started_at") or "", _files(root, folder, manifest))
            timeline = kept + [current]
            versions = []
            for n, (made_at, files) in enumerate(timeline):
                start = _when(made_at)
                end = _when(timeline[n + 1][0]) if n + 1 < len(timeline) else datetime.max
                mine = tuple(d for d in delivered if start <= d.created_at < end
                             or (n == 0 and d.created_at < start))
                versions.append(Version(made_at, files, n == len(timeline) - 1, mine))
            found.append(Entry(
                family=manifest.get("family") or folder.parent.name, period=headline.get("period") or folder.name,
                folder=folder.relative_to(root).as_posix(), stem=stem, entity=headline.get("entity") or "",
                name=headline.get("name") or stem, status=manifest.get("status") or "unknown",
                made_at=manifest.get("started_at") or "", duration_s=manifest.get("duration_s"),
                headline=tuple(headline.get("figures") or ()), files=current[1], versions=tuple(versions),
                error=manifest.get("error")))
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

