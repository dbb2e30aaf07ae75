"""Every package reportlib imports is a declared dependency with both bounds, and pinned."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _imported_top_level_modules() -> set[str]:
    modules = set()
    for path in (ROOT / "src" / "reportlib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "reportlib"}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(text) for text in project["dependencies"] + extras]


def test_every_imported_package_is_a_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_norm(Requirement(text).name) for text in project["dependencies"]}
    owners = packages_distributions()
    missing = {}
    for module in sorted(_imported_top_level_modules()):
        distributions = {_norm(d) for d in owners.get(module, [module])}
        if not distributions & runtime:
            missing[module] = sorted(distributions)
    assert not missing, f"imported by src/ but not in pyproject.toml's dependencies: {missing}"


def test_every_dependency_has_a_lower_and_an_upper_bound_and_a_pin():
    pins = {_norm(line.split("==")[0]) for line in (ROOT / "constraints.txt").read_text().splitlines()
            if "==" in line and not line.startswith("#")}
    for requirement in _declared():
        operators = {spec.operator for spec in requirement.specifier}
        assert ">=" in operators and "<" in operators, f"{requirement}: needs a lower and an upper bound"
        assert _norm(requirement.name) in pins, f"{requirement.name} is not pinned in constraints.txt"
