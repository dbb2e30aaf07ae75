"""Batches with real kernels: incremental re-runs, workers, Dask, kill and resume, preparation."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import openpyxl
import pytest

from reportlib.batch import run_batch
from reportlib.demo import build_demo
from reportlib.families import FAMILIES, Family
from reportlib.params import ReportParams

from .conftest import python_notebook

pytestmark = pytest.mark.kernel

MONTH = "2026-10"


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('batchdb') / 'demo.sqlite'}"
    build_demo(url, scale="small", domains=["billing"])
    return url


def _folder(out: Path) -> Path:
    return out / "statements" / MONTH


def _leftovers(folder: Path) -> list[str]:
    """Anything a run may leave half-done: staging folders and temporary files."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".partial", ".tmp")))


def _assert_complete(folder: Path) -> None:
    """Every file in the folder is whole: notebooks parse, workbooks open, manifests load."""
    for path in folder.iterdir():
        if path.suffix == ".ipynb":
            nbformat.read(path, as_version=4)
        elif path.suffix == ".xlsx":
            assert openpyxl.load_workbook(path).sheetnames
        elif path.suffix == ".json":
            json.loads(path.read_text())


def test_batch_skips_unchanged_runs_and_force_runs_them_again(demo_url, tmp_path):
    out = tmp_path / "out"
    first = run_batch("statement", {"month": MONTH}, db_url=demo_url, out=out, workers=1, progress=False)
    assert first.ok and first.count("ok") == 4, first.summary()
    again = run_batch("statement", {"month": MONTH}, db_url=demo_url, out=out, workers=1, progress=False)
    assert again.count("skipped") == 4 and "4 skipped (unchanged)" in again.summary()

    tampered = sorted(_folder(out).glob("*.xlsx"))[0]
    tampered.write_bytes(b"not a workbook")
    repaired = run_batch("statement", {"month": MONTH}, db_url=demo_url, out=out, workers=1, progress=False)
    assert [r.stem for r in repaired.results if r.status == "ok"] == [tampered.stem]
    assert openpyxl.load_workbook(tampered).sheetnames

    forced = run_batch("statement", {"month": MONTH}, db_url=demo_url, out=out, workers=1, force=True,
                       progress=False)
    assert forced.count("ok") == 4
    index = json.loads((_folder(out) / "manifest.json").read_text())
    assert [r["status"] for r in index["runs"]] == ["ok"] * 4
    assert _leftovers(_folder(out)) == []


def test_batch_on_two_worker_processes_writes_every_report_once(demo_url, tmp_path):
    out = tmp_path / "out"
    result = run_batch("statement", {"month": MONTH}, db_url=demo_url, out=out, workers=2, progress=False)
    assert result.ok and result.count("ok") == 4, result.summary()
    folder = _folder(out)
    stems = sorted(r.stem for r in result.results)
    assert len(set(stems)) == 4
    for stem in stems:
        manifest = json.loads((folder / f"{stem}.manifest.json").read_text())
        assert manifest["engine"] == "warm" and manifest["status"] == "ok"
        assert {f["name"] for f in manifest["files"]} == {f"{stem}.html", f"{stem}.ipynb", f"{stem}.xlsx"}
    _assert_complete(folder)
    assert _leftovers(folder) == []


def test_workers_started_before_the_runs_are_known_end_with_their_kernels_when_nothing_is_left_to_run(
        demo_url, tmp_path):
    """A batch starts its workers (and their kernels) before it selects and plans its runs; when
    every report is up to date it stops them, kernels and all, and nothing stays running."""
    import psutil

    out = tmp_path / "out"
    assert run_batch("statement", {"month": MONTH}, db_url=demo_url, out=out, workers=2, progress=False).ok
    me = psutil.Process()
    before = {child.pid for child in me.children(recursive=True)}
    again = run_batch("statement", {"month": MONTH}, db_url=demo_url, out=out, workers=2, progress=False)
    assert again.count("skipped") == 4, again.summary()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = [child for child in me.children(recursive=True) if child.pid not in before
                and child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline())]
        if not left:
            break
        time.sleep(0.2)
    assert left == [], [child.cmdline() for child in left]
    with pytest.raises(Exception):  # no tables: selecting the entities fails after the workers started
        run_batch("statement", {"month": MONTH}, db_url=f"sqlite:///{tmp_path / 'empty.sqlite'}",
                  out=tmp_path / "none", workers=2, progress=False)
    assert not [child for child in me.children(recursive=True) if child.pid not in before
                and child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline())]


def test_batch_runs_on_a_dask_cluster(demo_url, tmp_path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", protocol="tcp") as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        result = run_batch("statement", {"month": MONTH}, db_url=demo_url, out=out, executor="dask",
                           scheduler=cluster.scheduler_address, progress=False)
        assert result.ok and result.count("ok") == 4, result.summary()
        again = run_batch("statement", {"month": MONTH}, db_url=demo_url, out=out, executor="dask",
                          scheduler=cluster.scheduler_address, progress=False)
        assert again.count("skipped") == 4
    folder = _folder(out)
    assert len(list(folder.glob("*.xlsx"))) == 4
    _assert_complete(folder)
    assert _leftovers(folder) == []


def test_batch_to_an_unreachable_scheduler_says_so(demo_url, tmp_path):
    from reportlib.errors import ConfigError

    with pytest.raises(ConfigError, match="Cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_batch("statement", {"month": MONTH}, db_url=demo_url, out=tmp_path, executor="dask",
                  scheduler="tcp://127.0.0.1:9", connect_timeout=2, progress=False)


def test_killed_batch_leaves_no_half_written_file_and_the_rerun_finishes_the_rest(demo_url, tmp_path):
    out = tmp_path / "out"
    folder = _folder(out)
    command = [sys.executable, "-m", "reportlib.cli", "batch", "statement", "-p", "month", MONTH, "--db", demo_url,
               "--out", str(out), "--workers", "1", "--quiet"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    try:
        while not list(folder.glob("*.manifest.json")):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the batch wrote no manifest in 180 s"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the batch and its kernel, mid-run
        process.wait()
        process.stderr.close()
    done = sorted(p.name.removesuffix(".manifest.json") for p in folder.glob("*.manifest.json"))
    assert 1 <= len(done) < 4
    _assert_complete(folder)
    visible = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    for name in visible:  # a published file belongs to a finished run or sits whole beside it
        assert name.split(".")[0] in done or name.endswith((".html", ".ipynb", ".xlsx")), name

    resumed = run_batch("statement", {"month": MONTH}, db_url=demo_url, out=out, workers=1, progress=False)
    assert sorted(r.stem for r in resumed.results if r.status == "skipped") == done
    assert resumed.count("ok") == 4 - len(done) and resumed.ok
    assert _leftovers(folder) == []  # the killed run's staging folder is swept away
    assert not list(Path(tempfile.gettempdir()).glob(f"rlk-{process.pid}-*"))  # and its kernel's folder
    _assert_complete(folder)
    assert len(list(folder.glob("*.xlsx"))) == 4


def _kernels_and_workers(pid: int) -> tuple[list, list]:
    """The kernels and the other processes under process ``pid``."""
    import psutil

    kernels, others = [], []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            (kernels if "ipykernel_launcher" in " ".join(child.cmdline()) else others).append(child)
        except psutil.NoSuchProcess:
            pass
    return kernels, others


def test_workers_and_kernels_exit_when_the_batch_is_killed(demo_url, tmp_path):
    """kill -9 of a batch's main process: its worker processes and their kernels exit too
    (each notices its parent is gone), instead of staying stalled with their memory."""
    import psutil

    command = [sys.executable, "-m", "reportlib.cli", "batch", "statement", "-p", "month", MONTH, "--db", demo_url,
               "--out", str(tmp_path / "out"), "--workers", "2", "--quiet", "--force"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    try:
        while True:
            assert process.poll() is None, "the batch ended before its kernels were seen: " + \
                process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no two workers with a kernel each in 180 s"
            kernels, others = _kernels_and_workers(process.pid)
            if len(kernels) >= 2 and len(others) >= 2:
                break
            time.sleep(0.05)
        # Nothing listens on the network: the batch and its workers on no TCP port at all, each
        # kernel on its IOPub pipe only, on loopback (tests/test_engines.py says which port).
        listening = {}
        for proc in [psutil.Process(process.pid), *kernels, *others]:
            try:
                listening[proc.pid] = [s.laddr for s in proc.net_connections(kind="inet") if s.status == "LISTEN"]
            except psutil.NoSuchProcess:
                pass
        assert all(not ports for pid, ports in listening.items() if pid not in {k.pid for k in kernels}), listening
        assert all(len(ports) <= 1 and all(a.ip == "127.0.0.1" for a in ports)
                   for pid, ports in listening.items()), listening
        descendants = kernels + others
        process.kill()
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    gone, alive = psutil.wait_procs(descendants, timeout=30)
    running = {}
    for leftover in alive:  # an exited process its parent has not reaped yet (a zombie) is gone
        try:
            if leftover.status() != psutil.STATUS_ZOMBIE:
                running[leftover.pid] = leftover.cmdline()[:3]
                leftover.kill()  # do not leave them to the next test
        except psutil.NoSuchProcess:
            pass
    assert not running, f"still running 30 s after the batch was killed: {running}"


def test_run_and_batch_leave_no_process_behind(demo_url, tmp_path):
    """When run_report and run_batch return, every process they started has exited, but for
    Python's multiprocessing resource tracker: one per process, started by the first pool,
    reused by every later one, and gone with this process (it reads a pipe from it)."""
    import psutil

    from reportlib.run import run_report

    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}

    def started() -> list[list[str]]:
        return [p.cmdline() for p in me.children(recursive=True) if p.pid not in before]

    def tracker(cmdline: list[str]) -> bool:
        return "from multiprocessing.resource_tracker import main" in " ".join(cmdline)

    for n in range(2):
        result = run_batch("statement", {"month": MONTH}, db_url=demo_url, out=tmp_path / f"batch{n}", workers=2,
                           progress=False)
        assert result.ok, result.summary()
        assert [cmdline for cmdline in started() if not tracker(cmdline)] == []
        assert len(started()) <= 1
    run_report("statement", {"partner": "P001", "month": MONTH}, db_url=demo_url, out=tmp_path / "run")
    assert [cmdline for cmdline in started() if not tracker(cmdline)] == []


# --- vectorised preparation and failures, with a small probe family ----------------------

@dataclass(frozen=True)
class ProbeParams(ReportParams):
    family = "probe"
    entity: str = field(metadata={"help": "entity"})
    label: str = field(metadata={"help": "period folder"})
    fail: str = field(default="", metadata={"help": "the entity whose run raises"})


@dataclass(frozen=True)
class ProbeBatchParams(ReportParams):
    family = "probe"
    label: str = field(metadata={"help": "period folder"})
    fail: str = field(default="", metadata={"help": "the entity whose run raises"})


PREPARED: list[Path] = []


def _prepare(conn, batch_params, runs, folder: Path) -> dict:
    """All entities' inputs in one pass: one file the runs read their slice from."""
    path = folder / "inputs.json"
    path.write_text(json.dumps({r["entity"]: r["entity"].upper() * 3 for r in runs}))
    PREPARED.append(path)
    return {"prepared": str(path)}


@pytest.fixture(scope="module")
def probe_family(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    nb = python_notebook(
        "entity = 'a'\nlabel = 'x'\nfail = ''\nprepared = None\ndb_url = None\noutput_dir = None\n"
        "output_stem = None",
        "import json, os\n"
        "if entity == fail:\n    raise RuntimeError(f'probe {entity} fails on purpose')\n"
        "value = json.load(open(prepared))[entity] if prepared else None\n"
        "json.dump({'value': value, 'leaked': 'seen' in globals()},\n"
        "          open(os.path.join(output_dir, output_stem + '.json'), 'w'))\n"
        "seen = True")
    notebook = folder / "probe.ipynb"
    nbformat.write(nb, notebook)
    FAMILIES.register("probe", Family(
        name="probe", folder="probe", notebook=str(notebook), params=ProbeParams, batch_params=ProbeBatchParams,
        domain="billing", period=lambda p: p.label, stem=lambda conn, p: p.entity,
        entities=lambda conn, p: [{"entity": e, "label": p.label, "fail": p.fail} for e in ("a", "b", "c")],
        prepare=_prepare, html=False))
    yield "probe"
    FAMILIES._items.pop("probe")


def test_batch_prepares_once_and_every_run_reads_its_slice(probe_family, demo_url, tmp_path):
    PREPARED.clear()
    result = run_batch(probe_family, {"label": "p"}, db_url=demo_url, out=tmp_path, workers=1, progress=False)
    assert result.count("ok") == 3 and len(PREPARED) == 1
    for entity in "abc":
        written = json.loads((tmp_path / "probe" / "p" / f"{entity}.json").read_text())
        assert written == {"value": entity.upper() * 3, "leaked": False}
    assert not PREPARED[0].exists() and not (tmp_path / ".prepared").exists()
    # where the prepared inputs were is not part of a run's key: the next batch skips
    again = run_batch(probe_family, {"label": "p"}, db_url=demo_url, out=tmp_path, workers=1, progress=False)
    assert again.count("skipped") == 3
    assert len(PREPARED) == 1  # nothing to run, so nothing was prepared again
    # one stale report: only it is prepared for and run again
    (tmp_path / "probe" / "p" / "b.json").unlink()
    third = run_batch(probe_family, {"label": "p"}, db_url=demo_url, out=tmp_path, workers=1, progress=False)
    assert (third.count("skipped"), third.count("ok"), len(PREPARED)) == (2, 1, 2)
    assert json.loads((tmp_path / "probe" / "p" / "b.json").read_text())["value"] == "BBB"


def test_a_failed_run_keeps_its_notebook_and_the_batch_goes_on_in_a_fresh_kernel(probe_family, demo_url,
                                                                                  tmp_path):
    result = run_batch(probe_family, {"label": "f", "fail": "b"}, db_url=demo_url, out=tmp_path, workers=1,
                       progress=False)
    assert not result.ok and [r.stem for r in result.failed] == ["b"]
    assert "RuntimeError" in result.summary() and "probe b fails on purpose" in result.summary()
    folder = tmp_path / "probe" / "f"
    failed = nbformat.read(folder / "b.failed.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in failed.cells for o in c.get("outputs", []))
    assert json.loads((folder / "c.json").read_text())["leaked"] is False
    manifest = json.loads((folder / "b.manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["failed_notebook"] == "b.failed.ipynb"
    assert _leftovers(folder) == []


def test_cli_batch_exits_non_zero_and_prints_the_summary_when_a_run_fails(probe_family, demo_url, tmp_path,
                                                                          capsys):
    from reportlib.cli import main

    code = main(["batch", probe_family, "-p", "label", "c", "-p", "fail", "a", "--db", demo_url, "--out",
                 str(tmp_path), "--workers", "1", "--quiet", "--limit", "2"])
    assert code == 1
    printed = capsys.readouterr().out
    assert "probe: 2 run(s)" in printed and "1 ok" in printed and "FAILED a" in printed


def test_cli_batch_rejects_an_unknown_engine_and_misplaced_kernel_options(demo_url, tmp_path, capsys):
    from reportlib.cli import main

    common = ["batch", "statement", "-p", "month", MONTH, "--db", demo_url, "--out", str(tmp_path), "--quiet"]
    assert main([*common, "--engine", "lukewarm"]) == 2
    assert "lukewarm" in capsys.readouterr().err
    assert main([*common, "--engine", "papermill", "--recycle-after", "5"]) == 2
    assert "warm engine only" in capsys.readouterr().err
    assert not (tmp_path / "statements").exists()


def test_a_batch_whose_stems_clash_is_refused_before_anything_runs(probe_family, demo_url, tmp_path, capsys):
    # A family whose stem function names two entities alike (here by case only): one report
    # would silently replace the other, so the batch refuses, naming both, and runs nothing.
    probe = FAMILIES.get(probe_family)
    FAMILIES.register("probe-twins", Family(
        name="probe-twins", folder="probe", notebook=probe.notebook, params=ProbeParams,
        batch_params=ProbeBatchParams, domain="billing", period=lambda p: p.label, stem=lambda conn, p: p.entity,
        entities=lambda conn, p: [{"entity": e, "label": p.label} for e in ("A", "b", "a", "c", "C")],
        prepare=_prepare, html=False))
    PREPARED.clear()
    try:
        from reportlib.cli import main

        code = main(["batch", "probe-twins", "-p", "label", "t", "--db", demo_url, "--out", str(tmp_path),
                     "--workers", "2", "--quiet"])
    finally:
        FAMILIES._items.pop("probe-twins")
    assert code == 2
    err = capsys.readouterr().err
    assert "would write 2 file name(s) for more than one entity" in err and "nothing was run" in err
    assert "entity='A'" in err and "entity='a'" in err and "entity='c'" in err and "entity='C'" in err
    assert "entity='b'" not in err
    assert PREPARED == [] and not (tmp_path / "probe").exists() and not (tmp_path / ".prepared").exists()


def test_the_after_run_step_sees_every_run_ok_failed_or_skipped_and_a_failing_step_fails_its_run(
        probe_family, demo_url, tmp_path):
    seen: list[tuple[str, str]] = []

    def after_run(db_url, result):
        seen.append((result.stem, result.status))
        if result.stem == "c":
            raise RuntimeError("the record could not be written")

    probe = FAMILIES.get(probe_family)
    FAMILIES.register("probe-after", dataclasses.replace(probe, name="probe-after", after_run=after_run))
    try:
        first = run_batch("probe-after", {"label": "p", "fail": "b"}, db_url=demo_url, out=tmp_path, workers=1,
                          progress=False)
        again = run_batch("probe-after", {"label": "p", "fail": "b"}, db_url=demo_url, out=tmp_path, workers=1,
                          progress=False)
    finally:
        FAMILIES._items.pop("probe-after")
    assert sorted(seen[:3]) == [("a", "ok"), ("b", "failed"), ("c", "ok")]
    assert sorted(seen[3:]) == [("a", "skipped"), ("b", "failed"), ("c", "skipped")]  # the step runs again for c
    assert {s: (r.status, r.error) for r in first.results for s in [r.stem] if s != "b"} == {
        "a": ("ok", None), "c": ("failed", "the probe-after step after the run failed: RuntimeError: the record could "
                                           "not be written")}
    assert (tmp_path / "probe" / "p" / "c.json").is_file()  # its files stay published
    assert {r.stem: r.status for r in again.results} == {"a": "skipped", "b": "failed", "c": "failed"}


def test_execution_timeout_and_log_output_reach_a_familys_run_and_batch(probe_family, demo_url, tmp_path, capsys):
    """--execution-timeout fails the run whose cell takes longer (its notebook kept), --log-output
    shows each cell's output as it comes: on a family's run and batch as on a notebook's."""
    folder = tmp_path / "nb"
    folder.mkdir()
    nb = python_notebook("entity = 'a'\nlabel = 'x'\nfail = ''\nprepared = None\ndb_url = None\noutput_dir = None\n"
                         "output_stem = None", "import time\nprint('working on', entity)\n"
                                               "time.sleep(60 if entity == fail else 0)")
    nbformat.write(nb, folder / "slow.ipynb")
    probe = FAMILIES.get(probe_family)
    FAMILIES.register("probe-slow", Family(
        name="probe-slow", folder="slow", notebook=str(folder / "slow.ipynb"), params=ProbeParams,
        batch_params=ProbeBatchParams, domain="billing", period=lambda p: p.label, stem=lambda conn, p: p.entity,
        entities=probe.entities, html=False))
    try:
        from reportlib.cli import main

        common = ["--db", demo_url, "--out", str(tmp_path), "--execution-timeout", "3", "--log-output"]
        code = main(["batch", "probe-slow", "-p", "label", "t", "-p", "fail", "b", "--workers", "1", "--quiet",
                     *common])
        printed = capsys.readouterr()
        single = main(["run", "probe-slow", "-p", "entity", "c", "-p", "label", "r", "-p", "fail", "c", *common])
        single_err = capsys.readouterr().err
    finally:
        FAMILIES._items.pop("probe-slow")
    assert code == 1 and "2 ok" in printed.out and "FAILED b: CellTimeoutError" in printed.out
    assert "working on a" in printed.err and "working on c" in printed.err and "Executing Cell 2" in printed.err
    assert (tmp_path / "slow" / "t" / "b.failed.ipynb").is_file()
    assert single == 2 and "CellTimeoutError" in single_err and "working on c" in single_err
