"""Run one report: check parameters, execute the family's notebook, publish its outputs.

The runner knows nothing family-specific; it talks to :class:`~reportlib.families.Family`.
A run executes in a private staging folder beside its destination; only when everything
succeeded are the files renamed into place (each rename is atomic) and the manifest written.
A failed run keeps its executed notebook as ``<stem>.failed.ipynb`` for diagnosis and
replaces nothing that an earlier good run produced.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from .version import __version__
from .config import outputs_root, project_root, public_db_url, redact_secrets_in_text, resolve_db_url
from .db import connect, data_fingerprint
from .engines import Engine, NotebookFailed, get_engine, process_alive
from .family_notebooks import check_notebook
from .patches import notebook_text
from .errors import ConfigError, ReportlibError, RunError
from .families import Family, get_family, notebook_path
from .render.headline import headline_of
from .files import as_stem, atomic_write, safe_join, sha256_file, slugify
from .manifest import (SUFFIX, file_entry, git_commit, look_up_git_commit, outputs_intact, read_manifest, run_key,
                       write_folder_index, write_manifest)
from .params import ReportParams
from .render.charts import StaticDrawings, draws_static_charts
from .render.html import warm_html_export, write_notebook_html
from .versions import keep_earlier_version

__all__ = ["RunPlan", "RunResult", "after_run", "notebook_path", "open_notebook", "output_file", "plan_run", "run_report",
           "sweep_staging"]


@dataclass(frozen=True)
class RunPlan:
    """Everything decided before a kernel starts: parameters, destination, freshness key."""

    family: Family
    params: ReportParams
    db_url: str
    folder: Path
    stem: str
    notebook: Path
    key: str
    fingerprint: str | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    """What a run did: ``ok``, ``skipped`` or ``failed``, its files and how long it took."""

    family: str
    stem: str
    status: str
    folder: str
    files: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    error: str | None = None
    failed_notebook: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def open_notebook(family_name: str, raw: dict[str, Any], *, out: str | Path | None = None,
                  db_url: str | None = None, force: bool = False) -> Path:
    """Write the family's notebook for one entity, its parameters injected as papermill's
    ``--prepare-only`` does, to ``outputs/scratch/<folder>/<period>/<stem>.ipynb``; its path.

    The entity is checked against the database first. The files the notebook writes go beside
    it. An existing notebook there (perhaps edited) is only replaced with ``force``.
    """
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    family = get_family(family_name)
    params = family.params.parse(raw)
    url = resolve_db_url(db_url)
    with connect(url) as conn:
        stem = as_stem(family.stem(conn, params))
    source = notebook_path(family)
    check_notebook(family, source)
    folder = safe_join(outputs_root(out), "scratch", slugify(family.folder), slugify(family.period(params)))
    target = folder / f"{stem}.ipynb"
    if target.exists() and not force:
        raise ConfigError(f"{target} exists (your edits may be in it): open it, or give --force to replace it.")
    folder.mkdir(parents=True, exist_ok=True)
    # The URL goes in only when it holds no secret: else the notebook reads $REPORTLIB_DB, as a run's does.
    shown_url = public_db_url(url)
    injected = dict(params.to_notebook(), db_url=url if shown_url == url else None,
                    output_dir=str(folder), output_stem=stem)
    nb = parameterize_notebook(load_notebook_node(str(source)), injected, report_mode=False)
    with atomic_write(target) as handle:
        handle.write(notebook_text(nb))
    return target


def output_file(output_dir: str | None, output_stem: str | None, suffix: str, *, folder: str = "scratch") -> Path:
    """Where a notebook writes one of its files: ``<output_dir>/<output_stem><suffix>``.

    The runner passes both; an analyst running the notebook by hand (both None) gets
    ``outputs/scratch/<folder>/report<suffix>``.
    """
    if output_dir is None:
        directory = safe_join(outputs_root(), "scratch", slugify(folder))
    else:
        directory = Path(output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{as_stem(output_stem or 'report')}{suffix}"


def plan_run(family_name: str | Family, raw: dict[str, Any] | ReportParams, *, out: str | Path | None = None,
             db_url: str | None = None, notebook: str | Path | None = None,
             extra: dict[str, Any] | None = None, conn: Connection | None = None,
             fingerprint: str | None | object = ..., stem: str | None = None) -> RunPlan:
    """Check the parameters and the entity, and decide where the run's files go.

    ``notebook`` overrides the family's notebook path (a batch resolves it once, where it
    starts). ``extra`` are notebook parameters that do not change what a run produces, such
    as the path of a batch's prepared inputs; they are injected but not part of the run key.
    A batch that plans many runs passes its open connection and the domain's fingerprint, and
    the stems it named all at once; a worker gets the stem and fingerprint the batch used.
    """
    family = family_name if isinstance(family_name, Family) else get_family(family_name)
    params = raw if isinstance(raw, ReportParams) else family.params.parse(raw)
    if family.domain is None:  # a notebook that reads no database of ours (reportlib.notebooks)
        url, fingerprint = "", None
    else:
        url = resolve_db_url(db_url)
    if conn is None and family.domain is not None and (stem is None or fingerprint is ...):
        with connect(url) as own:
            return plan_run(family, params, out=out, db_url=url, notebook=notebook, extra=extra, conn=own,
                            fingerprint=fingerprint, stem=stem)
    stem = family.stem(conn, params) if stem is None else stem
    if family.domain is not None:  # a notebook run's stem is the file name it was given (notebooks.file_stem)
        stem = as_stem(stem)
    if fingerprint is ...:
        fingerprint = data_fingerprint(conn, family.domain)
    notebook = Path(notebook) if notebook is not None else notebook_path(family)
    if not notebook.is_file():
        raise ConfigError(f"The {family.name} notebook {notebook} does not exist on {socket.gethostname()}; "
                          "every machine that runs reports needs the project at the same path.")
    key = run_key(sha256_file(notebook), params.to_notebook(), fingerprint, __version__, options=family.options)
    return RunPlan(family, params, url, _folder(family, params, out), stem, notebook, key, fingerprint,
                   dict(extra or {}))


def _folder(family: Family, params: ReportParams, out: str | Path | None) -> Path:
    """Where a run's files go: ``outputs/<family>/<period>/``, or a notebook run's own folder."""
    if Path(family.folder).is_absolute():
        return Path(family.folder)
    return safe_join(outputs_root(out), slugify(family.folder), slugify(family.period(params)))


def is_fresh(plan: RunPlan) -> bool:
    """A good run with the same key exists and its files are intact."""
    manifest = read_manifest(plan.folder / f"{plan.stem}{SUFFIX}")
    return bool(manifest and manifest.get("status") == "ok" and manifest.get("run_key") == plan.key
                and outputs_intact(plan.folder, manifest))


def run_report(family_name: str | Family, raw: dict[str, Any] | ReportParams, *, out: str | Path | None = None,
               db_url: str | None = None, engine: Engine | str = "papermill", force: bool = False,
               update_index: bool = True, engine_options: dict[str, Any] | None = None) -> RunResult:
    """Run one report; raises RunError on failure (after keeping the executed notebook).

    ``engine_options`` configure an engine given by name (``timeout``, ``log_output``,
    ``kernel_name``). An engine that can start its kernel early (``start_early``, the papermill
    engine's) is told the notebook as soon as the family is known: the kernel starts and imports
    while the run is planned. A given engine is left open; one named is closed at the end. A
    registered family's notebook must match its parameters (:func:`check_notebook`).
    """
    own = isinstance(engine, str)
    engine = get_engine(engine, **(engine_options or {})) if isinstance(engine, str) else engine
    try:
        family = family_name if isinstance(family_name, Family) else get_family(family_name)
        start_early = getattr(engine, "start_early", None)
        if start_early is not None:
            start_early(notebook_path(family))
        if not isinstance(family_name, Family):
            check_notebook(family, notebook_path(family))
        plan = plan_run(family, raw, out=out, db_url=db_url)
        result = after_run(plan.family, plan.db_url, execute_plan(plan, engine=engine, force=force))
    finally:
        if own:
            engine.close()
    if update_index:
        write_folder_index(plan.folder, stems=[plan.stem])
        sweep_staging(plan.folder)
    if result.status == "failed":
        kept = (f"The executed notebook is kept at {result.failed_notebook}." if result.failed_notebook else
                "No executed notebook could be kept.")
        raise RunError(f"{plan.family.name} {plan.stem} failed: {result.error}. {kept}",
                       family=plan.family.name, entity=plan.stem, notebook=result.failed_notebook)
    return result


def after_run(family: Family, db_url: str, result: RunResult) -> RunResult:
    """The family's step after a run (:attr:`Family.after_run`), in this process; returns the result,
    failed when the step raised (its files stay published)."""
    if family.after_run is None:
        return result
    try:
        family.after_run(db_url, result)
    except Exception as exc:
        detail = str(exc) if isinstance(exc, ReportlibError) else f"{type(exc).__name__}: {exc}"
        return replace(result, status="failed", error=redact_secrets_in_text(
            f"the {family.name} step after the run failed: {detail}"))
    return result


def execute_plan(plan: RunPlan, *, engine: Engine | str = "papermill", force: bool = False,
                 engine_options: dict[str, Any] | None = None) -> RunResult:
    """Execute a planned run and publish its files; returns a result, never raises for a failed cell."""
    family, folder, stem = plan.family, plan.folder, plan.stem
    parameters = plan.params.to_notebook()
    if not force and is_fresh(plan):
        return RunResult(family.name, stem, "skipped", str(folder), parameters=parameters)
    if isinstance(engine, str):
        engine = get_engine(engine, **(engine_options or {}))
        try:
            return _execute(plan, engine)
        finally:
            engine.close()
    return _execute(plan, engine)


def _execute(plan: RunPlan, engine: Engine) -> RunResult:
    family, folder, stem = plan.family, plan.folder, plan.stem
    parameters = plan.params.to_notebook()
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{stem}.{_owner()}.{uuid.uuid4().hex[:12]}{_STAGING}"
    staging.mkdir()
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    executed = staging / f"{stem}.ipynb"
    # The notebook gets the URL with its password hidden; the kernel gets the real one in its
    # environment, so an executed notebook kept beside the outputs never holds a password.
    public = public_db_url(plan.db_url) if plan.db_url else None
    environment = {"REPORTLIB_DB": plan.db_url} if plan.db_url and public != plan.db_url else {}
    injected = dict(parameters, **plan.extra)
    if family.runner_parameters:
        injected.update(db_url=public, output_dir=str(staging), output_stem=stem)
    cwd = Path(family.cwd) if family.cwd else staging
    error: str | None = None
    headline = None
    look_up_git_commit()  # in the background while the kernel works, as the export's warm-up below
    drawings = None
    if family.html or family.pdf:
        static_charts = draws_static_charts(plan.notebook)
        # In the background while the kernel works: the export finds it ready.
        warm_html_export(static_charts=static_charts)
        # The page's charts are drawn as their cells display them, while the next cells run.
        drawings = StaticDrawings() if static_charts else None
    try:
        try:
            with drawings.offered() if drawings is not None else contextlib.nullcontext():
                nb = engine.execute(plan.notebook, executed, injected, cwd=cwd, environment=environment,
                                    report_mode=family.report_mode)
            headline = _headline(executed if nb is None else nb)
            if family.html or family.pdf:  # from the executed notebook in memory when the engine returns it
                # A page only printed to PDF stays out of the outputs (dot files are not published).
                page = staging / (f"{stem}.html" if family.html else f".{stem}.html")
                # A family's report holds no notes nor prints; any other notebook's page is nbconvert's.
                write_notebook_html(executed if nb is None else nb, page, consume=True,
                                    notes=not family.runner_parameters, drawings=drawings)
                if family.pdf:
                    from .render.chromium import chromium_path
                    from .render.pdf import print_pdf

                    if chromium_path() is None:
                        raise ConfigError("--to pdf prints the HTML report with headless Chromium, which is not "
                                          "installed here; install it (Debian: apt-get install chromium), set "
                                          "REPORTLIB_CHROMIUM to the browser's path, or use --to html.")
                    print_pdf(page, staging / f"{stem}.pdf", left=plan.notebook.stem)
        except NotebookFailed as exc:
            error = str(exc)
        except ReportlibError as exc:
            error = str(exc)
        except Exception as exc:  # a kernel that died, a template that broke: keep the run's record
            error = f"{type(exc).__name__}: {exc}"
        if error is not None:  # said by a driver or a library, it may quote a connection string
            error = redact_secrets_in_text(error)
        manifest: dict[str, Any] = {
            "family": family.name,
            "stem": stem,
            "notebook": plan.notebook.name,
            "notebook_sha256": sha256_file(plan.notebook),
            "parameters": parameters,
            "data": {"domain": family.domain, "fingerprint": plan.fingerprint, "database": public},
            "reportlib_version": __version__,
            "git_commit": git_commit(),
            "engine": getattr(engine, "name", type(engine).__name__),
            "run_key": plan.key,
            "started_at": started.isoformat(),
        }
        if headline is not None:
            manifest["headline"] = headline
        if family.options:
            manifest["options"] = dict(family.options)
        if error is None:
            keep_earlier_version(folder, stem, [p for p in staging.iterdir() if p.is_file()
                                                and not p.name.startswith(".")])
            published = _publish(staging, folder)
            manifest.update(status="ok", error=None, files=[file_entry(p) for p in published])
        else:
            published = []
            kept = _keep_failed_notebook(executed, folder / f"{stem}.failed.ipynb")
            manifest.update(status="failed", error=error, files=[],
                            failed_notebook=kept.name if kept else None)
        manifest["duration_s"] = round(time.perf_counter() - clock, 3)
        write_manifest(folder / f"{stem}{SUFFIX}", manifest)
    finally:
        if drawings is not None:
            drawings.close()
        shutil.rmtree(staging, ignore_errors=True)
    if error is None:
        stale = folder / f"{stem}.failed.ipynb"
        stale.unlink(missing_ok=True)
    return RunResult(family.name, stem, manifest["status"], str(folder), [p.name for p in published],
                     manifest["duration_s"], error, str(kept) if error and kept else None, parameters)


def _headline(notebook) -> dict[str, Any] | None:
    """The headline the notebook displayed (:mod:`reportlib.render.headline`), for the manifest."""
    if not isinstance(notebook, Path):
        return headline_of(notebook)
    import json

    try:
        return headline_of(json.loads(notebook.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def _keep_failed_notebook(executed: Path, kept: Path) -> Path | None:
    """Keep a failed run's executed notebook beside its outputs; None when there is none whole.

    Its error and printed outputs are shown as :func:`redact_secrets_in_text` shows them (a
    driver's error may quote a connection string), and it is written atomically, flushed to
    disk: with the disk full there is either no failed notebook or a whole one, never a
    truncated one.
    """
    import nbformat

    try:
        nb = nbformat.read(executed, as_version=4)
    except (OSError, ValueError):  # none was written: the engine writes it whole or not at all
        return None
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["evalue"] = redact_secrets_in_text(output.get("evalue", ""))
                output["traceback"] = [redact_secrets_in_text(line) for line in output.get("traceback", [])]
            elif output.get("output_type") == "stream":
                output["text"] = redact_secrets_in_text(output.get("text", ""))
    try:
        with atomic_write(kept) as handle:
            handle.write(notebook_text(nb))
    except OSError:  # the disk is full: the manifest (small) still says the run failed
        return None
    return kept


_STAGING = ".partial"
# Who owns a staging folder: a run killed outright (SIGKILL, power cut) leaves its staging
# folder behind, and only a folder whose owner process is gone may be swept away.
def _owner() -> str:
    return f"{slugify(socket.gethostname())}-{os.getpid()}"


def sweep_staging(folder: Path) -> list[Path]:
    """Remove the staging folders that killed runs on this machine left in ``folder``."""
    removed = []
    host = slugify(socket.gethostname())
    for path in folder.glob(f".*{_STAGING}"):
        owner = path.name.removesuffix(_STAGING).rsplit(".", 2)
        if len(owner) != 3 or not owner[1].startswith(f"{host}-"):
            continue
        pid = owner[1].rsplit("-", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _publish(staging: Path, folder: Path) -> list[Path]:
    """Rename every file the run made into the destination folder (each rename atomic)."""
    published = []
    for path in sorted(staging.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            target = safe_join(folder, path.name)
            path.replace(target)
            published.append(target)
    return published
