"""Any notebook as a report: papermill's flags, parameters from the notebook, grids, names,
manifests, skipping, HTML and PDF, timeouts and logged output."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from reportlib.cli import main
from reportlib.errors import ParameterError
from reportlib.notebooks import (check_parameters, collect_parameters, describe_parameters, papermill_value,
                                 read_grid)

from .conftest import need, python_notebook

PARAMETERS = ("region = 'north'  # the sales region\nmonth: int = 10\nrate = 0.5\nitems = [1, 2]\n"
              "owner = None  # who reads it")


def _write(folder: Path, name: str, nb) -> Path:
    path = folder / name
    nbformat.write(nb, path)
    return path


@pytest.fixture
def sales(tmp_path) -> Path:
    """A notebook that reports its parameters and fails when asked to."""
    return _write(tmp_path, "sales.ipynb", python_notebook(
        PARAMETERS + "\nfail = False",
        "print(f'{region} {month} {rate} {items} {owner}')",
        "if fail:\n    raise RuntimeError(f'{region} was asked to fail')"))


def _papermill(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "papermill", *args], capture_output=True, text=True, timeout=300,
                          check=check)


# --- parameters as papermill reads them ------------------------------------------------------

def test_p_values_are_read_as_papermills_command_line_reads_them():
    from papermill.cli import _resolve_type

    for text in ("True", "False", "None", "true", "1", "-3", "0x10", "1_000", "2.5", "1e3", "nan", "inf", "-inf",
                 "", " 7 ", "2026-10", "2026-10-01", "[1, 2]", "{a: 1}", "'quoted'", "P001", "١٢"):
        ours, theirs = papermill_value(text), _resolve_type(text)
        assert type(ours) is type(theirs) and (ours == theirs or ours != ours), text


def test_every_kind_of_parameter_merges_in_papermills_order(tmp_path, sales):
    """-b, -f, -y, -p, -r: later wins, as ``papermill --prepare-only`` records them."""
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("region: east\nmonth: 1\nrate: 0.1\nitems: [9]\nowner: ann\n")
    second.write_text("month: 2\nwhen: 2026-10-01\n")
    encoded = base64.b64encode(b"region: b64\nfail: false\nextra: 1").decode()
    flags = ["-b", encoded, "-f", str(first), "-f", str(second), "-y", "rate: 0.2\nitems: [1, {k: v}]",
             "-p", "month", "3", "-p", "owner", "None", "-r", "region", "True", "-p", "region", "west"]
    _papermill(str(sales), str(tmp_path / "prepared.ipynb"), "--prepare-only", *flags)
    theirs = nbformat.read(tmp_path / "prepared.ipynb", as_version=4).metadata.papermill.parameters
    ours = collect_parameters(base64_texts=[encoded], files=[str(first), str(second)],
                              yaml_texts=["rate: 0.2\nitems: [1, {k: v}]"],
                              pairs=[("month", "3"), ("owner", "None"), ("region", "west")],
                              raw_pairs=[("region", "True")])
    assert ours == dict(theirs) and ours["region"] == "True" and ours["when"] == "2026-10-01"


@pytest.mark.kernel
def test_run_takes_every_parameter_flag_as_papermill_and_warns_of_unknown_names_once(tmp_path, sales, capsys):
    """The flags on ``reportlib run`` itself (-b, -f twice, -y, -p, -r): the executed notebook
    records papermill's parameters; names the parameters cell does not define warn, and run."""
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("region: east\nmonth: 1\nitems: [9]\n")
    second.write_text("month: 2\nwhen: 2026-10-01\n")
    flags = ["-b", base64.b64encode(b"region: b64\nextra: 1").decode(), "-f", str(first), "-f", str(second),
             "-y", "rate: 0.2\nitems: [1, {k: v}]", "-p", "owner", "None", "-r", "region", "True"]
    _papermill(str(sales), str(tmp_path / "prepared.ipynb"), "--prepare-only", *flags)
    theirs = nbformat.read(tmp_path / "prepared.ipynb", as_version=4).metadata.papermill.parameters
    assert main(["run", str(sales), str(tmp_path / "out"), *flags]) == 0
    executed = nbformat.read(tmp_path / "out" / "sales.ipynb", as_version=4)
    assert executed.metadata.papermill.parameters == theirs
    assert "True 2 0.2 [1, {'k': 'v'}] None" in executed.cells[2].outputs[0].text
    err = capsys.readouterr().err
    for name in ("extra", "when"):
        assert err.count(f"warning: Passed unknown parameter: {name} ") == 1, err


def test_bad_yaml_is_one_clear_error():
    with pytest.raises(ParameterError, match="-y 'a: \\[1' is not valid YAML"):
        collect_parameters(yaml_texts=["a: [1"])
    with pytest.raises(ParameterError, match="must be a mapping"):
        collect_parameters(yaml_texts=["- 1"])
    with pytest.raises(ParameterError, match="not base64"):
        collect_parameters(base64_texts=["%%%"])


def test_params_lists_what_papermills_help_notebook_lists(sales, capsys):
    assert main(["params", str(sales)]) == 0
    ours = capsys.readouterr().out.strip().splitlines()
    theirs = _papermill("--help-notebook", str(sales)).stdout.strip().splitlines()
    start = next(i for i, line in enumerate(theirs) if line.startswith("Parameters inferred"))
    assert ours == theirs[start:]
    assert any("the sales region" in line for line in ours) and any("month: int (default 10)" in line for line in ours)


def test_params_of_a_notebook_without_a_parameters_cell_says_so(tmp_path, capsys):
    nb = python_notebook("x = 1")
    nb.cells[0].metadata["tags"] = []
    assert main(["params", str(_write(tmp_path, "plain.ipynb", nb))]) == 0
    assert "No cell tagged 'parameters'" in capsys.readouterr().out


def test_unknown_parameters_warn_and_strict_refuses_them_before_anything_runs(sales, tmp_path, capsys):
    warnings = check_parameters(sales, ["region", "monht", "colour"])
    assert warnings[0].startswith("Passed unknown parameter: monht") and "did you mean 'month'?" in warnings[0]
    assert warnings[1].startswith("Passed unknown parameter: colour")
    out = tmp_path / "out"
    assert main(["run", str(sales), str(out), "-p", "monht", "3", "--strict"]) == 2
    err = capsys.readouterr().err
    assert "Passed unknown parameter: monht" in err and "--strict: nothing was run" in err
    assert not out.exists()
    nb = python_notebook("x = 1")
    nb.cells[0].metadata["tags"] = []
    assert "has no cell tagged 'parameters'" in check_parameters(_write(tmp_path, "p.ipynb", nb), ["x"])[0]


def test_notebook_flags_given_to_a_family_are_refused(capsys):
    assert main(["run", "statement", "-p", "partner", "P001", "--to", "html", "--report-mode"]) == 2
    assert "--to, --report-mode apply to a notebook (PATH.ipynb), not to the statement family" in \
        capsys.readouterr().err
    assert main(["run", "x.ipynb", "--out", "somewhere"]) == 2
    assert "--out is a family's outputs folder" in capsys.readouterr().err
    for command in ("run", "batch"):  # a family's flag given to a notebook is refused, not ignored
        assert main([command, "x.ipynb", "out", "--pdf"]) == 2
        assert "--pdf makes the PDFs of a family's reports" in capsys.readouterr().err


# --- grids and names -------------------------------------------------------------------------

def test_a_csv_grid_is_one_run_per_row_with_values_read_as_p_reads_them(tmp_path):
    grid = tmp_path / "g.csv"
    grid.write_text("region,month,rate,owner\nnorth,1,0.5,None\n\"south, east\",12,x,True\n")
    assert read_grid(grid) == [{"region": "north", "month": 1, "rate": 0.5, "owner": None},
                               {"region": "south, east", "month": 12, "rate": "x", "owner": True}]


def test_a_yaml_grid_is_every_combination_of_its_lists(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text("region: [north, south]\nmonth: [2026-10, 2026-11]\nitems: [[1, 2]]\nrate: 0.5\n")
    assert read_grid(grid) == [
        {"region": r, "month": m, "items": [1, 2], "rate": 0.5}
        for r in ("north", "south") for m in ("2026-10", "2026-11")]


def test_a_bad_grid_names_every_problem_with_its_row(tmp_path):
    grid = tmp_path / "bad.csv"
    grid.write_text("region,,region\nnorth,1\n")
    with pytest.raises(ParameterError) as caught:
        read_grid(grid)
    problems = caught.value.problems
    assert "bad.csv, row 1, column 2: the parameter name is empty" in problems
    assert "bad.csv, row 1: the parameter 'region' is named twice" in problems
    assert "bad.csv, row 2: 2 value(s) for 3 column(s)" in problems
    empty = tmp_path / "empty.yaml"
    empty.write_text("region: []\nmonth: [1]\n")
    with pytest.raises(ParameterError, match="'region' is an empty list"):
        read_grid(empty)
    other = tmp_path / "grid.txt"
    other.write_text("x")
    with pytest.raises(ParameterError, match="a grid is a .csv file"):
        read_grid(other)


def test_names_that_clash_are_refused_before_anything_runs(sales, tmp_path, capsys):
    grid = tmp_path / "g.yaml"
    grid.write_text("region: [North, north, south]\nmonth: [1, 2]\n")
    out = tmp_path / "out"
    assert main(["batch", str(sales), str(out), "--grid", str(grid), "--name", "{region}", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "would write 2 file name(s) for more than one entity" in err and "Make --name tell these runs apart" in err
    assert "North: region='North' month=1, region='North' month=2, region='north' month=1" in err
    assert not list(out.glob("*.ipynb")) if out.exists() else True
    assert main(["batch", str(sales), str(out), "--grid", str(grid), "--name", "{region}-{colour}"]) == 2
    assert "names {colour}, which is no parameter of the run" in capsys.readouterr().err


# --- runs and batches with real kernels ------------------------------------------------------

@pytest.mark.kernel
def test_a_notebook_run_is_a_report_published_whole_with_its_manifest_and_skipped_when_unchanged(sales, tmp_path,
                                                                                                    capsys):
    out = tmp_path / "reports" / "{region}-{month}.ipynb"  # papermill fills an output path's fields
    args = ["run", str(sales), str(out), "-p", "region", "west", "-p", "month", "11", "--cwd", str(tmp_path)]
    assert main(args) == 0
    folder = tmp_path / "reports"
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "west-11.ipynb", "west-11.manifest.json"]
    manifest = json.loads((folder / "west-11.manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["parameters"] == {"region": "west", "month": 11}
    assert manifest["data"] == {"domain": None, "fingerprint": None, "database": None}
    assert [f["name"] for f in manifest["files"]] == ["west-11.ipynb"]
    executed = nbformat.read(folder / "west-11.ipynb", as_version=4)
    injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert injected.source == '# Parameters\nregion = "west"\nmonth = 11\n'  # no db_url, output_dir, ...
    assert "west 11 0.5 [1, 2] None" in executed.cells[2].outputs[0].text
    capsys.readouterr()
    assert main(args) == 0
    assert "up to date" in capsys.readouterr().out
    assert main([*args, "--report-mode"]) == 0  # another way of running it: not up to date
    assert "up to date" not in capsys.readouterr().out
    assert all(c.metadata.jupyter.source_hidden for c in nbformat.read(folder / "west-11.ipynb", as_version=4).cells
               if c.cell_type == "code")


@pytest.mark.kernel
def test_a_notebook_never_replaces_itself(sales, capsys):
    assert main(["run", str(sales), str(sales.parent)]) == 2
    assert "would replace the notebook it runs" in capsys.readouterr().err


@pytest.mark.kernel
def test_a_notebook_runs_in_the_working_folder_it_is_given(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "input.txt").write_text("from the data folder")
    notebook = _write(tmp_path, "reader.ipynb", python_notebook(
        "name = 'input.txt'", "import os\nprint(open(name).read(), os.getcwd())"))
    assert main(["run", str(notebook), str(tmp_path / "out"), "--cwd", str(tmp_path / "data")]) == 0
    text = nbformat.read(tmp_path / "out" / "reader.ipynb", as_version=4).cells[1].outputs[0].text
    assert text == f"from the data folder {tmp_path / 'data'}\n"


@pytest.mark.kernel
def test_a_grid_batch_names_each_run_keeps_failures_and_summarises(sales, tmp_path, capsys):
    grid = tmp_path / "params.csv"
    grid.write_text("region,month,fail\nnorth,1,False\nsouth,2,True\neast,3,False\n")
    out = tmp_path / "out"
    status = main(["batch", str(sales), str(out), "--grid", str(grid), "-p", "rate", "0.75",
                   "--name", "{region}-{month}", "--workers", "2", "--quiet"])
    assert status == 1
    printed = capsys.readouterr().out
    assert "3 run(s)" in printed and "2 ok, 0 skipped (unchanged), 1 failed" in printed
    assert "FAILED south-2: RuntimeError in cell 4: south was asked to fail" in printed
    names = sorted(p.name for p in out.iterdir())
    assert names == ["east-3.ipynb", "east-3.manifest.json", "manifest.json", "north-1.ipynb",
                     "north-1.manifest.json", "south-2.failed.ipynb", "south-2.manifest.json"]
    east = nbformat.read(out / "east-3.ipynb", as_version=4)
    assert "east 3 0.75 [1, 2] None" in east.cells[2].outputs[0].text
    index = json.loads((out / "manifest.json").read_text())
    assert {run["stem"]: run["status"] for run in index["runs"]} == {"east-3": "ok", "north-1": "ok",
                                                                     "south-2": "failed"}
    grid.write_text("region,month,fail\nnorth,1,False\nsouth,2,False\neast,3,False\n")
    assert main(["batch", str(sales), str(out), "--grid", str(grid), "-p", "rate", "0.75",
                 "--name", "{region}-{month}", "--workers", "1"]) == 0
    printed = capsys.readouterr()
    assert "3 run(s)" in printed.out and "2 skipped (unchanged)" in printed.out
    assert not (out / "south-2.failed.ipynb").exists() and (out / "south-2.ipynb").exists()
    bar = printed.err.split("\r")[-1]  # the progress bar as it was left
    assert bar.startswith("sales.ipynb batch: 100%") and "3/3" in bar and "failed=0" in bar, printed.err


@pytest.mark.kernel
@pytest.mark.parametrize("engine", ["papermill", "warm"])
def test_a_cell_over_the_execution_timeout_fails_the_run_and_keeps_its_notebook(tmp_path, engine, capsys):
    notebook = _write(tmp_path, "slow.ipynb", python_notebook(
        "seconds = 60", "print('started')", "import time\ntime.sleep(seconds)", "print('never')"))
    out = tmp_path / "out"
    assert main(["run", str(notebook), str(out), "--execution-timeout", "2", "--engine", engine]) == 2
    assert "CellTimeoutError" in capsys.readouterr().err
    kept = nbformat.read(out / "slow.failed.ipynb", as_version=4)
    assert kept.cells[1].outputs[0].text == "started\n" and kept.cells[3].execution_count is None
    assert json.loads((out / "slow.manifest.json").read_text())["status"] == "failed"


@pytest.mark.kernel
def test_log_output_writes_each_cells_output_to_stderr_on_run_and_batch(sales, tmp_path):
    run = subprocess.run([sys.executable, "-m", "reportlib", "run", str(sales), str(tmp_path / "one"), "-p", "region",
                          "logged", "--log-output"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "logged 10 0.5 [1, 2] None" in run.stderr and "Executing Cell 2" in run.stderr
    grid = tmp_path / "g.csv"
    grid.write_text("region\nfirst\nsecond\n")
    batch = subprocess.run([sys.executable, "-m", "reportlib", "batch", str(sales), str(tmp_path / "many"), "--grid",
                            str(grid), "--workers", "2", "--log-output", "--quiet"],
                           capture_output=True, text=True, timeout=300)
    assert batch.returncode == 0, batch.stderr
    assert "first 10 0.5" in batch.stderr and "second 10 0.5" in batch.stderr
    quiet = subprocess.run([sys.executable, "-m", "reportlib", "run", str(sales), str(tmp_path / "two"), "-p",
                            "region", "quiet"], capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0 and "quiet 10" not in quiet.stderr


@pytest.mark.kernel
@pytest.mark.browser
def test_to_html_and_pdf_publish_the_report_page_and_its_print(sales, tmp_path):
    import shutil

    need(bool(shutil.which("pdftotext")), "pdftotext")
    out = tmp_path / "out"
    assert main(["run", str(sales), str(out), "-p", "region", "Zanzibar", "--to", "html", "--to", "pdf"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "sales.html", "sales.ipynb",
                                                      "sales.manifest.json", "sales.pdf"]
    assert "Zanzibar 10 0.5" in (out / "sales.html").read_text()
    text = subprocess.run(["pdftotext", str(out / "sales.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Zanzibar 10 0.5" in text
    # The one printer of pages: A4, the notebook named in the header, page numbers in the footer.
    assert "sales" in text.splitlines()[0] and "Page 1 of 1" in text
    box = subprocess.run(["pdftotext", "-bbox", "-l", "1", str(out / "sales.pdf"), "-"], capture_output=True,
                         text=True, check=True).stdout
    assert re.search(r'<page width="59[56]\.[0-9]+" height="84[12]\.[0-9]+"', box), box[:400]
    only_pdf = tmp_path / "pdf"
    assert main(["run", str(sales), str(only_pdf), "--to", "pdf"]) == 0
    assert sorted(p.name for p in only_pdf.iterdir()) == ["manifest.json", "sales.ipynb", "sales.manifest.json",
                                                           "sales.pdf"]


@pytest.mark.kernel
def test_to_pdf_without_chromium_fails_with_a_clear_error(sales, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REPORTLIB_CHROMIUM", str(tmp_path / "no-such-browser"))
    assert main(["run", str(sales), str(tmp_path / "out"), "--to", "pdf"]) == 2
    err = capsys.readouterr().err
    assert "--to pdf prints the HTML report with headless Chromium, which is not installed here" in err
    assert not (tmp_path / "out" / "sales.pdf").exists() and (tmp_path / "out" / "sales.failed.ipynb").exists()


@pytest.mark.kernel
def test_a_grid_batch_runs_on_a_dask_cluster(sales, tmp_path, capsys):
    """The notebook's family goes to the Dask workers whole (it is no registered family)."""
    distributed = pytest.importorskip("distributed")
    from reportlib.notebooks import batch_notebook

    grid = tmp_path / "g.yaml"
    grid.write_text("region: [north, south]\nmonth: [1, 2]\n")
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                                  dashboard_address=None, protocol="tcp") as cluster:
        status = main(["batch", str(sales), str(out), "--grid", str(grid), "--scheduler", cluster.scheduler_address,
                       "--quiet"])
        printed = capsys.readouterr()
        assert status == 0 and "4 run(s)" in printed.out and "4 ok, 0 skipped" in printed.out, printed
        again = batch_notebook(sales, out, grid, executor="dask", scheduler=cluster.scheduler_address,
                               progress=False)
        assert again.count("skipped") == 4
    assert sorted(p.name for p in out.glob("*.ipynb")) == ["sales-north-1.ipynb", "sales-north-2.ipynb",
                                                           "sales-south-1.ipynb", "sales-south-2.ipynb"]
    text = nbformat.read(out / "sales-south-2.ipynb", as_version=4).cells[2].outputs[0].text
    assert text == "south 2 0.5 [1, 2] None\n"


@pytest.mark.kernel
def test_kernel_runs_the_kernel_named_instead_of_the_notebooks_own(tmp_path, capsys):
    nb = python_notebook("x = 1", "import sys\nprint(sys.version_info[0])")
    nb.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "Nothing", "language": "python"}
    notebook = _write(tmp_path, "elsewhere.ipynb", nb)
    assert main(["run", str(notebook), str(tmp_path / "own")]) == 2
    assert "no-such-kernel" in capsys.readouterr().err
    assert main(["run", str(notebook), str(tmp_path / "named"), "--kernel", "python3", "-k", "python3"]) == 0
    assert nbformat.read(tmp_path / "named" / "elsewhere.ipynb", as_version=4).cells[1].outputs[0].text == "3\n"
    manifest = json.loads((tmp_path / "named" / "elsewhere.manifest.json").read_text())
    assert manifest["options"] == {"kernel": "python3", "report_mode": False, "to": []}
