"""Shared fixtures: real databases (SQLite in a temp folder, PostgreSQL), outputs, tools."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("REPORTLIB_HOME", str(ROOT))

REQUIRE = os.environ.get("REPORTLIB_REQUIRE_SERVICES") == "1"


def _worker_database(url: str | None) -> str | None:
    """Under pytest-xdist each worker gets a database of its own (``<name>_gw0``, ...), made on
    first use: the tests reset the whole schema, which two workers must never do to one database."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = sa.engine.make_url(url)
    name = f"{base.database}_{worker}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


PG_URL = _worker_database(os.environ.get("REPORTLIB_TEST_PG_URL"))


def python_notebook(parameters: str, *cells: str):
    """A Python 3 notebook: a cell tagged ``parameters`` with ``parameters``, then ``cells``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(source) for source in cells)]
    return nb


def html_elements(text: str) -> list[tuple]:
    """A page as its elements: tag, attributes (class words normalised), text and tail, so that
    two serialisations of the same page compare equal (nbconvert's BeautifulSoup pass rewrites
    the markup it parsed)."""
    from lxml import html as lxml_html

    return [(e.tag, sorted((k, " ".join(v.split()) if k == "class" else v) for k, v in e.attrib.items()),
             (e.text or "").strip(), (e.tail or "").strip())
            for e in lxml_html.fromstring(text).iter() if isinstance(e.tag, str)]


def need(available: bool, what: str) -> None:
    """Skip (on a laptop) or fail (in CI) when an outside service or program is missing."""
    if available:
        return
    if REQUIRE:
        pytest.fail(f"{what} is required here (REPORTLIB_REQUIRE_SERVICES=1) but is not available")
    pytest.skip(f"{what} is not available; install it to run this test")


def reset_database(url: str) -> None:
    """Drop and recreate every reportlib table (for a shared PostgreSQL test database)."""
    from reportlib.db import engine_for, init_db, metadata

    init_db(url)
    engine = engine_for(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    init_db(url)


@pytest.fixture(autouse=True)
def _close_the_engines_a_test_opened():
    """Dispose of the engines a test made, once it ends: :func:`reportlib.db.engine_for` keeps
    one per database URL for the life of the process, and most tests have a database of their
    own. A SQLite file in WAL mode holds three file descriptors, so a pytest worker would hold
    every earlier test's databases open and, hundreds of tests later, run out of descriptors
    ("Too many open files" once failed a kernel's channels in CI)."""
    from reportlib import db

    before = set(db._engines)
    yield
    for url in set(db._engines) - before:
        db._engines.pop(url).dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'reportlib.sqlite'}"


@pytest.fixture
def pg_url() -> str:
    need(bool(PG_URL), "PostgreSQL (set REPORTLIB_TEST_PG_URL)")
    reset_database(PG_URL)
    return PG_URL


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reportlib.sqlite'}"
        from reportlib.db import init_db

        init_db(url)
        return url
    need(bool(PG_URL), "PostgreSQL (set REPORTLIB_TEST_PG_URL)")
    reset_database(PG_URL)
    return PG_URL


@pytest.fixture
def outputs(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "outputs"
    monkeypatch.setenv("REPORTLIB_OUTPUTS", str(folder))
    return folder


def table_snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every reportlib table, sorted: to prove a failed write changed nothing."""
    from reportlib.db import engine_for, metadata

    snapshot = {}
    with engine_for(url).connect() as conn:
        for table in metadata.sorted_tables:
            rows = conn.execute(sa.select(table)).all()
            snapshot[table.name] = sorted((tuple(map(repr, r)) for r in rows))
    return snapshot


def office_pdf(document: Path, tmp_path: Path) -> Path:
    """Convert an office document to PDF with LibreOffice; the PDF's path."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    need(bool(soffice) and bool(shutil.which("pdftotext")), "LibreOffice and pdftotext")
    out = tmp_path / "pdf"
    out.mkdir(exist_ok=True)
    profile = tmp_path / "lo-profile"
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(out), str(document)], check=True, capture_output=True, timeout=240)
    pdf = out / (document.stem + ".pdf")
    assert pdf.is_file(), f"LibreOffice made no PDF of {document.name}"
    return pdf


def pdf_text(document: Path, tmp_path: Path) -> str:
    """Convert an office document to PDF with LibreOffice and return its text (pdftotext)."""
    return subprocess.run(["pdftotext", "-layout", str(office_pdf(document, tmp_path)), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout


@dataclass(frozen=True)
class PdfWord:
    """A word as pdftotext placed it, in points from the page's top left corner."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str


@dataclass(frozen=True)
class PdfPage:
    width: float
    height: float
    words: list[PdfWord]


def pdf_pages(document: Path, tmp_path: Path) -> list[PdfPage]:
    """Convert an office document to PDF with LibreOffice; each page's size and words (pdftotext -bbox)."""
    from lxml import etree

    xhtml = subprocess.run(["pdftotext", "-bbox", str(office_pdf(document, tmp_path)), "-"], check=True,
                           capture_output=True, timeout=60).stdout
    ns = "{http://www.w3.org/1999/xhtml}"
    pages = []
    for page in etree.fromstring(xhtml).iter(f"{ns}page"):
        words = [PdfWord(*(float(w.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")), w.text or "")
                 for w in page.iter(f"{ns}word")]
        pages.append(PdfPage(float(page.get("width")), float(page.get("height")), words))
    return pages


def browser_dom(html: Path, tmp_path: Path) -> str:
    """Render an HTML file in headless Chromium with no network and return the final DOM."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    need(bool(chromium), "headless Chromium")
    profile = tmp_path / "chromium-profile"
    result = subprocess.run([
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
        "--virtual-time-budget=10000", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout
