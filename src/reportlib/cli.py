"""The ``reportlib`` command line.

    reportlib init | demo | load DOMAIN FOLDER
    reportlib run REPORT [-p NAME VALUE]... [-f PARAMS.yaml] [--out DIR]
    reportlib run PATH.ipynb [OUTPUT] [-p NAME VALUE]... [-r NAME RAW] [-y YAML] [--to html|pdf] ...
    reportlib batch REPORT [-p NAME VALUE]... [-f PARAMS.yaml] [--workers N]
    reportlib batch PATH.ipynb [OUTPUT_DIR] --grid params.csv|grid.yaml [--name TEMPLATE] ...
    reportlib open REPORT [-p NAME VALUE]... [-f PARAMS.yaml]
    reportlib params REPORT | PATH.ipynb | families | doctor
    reportlib pool [--workers N] [--idle MINUTES] | pool --status | pool --stop

Families and applications add their own command groups (``reportlib statements ...``,
``reportlib rates ...``) as entry points of the group ``reportlib.commands``: each is a function
``add_commands(cli)`` given a :class:`CommandLine`, so no group is listed here and none imports
this module. Every ReportlibError is printed as one clear message with exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .registry import Registry

__all__ = ["COMMANDS", "CORE_COMMANDS", "CommandLine", "build_parser", "console", "main"]

# name -> add_commands(cli): adds the command group NAME, with set_defaults(handler=...).
COMMANDS: Registry[Callable[["CommandLine"], None]] = Registry("command group", group="reportlib.commands")


@dataclass
class CommandLine:
    """What the command line gives a command group's ``add_commands``.

    ``subparsers`` is where a group adds its parser (``cli.subparsers.add_parser(NAME, ...)``);
    :meth:`alias` keeps an old spelling working without listing it in the help.
    """

    subparsers: Any
    aliases: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)

    def alias(self, old: str, new: str) -> None:
        """``reportlib OLD ...`` runs ``reportlib NEW ...`` (words separated by spaces)."""
        self.aliases[tuple(old.split())] = tuple(new.split())

    def rewrite(self, argv: list[str]) -> list[str]:
        """``argv`` with an old spelling at its start replaced by the new one (the longest match)."""
        for old in sorted(self.aliases, key=len, reverse=True):
            if tuple(argv[:len(old)]) == old:
                return list(self.aliases[old]) + argv[len(old):]
        return argv


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", help="SQLAlchemy database URL (default: $REPORTLIB_DB or "
                                                   "data/reportlib.sqlite)")


def _add_parameter_flags(parser: argparse.ArgumentParser) -> None:
    """Parameters as papermill's command line takes them (-p, -r, -f, -y, -b)."""
    parser.add_argument("-p", "--param", "--parameters", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        default=[], help="a parameter (repeatable); for a notebook read as papermill reads it "
                                         "(True, False, None, numbers, else text)")
    parser.add_argument("-r", "--parameters-raw", nargs=2, action="append", metavar=("NAME", "RAW"), default=[],
                        help="a parameter kept as text (repeatable)")
    parser.add_argument("-f", "--params-file", "--parameters-file", action="append", default=[],
                        metavar="PARAMS.yaml", help="parameters from a YAML file (repeatable); -y, -p, -r win")
    parser.add_argument("-y", "--parameters-yaml", action="append", default=[], metavar="YAML",
                        help="parameters as a YAML mapping (repeatable)")
    parser.add_argument("-b", "--parameters-base64", action="append", default=[], metavar="BASE64",
                        help="parameters as a base64-encoded YAML mapping (repeatable)")


def _add_params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", help="a report family (e.g. statement), or a notebook: PATH.ipynb")
    parser.add_argument("output", nargs="?", default=None,
                        help="a notebook's OUTPUT: the executed notebook (.ipynb; {name} fields are filled from "
                             "the parameters) or its folder (default: outputs/<notebook>/)")
    _add_parameter_flags(parser)
    parser.add_argument("--out", metavar="DIR", help="a family's outputs folder (default: outputs/)")
    parser.add_argument("--force", action="store_true", help="run even when the outputs are up to date")
    parser.add_argument("--pdf", action=argparse.BooleanOptionalAction, default=False,
                        help="also make the family's PDFs of these reports (default --no-pdf: reportlib send "
                             "makes what it attaches, reportlib pdf makes them on demand; the catalogue is rebuilt "
                             "either way)")
    parser.add_argument("--engine", default=None, help="execution engine: warm (long-lived kernels, the batch "
                                                       "default), papermill (a fresh kernel per run, the "
                                                       "default of run) or reference (papermill's own path, "
                                                       "unpatched, in a subprocess: slow)")
    parser.add_argument("--execution-timeout", type=int, default=None, metavar="S",
                        help="seconds one cell may run (default: a family's 1800, a notebook's none, as papermill)")
    parser.add_argument("--log-output", action="store_true", help="write each cell's output to stderr as it comes")
    parser.add_argument("--no-pool", action="store_true",
                        help="a family's runs: start their own kernels even when a kernel pool (reportlib pool) is up")
    notebook = parser.add_argument_group("a notebook (PATH.ipynb) only")
    notebook.add_argument("--to", action="append", default=[], choices=("html", "pdf"),
                          help="also export each executed notebook: html (the report page, code hidden) or pdf "
                               "(that page printed by headless Chromium); repeatable")
    notebook.add_argument("--cwd", metavar="DIR", help="working folder of the notebook (default: this one)")
    notebook.add_argument("-k", "--kernel", metavar="NAME", help="the kernel to run, not the notebook's own")
    notebook.add_argument("--report-mode", action="store_true", help="hide the input of every code cell")
    notebook.add_argument("--strict", action="store_true",
                          help="refuse parameters the notebook's parameters cell does not define (default: warn)")


_NOTEBOOK_ONLY = (("output", "OUTPUT"), ("to", "--to"), ("cwd", "--cwd"), ("kernel", "--kernel"),
                  ("report_mode", "--report-mode"), ("strict", "--strict"), ("grid", "--grid"), ("name", "--name"))


def _check_flags(args: argparse.Namespace) -> bool:
    """Whether the command runs a notebook; a notebook's flags given to a family are one error."""
    from .errors import ConfigError
    from .files import is_notebook

    if is_notebook(args.report):
        if args.out:
            raise ConfigError("--out is a family's outputs folder; a notebook's goes after it: "
                              f"reportlib {args.command} {args.report} OUTPUT")
        if getattr(args, "pdf", False):
            raise ConfigError("--pdf makes the PDFs of a family's reports; a notebook is printed to PDF with "
                              f"--to pdf: reportlib {args.command} {args.report} OUTPUT --to pdf")
        return True
    given = [flag for attr, flag in _NOTEBOOK_ONLY if getattr(args, attr, None)]
    if given:
        raise ConfigError(f"{', '.join(given)} apply to a notebook (PATH.ipynb), not to the {args.report} family.")
    return False


def _engine_options(args: argparse.Namespace, notebook: bool) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.execution_timeout is not None or notebook:
        options["timeout"] = args.execution_timeout  # None: no limit, as papermill
    if args.log_output:
        options["log_output"] = True
    return options


def _show_warnings() -> None:
    """Print reportlib's warnings (an unknown parameter, ...) on stderr, one line each."""
    import logging

    class ToStderr(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:  # sys.stderr as it is now (tests replace it)
            print(f"warning: {record.getMessage()}", file=sys.stderr)

    logger = logging.getLogger("reportlib")
    if not logger.handlers:
        logger.addHandler(ToStderr(logging.WARNING))
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def _raw_params(args: argparse.Namespace) -> dict[str, Any]:
    from .notebooks import collect_parameters
    from .params import parse_cli_pairs

    raw = collect_parameters(files=args.params_file, yaml_texts=args.parameters_yaml,
                             base64_texts=args.parameters_base64)
    raw.update(parse_cli_pairs(args.param))
    raw.update(args.parameters_raw)  # -r last, as papermill
    return raw


def _notebook_params(args: argparse.Namespace) -> dict[str, Any]:
    from .notebooks import collect_parameters

    return collect_parameters(files=args.params_file, yaml_texts=args.parameters_yaml,
                              base64_texts=args.parameters_base64, pairs=args.param, raw_pairs=args.parameters_raw)


def cmd_init(args: argparse.Namespace) -> int:
    from .config import resolve_db_url
    from .db import init_db

    init_db(args.db)
    print(f"Tables created in {_shown_url(resolve_db_url(args.db))}")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from .load import load_folder

    summary = load_folder(args.folder, args.domain, url=args.db, progress=not args.quiet and sys.stderr.isatty())
    total = sum(summary.rows.values())
    print(f"Loaded {total:,} rows into {summary.domain}: " +
          ", ".join(f"{t} {n:,}" for t, n in summary.rows.items()))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .config import resolve_db_url
    from .demo import build_demo

    url = resolve_db_url(args.db)
    if args.fresh and url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    summaries = build_demo(url, seed=args.seed, scale=args.scale, domains=args.domain or None,
                           csv_folder=args.csv, progress=lambda m: print(m, file=sys.stderr))
    for s in summaries:
        print(f"{s.domain}: " + ", ".join(f"{t} {n:,}" for t, n in s.rows.items()))
    print(f"Demo data written to {_shown_url(url)}")
    if not args.data_only:
        from .demo import DEMO_EXTRAS

        for name in DEMO_EXTRAS.names():
            print("\n".join(DEMO_EXTRAS.get(name)(url)))
    return 0


def _through_pool(args: argparse.Namespace) -> int | None:
    """A family's command run by this project's kernel pool when one is up (``reportlib pool``):
    its exit status, or None to run it here. Asked before anything heavy is imported."""
    if args.no_pool or (args.engine or "warm") != "warm" or _check_flags(args):
        return None
    from .pool.client import run_in_pool

    return run_in_pool(args.command, args.argv, args.out)


def _pool_engine(options: dict[str, Any]):
    """The warm engine of the pool worker this command runs in, or None (not in a pool worker)."""
    if "reportlib.pool.worker" not in sys.modules:
        return None
    from .pool.worker import pool_engine

    return pool_engine(options)


def cmd_run(args: argparse.Namespace) -> int:
    notebook = _check_flags(args)
    pooled = None if notebook else _pool_engine(_engine_options(args, False))
    if not notebook and pooled is None:
        code = _through_pool(args)
        if code is not None:
            return code
    _show_warnings()
    if notebook:
        from .notebooks import run_notebook

        result = run_notebook(args.report, args.output, _notebook_params(args), engine=args.engine or "papermill",
                              engine_options=_engine_options(args, True), force=args.force, strict=args.strict,
                              report_mode=args.report_mode, to=args.to, cwd=args.cwd, kernel=args.kernel)
    elif pooled is not None:
        from .run import run_report

        result = run_report(args.report, _raw_params(args), out=args.out, db_url=args.db, engine=pooled,
                            force=args.force)
    else:
        from .engines import get_engine

        # First thing: the kernel starts (and then imports the notebook's modules) while this
        # process imports what planning the run needs and plans it.
        engine = get_engine(args.engine or "papermill", **_engine_options(args, False))
        start_early = getattr(engine, "start_early", None)
        if start_early is not None:
            start_early()
        try:
            if start_early is not None:  # the kernel imports what the notebook imports as soon as it is up
                from .families import get_family, notebook_path

                start_early(notebook_path(get_family(args.report)))
            from .run import run_report

            _import_in_background("reportlib.delivery.publish", "reportlib.delivery.tables")
            result = run_report(args.report, _raw_params(args), out=args.out, db_url=args.db, engine=engine,
                                force=args.force)
            # The kernel, asked to exit when the notebook ended, does so while the catalogue is
            # brought up to date; ending it here only reaps it (or kills it, if still tearing down).
            return _said(args, result, notebook)
        finally:
            engine.close()
    return _said(args, result, notebook, via=" (via the kernel pool)" if pooled is not None else "")


def _import_in_background(*modules: str) -> None:
    """Import ``modules`` in a thread, while this process mostly waits for its kernel: what the
    command does after the run (the catalogue, which reads the delivery log's tables) then finds
    them loaded instead of importing them after the notebook ended. A module that fails to import
    here fails again, and is reported, where it is used."""
    import threading
    from importlib import import_module

    def load() -> None:
        for module in modules:
            try:
                import_module(module)
            except Exception:  # noqa: BLE001 - reported where the module is used
                return

    threading.Thread(target=load, name="reportlib-import", daemon=True).start()


def _said(args: argparse.Namespace, result: Any, notebook: bool, via: str = "") -> int:
    """Say what a run made, then the catalogue and PDFs of a family's run (:func:`_after`)."""
    if result.status == "skipped":
        print(f"{result.stem}: up to date in {result.folder} (use --force to run again){via}")
    else:
        print(f"{result.stem}: {result.duration_s:.1f} s -> {result.folder}{via}")
        for name in result.files:
            print(f"  {name}")
    if notebook:  # any notebook: its own outputs, no family PDFs or catalogue
        return 0
    return _after(args, [result.folder], stems=[result.stem])


def _after(args: argparse.Namespace, folders: list[str], stems: list[str] | None = None, workers: int | None = None) -> int:
    """The catalogue, and with ``--pdf`` the PDFs of the reports just made
    (:mod:`reportlib.delivery.publish`)."""
    from .delivery.publish import after_runs

    made = after_runs(args.report, folders, stems=stems, out=args.out, db_url=args.db, pdf=args.pdf,
                      workers=workers)
    return 1 if made is not None and made.failed else 0


def cmd_batch(args: argparse.Namespace) -> int:
    notebook = _check_flags(args)
    pooled = None if notebook else _pool_engine(_engine_options(args, False))
    if not notebook and pooled is None and not args.scheduler and args.recycle_after is None \
            and args.kernel_memory is None:
        # The pool's kernels are the pool's: a batch that sets when its kernels are recycled runs cold.
        code = _through_pool(args)
        if code is not None:
            return code
    from .batch import run_batch
    from .errors import ConfigError

    _show_warnings()
    options: dict[str, Any] = {}
    executor = "local"
    if args.scheduler:
        executor, options["scheduler"] = "dask", args.scheduler
    engine_options = {k: v for k, v in (("max_runs", args.recycle_after), ("max_memory_mb", args.kernel_memory))
                      if v is not None}
    if engine_options and (args.engine or "warm") != "warm":
        raise ConfigError("--recycle-after and --kernel-memory apply to the warm engine only.")
    engine_options.update(_engine_options(args, notebook))
    runner = None
    if pooled is not None:  # this is a pool's worker: its runs go to it and the pool's other workers
        from .batch import PoolExecutor
        from .pool.worker import pool_size

        runner = PoolExecutor(args.out, pool_size())
    if notebook:
        from .notebooks import batch_notebook

        if not args.grid:
            raise ConfigError(f"A notebook batch takes its runs from a grid: reportlib batch {args.report} "
                              "--grid params.csv (one run per row) or --grid grid.yaml (every combination).")
        result = batch_notebook(args.report, args.output, args.grid, parameters=_notebook_params(args),
                                name=args.name, strict=args.strict, report_mode=args.report_mode, to=args.to,
                                cwd=args.cwd, kernel=args.kernel, engine=args.engine, engine_options=engine_options,
                                limit=args.limit, workers=args.workers, executor=executor, force=args.force,
                                progress=not args.quiet, **options)
    else:
        result = run_batch(args.report, _raw_params(args), out=args.out, db_url=args.db, workers=args.workers,
                           executor=executor, engine=args.engine, force=args.force, progress=not args.quiet,
                           limit=args.limit, engine_options=engine_options, runner=runner, **options)
    print(result.summary())
    if runner is not None:
        here = sum(1 for r in result.results if r.status != "skipped") - runner.elsewhere
        print(f"  (via the kernel pool: {runner.workers} warm worker(s); {here} run(s) in the worker that took the "
              f"batch, {runner.elsewhere} in the others)")
    after = 0 if notebook else _after(args, sorted({r.folder for r in result.results if r.folder}),
                                      workers=args.workers)
    return 0 if result.ok and not after else 1


def cmd_pool(args: argparse.Namespace) -> int:
    from .errors import ConfigError

    if args.worker:  # a worker the pool started: it never returns through console()
        from .engines import close_worker_engines
        from .pool.worker import serve_worker

        def run_job_fields(fields: dict[str, Any]) -> dict[str, Any]:  # the runner loads as the kernel starts
            from .batch import run_job_fields

            return run_job_fields(fields)

        listen_fd, status_fd = (int(fd) for fd in args.worker.split(","))
        code = serve_worker(listen_fd, status_fd, main, run_job_fields, args.workers,
                            os.environ.pop("REPORTLIB_POOL_REHEARSE_DB", None))
        close_worker_engines()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    if args.status or args.stop:
        from .pool.client import pool_status, stop_pool

        info = pool_status(args.out)
        if info is None:
            print("No kernel pool runs for this project and outputs folder.")
            return 1 if args.status else 0
        if args.stop:
            print(f"Stopping the kernel pool (process {stop_pool(args.out)}); it lets a running command finish.")
            return 0
        import time

        states = ", ".join(f"{pid} {state}" for pid, state in info["workers"].items())
        idle = (f"; last run {time.time() - info['last_run']:.0f} s ago" if info.get("last_run") else "; no run yet")
        print(f"Kernel pool: process {info['pid']} since {info['started']}, outputs {info['outputs']}; "
              f"workers: {states}{idle}; stops after {info['idle_minutes']:g} min without a run.")
        return 0
    from .pool.server import serve_pool

    if args.idle <= 0:
        raise ConfigError(f"--idle must be a number of minutes above 0, not {args.idle:g}.")
    return serve_pool(workers=args.workers, idle_minutes=args.idle, out=args.out, rehearse_db=_rehearsal_db(args.db),
                      say=lambda text: print(text, flush=True))


def _rehearsal_db(url: str | None) -> str | None:
    """The database the pool's workers rehearse on: ``--db``, else the default one if it exists
    (an SQLite file that is not there would be created empty)."""
    from pathlib import Path

    from .config import resolve_db_url

    resolved = resolve_db_url(url)
    if url is None and resolved.startswith("sqlite:///") and not Path(resolved.removeprefix("sqlite:///")).is_file():
        return None
    return resolved


def cmd_open(args: argparse.Namespace) -> int:
    from .run import open_notebook

    print(open_notebook(args.report, _raw_params(args), out=args.out, db_url=args.db, force=args.force))
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    from .families import get_family
    from .files import is_notebook
    from .notebooks import describe_parameters

    if is_notebook(args.report):
        print(describe_parameters(args.report))
        return 0

    family = get_family(args.report)
    print(f"{family.name}: {family.description}")
    for title, cls in (("run", family.params), ("batch", family.batch_params)):
        print(f"\n{title} parameters:")
        rows = cls.describe()
        widths = [max([len(r[i]) for r in rows] + [4]) for i in range(3)]
        for name, kind, default, help_text in rows:
            print(f"  {name:<{widths[0]}}  {kind:<{widths[1]}}  {default:<{widths[2]}}  {help_text}")
    return 0


def cmd_families(args: argparse.Namespace) -> int:
    from .families import FAMILIES

    for name in FAMILIES.names():
        family = FAMILIES.get(name)
        print(f"{name:<12} notebooks/{family.notebook:<22} outputs/{family.folder}/  {family.description}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import diagnose

    lines, reachable = diagnose(args.db)
    print("\n".join(lines))
    return 0 if reachable else 1


def _demo_scale(text: str) -> str:
    """A scale of ``reportlib demo``, checked when that command is parsed: the demo module imports
    SQLAlchemy, which ``reportlib run`` should not wait for before it starts its kernel."""
    from .demo import SCALES

    if text not in SCALES:
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(SCALES)})")
    return text


def _shown_url(url: str) -> str:
    from .config import public_db_url

    return public_db_url(url)


# The commands defined here; any other word (or none, or --help) is a family's command group.
CORE_COMMANDS = frozenset({"init", "load", "demo", "run", "batch", "open", "params", "families", "doctor", "pool"})


def build_parser(command_groups: bool | Iterable[str] = True, cli: CommandLine | None = None) -> argparse.ArgumentParser:
    """The whole command line; ``command_groups`` says which groups of ``reportlib.commands`` to
    add: all (True), none (False: a core command needs none, and each group imports its family,
    about a second) or the ones named. ``cli`` collects the groups' aliases."""
    from .version import __version__

    parser = argparse.ArgumentParser(prog="reportlib", description="Notebook-driven reports: decks, workbooks, "
                                                                   "HTML from business data.")
    parser.add_argument("--version", action="version", version=f"reportlib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create the database tables")
    _add_common(p)
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("load", help="validate a folder of CSV files and load it (replaces the domain)")
    p.add_argument("domain", help="data domain, e.g. billing")
    p.add_argument("folder", help="folder holding the domain's CSV files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars (they show only on a terminal)")
    _add_common(p)
    p.set_defaults(handler=cmd_load)

    p = sub.add_parser("demo", help="generate deterministic demo data for every domain")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--scale", type=_demo_scale, default="default", help="small, default or large")
    p.add_argument("--domain", action="append", help="only this domain (repeatable)")
    p.add_argument("--csv", metavar="DIR", help="also write the data as CSV files under DIR/<domain>/")
    p.add_argument("--fresh", action="store_true", help="delete the SQLite database file first")
    p.add_argument("--data-only", action="store_true", help="only the data: no demo users for the portal")
    _add_common(p)
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("run", help="run one report: a family's, or any notebook as papermill runs it")
    _add_params(p)
    _add_common(p)
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("batch", help="run a report for every entity the parameters select, or a notebook for "
                                     "every row of a grid")
    _add_params(p)
    p.add_argument("--grid", metavar="FILE", help="a notebook's runs: params.csv (one run per row, a header of "
                                                  "names) or grid.yaml (NAME: [values], every combination)")
    p.add_argument("--name", metavar="TEMPLATE", help="a notebook batch's file names from each run's parameters, "
                                                      "e.g. '{region}-{month}' (default: the notebook's name and "
                                                      "the values that differ)")
    p.add_argument("--workers", type=int, default=None, help="parallel workers (default: number of cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N entities (a trial run)")
    p.add_argument("--recycle-after", type=int, default=None, metavar="K",
                   help="warm engine: start a new kernel after K runs (default 5000)")
    p.add_argument("--kernel-memory", type=float, default=None, metavar="MB",
                   help="warm engine: start a new kernel when one uses more than MB (default 1024)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_common(p)
    p.set_defaults(handler=cmd_batch)

    p = sub.add_parser("open", help="write a report's notebook for one entity, parameters filled in, under "
                                    "outputs/scratch/ (to open in Jupyter); prints its path")
    p.add_argument("report", help="report family, e.g. qbr")
    _add_parameter_flags(p)
    p.add_argument("--out", metavar="DIR", help="outputs folder (default: outputs/); the notebook goes under "
                                                "DIR/scratch/")
    p.add_argument("--force", action="store_true", help="replace a notebook written before (and its edits)")
    _add_common(p)
    p.set_defaults(handler=cmd_open)

    p = sub.add_parser("pool", help="keep warm kernels for this project: reportlib run then takes about a second "
                                    "(foreground; Ctrl-C stops it)")
    p.add_argument("--workers", type=int, default=1, help="warm workers, each one run at a time (default 1)")
    p.add_argument("--idle", type=float, default=30, metavar="MINUTES",
                   help="stop after this many minutes without a run (default 30)")
    p.add_argument("--out", metavar="DIR", help="the outputs folder of the runs it serves (default: outputs/); "
                                                "runs with another --out are not its")
    p.add_argument("--db", metavar="URL", help="a database the workers run each notebook on once as they warm up "
                                               "(default: $REPORTLIB_DB or data/reportlib.sqlite if there); "
                                               "each run reads the database its own command names")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--status", action="store_true", help="say whether a pool runs here, and its workers")
    action.add_argument("--stop", action="store_true", help="stop the running pool (after its current run)")
    action.add_argument("--worker", help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_pool)

    p = sub.add_parser("params", help="list a report family's parameters, or a notebook's (as papermill "
                                      "--help-notebook)")
    p.add_argument("report", help="a report family, or PATH.ipynb")
    p.set_defaults(handler=cmd_params)

    p = sub.add_parser("families", help="list the report families")
    p.set_defaults(handler=cmd_families)

    p = sub.add_parser("doctor", help="versions, active patches of other packages, programs and database found")
    _add_common(p)
    p.set_defaults(handler=cmd_doctor)

    cli = cli if cli is not None else CommandLine(sub)
    cli.subparsers = sub
    names = COMMANDS.names() if command_groups is True else [] if command_groups is False else list(command_groups)
    for name in names:
        COMMANDS.get(name)(cli)
    return parser


def _command_word(argv: list[str]) -> str | None:
    """The COMMAND of a command line: its first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), None)


def _parser_for(argv: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The parser ``argv`` needs, and ``argv`` with an old spelling replaced: a core command gets
    no command group, a group's word gets that group alone (its family alone is imported), and
    any other word (an alias, a typo, none, --help) every group."""
    word = _command_word(argv)
    if word in CORE_COMMANDS:
        return build_parser(command_groups=False), argv
    cli = CommandLine(None)
    groups: bool | list[str] = [word] if word in COMMANDS else True
    parser = build_parser(command_groups=groups, cli=cli)
    rewritten = cli.rewrite(argv)
    if rewritten != argv and groups is not True and _command_word(rewritten) not in groups:
        # A group's old spelling that is now another group's (``rates amendments``): that one too.
        parser = build_parser(command_groups=groups + [_command_word(rewritten)], cli=CommandLine(None))
    return parser, rewritten


def database_error(exc: Exception, url: str | None) -> str:
    """One line for an error the database raised: which database, what it said, what to do."""
    from sqlalchemy.exc import OperationalError

    from .config import public_db_url, redact_secrets_in_text, resolve_db_url

    said = redact_secrets_in_text(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
    where = public_db_url(resolve_db_url(url))
    lowered = said.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        hint = ("its tables are missing or older than this reportlib: `reportlib init` adds the missing "
                "tables, then `reportlib load DOMAIN FOLDER` or `reportlib demo` fills them")
    elif isinstance(exc, OperationalError):
        hint = "check the URL (--db or REPORTLIB_DB), that the server runs and that the role may connect"
    else:
        hint = "check the data and the URL (--db or REPORTLIB_DB)"
    return f"the database {where} refused: {said}; {hint}."


def _database_error_class() -> type[Exception]:
    """SQLAlchemy's DBAPIError, imported when an error is being matched, not before the command
    runs: ``reportlib run`` starts its kernel before it loads SQLAlchemy."""
    from sqlalchemy.exc import DBAPIError

    return DBAPIError


# Commands that end every process they start and write every file before they return: the
# ``reportlib`` command then exits at once, without freeing every module it loaded (SQLAlchemy,
# papermill, nbconvert), which would add that teardown to every run's time.
_EXIT_AT_ONCE = ("run", "batch")


def console() -> None:
    """The ``reportlib`` command: :func:`main`, then exit with its status."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv and argv[0] in _EXIT_AT_ONCE:
        import logging

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    from .errors import ReportlibError

    argv = sys.argv[1:] if argv is None else list(argv)
    parser, argv = _parser_for(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.handler(args)
    except ReportlibError as exc:
        from .config import redact_secrets_in_text

        print(f"error: {redact_secrets_in_text(str(exc))}", file=sys.stderr)
        return 2
    except _database_error_class() as exc:
        print(f"error: {database_error(exc, getattr(args, 'db', None))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:  # a full disk, a folder that may not be written: one line naming the file
        import errno

        from .config import redact_secrets_in_text

        full = exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
        hint = " The disk (or your quota) is full: free some space and run the command again." if full else ""
        print(f"error: {redact_secrets_in_text(str(exc))}.{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    # Run as ``python -m reportlib.cli`` this file is __main__, a second copy of the module whose
    # COMMANDS registry the families never saw; the real module's main has them all.
    from reportlib.cli import console as _console

    _console()
