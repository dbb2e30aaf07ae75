"""PDFs of finished reports, listed in each run's manifest like every other file.

A family names the files that get a PDF (:attr:`reportlib.families.Family.pdfs`):

- an HTML page is printed by the one printer of pages, :mod:`reportlib.render.pdf` (headless
  Chromium): A4, the charts as vectors, each section on a new page (the page's print
  stylesheet), the entity and period in the page header, page numbers in the footer. One
  browser prints a whole batch, a few tabs at a time.
- an Office document (a PPTX deck) is converted by LibreOffice headless. Starting LibreOffice
  costs seconds, so a batch's documents are converted by a few ``soffice`` processes (one per
  worker), each given its whole share of files in one ``--convert-to pdf`` call.

After the runs, :func:`make_pdfs` finds the runs whose PDF is missing or older than its
source, converts them, renames each PDF into place (atomically) and adds its entry to the
run's manifest (rewritten atomically, and only if the run is still the one that was read):
name, bytes, sha256 and ``made_from`` (the source's name and :func:`content_sha256`). A run
whose source content did not change keeps its PDF: a re-run that rewrote the manifest gets
the entry back from the folder's ``.pdfs.json`` without converting again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..errors import ConfigError, ReportlibError
from ..families import Family
from ..files import atomic_write
from ..manifest import INDEX, SUFFIX, file_entry, read_manifest, write_folder_index, write_manifest
from ..render.pdf import Printout, print_pages
from ..render.pptx_print import print_copy
from ..versions import VERSIONS, content_sha256

__all__ = ["PdfJob", "PdfReport", "make_pdfs", "office_to_pdf", "pending_pdfs", "print_jobs", "soffice_path"]

_RECORD = ".pdfs.json"  # pdf name -> {"made_from": content digest, "sha256": the PDF's}


def soffice_path() -> str | None:
    """LibreOffice's program: ``$REPORTLIB_SOFFICE`` or ``soffice`` / ``libreoffice`` on PATH."""
    return os.environ.get("REPORTLIB_SOFFICE") or shutil.which("soffice") or shutil.which("libreoffice")


@dataclass(frozen=True)
class PdfJob:
    """One PDF to make: the run's folder and stem, its source file, and what the header says."""

    folder: Path
    stem: str
    source: Path
    run_key: str | None
    entity: str
    period: str

    @property
    def target(self) -> Path:
        return self.folder / f"{self.stem}.pdf"


@dataclass
class PdfReport:
    """What :func:`make_pdfs` did."""

    made: list[Path] = field(default_factory=list)
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    missing_program: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        text = f"PDF: {len(self.made)} made, {self.unchanged} unchanged, {len(self.failed)} failed in {self.seconds:.1f} s"
        if self.missing_program:
            text += f" ({self.missing_program})"
        return "\n".join([text] + [f"  PDF FAILED {name}: {why}" for name, why in self.failed])


def _runs(folder: Path, family: Family, stems: set[str] | None) -> Iterable[dict]:
    """The good runs of ``family`` in ``folder``; with ``stems``, only their manifests are read
    (a run's PDF in a folder of thousands of decks)."""
    if stems is None:
        paths = sorted(folder.glob(f"*{SUFFIX}"))
    else:
        paths = sorted(folder / f"{stem}{SUFFIX}" for stem in stems)
    for path in paths:
        manifest = read_manifest(path)
        if not manifest or manifest.get("status") != "ok" or manifest.get("family") != family.name:
            continue
        if stems is not None and manifest.get("stem") not in stems:
            continue
        yield manifest


def _record(folder: Path) -> dict:
    try:
        return json.loads((folder / _RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def pending_pdfs(family: Family, folders: Iterable[Path], *, stems: Iterable[str] | None = None,
                 force: bool = False) -> tuple[list[PdfJob], int]:
    """The PDFs to make in ``folders`` (missing, or their source changed), and how many are up to
    date; an up-to-date PDF that a re-run's manifest no longer lists is listed again here."""
    wanted = set(stems) if stems is not None else None
    jobs, unchanged = [], 0
    for folder in folders:
        if not folder.is_dir() or not family.pdfs:
            continue
        record, relisted = _record(folder), []
        for manifest in _runs(folder, family, wanted):
            stem = manifest["stem"]
            files = {e["name"]: e for e in manifest.get("files", [])}
            source = next((folder / name for suffix in family.pdfs for name in files if name == stem + suffix), None)
            if source is None or not source.is_file():
                continue
            target = folder / f"{stem}.pdf"
            digest = content_sha256(source.read_bytes())
            entry, kept = files.get(target.name), record.get(target.name) or {}
            if not force and target.is_file():
                if entry and (entry.get("made_from") or {}).get("content_sha256") == digest:
                    unchanged += 1
                    continue
                if kept.get("made_from") == digest and _sha256(target) == kept.get("sha256"):
                    relisted.append((manifest, source, digest))
                    unchanged += 1
                    continue
            headline = manifest.get("headline") or {}
            entity = headline.get("name") or stem
            if headline.get("entity"):
                entity = f"{entity} ({headline['entity']})"
            jobs.append(PdfJob(folder, stem, source, manifest.get("run_key"), entity,
                               headline.get("period") or folder.name))
        for manifest, source, digest in relisted:
            _list(folder, manifest["stem"], manifest.get("run_key"), folder / f"{manifest['stem']}.pdf", source, digest)
        if relisted:
            write_folder_index(folder, stems=[manifest["stem"] for manifest, _, _ in relisted])
    return jobs, unchanged


def _sha256(path: Path) -> str:
    from ..files import sha256_file

    return sha256_file(path)


def _list(folder: Path, stem: str, run_key: str | None, pdf: Path, source: Path, digest: str) -> bool:
    """Add (or replace) the PDF's entry in the run's manifest; False if the run changed meanwhile."""
    path = folder / f"{stem}{SUFFIX}"
    manifest = read_manifest(path)
    if not manifest or manifest.get("run_key") != run_key or manifest.get("status") != "ok":
        return False
    entry = dict(file_entry(pdf), made_from={"name": source.name, "content_sha256": digest})
    manifest["files"] = [e for e in manifest.get("files", []) if e["name"] != pdf.name] + [entry]
    write_manifest(path, manifest)
    record = _record(folder)
    record[pdf.name] = {"made_from": digest, "sha256": entry["sha256"]}
    with atomic_write(folder / _RECORD) as handle:
        json.dump(record, handle, indent=1, sort_keys=True)
    return True


def print_jobs(jobs: list[PdfJob], out: Path, *, progress: Callable[[PdfJob], None] | None = None,
               tabs: int | None = None) -> dict[PdfJob, Path | str]:
    """Print each job's HTML page into ``out`` (one headless Chromium, a few tabs at a time); for
    each job its PDF's path or why not."""
    printouts = [Printout(job.source, out / f"{n}.pdf", job.entity, job.period) for n, job in enumerate(jobs)]
    by_printout = dict(zip(printouts, jobs))
    outcomes = print_pages(printouts, tabs=tabs, progress=progress and (lambda p: progress(by_printout[p])))
    return {job: why if why is not None else printout.pdf for job, printout, why in zip(jobs, printouts, outcomes)}


def office_to_pdf(sources: list[Path], out: Path, *, timeout: float = 1800) -> None:
    """Convert office documents to PDF in ``out`` with one LibreOffice process (a profile of its own)."""
    soffice = soffice_path()
    if not soffice:
        raise ConfigError("LibreOffice (soffice) is not installed: it converts decks to PDF.")
    profile = Path(tempfile.mkdtemp(prefix="reportlib-lo-"))
    try:
        done = subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                               "--nolockcheck", "--convert-to", "pdf", "--outdir", str(out), *map(str, sources)],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise ReportlibError(f"LibreOffice failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    except subprocess.TimeoutExpired:
        raise ReportlibError(f"LibreOffice did not finish converting {len(sources)} file(s) in {timeout:g} s") from None
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _convert_office(jobs: list[PdfJob], out: Path, workers: int,
                    progress: Callable[[PdfJob], None] | None) -> dict[PdfJob, Path | str]:
    # Each job's source gets a unique name (two periods' decks may share a stem); a deck is
    # converted from its copy for printing (render.pptx_print), whose tables cost LibreOffice less.
    for n, job in enumerate(jobs):
        link = out / f"{n}{job.source.suffix}"
        if job.source.suffix.lower() == ".pptx":
            print_copy(job.source, link)
            continue
        try:
            os.link(job.source, link)
        except OSError:
            shutil.copyfile(job.source, link)
    shares = [list(range(i, len(jobs), workers)) for i in range(min(workers, len(jobs)))]

    def convert(share: list[int]) -> dict[int, str | None]:
        try:
            office_to_pdf([out / f"{n}{jobs[n].source.suffix}" for n in share], out)
            return {n: None for n in share}
        except ReportlibError as exc:
            return {n: str(exc) for n in share}

    results: dict[PdfJob, Path | str] = {}
    with ThreadPoolExecutor(len(shares)) as pool:
        for outcome in pool.map(convert, shares):
            for n, error in outcome.items():
                pdf = out / f"{n}.pdf"
                results[jobs[n]] = pdf if pdf.is_file() else (error or "LibreOffice made no PDF of it")
                if progress:
                    progress(jobs[n])
    return results


def make_pdfs(family: Family, folders: Iterable[Path], *, stems: Iterable[str] | None = None,
              workers: int | None = None, force: bool = False,
              progress: Callable[[PdfJob], None] | None = None) -> PdfReport:
    """Make the PDFs of ``family``'s good runs in ``folders`` (only ``stems`` if given) that are
    missing or older than their source, and list them in the runs' manifests."""
    clock = time.perf_counter()
    report = PdfReport()
    folders = [Path(f).resolve() for f in folders]
    jobs, report.unchanged = pending_pdfs(family, folders, stems=stems, force=force)
    if not jobs:
        report.seconds = time.perf_counter() - clock
        return report
    html = [j for j in jobs if j.source.suffix == ".html"]
    office = [j for j in jobs if j.source.suffix != ".html"]
    results: dict[PdfJob, Path | str] = {}
    scratch = jobs[0].folder.parent / f".pdf-{uuid.uuid4().hex[:12]}.partial"
    scratch.mkdir(parents=True)
    try:
        if html:
            from ..render.chromium import chromium_path

            if chromium_path() is None:
                report.missing_program = "Chromium not found: HTML reports get no PDF"
            else:
                (scratch / "html").mkdir()
                results.update(print_jobs(html, scratch / "html", progress=progress))
        if office:
            if soffice_path() is None:
                report.missing_program = "LibreOffice not found: decks get no PDF"
            else:
                (scratch / "office").mkdir()
                results.update(_convert_office(office, scratch / "office", max(1, workers or os.cpu_count() or 1),
                                               progress))
        touched: dict[Path, set[str]] = {}
        for job, outcome in results.items():
            if isinstance(outcome, str):
                report.failed.append((job.target.name, outcome))
                continue
            os.replace(outcome, job.target)
            if _list(job.folder, job.stem, job.run_key, job.target, job.source, content_sha256(job.source.read_bytes())):
                report.made.append(job.target)
                touched.setdefault(job.folder, set()).add(job.stem)
        for folder, stems in touched.items():
            write_folder_index(folder, stems=stems)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report.seconds = time.perf_counter() - clock
    return report


def period_folders(root: Path, family: Family) -> list[Path]:
    """Every period folder of ``family`` under the outputs ``root``."""
    from ..files import slugify

    base = root / slugify(family.folder)
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != VERSIONS
                  and (p / INDEX).is_file())
