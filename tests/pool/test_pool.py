"""The kernel pool: a real ``reportlib pool`` process and ``reportlib run`` commands as subprocesses.

One pool (module fixture) serves a copy of the project (its notebooks, which the tests may
break) with outputs in a temp folder, on a small demo database.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pptx import Presentation

import reportlib.pool
from reportlib.demo import build_demo

from ..conftest import ROOT, html_elements

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.name != "posix", reason="the pool needs Unix sockets")]

QUARTER = "2026Q3"


class PoolProcess:
    """``reportlib pool`` running in the background, its printed lines readable as they come."""

    def __init__(self, env: dict[str, str], *args: str):
        self.process = subprocess.Popen([sys.executable, "-m", "reportlib", "pool", *args], env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: queue.Queue[str] = queue.Queue()
        self.said: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.said.append(line)
            if text in line:
                return line
        raise AssertionError(f"the pool never said {text!r}; it said: {''.join(self.said)}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(120)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("pool")
    project = base / "project"
    project.mkdir()
    shutil.copy(ROOT / "pyproject.toml", project)
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    url = f"sqlite:///{base / 'demo.sqlite'}"
    build_demo(url, scale="small", domains=["qbr"])
    env = dict(os.environ, REPORTLIB_HOME=str(project))
    env.pop("REPORTLIB_OUTPUTS", None)
    out = base / "out"
    pool = PoolProcess(env, "--out", str(out), "--idle", "20")
    try:
        pool.wait_for("Kernel pool ready")
        yield {"base": base, "project": project, "url": url, "env": env, "out": out, "pool": pool}
    finally:
        assert pool.stop() == 0


def command(world, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reportlib", *args], capture_output=True, text=True, timeout=600,
                          env=env or world["env"], cwd=world["base"])


def run_qbr(world, partner: str, *extra: str, out: Path | None = None) -> subprocess.CompletedProcess:
    return command(world, "run", "qbr", "-p", "partner", partner, "-p", "quarter", QUARTER, "--db", world["url"],
                     "--out", str(out or world["out"]), *extra)


def slide_texts(deck: Path) -> list[list[str]]:
    return [[shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]
            for slide in Presentation(str(deck)).slides]


def page_text(page: Path) -> list[tuple]:
    """A page's elements without the ids of its cells (papermill gives its injected cell a new one each run)."""
    return [(tag, [(k, v) for k, v in attributes if not (k == "id" and v.startswith("cell-id="))], text, tail)
            for tag, attributes, text, tail in html_elements(page.read_text(encoding="utf-8"))]


def test_a_run_through_the_pool_makes_what_a_cold_run_makes(world):
    warm = run_qbr(world, "P001", "--force")
    assert warm.returncode == 0, warm.stderr
    assert "via the kernel pool" in warm.stdout
    folder = world["out"] / "qbr" / QUARTER.lower()
    deck = next(folder.glob("p001-*.pptx"))
    kept = world["base"] / "warm"
    shutil.copytree(folder, kept, dirs_exist_ok=True)
    assert (world["out"] / "index.html").is_file()

    cold = run_qbr(world, "P001", "--force", "--no-pool")
    assert cold.returncode == 0, cold.stderr
    assert "via the kernel pool" not in cold.stdout
    assert cold.stdout.splitlines()[1:] == warm.stdout.splitlines()[1:]  # the same files and catalogue
    assert slide_texts(deck) == slide_texts(kept / deck.name)
    page = deck.with_suffix(".html").name
    assert page_text(folder / page) == page_text(kept / page)
    manifests = [json.loads((where / deck.with_suffix(".manifest.json").name).read_text())
                 for where in (kept, folder)]
    for manifest in manifests:
        for varying in ("started_at", "duration_s", "engine", "files"):
            manifest.pop(varying)
    assert manifests[0] == manifests[1]


def test_an_unchanged_report_is_skipped_through_the_pool_unless_forced(world):
    first = run_qbr(world, "P002")
    assert first.returncode == 0, first.stderr
    again = run_qbr(world, "P002")
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout and "via the kernel pool" in again.stdout
    forced = run_qbr(world, "P002", "--force")
    assert "up to date" not in forced.stdout and "via the kernel pool" in forced.stdout


def test_two_runs_at_once_through_one_worker_both_complete(world):
    commands = [[sys.executable, "-m", "reportlib", "run", "qbr", "-p", "partner", partner, "-p", "quarter", QUARTER,
                 "--db", world["url"], "--out", str(world["out"]), "--force"] for partner in ("P003", "P004")]
    processes = [subprocess.Popen(command, env=world["env"], cwd=world["base"], text=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for command in commands]
    for process in processes:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
        assert "via the kernel pool" in stdout


def test_a_failing_cell_through_the_pool_is_named_and_its_notebook_kept(world):
    notebook = world["project"] / "notebooks" / "qbr.ipynb"
    original = notebook.read_text(encoding="utf-8")
    nb = json.loads(original)
    cells = nb["cells"]
    at = next(i for i, cell in enumerate(cells) if "parameters" in cell.get("metadata", {}).get("tags", []))
    cells.insert(at + 1, {"cell_type": "code", "execution_count": None, "id": "broken", "metadata": {},
                          "outputs": [], "source": "raise ValueError('an analyst broke this cell')"})
    notebook.write_text(json.dumps(nb), encoding="utf-8")  # read per run: no restart needed
    try:
        failed = run_qbr(world, "P005", "--force", "--log-output")
    finally:
        notebook.write_text(original, encoding="utf-8")
    assert failed.returncode == 2
    assert "ValueError in cell" in failed.stderr and "an analyst broke this cell" in failed.stderr
    kept = next((world["out"] / "qbr" / QUARTER.lower()).glob("p005-*.failed.ipynb"))
    assert "an analyst broke this cell" in kept.read_text(encoding="utf-8")
    assert str(kept) in failed.stderr
    assert "Executing notebook with kernel" in failed.stderr  # --log-output
    # The kernel the failure may have left dirty is recycled; the next run goes through again,
    # without the first one's --log-output.
    again = run_qbr(world, "P005", "--force")
    assert again.returncode == 0, again.stderr
    assert "via the kernel pool" in again.stdout and not kept.exists()
    assert "Executing notebook" not in again.stderr


def test_a_batch_through_the_pool_makes_what_a_cold_batch_makes(world):
    out = world["out"]  # the pool's: another outputs folder is another pool's
    args = ["batch", "qbr", "-p", "quarter", QUARTER, "--db", world["url"], "--out", str(out), "--quiet", "--force"]
    warm = command(world, *args)
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert "via the kernel pool" in warm.stdout and " 0 failed" in warm.stdout, warm.stdout + warm.stderr
    folder = out / "qbr" / QUARTER.lower()
    decks = sorted(folder.glob("*.pptx"))
    assert len(decks) > 1
    texts = {deck.name: slide_texts(deck) for deck in decks}
    manifests = {deck.name: json.loads(deck.with_suffix(".manifest.json").read_text()) for deck in decks}
    assert {manifest["engine"] for manifest in manifests.values()} == {"warm"}
    cold = command(world, *args, "--no-pool", "--workers", "1")
    assert cold.returncode == 0, cold.stdout + cold.stderr
    assert "via the kernel pool" not in cold.stdout
    assert {deck.name: slide_texts(deck) for deck in sorted(folder.glob("*.pptx"))} == texts
    again = {deck: json.loads((folder / deck).with_suffix(".manifest.json").read_text()) for deck in manifests}
    assert {deck: m["run_key"] for deck, m in again.items()} == {deck: m["run_key"] for deck, m in manifests.items()}


def test_a_batch_shares_its_runs_among_the_pools_workers_and_two_batches_at_once_both_finish(world):
    # The worker that takes a batch prepares it and runs its share; the other worker takes runs
    # too. Two batches at once each hold one worker: neither may wait for the other's.
    out = world["base"] / "pair-out"
    pool = PoolProcess(world["env"], "--out", str(out), "--workers", "2")
    try:
        pool.wait_for("Kernel pool ready")

        def batch(quarter: str) -> list[str]:
            return [sys.executable, "-m", "reportlib", "batch", "qbr", "-p", "quarter", quarter, "--db", world["url"],
                    "--out", str(out), "--quiet", "--force"]

        alone = command(world, *batch(QUARTER)[3:])
        assert alone.returncode == 0, alone.stdout + alone.stderr
        shares = re.search(r"via the kernel pool: 2 warm worker\(s\); (\d+) run\(s\) in the worker that took the "
                           r"batch, (\d+) in the others", alone.stdout)
        assert shares, alone.stdout
        decks = sorted((out / "qbr" / QUARTER.lower()).glob("*.pptx"))
        assert int(shares[1]) + int(shares[2]) == len(decks) > 1
        assert int(shares[2]) > 0, alone.stdout

        processes = [subprocess.Popen(batch(quarter), env=world["env"], cwd=world["base"], text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE) for quarter in ("2026Q2", QUARTER)]
        for process in processes:
            stdout, stderr = process.communicate(timeout=300)
            assert process.returncode == 0, stdout + stderr
            assert " 0 failed" in stdout and "via the kernel pool" in stdout, stdout + stderr
        assert len(list((out / "qbr" / "2026q2").glob("*.pptx"))) == len(decks)
    finally:
        assert pool.stop() == 0


def test_ctrl_c_on_a_batch_through_the_pool_stops_it_starting_runs(world):
    notebook = world["project"] / "notebooks" / "qbr.ipynb"
    original = notebook.read_text(encoding="utf-8")
    nb = json.loads(original)
    at = next(i for i, cell in enumerate(nb["cells"]) if "parameters" in cell.get("metadata", {}).get("tags", []))
    nb["cells"].insert(at + 1, {"cell_type": "code", "execution_count": None, "id": "slow", "metadata": {},
                                "outputs": [], "source": "import time; time.sleep(1.5)"})
    out = world["base"] / "interrupted"
    folder = out / "qbr" / QUARTER.lower()
    pool = PoolProcess(world["env"], "--out", str(out), "--workers", "1")
    notebook.write_text(json.dumps(nb), encoding="utf-8")  # read per run
    try:
        pool.wait_for("Kernel pool ready")
        batch = subprocess.Popen([sys.executable, "-m", "reportlib", "batch", "qbr", "-p", "quarter", QUARTER, "--db",
                                  world["url"], "--out", str(out), "--force"], env=world["env"], cwd=world["base"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 # as from a terminal, whatever this test process inherited
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 120
        while not list(folder.glob("*.pptx")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(folder.glob("*.pptx")), "the batch made no deck"
        batch.send_signal(signal.SIGINT)
        said = "".join(batch.communicate(timeout=60))
        assert batch.returncode == 130 and "interrupted" in said, said
        status = [sys.executable, "-m", "reportlib", "pool", "--status", "--out", str(out)]
        while "idle" not in subprocess.run(status, env=world["env"], capture_output=True, text=True).stdout:
            assert time.monotonic() < deadline, "the pool's worker never finished the interrupted batch"
            time.sleep(0.2)
        made = len(list(folder.glob("*.pptx")))
    finally:
        notebook.write_text(original, encoding="utf-8")
        assert pool.stop() == 0
    # Of the quarter's 6: the runs under way when it was interrupted end, no further one starts.
    assert 1 <= made <= 3, said + "".join(pool.said)


def test_a_second_pool_for_the_same_project_refuses(world):
    second = command(world, "pool", "--out", str(world["out"]))
    assert second.returncode == 2
    assert "already runs" in second.stderr and str(world["pool"].process.pid) in second.stderr
    status = command(world, "pool", "--status", "--out", str(world["out"]))
    assert status.returncode == 0 and str(world["pool"].process.pid) in status.stdout


def test_a_stale_socket_of_a_dead_pool_means_a_cold_run_and_the_next_pool_cleans_it(world):
    out = world["base"] / "other-out"
    env = world["env"]
    code = ("import sys; from reportlib.pool.client import pool_place; "
            "print(pool_place(sys.argv[1], create=True).socket)")
    path = Path(subprocess.run([sys.executable, "-c", code, str(out)], env=env, cwd=world["base"], text=True,
                               capture_output=True, check=True).stdout.strip())
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # what a pool killed outright leaves: a socket file nobody listens on
    dead.close()
    try:
        cold = run_qbr(world, "P001", out=out)
        assert cold.returncode == 0, cold.stderr
        assert "via the kernel pool" not in cold.stdout and "pool" not in cold.stderr
        pool = PoolProcess(env, "--out", str(out), "--workers", "1")
        try:
            pool.wait_for("Kernel pool for")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.connect(str(path))  # listening again
            probe.close()
        finally:
            assert pool.stop() == 0
        assert not path.exists()
    finally:
        path.unlink(missing_ok=True)


@pytest.mark.parametrize("args", [["run", "qbr", "-p", "partner", "P001"], ["batch", "qbr", "--limit", "2", "--quiet"]],
                         ids=["run", "batch"])
def test_a_command_through_the_pool_imports_nothing_heavy_in_the_command(world, args):
    args = [*args, "-p", "quarter", QUARTER, "--db", world["url"], "--force", "--out", str(world["out"])]
    code = ("import sys; from reportlib.cli import main; status = main(sys.argv[1:]); "
            "print('HEAVY', sorted(m for m in ('sqlalchemy', 'pandas', 'papermill', 'jupyter_client', 'nbformat', "
            "'zmq') if m in sys.modules)); sys.exit(status)")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600,
                            env=world["env"], cwd=world["base"])
    assert result.returncode == 0, result.stderr
    assert "via the kernel pool" in result.stdout
    assert "HEAVY []" in result.stdout


def test_changed_reportlib_code_never_runs_in_the_pools_old_workers(world):
    # A copy of reportlib (first on PYTHONPATH) for this pool and its clients: an edit to it
    # changes their fingerprint alone, not that of the pools other tests run at the same time.
    code = world["base"] / "code"
    shutil.copytree(Path(reportlib.pool.__file__).parents[1], code / "reportlib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(world["env"], PYTHONPATH=str(code))
    out = world["base"] / "code-out"
    pool = PoolProcess(env, "--out", str(out))

    def run() -> subprocess.CompletedProcess:
        return command(world, "run", "qbr", "-p", "partner", "P006", "-p", "quarter", QUARTER, "--db", world["url"],
                       "--out", str(out), "--force", env=env)

    try:
        pool.wait_for("Kernel pool ready")
        first = run()
        assert first.returncode == 0 and "via the kernel pool" in first.stdout, first.stdout + first.stderr
        source = code / "reportlib" / "pool" / "__init__.py"
        status = source.stat()
        os.utime(source, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))  # as an edit would
        changed = run()
        assert changed.returncode == 0, changed.stderr
        assert "reportlib's code changed" in changed.stderr
        assert "via the kernel pool" not in changed.stdout
        pool.wait_for("restarts its workers")
        pool.wait_for("Kernel pool ready")
        again = run()
        assert again.returncode == 0, again.stderr
        assert "via the kernel pool" in again.stdout
    finally:
        assert pool.stop() == 0
