"""Execution engines with real kernels: warm and papermill against papermill's unpatched path."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import openpyxl
import pytest

from reportlib.demo import build_demo
from reportlib.engines import ENGINES, NotebookFailed, WarmEngine, get_engine
from reportlib.engines.kernel import Kernel
from reportlib.run import run_report

from .conftest import html_elements, python_notebook

pytestmark = pytest.mark.kernel

_STAGING = re.compile(r"/\.[a-z0-9-]+\.[a-z0-9-]+\.[0-9a-f]{12}\.partial")


def _probe_notebook(folder: Path) -> Path:
    """A small notebook that would notice a leaked name, and fails on request."""
    nb = python_notebook(
        "entity = 'a'\nfail = False\noutput_dir = None",
        "import os, json\nleaked = 'seen' in globals()\nseen = entity\n"
        "json.dump({'entity': entity, 'leaked': leaked, 'cwd': os.getcwd()},\n"
        "          open(os.path.join(output_dir, 'probe.json'), 'w'))",
        "if fail:\n    raise ValueError(f'entity {entity} was asked to fail')")
    path = folder / "probe.ipynb"
    nbformat.write(nb, path)
    return path


def _run_probe(engine, notebook: Path, folder: Path, **params) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    engine.execute(notebook, folder / "out.ipynb", dict(params, output_dir=str(folder)), cwd=folder)
    return json.loads((folder / "probe.json").read_text())


def test_engines_registry_names_both_engines():
    assert {"papermill", "warm"} <= set(ENGINES.names())


def test_warm_engine_reuses_one_kernel_and_resets_the_namespace(tmp_path):
    notebook = _probe_notebook(tmp_path)
    engine = WarmEngine()
    try:
        first = _run_probe(engine, notebook, tmp_path / "one", entity="a")
        pid = engine.kernel_pid
        second = _run_probe(engine, notebook, tmp_path / "two", entity="b")
        assert engine.kernel_pid == pid and engine.kernels_started == 1
    finally:
        engine.close()
    assert first == {"entity": "a", "leaked": False, "cwd": str(tmp_path / "one")}
    assert second == {"entity": "b", "leaked": False, "cwd": str(tmp_path / "two")}
    executed = nbformat.read(tmp_path / "two" / "out.ipynb", as_version=4)
    assert [c.execution_count for c in executed.cells] == [1, 2, 3, 4]  # counter restarts per run
    assert engine.kernel_pid is None


def test_warm_engine_recycles_the_kernel_after_a_failure(tmp_path):
    notebook = _probe_notebook(tmp_path)
    engine = WarmEngine()
    try:
        _run_probe(engine, notebook, tmp_path / "ok", entity="a")
        first_pid = engine.kernel_pid
        with pytest.raises(NotebookFailed, match="entity b was asked to fail"):
            _run_probe(engine, notebook, tmp_path / "bad", entity="b", fail=True)
        assert engine.kernel_pid is None  # the failed kernel is gone at once
        failed = nbformat.read(tmp_path / "bad" / "out.ipynb", as_version=4)
        assert any(o.get("ename") == "ValueError" for c in failed.cells for o in c.get("outputs", []))
        after = _run_probe(engine, notebook, tmp_path / "after", entity="c")
        assert after["leaked"] is False
        assert engine.kernel_pid != first_pid and engine.kernels_started == 2
    finally:
        engine.close()


def test_warm_engine_recycles_after_max_runs_and_above_the_memory_limit(tmp_path):
    notebook = _probe_notebook(tmp_path)
    by_runs = WarmEngine(max_runs=2)
    by_memory = WarmEngine(max_memory_mb=1)  # every kernel is above 1 MB
    try:
        for i in range(3):
            _run_probe(by_runs, notebook, tmp_path / f"r{i}", entity=str(i))
            _run_probe(by_memory, notebook, tmp_path / f"m{i}", entity=str(i))
        assert by_runs.kernels_started == 2
        assert by_memory.kernels_started == 3 and by_memory.kernel_pid is None
    finally:
        by_runs.close()
        by_memory.close()


def test_papermill_engine_gives_each_run_a_fresh_kernel_and_close_waits_for_them_all(tmp_path):
    """Kernels shut down in the background while the run goes on; close() returns only when
    every one of them has exited and its private folder is gone."""
    import psutil

    notebook = _probe_notebook(tmp_path)
    engine = get_engine("papermill")
    pids, folders = [], []
    start = Kernel.__init__

    def seen(kernel, *args, **kwargs):
        start(kernel, *args, **kwargs)
        pids.append(kernel.pid)
        folders.append(kernel.folder)

    Kernel.__init__ = seen
    try:
        runs = [_run_probe(engine, notebook, tmp_path / name, entity=name, fail=False) for name in ("a", "b")]
        with pytest.raises(NotebookFailed, match="entity c was asked to fail"):
            _run_probe(engine, notebook, tmp_path / "c", entity="c", fail=True)
    finally:
        Kernel.__init__ = start
        engine.close()
    assert [r["leaked"] for r in runs] == [False, False] and len(set(pids)) == 3
    assert not [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert not [folder for folder in folders if folder.exists()]
    engine.close()  # twice is harmless


def test_a_kernel_started_early_runs_the_notebook_as_a_fresh_one_would(tmp_path):
    """``start_early`` (what ``reportlib run`` calls first thing) starts the kernel and imports the
    notebook's modules in the background; the run then executes in that kernel, moved to the
    run's folder and environment with nothing left in its namespace, and close() stops it."""
    import psutil

    notebook = _probe_notebook(tmp_path)
    early_engine = get_engine("papermill")
    early_engine.start_early(notebook)
    early = early_engine._early
    early._ready.wait(timeout=300)
    early_pid = early.kernel.pid
    folder = tmp_path / "early"
    folder.mkdir()
    started, start = [], Kernel.__init__
    Kernel.__init__ = lambda kernel, *args, **kwargs: (started.append(1), start(kernel, *args, **kwargs))[1]
    try:
        early_engine.execute(notebook, folder / "out.ipynb", {"entity": "x", "output_dir": str(folder)}, cwd=folder,
                             environment={"REPORTLIB_PROBE": "set"})
        probe = json.loads((folder / "probe.json").read_text())
        executed = nbformat.read(folder / "out.ipynb", as_version=4)
    finally:
        Kernel.__init__ = start
        early_engine.close()
    fresh_engine = get_engine("papermill")
    try:
        fresh = _run_probe(fresh_engine, notebook, tmp_path / "fresh", entity="x", fail=False)
        reference = nbformat.read(tmp_path / "fresh" / "out.ipynb", as_version=4)
    finally:
        fresh_engine.close()
    assert probe == dict(fresh, cwd=str(folder)) and probe["leaked"] is False
    assert [c.get("execution_count") for c in executed.cells] == [c.get("execution_count") for c in reference.cells]
    assert not psutil.pid_exists(early_pid) or psutil.Process(early_pid).status() == "zombie"
    assert started == [], "the run started a kernel of its own"
    assert early.kernel is None and early._released.is_set()


def test_a_kernel_started_early_is_a_running_process_when_start_early_returns(tmp_path):
    """The kernel's process is launched by the caller of ``start_early`` before it returns, not by
    a thread that would wait on the caller's imports for the interpreter lock; the thread only
    waits for it to answer."""
    import psutil

    engine = get_engine("papermill")
    before = {child.pid for child in psutil.Process().children()}
    try:
        engine.start_early()
        launched = [child for child in psutil.Process().children() if child.pid not in before]
        assert any("ipykernel_launcher" in " ".join(child.cmdline()) for child in launched), launched
        engine.start_early(_probe_notebook(tmp_path))
        engine._early._ready.wait(timeout=300)
        assert engine._early.kernel is not None and engine._early.kernel.pid in {child.pid for child in launched}
    finally:
        engine.close()


def test_a_kernel_started_early_for_a_run_that_never_comes_is_shut_down(tmp_path):
    import psutil

    engine = get_engine("papermill")
    engine.start_early(_probe_notebook(tmp_path))
    early = engine._early
    early._ready.wait(timeout=300)
    pid, folder = early.kernel.pid, early.kernel.folder
    engine.close()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    assert not folder.exists()


def test_a_kernel_exits_by_itself_when_asked_to_shut_down(tmp_path):
    """A shutdown request ends the kernel through its own exit (status 0, every atexit
    handler run), not by SIGTERM after a wait: ipykernel's shutdown race (see
    reportlib.kernel_patches.install_control_thread_join) left about every other kernel hanging,
    so eight in a row show it."""
    for n in range(8):
        kernel = Kernel("python3")
        try:
            process = kernel.km.provisioner.process
            kernel.stop_client()
            kernel.km.request_shutdown()
            try:
                status = process.wait(timeout=60)  # a hung kernel never exits by itself
            except subprocess.TimeoutExpired:
                status = "still running after 60 s"
            assert status == 0, f"kernel {n}: {status}"
        finally:
            kernel.shut_down()


def test_kernels_talk_over_ipc_and_print_no_tcp_warning(tmp_path, capfd):
    notebook = _probe_notebook(tmp_path)
    for name in ("warm", "papermill"):
        engine = get_engine(name)
        try:
            _run_probe(engine, notebook, tmp_path / name, entity=name)
            if name == "warm":
                assert engine._kernel.km.transport == "ipc"
        finally:
            engine.close()
    captured = capfd.readouterr()
    assert "without encryption" not in captured.out + captured.err
    assert "Debugger warning" not in captured.out + captured.err


def test_what_a_kernel_listens_on_is_ipykernels_iopub_pipe_on_loopback(tmp_path):
    """A kernel's sockets to us are IPC; the one TCP port it listens on is ipykernel's IOPub pipe
    for output of processes forked by the notebook's code (ipykernel always binds it), on
    127.0.0.1. The README says exactly this."""
    import psutil

    kernel = Kernel("python3")
    try:
        probe = tmp_path / "pipe.json"
        kernel.run_silently("import json\nfrom ipykernel.kernelapp import IPKernelApp\n"
                            f"json.dump(IPKernelApp.instance().iopub_thread._pipe_port, open({str(probe)!r}, 'w'))")
        pipe_port = json.loads(probe.read_text())
        sockets = psutil.Process(kernel.pid).net_connections(kind="inet")
    finally:
        kernel.close()
    assert [(s.laddr.ip, s.laddr.port, s.status) for s in sockets] == [("127.0.0.1", pipe_port, "LISTEN")]


# --- warm vs papermill on the real statement notebook ---------------------------------------

@pytest.fixture(scope="module")
def statement_runs(tmp_path_factory):
    """The same statement through papermill's own path with no reportlib patch (the reference
    engine, from a command line run with REPORTLIB_NO_PATCHES=1: its HTML export is nbconvert's
    own too), through the papermill engine, and through the warm engine after another partner."""
    folder = tmp_path_factory.mktemp("engines")
    url = f"sqlite:///{folder / 'demo.sqlite'}"
    build_demo(url, scale="small", domains=["billing"])
    params = {"partner": "P002", "month": "2026-10"}
    subprocess.run([sys.executable, "-m", "reportlib.cli", "run", "statement", "-p", "partner", "P002", "-p", "month",
                    "2026-10", "--db", url, "--out", str(folder / "reference"), "--engine", "reference",
                    "--no-pdf"],  # the delivery's PDF follows a command line run; the engines are compared here
                   check=True, capture_output=True, env=dict(os.environ, REPORTLIB_NO_PATCHES="1"), timeout=600)
    plain = run_report("statement", params, db_url=url, out=folder / "papermill", engine="papermill")
    warm = WarmEngine()
    try:
        run_report("statement", {"partner": "P001", "month": "2026-10"}, db_url=url, out=folder / "warm", engine=warm)
        hot = run_report("statement", params, db_url=url, out=folder / "warm", engine=warm)
        assert warm.kernels_started == 1
    finally:
        warm.close()
    reference = Path(str(plain.folder).replace(str(folder / "papermill"), str(folder / "reference")))
    return {"reference": reference, "papermill": Path(plain.folder), "warm": Path(hot.folder)}, plain.stem


def _same_paths(text: str, folder: Path) -> str:
    """Text with the run's own output folder and staging folder replaced by placeholders."""
    return _STAGING.sub("/STAGING", text.replace(str(folder), "OUTPUTS"))


def _notebook_facts(path: Path) -> dict:
    """An executed notebook without what legitimately differs: times, durations, folders."""
    nb = json.loads(path.read_text())
    nb["metadata"].pop("papermill", None)
    for cell in nb["cells"]:
        cell["metadata"].get("papermill", {}).pop("start_time", None)
        for key in ("end_time", "duration"):
            cell["metadata"].get("papermill", {}).pop(key, None)
        cell["metadata"].pop("execution", None)
        cell.pop("id", None)
    return json.loads(_same_paths(json.dumps(nb, sort_keys=True), path.parent))


@pytest.mark.parametrize("engine", ["warm", "papermill"])
def test_executed_notebooks_are_the_unpatched_references(statement_runs, engine):
    folders, stem = statement_runs
    a, b = (_notebook_facts(folders[name] / f"{stem}.ipynb") for name in ("reference", engine))
    assert [c["source"] for c in a["cells"]] == [c["source"] for c in b["cells"]]
    for left, right in zip(a["cells"], b["cells"]):
        assert left == right
    assert a == b


def _cells(sheet) -> list[list[tuple]]:
    """Every cell's value and format; the time the workbook was generated is a timestamp."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return [[("GENERATED" if isinstance(c.value, datetime) and abs(c.value - now) < timedelta(hours=1) else c.value,
              c.number_format) for c in row] for row in sheet.iter_rows()]


@pytest.mark.parametrize("engine", ["warm", "papermill"])
def test_outputs_are_the_unpatched_references(statement_runs, engine):
    folders, stem = statement_runs
    plain, warm = folders["reference"], folders[engine]
    names = sorted(p.name for p in plain.glob(f"{stem}.*"))
    assert names == sorted(p.name for p in warm.glob(f"{stem}.*"))
    assert names == [f"{stem}{s}" for s in (".html", ".ipynb", ".manifest.json", ".xlsx")]
    left, right = (openpyxl.load_workbook(d / f"{stem}.xlsx") for d in (plain, warm))
    assert left.sheetnames == right.sheetnames and left.sheetnames
    for sheet in left.sheetnames:
        assert _cells(left[sheet]) == _cells(right[sheet])
    # papermill gives the injected parameters cell a random id; the reference's HTML went through
    # nbconvert's BeautifulSoup pass, which writes the same elements in its own markup
    html = [html_elements(re.sub(r"cell-id=[0-9a-f]{8}\b", "cell-id=ID",
                                 _same_paths((d / f"{stem}.html").read_text(), d))) for d in (plain, warm)]
    assert html[0] == html[1]


@pytest.mark.parametrize("engine", ["warm", "papermill"])
def test_manifests_are_the_unpatched_references(statement_runs, engine):
    folders, stem = statement_runs
    a, b = (json.loads((folders[name] / f"{stem}.manifest.json").read_text()) for name in ("reference", engine))
    assert a["engine"] == "reference" and b["engine"] == engine
    for manifest in (a, b):
        for key in ("started_at", "duration_s", "engine"):
            manifest.pop(key)
        manifest["data"].pop("database")
        # the notebook records its own run (times, staging paths); the workbook its save time
        manifest["files"] = [{"name": f["name"]} for f in manifest["files"]]
    assert a == b
    assert a["status"] == "ok" and a["run_key"]


def test_outputs_are_built_as_nbformat_builds_them_without_validating_each():
    """The client builds outputs without nbformat's per-output schema check; they are the same nodes."""
    from nbformat.v4 import output_from_msg

    from reportlib.patches import _output_from_msg

    messages = [
        {"header": {"msg_type": "stream"}, "content": {"name": "stderr", "text": "careful\n"}},
        {"header": {"msg_type": "display_data"},
         "content": {"metadata": {"isolated": True}, "data": {"text/html": "<b>x</b>", "text/plain": "x"}}},
        {"header": {"msg_type": "execute_result"},
         "content": {"metadata": {}, "data": {"text/plain": "42"}, "execution_count": 3}},
        {"header": {"msg_type": "error"},
         "content": {"ename": "ValueError", "evalue": "bad", "traceback": ["line 1", "line 2"]}},
    ]
    for msg in messages:
        assert _output_from_msg(msg) == output_from_msg(msg)
    with pytest.raises(ValueError, match="Unrecognized output msg type"):
        _output_from_msg({"header": {"msg_type": "status"}, "content": {}})


def test_a_warm_kernel_runs_magics_and_shell_escapes_the_same_every_time(tmp_path):
    """The kernel keeps each cell's transformed source; a magic still runs on every run."""
    nb = python_notebook(
        "entity = 'a'\noutput_dir = None",
        "import os\n%cd {output_dir}\nfiles = !ls\nopen('seen.txt', 'w').write(f'{entity} {os.getcwd()} {list(files)}')")
    notebook = tmp_path / "magic.ipynb"
    nbformat.write(nb, notebook)
    engine = WarmEngine()
    try:
        for entity in ("a", "b", "c"):
            folder = tmp_path / entity
            folder.mkdir()
            (folder / f"{entity}.marker").touch()
            engine.execute(notebook, folder / "out.ipynb", {"entity": entity, "output_dir": str(folder)}, cwd=folder)
            assert (folder / "seen.txt").read_text() == f"{entity} {folder} ['{entity}.marker']"
        assert engine.kernels_started == 1
    finally:
        engine.close()


def test_warm_up_starts_the_kernel_and_imports_what_the_notebook_imports(tmp_path):
    from reportlib.engines.warm import notebook_imports

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x = 1\nimport json\nfrom fractions import Fraction as F"),
                nbformat.v4.new_code_cell("%time import decimal"),  # not plain Python: left out
                nbformat.v4.new_markdown_cell("import nothing")]
    notebook = tmp_path / "imports.ipynb"
    nbformat.write(nb, notebook)
    assert notebook_imports(notebook) == "import json\nfrom fractions import Fraction as F"
    engine = WarmEngine()
    try:
        engine.warm_up(notebook)
        pid = engine.kernel_pid
        probe = tmp_path / "modules.json"
        engine._kernel.run_silently(f"import sys, json as j; j.dump(sorted(sys.modules), open({str(probe)!r}, 'w'))")
        assert "fractions" in json.loads(probe.read_text())
        assert engine.kernel_pid == pid and engine.kernels_started == 1
    finally:
        engine.close()


def test_printed_and_displayed_outputs_keep_their_order_as_in_plain_papermill(tmp_path):
    """A stream flushes only when it holds text (reportlib.kernel_patches.install_quiet_flush):
    prints, a print the flush timer already sent, stderr, a child process's output and displays
    arrive in the order the plain papermill CLI, in a kernel of its own, records them."""
    nb = python_notebook(
        "entity = 'a'",
        "import subprocess, sys, time\nfrom IPython.display import HTML, display\n"
        "print('one', entity)\ndisplay(HTML('<p>first</p>'))\nprint('two', end='')\n"
        "display(HTML('<p>second</p>'), HTML('<p>third</p>'))\nprint('oops', file=sys.stderr)\n"
        "print('three')\ntime.sleep(0.5)\ndisplay(HTML('<p>fourth</p>'))\n"
        "subprocess.run(['echo', 'child'])\nprint('four')\ndisplay(HTML('<p>fifth</p>'))",
        "print('last')\n42")
    notebook = tmp_path / "order.ipynb"
    nbformat.write(nb, notebook)

    def outputs(path: Path) -> list:
        cells = [c for c in nbformat.read(path, as_version=4).cells if not c.metadata.get("tags")]
        return [[(o.output_type, o.get("name"), o.get("text"), o.get("data")) for o in cell.outputs]
                for cell in cells]

    subprocess.run([sys.executable, "-m", "papermill", str(notebook), str(tmp_path / "reference.ipynb"), "-p", "entity", "x",
                    "--cwd", str(tmp_path), "--no-progress-bar"], check=True, capture_output=True)
    reference = outputs(tmp_path / "reference.ipynb")
    assert [kind for kind, *_ in reference[0]].count("display_data") == 5
    engine = WarmEngine()
    try:
        for n in range(3):
            out = tmp_path / f"warm-{n}.ipynb"
            engine.execute(notebook, out, {"entity": "x"}, cwd=tmp_path)
            assert outputs(out) == reference, f"run {n}"
    finally:
        engine.close()


def test_executed_notebooks_are_written_as_nbformat_writes_them(statement_runs):
    """notebook_text skips nbformat's deep copy; the text is the same and the notebook unchanged."""
    import copy

    from reportlib.patches import notebook_text

    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    tricky = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title\nline two\n", attachments={"a.png": {"image/png": png}}),
        nbformat.v4.new_code_cell("print('é')\nx = 1\n", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="é\nsecond\n"),
            nbformat.v4.new_output("display_data", data={"text/html": "<p>a</p>\n<p>b</p>",
                                                         "image/svg+xml": "<svg>\n</svg>", "image/png": png,
                                                         "application/vnd.vegalite.v5+json": {"mark": "bar"}},
                                   metadata={"isolated": True}),
            nbformat.v4.new_output("execute_result", data={"text/plain": "1\n2"}, execution_count=2),
            nbformat.v4.new_output("error", ename="E", evalue="v", traceback=["t\n1", "t2"]),
        ]),
        nbformat.v4.new_raw_cell("raw\ntext"),
    ])
    tricky.metadata.update(orig_nbformat=3, signature="sha256:x", language_info={"name": "python"})
    tricky.cells[1].metadata["trusted"] = True
    tricky.cells[1].outputs[1]["data"]["text/plain"] = ["already ", "split"]
    folders, stem = statement_runs
    executed = [nbformat.read(folder / f"{stem}.ipynb", as_version=4) for folder in folders.values()]
    for nb in [tricky, *executed]:
        before = copy.deepcopy(nb)
        assert notebook_text(nb) == nbformat.writes(nb)
        assert nb == before
    for folder in folders.values():  # what the engines wrote is that text
        written = (folder / f"{stem}.ipynb").read_text()
        assert written == nbformat.writes(nbformat.reads(written, as_version=4))


def test_message_dates_are_read_as_dateutil_reads_them():
    from dateutil.parser import isoparse

    from reportlib.patches import _iso_datetime

    for text in ("2026-12-01T13:45:32.885850Z", "2026-12-01T13:45:32Z", "2026-12-01T13:45:32.1+05:30",
                 "2026-12-01T13:45:32.885850", "2026-12-01"):
        ours, theirs = _iso_datetime(text), isoparse(text)
        assert ours == theirs and ours.utcoffset() == theirs.utcoffset(), text
        assert ours.strftime("%Y-%m-%dT%H:%M:%S.%fZ") == theirs.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert _iso_datetime("2026-12-01T13:45:32.1234567Z") == isoparse("2026-12-01T13:45:32.1234567Z")


def test_end_stops_a_kernel_whose_exit_hangs_and_removes_its_folder(tmp_path):
    """A run ends its kernel once the run's files are written (Kernel.end), whatever the kernel is
    doing: here its exit hangs (an exit handler that never returns, SIGTERM ignored), so only a
    kill ends it; its folder is removed and the process reaped."""
    import psutil

    kernel = Kernel("python3")
    pid, folder = kernel.pid, kernel.folder
    kernel.run_silently("import atexit, signal, threading\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                        "atexit.register(threading.Event().wait)")
    kernel.stop_client()
    kernel.request_exit()
    kernel.end()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not folder.exists() and not kernel.km.has_kernel


def test_a_batch_worker_starts_its_kernel_before_it_imports_the_runner(tmp_path):
    """A batch worker's first act (its pool's initializer) starts its kernel before importing
    the batch runner, papermill and SQLAlchemy, then imports them while the kernel imports the
    notebook's modules; it ends the kernel when it exits."""
    notebook = _probe_notebook(tmp_path)
    script = (
        "import json, os, sys\n"
        "from reportlib.engines import kernel\n"
        "seen = {}\n"
        "start = kernel.Kernel.__init__\n"
        "def recording(self, *args, **kwargs):\n"
        "    seen.update({m: m in sys.modules for m in ('reportlib.batch', 'papermill', 'sqlalchemy')})\n"
        "    start(self, *args, **kwargs)\n"
        "kernel.Kernel.__init__ = recording\n"
        "from reportlib.engines.pool import start_worker, worker_engine\n"
        f"start_worker(os.getppid(), 'warm', {{}}, {str(notebook)!r}, ('reportlib.batch', 'papermill'))\n"
        "engine = worker_engine('warm')\n"
        "seen.update(after=[m in sys.modules for m in ('reportlib.batch', 'papermill')], pid=engine.kernel_pid)\n"
        "print(json.dumps(seen), flush=True)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {"reportlib.batch": False, "papermill": False, "sqlalchemy": False, "after": [True, True],
                    "pid": seen["pid"]}
    import psutil

    assert not psutil.pid_exists(seen["pid"]) or psutil.Process(seen["pid"]).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("name", ["papermill", "warm"])
def test_the_runner_offers_each_static_chart_to_the_runs_drawings_as_the_kernel_displays_it(tmp_path, name):
    from reportlib.render.charts import VEGALITE_MIME, StaticDrawings, static_svg

    spec = {"data": {"values": [{"a": "x", "b": 1}, {"a": "y", "b": 2}]}, "mark": "bar",
            "encoding": {"x": {"field": "a", "type": "nominal"}, "y": {"field": "b", "type": "quantitative"}}}
    nb = python_notebook("output_dir = None",
                         "import json\nfrom reportlib.render.charts import VegaLiteChart, use_offline_charts\n"
                         f"use_offline_charts()\nVegaLiteChart(json.loads({json.dumps(spec)!r}))",
                         "VegaLiteChart(json.loads({!r}))".format(json.dumps(dict(spec, mark="point"))))
    notebook = tmp_path / "charts.ipynb"
    nbformat.write(nb, notebook)
    engine, drawings = get_engine(name), StaticDrawings()
    try:
        with drawings.offered():
            executed = engine.execute(notebook, tmp_path / "out.ipynb", {}, cwd=tmp_path)
        assert len(drawings._drawings) == 2  # offered by the runner, drawn in its thread
        shown = [o["data"][VEGALITE_MIME] for cell in executed.cells for o in cell.get("outputs", [])]
        assert [drawings.take(s) for s in shown] == [static_svg(s) for s in shown]
        assert drawings._drawings == {}
        # Outside ``offered`` the next run offers nothing (a warm engine's kernel serves run after run).
        engine.execute(notebook, tmp_path / "again.ipynb", {}, cwd=tmp_path)
        assert drawings._drawings == {}
    finally:
        drawings.close()
        engine.close()


def test_a_new_client_gets_every_output_of_the_first_cell_it_runs():
    """A client is ready once the kernel answered it and IOPub reached it (Kernel._client does
    not wait for IOPub to go quiet as jupyter_client does): nothing the first cell prints is lost."""
    from jupyter_core.utils import run_sync

    kernel = Kernel("python3")
    try:
        for i in range(5):
            kernel.stop_client()
            kernel.reconnect()
            said = []
            reply = run_sync(kernel.kc.execute_interactive)(f"print({i})", output_hook=said.append, timeout=30)
            assert reply["content"]["status"] == "ok"
            assert [m["content"]["text"] for m in said if m["msg_type"] == "stream"] == [f"{i}\n"]
    finally:
        kernel.close()
