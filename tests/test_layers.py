"""No module imports upward: the import-linter contracts of pyproject.toml ([tool.importlinter])
hold for the package, and they do break when someone adds an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(project: Path) -> subprocess.CompletedProcess:
    """lint-imports on the package under ``project/src`` with ``project/pyproject.toml``'s contracts
    (``--no-cache``: nothing written into the project)."""
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    return subprocess.run([str(LINT), "--no-cache", "--config", str(project / "pyproject.toml")], cwd=project,
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_package_keeps_its_layers():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert {c["id"] for c in contracts} == {"layers", "commands-on-top", "private-modules"}
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src" / "reportlib", tmp_path / "src" / "reportlib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize("module, line, broken", [
    # the core reaching up into a family
    ("db.py", "from .qbr import metrics as _upward\n", "No module imports upward"),
    # the runner importing the batch that drives it
    ("run.py", "from . import batch as _upward\n", "No module imports upward"),
    # one family importing another
    ("qbr/metrics.py", "from ..statements import metrics as _sideways\n", "No module imports upward"),
    # a family's metrics importing its own command group
    ("dashboard/metrics.py", "from . import commands as _upward\n", "Nothing imports a command group"),
    # a renderer importing the CLI
    ("render/table.py", "from ..cli import main as _upward\n", "Nothing imports a command group"),
])
def test_an_upward_import_breaks_a_contract(tmp_path, module, line, broken):
    project = _copy(tmp_path)
    path = project / "src" / "reportlib" / module
    text = path.read_text()
    # after the module's docstring and __future__ import, where an import would go
    anchor = "from __future__ import annotations\n"
    assert anchor in text, module
    path.write_text(text.replace(anchor, anchor + line, 1))
    result = _lint(project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 broken" not in result.stdout
    broken_lines = [ln for ln in result.stdout.splitlines() if "BROKEN" in ln]
    assert any(ln.startswith(broken) for ln in broken_lines), result.stdout


def test_every_module_of_the_package_has_its_layer():
    """A new top-level module or subpackage must be placed in a layer, or no contract would see it."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["id"] == "layers")["layers"]
    placed = {name.strip() for layer in layers for name in layer.replace("|", ":").split(":")}
    package = ROOT / "src" / "reportlib"
    modules = {f"reportlib.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {f"reportlib.{p.parent.name}" for p in package.glob("*/__init__.py")}
    assert modules - placed == set(), "put these in a layer of pyproject.toml's [tool.importlinter]"
    assert placed - modules == set(), "layers name modules that do not exist"
