"""A database password never lands in a file people read: executed notebooks, manifests, errors."""

import json

import pytest
from sqlalchemy.engine import make_url

from reportlib.batch import run_batch
from reportlib.config import public_db_url, resolve_db_url
from reportlib.load import write_domain
from reportlib.run import run_report

from .conftest import need
from .statements.dataset import billing_rows

URL = "postgresql+psycopg://analyst:s3cret@db.example:5432/reports"


def test_public_url_hides_only_a_password():
    assert public_db_url(URL) == "postgresql+psycopg://analyst:***@db.example:5432/reports"
    assert public_db_url("postgresql+psycopg://analyst@db.example/reports") == \
        "postgresql+psycopg://analyst@db.example/reports"
    assert public_db_url("sqlite:///data/reportlib.sqlite") == "sqlite:///data/reportlib.sqlite"


def test_a_hidden_password_means_the_same_url_from_the_environment(monkeypatch):
    hidden = public_db_url(URL)
    monkeypatch.setenv("REPORTLIB_DB", URL)
    assert resolve_db_url(hidden) == URL
    # another server, database or user with a hidden password is taken as written
    for other in ("postgresql+psycopg://analyst:***@elsewhere:5432/reports",
                  "postgresql+psycopg://analyst:***@db.example:5432/other",
                  "postgresql+psycopg://boss:***@db.example:5432/reports"):
        assert resolve_db_url(other) == other
    monkeypatch.delenv("REPORTLIB_DB")
    assert resolve_db_url(hidden) == hidden


@pytest.mark.kernel
@pytest.mark.postgres
@pytest.mark.parametrize("how", ["run with papermill", "batch with warm kernels"])
def test_executed_notebooks_and_manifests_never_hold_the_password(pg_url, tmp_path, how, monkeypatch):
    password = make_url(pg_url).password
    need(bool(password), "a PostgreSQL URL with a password (REPORTLIB_TEST_PG_URL)")
    monkeypatch.delenv("REPORTLIB_DB", raising=False)
    write_domain("billing", billing_rows(), url=pg_url, source="test")
    out = tmp_path / "out"
    if how == "run with papermill":
        run_report("statement", {"partner": "P1", "month": "2026-10"}, out=out, db_url=pg_url)
    else:
        result = run_batch("statement", {"month": "2026-10"}, out=out, db_url=pg_url, workers=1, progress=False)
        assert result.ok, result.summary()
    folder = out / "statements" / "2026-10"
    executed = (folder / "p1-alpha-partner.ipynb").read_text()
    hidden = public_db_url(pg_url)
    assert f":{password}@" not in executed and json.dumps(hidden)[1:-1] in executed
    assert (folder / "p1-alpha-partner.xlsx").is_file() and (folder / "p1-alpha-partner.html").is_file()
    for path in folder.iterdir():
        if path.suffix in (".json", ".html", ".ipynb"):
            assert f":{password}@" not in path.read_text(), path.name


def test_relative_sqlite_files_become_absolute_and_other_urls_stay(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_db_url("sqlite:///data/x.sqlite") == f"sqlite:///{tmp_path / 'data' / 'x.sqlite'}"
    assert resolve_db_url("sqlite+pysqlite:///x.db?timeout=5") == f"sqlite+pysqlite:///{tmp_path / 'x.db'}?timeout=5"
    for url in ("sqlite://", "sqlite:///:memory:", f"sqlite:///{tmp_path / 'abs.db'}",
                "sqlite:///file:x.db?mode=ro&uri=true", URL):
        assert resolve_db_url(url) == url
