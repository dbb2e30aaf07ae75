"""One run with the disk full: every file the runner writes is whole, or the old one, or none.

A full disk is simulated with a file-size limit (``RLIMIT_FSIZE``) on a real ``reportlib``
process and its kernel: a write beyond the limit fails with EFBIG, as it fails with ENOSPC on
a full disk, after the bytes below the limit were written.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from reportlib.files import sha256_file
from reportlib.load import write_domain

from .statements.dataset import billing_rows

pytestmark = pytest.mark.kernel

STEM = "p1-alpha-partner"


def _file_size_limit(limit: int):
    """What a child process runs first: no file of its own (or its kernel's) beyond ``limit`` bytes."""
    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_file_size


def _limited(limit: int, *args: str) -> subprocess.CompletedProcess:
    """``reportlib ARGS`` in a process (and kernel) that cannot write a file beyond ``limit`` bytes."""
    return subprocess.run([sys.executable, "-m", "reportlib", *args], preexec_fn=_file_size_limit(limit),
                          capture_output=True, text=True, timeout=600)


def _whole(folder: Path) -> dict[str, str]:
    """Each file's SHA-256, once it is proved whole: notebooks and manifests parse, pages end."""
    # No staging folder, no temporary file; .pdfs.json is the folder's record of its PDFs.
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".pdfs.json"]
    assert leftovers == [], leftovers
    for path in folder.iterdir():
        if path.suffix == ".ipynb":
            nbformat.read(path, as_version=4)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".html":
            assert path.read_text().rstrip().endswith("</html>"), path.name
    return {p.name: sha256_file(p) for p in folder.iterdir()}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """A database and an outputs folder holding one good statement run."""
    root = tmp_path_factory.mktemp("diskfull")
    url = f"sqlite:///{root / 'db.sqlite'}"
    write_domain("billing", billing_rows(), url=url, source="test")
    out = root / "out"
    done = subprocess.run([sys.executable, "-m", "reportlib", "run", "statement", "-p", "partner", "P1", "-p",
                           "month", "2026-10", "--db", url, "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    folder = out / "statements" / "2026-10"
    sizes = {p.suffix: p.stat().st_size for p in folder.glob(f"{STEM}.*")}
    # the limit below falls between these sizes: the workbook fits, the notebook (written before
    # the page) does not. The page carries no stylesheet of JupyterLab's any more and is smaller
    # than the notebook, so no size limit lets the notebook through and stops the page.
    assert sizes[".xlsx"] < 30_000 < sizes[".ipynb"], sizes
    return url, out, folder


@pytest.mark.parametrize("limit, fails_on", [(30_000, ".ipynb")])
def test_a_full_disk_leaves_whole_files_or_none_and_one_clear_error(good_run, tmp_path, limit, fails_on):
    url, _, _ = good_run
    out = tmp_path / "out"
    done = _limited(limit, "run", "statement", "-p", "partner", "P1", "-p", "month", "2026-10", "--db", url,
                    "--out", str(out))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "File too large" in done.stderr and f"{STEM}{fails_on}" in done.stderr
    folder = out / "statements" / "2026-10"
    files = _whole(folder)
    manifest = json.loads((folder / f"{STEM}.manifest.json").read_text())
    assert manifest["status"] == "failed" and "File too large" in manifest["error"]
    assert not any(name.endswith((".xlsx", ".html")) or name == f"{STEM}.ipynb" for name in files)
    if fails_on == ".ipynb":  # the notebook could not be written whole: none is kept
        assert f"{STEM}.failed.ipynb" not in files and manifest["failed_notebook"] is None
        assert "No executed notebook could be kept" in done.stderr
    else:  # it was: the failed run keeps it, whole
        assert manifest["failed_notebook"] == f"{STEM}.failed.ipynb" and f"{STEM}.failed.ipynb" in files


def test_a_full_disk_keeps_the_earlier_good_reports(good_run):
    url, out, folder = good_run
    before = _whole(folder)
    done = _limited(30_000, "run", "statement", "-p", "partner", "P1", "-p", "month", "2026-10", "--db", url,
                    "--out", str(out), "--force")
    assert done.returncode == 2, done.stderr
    after = _whole(folder)
    for suffix in (".xlsx", ".html", ".ipynb"):
        assert after[f"{STEM}{suffix}"] == before[f"{STEM}{suffix}"]
    assert f"{STEM}.failed.ipynb" not in after


def test_the_runners_writers_leave_the_old_file_when_the_disk_is_full(tmp_path):
    # manifest, folder index, HTML page and executed notebook, each over an old file, in a
    # process that cannot write beyond 4,000 bytes
    script = """
import json, sys
from pathlib import Path
import nbformat
from reportlib.patches import apply as apply_patches
from reportlib.manifest import write_folder_index, write_manifest
from reportlib.render.html import write_notebook_html
import papermill.execute

folder = Path(sys.argv[1])
failures = []
def attempt(name, write):
    try:
        write()
    except OSError as exc:
        failures.append((name, exc.filename))
big = "x" * 10_000
attempt("run.manifest.json", lambda: write_manifest(folder / "run.manifest.json", {"stem": "run", "error": big}))
attempt("manifest.json", lambda: write_folder_index(folder))
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(big)])
attempt("page.html", lambda: write_notebook_html(nb, folder / "page.html"))
apply_patches("runner")
attempt("run.ipynb", lambda: papermill.execute.write_ipynb(nb, str(folder / "run.ipynb")))
print(json.dumps(failures))
"""
    old = {"run.manifest.json": json.dumps({"stem": "run", "status": "ok", "error": "y" * 6000}),
           "manifest.json": json.dumps({"folder": "f", "runs": []}),
           "page.html": "<html>old</html>", "run.ipynb": nbformat.writes(nbformat.v4.new_notebook())}
    for name, text in old.items():
        (tmp_path / name).write_text(text)

    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], preexec_fn=_file_size_limit(4000),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    failures = json.loads(done.stdout)
    assert [name for name, _ in failures] == list(old)
    assert all(Path(filename).name == name for name, filename in failures)  # each error names its file
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(old)  # no temporary file left
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == old
