"""The public API is what ``__all__`` says, and everything it says exists."""

import importlib

import pytest

import reportlib

MODULES = ["reportlib", "reportlib.errors", "reportlib.db", "reportlib.load", "reportlib.params",
           "reportlib.periods", "reportlib.files", "reportlib.run", "reportlib.batch", "reportlib.render.xlsx",
           "reportlib.render.csv", "reportlib.render.html", "reportlib.render.charts", "reportlib.statements",
           "reportlib.render.pptx", "reportlib.qbr", "reportlib.qbr.metrics", "reportlib.qbr.review",
           "reportlib.qbr.deck", "reportlib.qbr.report", "reportlib.qbr.workbook", "reportlib.qbr.family",
           "reportlib.rates", "reportlib.rates.amendments", "reportlib.rates.templates", "reportlib.rates.workbook",
           "reportlib.rates.billing_csv", "reportlib.rates.mail", "reportlib.rates.records", "reportlib.rates.report",
           "reportlib.rates.family", "reportlib.rates.amendment_commands", "reportlib.dashboard",
           "reportlib.dashboard.metrics", "reportlib.dashboard.names", "reportlib.render.xlsx_stream", "reportlib.render.pptx_stream", "reportlib.prepared",
           "reportlib.config", "reportlib.portal", "reportlib.portal.users", "reportlib.portal.reports",
           "reportlib.portal.catalogue", "reportlib.portal.ondemand", "reportlib.portal.app", "reportlib.portal.schema",
           "reportlib.portal.demo", "reportlib.portal.commands", "reportlib.demo"]


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists(name):
    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__))
    for member in module.__all__:
        assert hasattr(module, member), f"{name}.__all__ names {member!r}, which does not exist"


def test_package_exports_its_public_names():
    public = {n for n in dir(reportlib) if not n.startswith("_") and not isinstance(getattr(reportlib, n), type(reportlib))}
    assert public - {"annotations"} == set(reportlib.__all__) - {"__version__"}
