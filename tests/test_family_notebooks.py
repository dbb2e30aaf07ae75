"""The committed notebooks as analysts open them: stored clean, their parameters cell matching
their family, each running with its defaults against the demo database, and `reportlib open`."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import shutil
from pathlib import Path

import nbformat
import openpyxl
import pytest
from pptx import Presentation

from .conftest import ROOT
from reportlib.cli import main
from reportlib.demo import build_demo
from reportlib.errors import ConfigError
from reportlib.families import FAMILIES, get_family
from reportlib.params import ReportParams
from reportlib.family_notebooks import RUNNER_NAMES, parameter_problems, parameters_cell
from reportlib.render.html import notebook_to_html

NOTEBOOKS = ROOT / "notebooks"
COMMITTED = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))


def _notebook_json(name: str) -> dict:
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))


def _parameters_source(nb: dict) -> list[str]:
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    return cell["source"]


def _rename_in_cell(nb: dict, old: str, new: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    cell["source"] = [re.sub(rf"^{old}\b", new, line) for line in cell["source"]]
    return nb


def test_every_committed_notebook_is_stored_clean_and_valid():
    assert {"explore.ipynb", *(get_family(n).notebook for n in FAMILIES.names())} <= set(COMMITTED)
    for name in COMMITTED:
        text = (NOTEBOOKS / name).read_text(encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{name} is stored with outputs"
        # As Jupyter writes it (one-space indent, a final newline): an edit saved in Jupyter
        # changes only the lines it changed.
        assert text == nbformat.writes(nb) + "\n", f"{name} is not stored as Jupyter writes it"


@pytest.mark.parametrize("family_name", FAMILIES.names())
def test_each_family_notebook_parameters_cell_matches_its_parameter_class(family_name):
    family = get_family(family_name)
    notebook = NOTEBOOKS / family.notebook
    assert parameter_problems(family, notebook) == []
    cell = parameters_cell(notebook)
    fields = [f.name for f in dataclasses.fields(family.params) if f.init]
    assert set(fields) | set(RUNNER_NAMES) <= set(cell)
    assert list(cell)[-len(RUNNER_NAMES):] == list(RUNNER_NAMES) or family.prepare is not None
    family.params.parse({name: cell[name] for name in fields})  # the defaults parse


@pytest.mark.parametrize("family_name", FAMILIES.names())
def test_renaming_a_parameter_in_the_notebook_alone_is_caught(family_name):
    family = get_family(family_name)
    nb = _notebook_json(family.notebook)
    first = [f.name for f in dataclasses.fields(family.params) if f.init][0]
    problems = parameter_problems(family, _rename_in_cell(nb, first, f"{first}_id"), where=family.notebook)
    assert any(repr(first) in p and "never assigns" in p for p in problems)
    assert any(repr(f"{first}_id") in p and "no parameter" in p for p in problems)


@pytest.mark.parametrize("family_name", FAMILIES.names())
def test_renaming_a_parameter_in_the_family_alone_is_caught(family_name):
    family = get_family(family_name)
    first = [f.name for f in dataclasses.fields(family.params) if f.init][0]
    # The same parameter class with its first field under another name.
    renamed = dataclasses.make_dataclass(
        family.params.__name__,
        [(f"{f.name}_id" if f.name == first else f.name, f.type,
          dataclasses.field() if f.default is dataclasses.MISSING else dataclasses.field(default=f.default))
         for f in dataclasses.fields(family.params) if f.init],
        bases=(ReportParams,), frozen=True)
    renamed.__module__, renamed.family = family.params.__module__, family.name  # its types read there
    problems = parameter_problems(dataclasses.replace(family, params=renamed), NOTEBOOKS / family.notebook)
    assert any(repr(f"{first}_id") in p and "never assigns" in p for p in problems)
    assert any(repr(first) in p and "no parameter" in p for p in problems)


def test_a_default_that_does_not_parse_and_a_runner_name_left_out_are_caught():
    family = get_family("qbr")
    nb = copy.deepcopy(_notebook_json(family.notebook))
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    cell["source"] = [line.replace('"2026Q3"', '"2026-09"') for line in cell["source"]
                      if not line.startswith("output_stem")]
    problems = parameter_problems(family, nb)
    assert any("'output_stem'" in p for p in problems)
    cell["source"].append("\noutput_stem = None")
    assert any("do not parse" in p and "quarter" in p for p in parameter_problems(family, nb))
    cell["source"].append('\nextra = partner.lower()')
    with pytest.raises(ConfigError, match="line .*: each line must be|plain value"):
        parameter_problems(family, nb)


@pytest.fixture
def project_copy(tmp_path, monkeypatch) -> Path:
    """The project's notebooks in a folder of their own, as REPORTLIB_HOME."""
    home = tmp_path / "project"
    shutil.copytree(NOTEBOOKS, home / "notebooks")
    shutil.copy(ROOT / "pyproject.toml", home / "pyproject.toml")
    monkeypatch.setenv("REPORTLIB_HOME", str(home))
    return home


def test_run_and_batch_refuse_a_notebook_whose_parameters_cell_disagrees(project_copy, sqlite_url, tmp_path, capsys):
    build_demo(sqlite_url, scale="small", domains=["billing"])
    path = project_copy / "notebooks" / "statement.ipynb"
    path.write_text(json.dumps(_rename_in_cell(json.loads(path.read_text()), "partner", "account")), encoding="utf-8")
    for command in (["run", "statement", "-p", "partner", "P001", "-p", "month", "2026-10"],
                    ["batch", "statement", "-p", "month", "2026-10", "--workers", "1", "--quiet"]):
        assert main([*command, "--db", sqlite_url, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert "statement.ipynb" in err and "'partner'" in err and "'account'" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.ipynb"))


# --- each committed notebook, run as an analyst runs it in Jupyter --------------------------------

# notebook -> (folder under outputs/scratch/, files it writes there, text its displays show)
EXPECTED = {
    "statement.ipynb": ("statements", ["report.xlsx"], "P001"),
    "qbr.ipynb": ("qbr", ["report.pptx"], "Quarterly Business Review"),
    "qbr_portfolio.ipynb": ("qbr", ["report.xlsx"], "Partner portfolio"),
    "amendment.ipynb": ("amendments", ["report.xlsx"], "C001"),
    "dashboard.ipynb": ("dashboard", ["report.xlsx"], "Headline figures"),
    "explore.ipynb": ("", ["health-2026Q2-to-2026Q3.xlsx"], "qbr_partners"),
}


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'reportlib.sqlite'}"
    build_demo(url, scale="small")
    return url


def _execute(path: Path, cwd: Path):
    """Run a notebook top to bottom in a fresh kernel, as Jupyter's "Run all" does."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def _shown(nb) -> str:
    return "\n".join(str(output.get("data", {}).get("text/html", "")) + str(output.get("data", {}).get("text/plain", ""))
                     for cell in nb.cells for output in cell.get("outputs", ()))


@pytest.mark.kernel
def test_the_notebooks_cover_every_family():
    assert set(EXPECTED) == set(COMMITTED), "a new notebook needs its expectations in EXPECTED"


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_committed_notebook_runs_with_its_defaults_against_the_demo_database(name, demo_url, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.setenv("REPORTLIB_DB", demo_url)
    monkeypatch.setenv("REPORTLIB_OUTPUTS", str(tmp_path / "outputs"))
    nb = _execute(NOTEBOOKS / name, NOTEBOOKS)
    errors = [o for c in nb.cells for o in c.get("outputs", ()) if o.get("output_type") == "error"]
    assert not errors, errors
    folder, files, text = EXPECTED[name]
    scratch = tmp_path / "outputs" / "scratch" / folder
    for file in files:
        written = scratch / file
        assert written.is_file(), f"{name} did not write {written}"
        if written.suffix == ".xlsx":
            book = openpyxl.load_workbook(written)
            assert book.worksheets and book.worksheets[0].max_row > 1
        else:
            assert len(Presentation(written).slides) > 3
    assert text in _shown(nb)
    if name != "explore.ipynb":  # a report: what its page shows
        page = notebook_to_html(nb)
        assert text in page
        # No note to the analyst (untagged markdown: how to run it against the demo database)
        # and no printed timing ("queries 0.12 s").
        assert "demo database" not in page and "make lab" not in page
        assert not re.search(r"\b\d+\.\d\d s\b", page)
        assert "import reportlib" not in page and "jp-OutputArea-output\" data-mime-type=\"text/plain\"><pre>" \
            not in page
    assert not list(NOTEBOOKS.glob("*.xlsx")) and not list(NOTEBOOKS.glob("*.pptx"))


@pytest.mark.kernel
def test_open_writes_a_ready_notebook_for_one_entity_that_runs(demo_url, tmp_path, capsys):
    out = tmp_path / "outputs"
    args = ["open", "qbr", "-p", "partner", "P002", "-p", "quarter", "2026Q3", "--db", demo_url, "--out", str(out)]
    assert main(args) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.parent == out / "scratch" / "qbr" / "2026q3" and path.suffix == ".ipynb"
    assert path.name.startswith("p002-")
    cell = parameters_cell(_injected_only(path))
    assert cell["partner"] == "P002" and cell["quarter"] == "2026Q3" and cell["db_url"] == demo_url
    nb = _execute(path, path.parent)
    assert "P002" in _shown(nb)
    deck = path.with_suffix(".pptx")
    assert deck.is_file() and len(Presentation(deck).slides) > 3
    # An analyst's edits are never overwritten silently.
    path.write_text(path.read_text(encoding="utf-8") + " ", encoding="utf-8")
    edited = path.read_text(encoding="utf-8")
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err and path.read_text(encoding="utf-8") == edited
    assert main([*args, "--force"]) == 0 and path.read_text(encoding="utf-8") != edited


# family -> (parameters, a chart title as its notebook sets it)
CHART_TITLES = {
    "qbr": (["-p", "partner", "P001", "-p", "quarter", "2026Q3"], "Open pipeline by stage"),
    "dashboard": (["-p", "month", "2026-10"], "Top 15 advertisers by lead volume"),
}


@pytest.mark.kernel
@pytest.mark.parametrize("family_name", sorted(CHART_TITLES))
def test_a_chart_title_changed_in_the_notebook_is_the_one_the_report_shows(family_name, project_copy, demo_url,
                                                                          tmp_path):
    params, title = CHART_TITLES[family_name]
    path = project_copy / "notebooks" / get_family(family_name).notebook
    nb = nbformat.read(path, as_version=4)
    setting = f'title="{title}"'
    cells = [cell for cell in nb.cells if cell.cell_type == "code" and setting in cell.source]
    assert len(cells) == 1, f"the notebook sets the chart title {title!r} where an analyst sees it"
    cells[0].source = cells[0].source.replace(setting, 'title="Edited <in> the notebook"')
    nbformat.write(nb, path)
    out = tmp_path / "outputs"
    assert main(["run", family_name, *params, "--db", demo_url, "--out", str(out), "--no-pdf"]) == 0
    [page] = [p for p in out.glob(f"*/*/*.html") if p.name != "index.html"]
    shown = page.read_text(encoding="utf-8")
    # An interactive chart carries its title in its spec (JSON, with < and > escaped); a static
    # one draws it as SVG text.
    assert "Edited \\u003cin\\u003e the notebook" in shown or "Edited &lt;in&gt; the notebook" in shown
    assert title not in shown


def _injected_only(path: Path) -> dict:
    """The notebook with its injected-parameters cell as its one parameters cell."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        tags = cell["metadata"].get("tags", [])
        cell["metadata"]["tags"] = ["parameters"] if "injected-parameters" in tags else \
            [t for t in tags if t != "parameters"]
    return nb


def test_open_checks_the_entity_before_writing_anything(demo_url, tmp_path, capsys):
    out = tmp_path / "outputs"
    assert main(["open", "qbr", "-p", "partner", "P999", "-p", "quarter", "2026Q3", "--db", demo_url,
                 "--out", str(out)]) == 2
    assert "P999" in capsys.readouterr().err
    assert not out.exists() or not any(out.rglob("*.ipynb"))
