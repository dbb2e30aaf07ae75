"""One world of real reports for the delivery tests: statements and QBR decks made through the
command line with --pdf (so with their PDFs and the catalogue), recipients loaded, copied afresh per test."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from reportlib.cli import main
from reportlib.load import write_domain

from ..qbr.dataset import qbr_rows
from ..smtp_server import SmtpServers
from ..statements.dataset import billing_rows

RECIPIENTS = [
    dict(family="statement", entity_id="P1", role="to", email="finance@alpha.example", name="Alpha finance",
         active=True),
    dict(family="statement", entity_id="P1", role="cc", email="ceo@alpha.example", name=None, active=True),
    dict(family="statement", entity_id="P2", role="to", email="books@other.example", name="Other books", active=True),
    dict(family="statement", entity_id="P2", role="cc", email="gone@other.example", name=None, active=False),
    dict(family="statement", entity_id="*", role="bcc", email="archive@carrier.example", name="Archive", active=True),
    dict(family="qbr", entity_id="A1", role="to", email="alliances@alpha-systems.example", name=None, active=True),
    dict(family="qbr", entity_id="*", role="cc", email="managers@carrier.example", name=None, active=True),
]


@dataclass
class World:
    url: str
    out: Path

    @property
    def statements(self) -> Path:
        return self.out / "statements" / "2026-10"

    @property
    def qbr(self) -> Path:
        return self.out / "qbr" / "2026q3"

    def change_p1(self, pdf: bool = True) -> None:
        """A late top-up of 1,000.00 for P1 in October, and P1's statement run again (closing
        balance 301.50 before, 1,301.50 after), with its PDF unless ``pdf`` is False (an analyst's run)."""
        rows = billing_rows()
        rows["credit_transactions.csv"].append(dict(transaction_id="t99", account_id="P1", kind="topup",
                                                    occurred_at=datetime(2026, 10, 20, 9), amount=D("1000.00"),
                                                    service=None, reference="late top-up"))
        write_domain("billing", rows, url=self.url, source="test, changed")
        assert main(["run", "statement", "-p", "partner", "P1", "-p", "month", "2026-10", "--out", str(self.out),
                     "--db", self.url, "--pdf" if pdf else "--no-pdf"]) == 0


def _made(root: Path) -> World:
    url = f"sqlite:///{root / 'db.sqlite'}"
    write_domain("billing", billing_rows(), url=url, source="test")
    write_domain("qbr", qbr_rows(), url=url, source="test")
    write_domain("recipients", {"recipients.csv": RECIPIENTS}, url=url, source="test")
    out = root / "outputs"
    assert main(["batch", "statement", "-p", "month", "2026-10", "--out", str(out), "--db", url, "--workers", "1",
                 "--quiet", "--pdf"]) == 0
    assert main(["run", "qbr", "-p", "partner", "A1", "-p", "quarter", "2026Q3", "--out", str(out), "--db", url,
                 "--pdf"]) == 0
    return World(url, out)


@pytest.fixture(scope="session")
def made_world(tmp_path_factory) -> World:
    """Made once per session: two statement packs and a QBR deck, each with its PDF."""
    from ..conftest import need
    from reportlib.render.chromium import chromium_path
    from reportlib.delivery.pdf import soffice_path

    need(bool(chromium_path()), "headless Chromium")
    need(bool(soffice_path()) and bool(shutil.which("pdftotext")), "LibreOffice and pdftotext")
    return _made(tmp_path_factory.mktemp("delivery-world"))


@pytest.fixture
def world(made_world, tmp_path, monkeypatch) -> World:
    """A copy of the made world of this test's own: its database, outputs, outbox and log."""
    root = tmp_path / "world"
    root.mkdir()
    source, copy = sqlite3.connect(made_world.url.removeprefix("sqlite:///")), sqlite3.connect(root / "db.sqlite")
    try:
        source.backup(copy)  # with what is still in the write-ahead log
    finally:
        source.close()
        copy.close()
    shutil.copytree(made_world.out, root / "outputs")
    monkeypatch.setenv("REPORTLIB_OUTPUTS", str(root / "outputs"))
    return World(f"sqlite:///{root / 'db.sqlite'}", root / "outputs")


@pytest.fixture
def smtp_server():
    """Start an aiosmtpd server on 127.0.0.1 with an :class:`Inbox`; stopped after the test."""
    servers = SmtpServers()
    yield servers.start
    servers.stop()
