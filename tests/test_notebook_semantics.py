"""papermill's execution semantics on both engines: ``reportlib run PATH.ipynb`` gives the executed
notebook that the ``papermill`` command line gives for the same notebook and flags: the same cells,
outputs and ``metadata.papermill`` (cell status, exception, parameters), timestamps aside.

Each notebook here stands for one behaviour papermill's own tests cover: simple execution, complex
parameter types, a broken cell, an error in a line magic, ``sys.exit`` with 0 and 1 and
``SystemExit(0)``, no ``parameters`` cell, an ``injected-parameters`` cell from an earlier run,
report mode, stdout and stderr, a keyboard interrupt.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

from reportlib.cli import main
from reportlib.engines import WarmEngine
from reportlib.notebooks import run_notebook

from .conftest import python_notebook

pytestmark = pytest.mark.kernel

COMPLEX = {"a_list": [1, "two", 3.5, None, [True, False]], "a_dict": {"k": [1, 2], "n": None, "f": 0.25},
           "nothing": None, "yes": True, "no": False, "ratio": 2.5e-3, "count": -7, "text": "it's \"quoted\"\n",
           "date_text": "2026-10-01"}


def _notebook(name: str) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook of case ``name`` and the papermill flags it runs with (the same for both)."""
    printing = "import sys\nprint('to stdout', x)\nprint('to stderr', file=sys.stderr)\nx * 2"
    if name == "simple":
        return python_notebook("x = 1  # how many", printing, "y = x + 1\ny"), ["-p", "x", "21"]
    if name == "complex":
        nb = python_notebook("a_list = []\na_dict = {}\nnothing = 0\nyes = False\nno = True\nratio = 1.0\n"
                             "count = 0\ntext = ''\ndate_text = ''",
                             "print(repr((a_list, a_dict, nothing, yes, no, ratio, count, text, date_text)))\n"
                             "print([type(v).__name__ for v in (a_list, a_dict, nothing, yes, no, ratio, count)])")
        return nb, ["-y", json.dumps(COMPLEX), "-p", "count", "-7", "-r", "text", COMPLEX["text"]]
    if name == "broken":
        return python_notebook("x = 1", "print('before')", "raise ValueError(f'broken with x={x}')",
                               "print('never')"), ["-p", "x", "2"]
    if name == "line-magic":
        return python_notebook("x = 1", "print('before')", "%undefined_line_magic 1 2", "print('never')"), []
    if name in ("exit-0", "exit-1", "systemexit-0"):
        code = {"exit-0": "import sys\nprint('leaving')\nsys.exit(0)", "exit-1": "import sys\nsys.exit(1)",
                "systemexit-0": "raise SystemExit(0)"}[name]
        return python_notebook("x = 1", "print('first', x)", code, "print('never')"), ["-p", "x", "3"]
    if name == "no-parameters":
        nb = python_notebook("x = 1", printing)
        nb.cells[0].metadata["tags"] = []
        return nb, ["-p", "x", "5"]
    if name == "injected-again":
        nb = python_notebook("x = 1", printing)
        earlier = nbformat.v4.new_code_cell("# Parameters\nx = 99\n")
        earlier.metadata["tags"] = ["injected-parameters"]
        nb.cells.insert(1, earlier)
        return nb, ["-p", "x", "6"]
    if name == "report-mode":
        nb = python_notebook("x = 1", printing)
        nb.cells.append(nbformat.v4.new_markdown_cell("# a heading"))
        return nb, ["-p", "x", "7", "--report-mode"]
    if name == "keyboard-interrupt":
        return python_notebook("x = 1", "print('before')", "raise KeyboardInterrupt()", "print('never')"), []
    raise KeyError(name)


CASES = ["simple", "complex", "broken", "line-magic", "exit-0", "exit-1", "systemexit-0", "no-parameters",
         "injected-again", "report-mode", "keyboard-interrupt"]
FAILING = {"broken": "ValueError", "line-magic": "UsageError", "exit-1": "SystemExit",
           "keyboard-interrupt": "KeyboardInterrupt"}


def _when(value) -> str | None:
    """What must agree about a start, end or duration between two runs: whether it was
    recorded, and as what (an ISO time, seconds), not its value."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return f"not an ISO time: {value!r}"
        return "ISO time"
    return type(value).__name__


def _facts(path: Path) -> dict:
    """An executed notebook less what differs between two runs of it: the values of times and
    durations (whether each is recorded, and as what, stays), the paths, the injected cell's
    random id and nbclient's timing records."""
    nb = json.loads(path.read_text())
    papermill = nb["metadata"]["papermill"]
    for key in ("output_path", "input_path"):
        papermill.pop(key, None)
    for key in ("start_time", "end_time", "duration"):
        papermill[key] = _when(papermill[key]) if key in papermill else "missing"
    for cell in nb["cells"]:
        timing = cell["metadata"].get("papermill")
        for key in ("start_time", "end_time", "duration") if timing is not None else ():
            timing[key] = _when(timing[key]) if key in timing else "missing"
        cell["metadata"].pop("execution", None)
        if "injected-parameters" in cell["metadata"].get("tags", []) or \
                "papermill-error-cell-tag" in cell["metadata"].get("tags", []):
            cell.pop("id", None)
    return nb


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, tuple[Path, list[str], Path, int]]:
    """Each case's notebook, flags, and the notebook the papermill command line executed."""
    folder = tmp_path_factory.mktemp("semantics")
    made = {}
    for name in CASES:
        nb, flags = _notebook(name)
        notebook = folder / f"{name}.ipynb"
        nbformat.write(nb, notebook)
        out = folder / "papermill" / f"{name}.ipynb"
        out.parent.mkdir(exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "papermill", str(notebook), str(out), *flags, "--cwd",
                               str(folder), "--no-progress-bar"], capture_output=True, text=True, timeout=300)
        made[name] = (notebook, flags, out, done.returncode)
    return made


@pytest.mark.parametrize("engine", ["papermill", "warm"])
@pytest.mark.parametrize("name", CASES)
def test_reportlib_run_executes_a_notebook_as_the_papermill_command_line_does(cases, name, engine, tmp_path,
                                                                              capsys):
    notebook, flags, reference, papermill_status = cases[name]
    out = tmp_path / "run" / f"{name}.ipynb"
    status = main(["run", str(notebook), str(out), *flags, "--cwd", str(notebook.parent), "--engine", engine])
    assert (status != 0) == (papermill_status != 0) == (name in FAILING), capsys.readouterr().err
    executed = out if status == 0 else out.with_name(f"{name}.failed.ipynb")
    assert _facts(executed) == _facts(reference)
    manifest = json.loads(out.with_name(f"{name}.manifest.json").read_text())
    assert manifest["status"] == ("failed" if name in FAILING else "ok")
    if name in FAILING:
        assert FAILING[name] in manifest["error"] and FAILING[name] in capsys.readouterr().err


def test_the_cases_show_what_papermill_does(cases):
    """What the comparisons above hold reportlib to, said outright on papermill's own notebooks."""
    def cells(name):
        return nbformat.read(cases[name][2], as_version=4).cells

    complex_out = "".join(o.get("text", "") for c in cells("complex") for o in c.get("outputs", []))
    assert repr(tuple(COMPLEX[k] for k in ("a_list", "a_dict", "nothing", "yes", "no", "ratio", "count", "text",
                                          "date_text"))) in complex_out
    assert "['list', 'dict', 'NoneType', 'bool', 'bool', 'float', 'int']" in complex_out
    simple = nbformat.read(cases["simple"][2], as_version=4)
    assert _when(simple.metadata.papermill.start_time) == _when(simple.metadata.papermill.end_time) == "ISO time"
    for cell in simple.cells:  # each cell's start, end, duration and status, as the comparisons hold them
        timing = cell.metadata.papermill
        assert (_when(timing.start_time), _when(timing.end_time), _when(timing.duration), timing.status,
                timing.exception) == ("ISO time", "ISO time", "float", "completed", False), cell.source
    broken = cells("broken")
    assert "papermill-error-cell-tag" in broken[0].metadata["tags"]  # the banner at the top
    failed = next(c for c in broken if c.metadata.get("papermill", {}).get("exception"))
    assert failed.metadata.papermill.status == "failed" and failed.outputs[-1].ename == "ValueError"
    assert [c.metadata.papermill.status for c in broken if c.cell_type == "code"][-1] == "pending"  # never ran
    for name in ("exit-0", "systemexit-0"):
        exits = cells(name)
        assert not any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in exits)
        assert exits[-1].outputs == [] and exits[-1].execution_count is None  # the run ended there
    assert cells("no-parameters")[0].metadata.tags == ["injected-parameters"]
    again = cells("injected-again")
    assert [c.metadata.get("tags") for c in again[:2]] == [["parameters"], ["injected-parameters"]]
    assert again[1].source == "# Parameters\nx = 6\n" and len(again) == 3
    report = cells("report-mode")
    assert all(c.metadata.jupyter.source_hidden for c in report if c.cell_type == "code")
    streams = [(o.name, o.text) for o in cells("simple")[2].outputs if o.output_type == "stream"]
    assert streams == [("stdout", "to stdout 21\n"), ("stderr", "to stderr\n")]


def test_a_warm_kernel_goes_on_after_sys_exit_and_runs_the_next_notebook_clean(cases, tmp_path):
    """sys.exit(0) ends a run as a success in a warm kernel too, which then serves the next run."""
    engine = WarmEngine()
    try:
        first = run_notebook(cases["exit-0"][0], tmp_path / "exit.ipynb", {"x": 3}, engine=engine)
        second = run_notebook(cases["simple"][0], tmp_path / "simple.ipynb", {"x": 21}, engine=engine)
        assert engine.kernels_started == 1
    finally:
        engine.close()
    assert first.status == second.status == "ok"
    assert _facts(tmp_path / "simple.ipynb") == _facts(cases["simple"][2])
