"""The family notebooks as analysts keep them: their parameters cell, checked against the family.

The committed ``notebooks/*.ipynb`` are the one source: edited in Jupyter, stored without
outputs. Each has one code cell tagged ``parameters`` that assigns, one name a line, every
parameter of its family's parameter class and the names the runner injects (``db_url``,
``output_dir``, ``output_stem``); a family with a batch preparation may add names its
preparation sets (default ``None``: a run alone queries the database). A notebook whose cell
disagrees with its family would read a default where the runner meant to inject a value (one
partner's figures under another's file name), so :func:`parameter_problems` is checked by the
tests and by every run and batch before a kernel starts.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path
from typing import Any

from .errors import ConfigError, ReportlibError
from .families import Family

__all__ = ["RUNNER_NAMES", "check_notebook", "parameter_problems", "parameters_cell"]

# What the runner injects into every notebook besides the family's parameters.
RUNNER_NAMES = ("db_url", "output_dir", "output_stem")


def _cells(notebook: Path | dict) -> list[dict]:
    if isinstance(notebook, dict):
        return notebook.get("cells", [])
    try:
        return json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read the notebook {notebook}: {exc}") from None


def parameters_cell(notebook: Path | dict, *, where: str | None = None) -> dict[str, Any]:
    """The names the notebook's cell tagged ``parameters`` assigns, with their default values.

    Every statement of the cell must be ``name = literal`` (a comment may follow): a default that
    is an expression would not be what a reader of the cell sees, nor what papermill replaces.
    """
    where = where or str(notebook)
    tagged = [c for c in _cells(notebook)
              if c.get("cell_type") == "code" and "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ConfigError(f"The notebook {where} has {len(tagged)} code cells tagged 'parameters'; it needs one.")
    source = tagged[0]["source"]
    source = "".join(source) if isinstance(source, list) else source
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ConfigError(f"The parameters cell of {where} is not valid Python (line {exc.lineno}): {exc.msg}") from None
    values: dict[str, Any] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ConfigError(f"The parameters cell of {where}, line {node.lineno}: each line must be "
                              f"`name = value`, not {ast.unparse(node)!r}.")
        name = node.targets[0].id
        try:
            values[name] = ast.literal_eval(node.value)
        except ValueError:
            raise ConfigError(f"The parameters cell of {where}, line {node.lineno}: the default of {name!r} must "
                              f"be a plain value (text, number, None, ...), not {ast.unparse(node.value)!r}.") from None
    return values


def parameter_problems(family: Family, notebook: Path | dict, *, where: str | None = None,
                       strict: bool = True) -> list[str]:
    """What is wrong between ``family`` and the parameters cell of ``notebook``, as sentences.

    Always: a parameter of the family that the cell never assigns (the run would inject a value
    no cell reads, and the notebook would use its own default), and defaults that do not parse.
    ``strict`` (the committed notebooks, in the tests) also asks for ``db_url``, ``output_dir``
    and ``output_stem`` and refuses any other name; a run asks for those only beside a missing
    parameter (a name renamed on one side), since papermill injects what a cell does not assign.
    """
    cell = parameters_cell(notebook, where=where)
    fields = [f.name for f in dataclasses.fields(family.params) if f.init]
    missing = [name for name in fields if name not in cell]
    problems = [f"{name!r} is a parameter of {family.name} but the notebook never assigns it (the runner would "
                "inject a value no cell reads)" for name in missing]
    if strict:
        problems += [f"{name!r} is injected by the runner but the notebook never assigns it"
                     for name in RUNNER_NAMES if name not in cell]
    for name, value in cell.items():
        if name in fields or name in RUNNER_NAMES:
            continue
        if family.prepare is not None and value is None:
            continue  # set by the batch's preparation; None when the notebook runs alone
        if strict or missing:
            problems.append(f"{name!r} is assigned in the notebook but is no parameter of {family.name} "
                            f"(known: {', '.join(fields)}): a run could never set it")
    if strict:
        for name in RUNNER_NAMES:
            if cell.get(name, None) is not None:
                problems.append(f"{name!r} must default to None (the runner sets it; None is a hand run's choice)")
    if not problems:
        try:
            family.params.parse({name: cell[name] for name in fields})
        except ReportlibError as exc:
            problems.append(f"the notebook's defaults do not parse: {exc}")
    return problems


def check_notebook(family: Family, notebook: Path) -> None:
    """ConfigError naming the notebook and every problem of :func:`parameter_problems`, if any."""
    problems = parameter_problems(family, notebook, strict=False)
    if problems:
        raise ConfigError(f"The parameters cell of {notebook} does not match the {family.name} family's "
                          "parameters:\n  " + "\n  ".join(problems))
