"""Any notebook is a report: papermill's command line on reportlib's runner.

``reportlib run PATH.ipynb OUTPUT`` and ``reportlib batch PATH.ipynb --grid FILE`` run a
notebook that belongs to no family. The notebook becomes a :class:`~reportlib.families.Family`
made for the run (:func:`notebook_family`), so it goes through the same planner, engines,
staging folder, atomic publishing, manifests and skip-when-unchanged as every family's report.
What papermill decides stays papermill's: the parameters are parsed as its command line parses
them (:func:`papermill_value`, :func:`collect_parameters`), inferred from the notebook's
``parameters`` cell by ``papermill.inspection``, and injected and executed by
``papermill.execute_notebook`` (the engines), so the executed notebook is the one papermill
writes. Unlike a family's notebook, it gets only its own parameters (no ``db_url``,
``output_dir``, ``output_stem``) and runs in the caller's working folder (``--cwd``), as
under papermill.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import difflib
import functools
import itertools
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Mapping

import yaml

from .errors import ConfigError, ParameterError
from .families import Family
from .files import is_notebook, slugify
from .params import ReportParams, load_params_file, yaml_without_dates

if TYPE_CHECKING:
    from .engines import Engine

__all__ = ["NotebookParams", "batch_notebook", "check_parameters", "collect_parameters", "describe_parameters",
           "is_notebook", "notebook_family", "notebook_parameters", "papermill_value", "read_grid",
           "run_notebook", "run_stems"]

log = logging.getLogger("reportlib.notebooks")

EXPORTS = ("html", "pdf")
_NAME_MAX = 150
# What a file name given by a person may not hold to stay one file in its folder.
_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f\x7f]|^\.|^\s|\s$")


def papermill_value(text: str) -> Any:
    """A ``-p NAME VALUE`` value as papermill's command line reads it: ``True``, ``False``,
    ``None``, a whole number, a float, else the text as given (``-r`` keeps it as text)."""
    if text == "True":
        return True
    if text == "False":
        return False
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def collect_parameters(*, files: Iterable[str] = (), yaml_texts: Iterable[str] = (),
                       base64_texts: Iterable[str] = (), pairs: Iterable[tuple[str, str]] = (),
                       raw_pairs: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """Every parameter given on a command line, merged in papermill's order (later wins):
    ``-b`` base64 YAML, ``-f`` files, ``-y`` YAML texts, ``-p`` pairs, ``-r`` raw pairs.
    Dates in YAML stay text, as papermill's loader keeps them."""
    result: dict[str, Any] = {}
    for text in base64_texts:
        try:
            result.update(_yaml_mapping(base64.b64decode(text, validate=True).decode("utf-8"), "-b"))
        except (ValueError, UnicodeDecodeError):
            raise ParameterError("notebook", [f"-b {text!r} is not base64-encoded YAML"]) from None
    for path in files:
        result.update(load_params_file(path))
    for text in yaml_texts:
        result.update(_yaml_mapping(text, "-y"))
    for name, value in pairs:
        result[name] = papermill_value(value)
    for name, value in raw_pairs:
        result[name] = value
    return result


def _yaml_mapping(text: str, flag: str) -> dict[str, Any]:
    try:
        data = yaml_without_dates(text)
    except yaml.YAMLError as exc:
        raise ParameterError("notebook", [f"{flag} {text!r} is not valid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError("notebook", [f"{flag} {text!r} must be a mapping of NAME: VALUE"])
    return data


@dataclasses.dataclass(frozen=True)
class NotebookParams(ReportParams):
    """A notebook's parameters as papermill takes them: any names, any YAML values.

    The names are held to the notebook's ``parameters`` cell once, before anything runs
    (:func:`check_parameters`); each run only carries its values.
    """

    family: ClassVar[str] = "notebook"
    values: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "NotebookParams":
        return cls(values=dict(raw))

    def to_notebook(self) -> dict[str, Any]:
        return dict(self.values)


def _read_notebook(path: Path):
    import nbformat

    try:
        return nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise ConfigError(f"The notebook {path} does not exist.") from None
    except (OSError, ValueError) as exc:  # not JSON, not a notebook
        raise ConfigError(f"{path} is not a notebook that can be read: {exc}") from None


def notebook_parameters(path: str | Path) -> list[dict[str, Any]] | None:
    """The parameters papermill infers from the notebook's ``parameters`` cell: name,
    ``inferred_type_name``, ``default`` and ``help`` (the line's comment) of each, in order;
    None when no cell is tagged ``parameters``."""
    from papermill.inspection import inspect_notebook

    path = Path(path)
    nb = _read_notebook(path)
    if not any("parameters" in cell.metadata.get("tags", []) for cell in nb.cells):
        return None
    return list(inspect_notebook(str(path)).values())


def describe_parameters(path: str | Path) -> str:
    """``reportlib params PATH.ipynb``: what papermill's ``--help-notebook`` prints for it."""
    params = notebook_parameters(path)
    lines = [f"Parameters inferred for notebook '{path}':"]
    if params is None:
        lines.append("\n  No cell tagged 'parameters'")
    elif not params:
        lines.append("\n  Can't infer anything about this notebook's parameters. "
                     "It may not have any parameter defined.")
    for param in params or ():
        kind = "Unknown type" if param["inferred_type_name"] == "None" else param["inferred_type_name"]
        definition = f"  {param['name']}: {kind} (default {param['default']})"
        if len(definition) > 30:
            lines.append(f"{definition}\n{34 * ' '}{param['help']}" if param["help"] else definition)
        else:
            lines.append(f"{definition:<34}{param['help']}")
    return "\n".join(lines)


def check_parameters(path: str | Path, names: Iterable[str], *, strict: bool = False) -> list[str]:
    """Hold the given parameter names to the notebook's ``parameters`` cell, as papermill does:
    the warnings to print (an unknown name, no ``parameters`` cell); with ``strict`` the same
    problems are one ParameterError, before anything runs."""
    names = list(dict.fromkeys(names))
    known = notebook_parameters(path)
    problems: list[str] = []
    if known is None:
        if names:
            problems.append(f"{Path(path).name} has no cell tagged 'parameters': the parameters "
                            f"({', '.join(names)}) are injected in a cell at the top")
    elif known:  # nothing inferred from a non-empty cell may be a language papermill cannot read
        defined = [p["name"] for p in known]
        for name in names:
            if name not in defined:
                close = difflib.get_close_matches(name, defined, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(f"Passed unknown parameter: {name} (the parameters cell defines "
                                f"{', '.join(defined)}{hint})")
    if strict and problems:
        raise ParameterError(Path(path).name, problems + ["(--strict: nothing was run)"])
    return problems


def read_grid(path: str | Path) -> list[dict[str, Any]]:
    """The runs of a grid: a CSV file (a header of parameter names, one run per row, each value
    read as ``-p`` reads it) or a YAML mapping (each list is an axis, the runs are every
    combination, in order; any other value is the same for every run: ``[[a, b]]`` passes the
    list ``[a, b]``). One ParameterError names every problem with its row."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError("grid", [f"{path} does not exist"])
    if path.suffix.lower() == ".csv":
        return _csv_grid(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return _yaml_grid(path)
    raise ParameterError("grid", [f"{path}: a grid is a .csv file (one run per row) or a .yaml file "
                                  "(lists whose combinations are the runs)"])


def _csv_grid(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise ParameterError("grid", [f"{path} is empty: its first row names the parameters"])
    header, problems = [name.strip() for name in rows[0]], []
    for column, name in enumerate(header, start=1):
        if not name:
            problems.append(f"{path.name}, row 1, column {column}: the parameter name is empty")
    for name in {n for n in header if n and header.count(n) > 1}:
        problems.append(f"{path.name}, row 1: the parameter {name!r} is named twice")
    runs = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            problems.append(f"{path.name}, row {number}: {len(row)} value(s) for {len(header)} column(s)")
            continue
        runs.append({name: papermill_value(value) for name, value in zip(header, row)})
    if not runs and not problems:
        problems.append(f"{path.name} has a header and no row: it selects no run")
    if problems:
        raise ParameterError("grid", problems)
    return runs


def _yaml_grid(path: Path) -> list[dict[str, Any]]:
    axes = load_params_file(path)
    if not axes:
        raise ParameterError("grid", [f"{path.name} is empty: it must map parameter names to lists of values"])
    empty = [name for name, values in axes.items() if isinstance(values, list) and not values]
    if empty:
        raise ParameterError("grid", [f"{path.name}: {name!r} is an empty list, so the grid has no run"
                                      for name in empty])
    names = list(axes)
    values = [axes[name] if isinstance(axes[name], list) else [axes[name]] for name in names]
    return [dict(zip(names, combination)) for combination in itertools.product(*values)]


def file_stem(text: str) -> str:
    """``text`` as the stem of a run's files: kept as written when it is one plain file name,
    else its slug (a value from a grid never steers a file out of its folder)."""
    text = str(text)
    if text and len(text) <= _NAME_MAX and not _UNSAFE_NAME.search(text) and text not in (".", ".."):
        return text
    return slugify(text, fallback="run")


def _named_stem(template: str, conn: Any, params: NotebookParams) -> str:
    """The stem ``--name`` gives a run (``{region}-{month}``); a family's ``stem`` function."""
    try:
        return file_stem(template.format_map(dict(params.values)))
    except KeyError as exc:
        raise ParameterError("--name", [f"{template!r} names {{{exc.args[0]}}}, which is no parameter of the "
                                        f"run; its parameters: {', '.join(params.values) or 'none'}"]) from None
    except (ValueError, IndexError) as exc:
        raise ParameterError("--name", [f"{template!r} is not a name template ({exc}); write the "
                                        "parameters in braces, e.g. '{region}-{month}'"]) from None


def _fixed_stem(stem: str, conn: Any, params: NotebookParams) -> str:
    return stem


def _no_period(params: Any) -> str:
    return ""


def _no_entities(conn: Any, params: Any) -> list[dict]:
    raise ConfigError("A notebook's runs come from its grid (--grid), not from a database.")


def notebook_family(notebook: str | Path, folder: str | Path, *, stem: str | None = None,
                    name: str | None = None, report_mode: bool = False, to: Iterable[str] = (),
                    cwd: str | Path | None = None, kernel: str | None = None) -> Family:
    """The notebook as a family made for this run or batch.

    Args:
        notebook: the notebook to run.
        folder: where the executed notebooks and their manifests go.
        stem: one run's file stem (``run``), or
        name: a template of each run's stem from its parameters (``batch --name``).
        report_mode: papermill's: the inputs of code cells hidden.
        to: what else to export each executed notebook to: ``html``, ``pdf``.
        cwd: the kernel's working folder (papermill's ``--cwd``; default this process's).
        kernel: the kernel to run, instead of the one the notebook names (``--kernel``).
    """
    notebook, to = Path(notebook).resolve(), tuple(sorted(set(to)))
    unknown = [kind for kind in to if kind not in EXPORTS]
    if unknown:
        raise ConfigError(f"--to {', '.join(unknown)}: a notebook is exported to {' or '.join(EXPORTS)}.")
    _read_notebook(notebook)
    if stem is None and name is None:
        stem = notebook.stem
    naming = functools.partial(_fixed_stem, file_stem(stem)) if stem is not None else functools.partial(_named_stem, name)
    return Family(
        name=notebook.name, folder=str(Path(folder).resolve()), notebook=str(notebook), params=NotebookParams,
        batch_params=NotebookParams, domain=None, period=_no_period, stem=naming, entities=_no_entities,
        html="html" in to, pdf="pdf" in to, runner_parameters=False, report_mode=report_mode,
        cwd=str(Path(cwd or os.getcwd()).resolve()),
        options=(("kernel", kernel), ("report_mode", report_mode), ("to", to)),
        description=f"the notebook {notebook}")


def run_stems(family: Family, runs: list[dict[str, Any]]) -> list[str]:
    """Each run's stem, or one ParameterError for a ``--name`` that does not fit the runs."""
    return [family.stem(None, NotebookParams.parse(raw)) for raw in runs]


def run_notebook(notebook: str | Path, output: str | Path | None, parameters: Mapping[str, Any], *,
                 engine: "str | Engine" = "papermill", engine_options: dict[str, Any] | None = None,
                 force: bool = False, strict: bool = False, report_mode: bool = False, to: Iterable[str] = (),
                 cwd: str | Path | None = None, kernel: str | None = None):
    """``reportlib run PATH.ipynb OUTPUT``: one run, papermill's way, published as a report.

    ``output`` is the executed notebook's path (``.ipynb``; ``{name}`` fields are filled from
    the parameters, as papermill fills them) or a folder for it (named as the notebook);
    None: ``outputs/<notebook>/``. Returns the run's result; a failed run raises RunError.
    """
    from .config import outputs_root
    from .run import run_report

    notebook = Path(notebook).resolve()
    parameters = dict(parameters)
    for warning in check_parameters(notebook, parameters, strict=strict):
        log.warning(warning)
    folder, stem = _destination(notebook, output, parameters, outputs_root())
    family = notebook_family(notebook, folder, stem=stem, report_mode=report_mode, to=to, cwd=cwd, kernel=kernel)
    if Path(family.folder) / f"{family.stem(None, None)}.ipynb" == notebook:
        raise ConfigError(f"The executed notebook would replace the notebook it runs ({notebook}); "
                          "give another OUTPUT.")
    options = dict(engine_options or {}, **({"kernel_name": kernel} if kernel else {}))
    return run_report(family, parameters, engine=engine, engine_options=options, force=force)


def _destination(notebook: Path, output: str | Path | None, parameters: dict[str, Any],
                 root: Path) -> tuple[Path, str]:
    """The folder and stem of a run's files from OUTPUT (see :func:`run_notebook`)."""
    if output is None:
        return root / slugify(notebook.stem, fallback="notebook"), notebook.stem
    text = str(output)
    if text.lower().endswith(".ipynb"):
        from papermill.parameterize import add_builtin_parameters, parameterize_path
        from papermill.exceptions import PapermillMissingParameterException

        try:
            text = parameterize_path(text, add_builtin_parameters(parameters))
        except PapermillMissingParameterException as exc:
            raise ParameterError("OUTPUT", [f"{output}: {exc}"]) from None
        path = Path(text)
        return path.parent.resolve(), path.name[: -len(".ipynb")]
    return Path(text).resolve(), notebook.stem


def batch_notebook(notebook: str | Path, output: str | Path | None, grid: str | Path, *,
                   parameters: Mapping[str, Any] | None = None, name: str | None = None, strict: bool = False,
                   report_mode: bool = False, to: Iterable[str] = (), cwd: str | Path | None = None,
                   kernel: str | None = None, engine: str | None = None,
                   engine_options: dict[str, Any] | None = None, limit: int | None = None, **batch_options: Any):
    """``reportlib batch PATH.ipynb --grid FILE``: one run per row (CSV) or per combination
    (YAML), each with ``parameters`` and its own values (which win), named by the ``name``
    template (default: the notebook's name and the run's grid values). Every name is checked
    for clashes, and every parameter name against the notebook, before anything runs."""
    from .batch import run_runs
    from .config import outputs_root

    notebook = Path(notebook).resolve()
    rows = read_grid(grid)
    if limit is not None:
        rows = rows[:max(0, limit)]
    if not rows:
        raise ParameterError("grid", [f"--limit {limit} leaves no run"])
    fixed = dict(parameters or {})
    runs = [dict(fixed, **row) for row in rows]
    for warning in check_parameters(notebook, dict.fromkeys(k for run in runs for k in run), strict=strict):
        log.warning(warning)
    folder = Path(output).resolve() if output is not None else outputs_root() / slugify(notebook.stem,
                                                                                        fallback="notebook")
    template = name if name is not None else _default_name(notebook, rows)
    family = notebook_family(notebook, folder, name=template, report_mode=report_mode, to=to, cwd=cwd,
                             kernel=kernel)
    run_stems(family, runs)  # a template that does not fit is one error, before any worker starts
    options = dict(engine_options or {}, **({"kernel_name": kernel} if kernel else {}))
    return run_runs(family, runs, engine=engine, engine_options=options, by_name=False, **batch_options)


def _default_name(notebook: Path, rows: list[dict[str, Any]]) -> str:
    """``<notebook>-{a}-{b}`` over the grid's parameters whose values differ between runs."""
    varying = [key for key in rows[0] if len({repr(row.get(key)) for row in rows}) > 1]
    fields = "-".join("{" + key + "}" for key in varying if re.fullmatch(r"\w+", key))
    return notebook.stem.replace("{", "{{").replace("}", "}}") + (f"-{fields}" if fields else "")
