"""The fenced patches of other packages: which are active on the pinned versions, the version
gate, the switch that turns them all off, and what each changes held to the library's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reportlib import patches
from reportlib.engines.kernel import Kernel

ROOT = Path(__file__).resolve().parent.parent

# On the versions pinned in constraints.txt, every patch applies. A version renewal that turns
# one off shows here: read the library's new code, then widen the patch's range or drop it.
EXPECTED_RUNNER = ["jupyter-client-iso-dates", "nbclient-output-from-msg", "nbconvert-html-export",
                   "papermill-write-ipynb"]
EXPECTED_KERNEL = ["ipykernel-quiet-flush", "ipykernel-shutdown-control-thread", "ipython-transform-cache"]


def _pinned() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_every_patch_names_a_pinned_library_and_a_bounded_range():
    pins = _pinned()
    for patch in patches.PATCHES:
        assert patch.library.lower().replace("_", "-") in pins, f"{patch.name}: {patch.library} is not pinned"
        assert ">=" in patch.versions and "<" in patch.versions.replace("<=", ""), patch.name
        assert patch.side in ("runner", "kernel")


def test_the_expected_patches_apply_to_the_pinned_versions():
    pins = _pinned()
    versions = {p.library: pins[p.library.lower().replace("_", "-")] for p in patches.PATCHES}
    rows = patches.status(versions=versions)
    assert sorted(r.patch.name for r in rows if r.active and r.patch.side == "runner") == EXPECTED_RUNNER
    assert sorted(r.patch.name for r in rows if r.active and r.patch.side == "kernel") == EXPECTED_KERNEL
    assert all(r.active for r in rows), [(r.patch.name, r.reason) for r in rows if not r.active]


def test_the_runner_patches_are_active_in_this_process():
    assert patches.apply("runner") == EXPECTED_RUNNER
    import jupyter_client.jsonutil
    import nbclient.client
    import papermill.execute

    assert nbclient.client.output_from_msg is patches._output_from_msg
    assert jupyter_client.jsonutil._dateutil_parse is patches._iso_datetime
    assert papermill.execute.write_ipynb.__module__ == "reportlib.patches"


@pytest.mark.kernel
def test_a_kernel_we_start_applies_the_kernel_patches(tmp_path):
    kernel = Kernel("python3")
    try:
        probe = tmp_path / "active.json"
        kernel.run_silently("import json\nfrom reportlib import patches\nfrom ipykernel.iostream import OutStream\n"
                            f"json.dump([sorted(patches._active), OutStream.flush.__module__], open({str(probe)!r}, 'w'))")
        active, flush_module = json.loads(probe.read_text())
    finally:
        kernel.close()
    assert active == EXPECTED_KERNEL
    assert flush_module == "reportlib.kernel_patches"


def test_a_version_outside_the_range_keeps_the_librarys_own_behaviour():
    rows = {r.patch.name: r for r in patches.status(versions={"nbclient": "0.12.0", "ipykernel": "6.29.5",
                                                              "papermill": "2.7.1"})}
    assert not rows["nbclient-output-from-msg"].active
    assert "written for nbclient >=0.10,<0.12; 0.12.0 keeps its own behaviour" in rows["nbclient-output-from-msg"].reason
    assert not rows["ipykernel-quiet-flush"].active and not rows["ipykernel-shutdown-control-thread"].active
    assert rows["papermill-write-ipynb"].active
    assert not {r.patch.name: r for r in patches.status(versions={"nbconvert": None})}["nbconvert-html-export"].active


def test_no_patches_when_reportlib_no_patches_is_set():
    """REPORTLIB_NO_PATCHES=1: the reference path runs every library's own code."""
    code = """\
import json, nbclient.client, nbformat.v4, papermill.execute, jupyter_client.jsonutil
from reportlib import patches
from reportlib.render.html import notebook_to_html
from nbconvert import HTMLExporter
notebook_to_html(nbformat.v4.new_notebook())
print(json.dumps({"applied": patches.apply("runner") + patches.apply("kernel"),
                  "output_from_msg": nbclient.client.output_from_msg is nbformat.v4.output_from_msg,
                  "write_ipynb": papermill.execute.write_ipynb.__module__,
                  "exporter": patches.html_exporter_class() is HTMLExporter,
                  "reasons": sorted({r.reason for r in patches.status()})}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                          env=dict(os.environ, REPORTLIB_NO_PATCHES="1"))
    seen = json.loads(done.stdout)
    assert seen == {"applied": [], "output_from_msg": True, "write_ipynb": "papermill.iorw", "exporter": True,
                    "reasons": ["REPORTLIB_NO_PATCHES is set"]}


def test_a_runner_imports_papermill_without_pyarrow_which_still_imports_afterwards():
    """papermill's optional HDFS support would import pyarrow and numpy into every run's process."""
    code = """\
import json, sys
from reportlib import patches
patches.apply("runner")
import papermill.execute, papermill.iorw
without = "pyarrow" not in sys.modules and "numpy" not in sys.modules
import pyarrow.fs
print(json.dumps({"without": without, "fs": pyarrow.fs.HadoopFileSystem.__module__,
                  "papermill_hdfs": papermill.iorw.HadoopFileSystem.__module__}))
"""
    seen = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                                      check=True, env=dict(os.environ, **extra)).stdout)
            for extra in ({}, {"REPORTLIB_NO_PATCHES": "1"})]
    assert seen[0] == {"without": True, "fs": "pyarrow._hdfs", "papermill_hdfs": "papermill.exceptions"}
    assert seen[1] == {"without": False, "fs": "pyarrow._hdfs", "papermill_hdfs": "pyarrow._hdfs"}


def test_doctor_lists_versions_patches_programs_and_the_database(sqlite_url, capsys):
    from reportlib.cli import main

    assert main(["doctor", "--db", sqlite_url]) == 0
    out = capsys.readouterr().out
    active = {line.split()[2] for line in out.splitlines() if line.startswith("  active ")}
    assert active == set(EXPECTED_RUNNER + EXPECTED_KERNEL)
    assert "papermill " in out and "soffice" in out and "chromium" in out
    assert "reachable (sqlite)" in out


def test_doctor_says_when_the_database_does_not_answer(capsys):
    from reportlib.cli import main

    assert main(["doctor", "--db", "postgresql+psycopg://someone:hunter2@127.0.0.1:9/none"]) == 1
    out = capsys.readouterr().out
    assert "NOT reachable" in out and "hunter2" not in out
