"""The public API is what ``__all__`` says, and everything it says exists."""

import importlib
import pkgutil

import pytest

import reportlib

# Every public module of the package, found rather than listed: a new one is held to the rule too.
MODULES = ["reportlib"] + sorted(m.name for m in pkgutil.walk_packages(reportlib.__path__, "reportlib.")
                                 if not any(part.startswith("_") for part in m.name.split(".")))


@pytest.mark.parametrize("name", MODULES)
def test_every_module_says_what_it_exports_and_it_exists(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    assert len(module.__all__) == len(set(module.__all__))
    for member in module.__all__:
        assert hasattr(module, member), f"{name}.__all__ names {member!r}, which does not exist"


def test_package_exports_its_public_names():
    public = {n for n in dir(reportlib) if not n.startswith("_") and not isinstance(getattr(reportlib, n), type(reportlib))}
    assert public - {"annotations"} == set(reportlib.__all__) - {"__version__"}
