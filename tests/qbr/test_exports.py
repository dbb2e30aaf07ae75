"""The qbr package's public API is what ``__all__`` says, and everything it says exists."""

import importlib

import pytest

MODULES = ["reportlib.qbr", "reportlib.qbr.metrics", "reportlib.qbr.review", "reportlib.qbr.deck",
           "reportlib.qbr.report", "reportlib.qbr.workbook", "reportlib.qbr.family", "reportlib.qbr.schema",
           "reportlib.qbr.demo", "reportlib.render.pptx"]


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists(name):
    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__))
    for member in module.__all__:
        assert hasattr(module, member), f"{name}.__all__ names {member!r}, which does not exist"
