"""A database password never lands in a file people read: executed notebooks, manifests, errors."""

import dataclasses
import json

import nbformat
import pytest
from sqlalchemy.engine import make_url

from reportlib.batch import run_batch
from reportlib.config import public_db_url, redact_secrets_in_text, resolve_db_url
from reportlib.errors import RunError
from reportlib.families import FAMILIES
from reportlib.load import write_domain
from reportlib.run import run_report
from reportlib.statements.family import FAMILY

from .conftest import need, python_notebook
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


SECRET_URLS = [
    ("postgresql+psycopg://analyst@db.example/reports?password=s3cret", "?password=***"),
    ("postgresql+psycopg://analyst@db.example/reports?sslmode=require&sslpassword=s3cret", "sslpassword=***"),
    ("postgresql+psycopg://analyst@db.example/reports?pass%77ord=s3cret", "?password=***"),
    ("postgresql+psycopg://analyst:s3cret@db.example/reports?password=s3cret&password=s3cret",
     "analyst:***@db.example/reports?password=***&password=***"),
    ("postgresql+psycopg://analyst@db.example/reports?options=-c%20password%3Ds3cret", "options="),
    ("mysql+pymysql://analyst@db.example/reports?passwd=s3cret", "?passwd=***"),
    ("mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC%7D%3BSERVER%3Dx%3BUID%3Du%3BPWD%3Ds3cret", "odbc_connect="),
    ("snowflake://analyst@account/db?private_key=s3cret&token=s3cret", "private_key=***"),
    ("postgresql+psycopg//analyst:s3cret@db.example/reports", "analyst:***@"),  # malformed: as text
]


@pytest.mark.parametrize("url, shown", SECRET_URLS)
def test_public_url_hides_every_secret_a_url_can_hold(url, shown, monkeypatch):
    public = public_db_url(url)
    assert "s3cret" not in public and shown in public
    # the hidden URL still means the real one where the real one is REPORTLIB_DB
    monkeypatch.setenv("REPORTLIB_DB", url)
    assert resolve_db_url(public) == url


def test_secrets_in_messages_are_hidden_and_the_rest_is_kept():
    said = ("connection to postgresql+psycopg://u:s3cret@h/db?sslpassword=s3cret failed; conninfo "
            "\"host=h password=s3cret\" password='s 3cret' PWD=s3cret; password authentication failed for "
            "user \"reportlib\"; see https://sqlalche.me/e/20/e3q8")
    shown = redact_secrets_in_text(said)
    assert "s3cret" not in shown and "3cret" not in shown
    assert "postgresql+psycopg://u:***@h/db?sslpassword=***" in shown
    assert "password authentication failed for user \"reportlib\"" in shown and "https://sqlalche.me/e/20/e3q8" in shown


def _secret_forms(pg_url: str, form: str) -> tuple[str, list[str]]:
    """The test database's URL with its password written as ``form``; the texts that must not leak."""
    parsed = make_url(pg_url)
    password = parsed.password
    need(bool(password), "a PostgreSQL URL with a password (REPORTLIB_TEST_PG_URL)")
    if form == "userinfo":
        return pg_url, [f":{password}@"]
    ssl = "Tr0ub4dor-never-shown"  # libpq takes it (for an encrypted client key) and ignores it here
    url = parsed.set(password=None).update_query_dict({"password": password, "sslpassword": ssl})
    return url.render_as_string(hide_password=False), [f"password={password}", ssl]


@pytest.mark.kernel
@pytest.mark.postgres
@pytest.mark.parametrize("form", ["userinfo", "query"])
@pytest.mark.parametrize("how", ["run with papermill", "batch with warm kernels"])
def test_executed_notebooks_and_manifests_never_hold_the_password(pg_url, tmp_path, how, form, monkeypatch):
    url, secrets = _secret_forms(pg_url, form)
    monkeypatch.delenv("REPORTLIB_DB", raising=False)
    write_domain("billing", billing_rows(), url=pg_url, source="test")
    out = tmp_path / "out"
    if how == "run with papermill":
        run_report("statement", {"partner": "P1", "month": "2026-10"}, out=out, db_url=url)
    else:
        result = run_batch("statement", {"month": "2026-10"}, out=out, db_url=url, workers=1, progress=False)
        assert result.ok, result.summary()
        assert not any(secret in result.summary() for secret in secrets)
    folder = out / "statements" / "2026-10"
    executed = (folder / "p1-alpha-partner.ipynb").read_text()
    hidden = public_db_url(url)
    assert json.dumps(hidden)[1:-1] in executed
    assert json.loads((folder / "p1-alpha-partner.manifest.json").read_text())["data"]["database"] == hidden
    assert (folder / "p1-alpha-partner.xlsx").is_file() and (folder / "p1-alpha-partner.html").is_file()
    for path in folder.iterdir():
        if path.suffix in (".json", ".html", ".ipynb"):
            assert not any(secret in path.read_text() for secret in secrets), path.name


@pytest.mark.postgres
def test_a_refused_connection_never_prints_the_password(pg_url, tmp_path, capsys):
    url, _ = _secret_forms(pg_url, "query")
    wrong = make_url(url).update_query_dict({"password": "Wr0ng-s3cret-pw"}).render_as_string(hide_password=False)
    from reportlib.cli import main

    assert main(["run", "statement", "-p", "partner", "P1", "-p", "month", "2026-10", "--db", wrong,
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "password authentication failed" in err and "password=***" in err and "Wr0ng" not in err
    assert "Tr0ub4dor" not in err
    # a URL that cannot even be parsed is named with its secret hidden too
    assert main(["init", "--db", "postgresql+psycopg://analyst:Wr0ng-s3cret-pw@db.example:port/x"]) == 2
    assert "Wr0ng" not in capsys.readouterr().err


@pytest.mark.kernel
@pytest.mark.postgres
def test_a_failure_that_quotes_the_url_is_reported_without_its_secrets(pg_url, tmp_path, monkeypatch):
    # A library in the kernel that quotes its connection string in an error (here the notebook
    # itself, which alone sees the real URL): the error in the manifest, the batch summary, the
    # RunError and the kept notebook show it without its secrets.
    url, secrets = _secret_forms(pg_url, "query")
    monkeypatch.delenv("REPORTLIB_DB", raising=False)
    write_domain("billing", billing_rows(), url=pg_url, source="test")
    notebook = tmp_path / "quoting.ipynb"
    nbformat.write(python_notebook(
        "partner = 'P1'\nmonth = '2026-10'\ndb_url = None\noutput_dir = None\noutput_stem = None",
        "import os\nprint('connecting to', os.environ['REPORTLIB_DB'])\n"
        "raise RuntimeError(f\"cannot use {os.environ['REPORTLIB_DB']}\")"), notebook)
    FAMILIES.register("statement-quoting", dataclasses.replace(FAMILY, name="statement-quoting",
                                                               notebook=str(notebook)))
    out = tmp_path / "out"
    try:
        with pytest.raises(RunError) as caught:
            run_report("statement-quoting", {"partner": "P1", "month": "2026-10"}, out=out, db_url=url)
        result = run_batch("statement-quoting", {"month": "2026-10"}, out=tmp_path / "batch", db_url=url,
                           workers=1, progress=False)
    finally:
        FAMILIES._items.pop("statement-quoting")
    assert not result.ok and "cannot use postgresql+psycopg://" in result.summary()
    folder = out / "statements" / "2026-10"
    manifest = json.loads((folder / "p1-alpha-partner.manifest.json").read_text())
    failed = (folder / "p1-alpha-partner.failed.ipynb").read_text()
    assert "password=***" in manifest["error"] and "password=***" in failed
    for text in (str(caught.value), result.summary(), manifest["error"], failed):
        assert not any(secret in text for secret in secrets), text


def test_relative_sqlite_files_become_absolute_and_other_urls_stay(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_db_url("sqlite:///data/x.sqlite") == f"sqlite:///{tmp_path / 'data' / 'x.sqlite'}"
    assert resolve_db_url("sqlite+pysqlite:///x.db?timeout=5") == f"sqlite+pysqlite:///{tmp_path / 'x.db'}?timeout=5"
    for url in ("sqlite://", "sqlite:///:memory:", f"sqlite:///{tmp_path / 'abs.db'}",
                "sqlite:///file:x.db?mode=ro&uri=true", URL):
        assert resolve_db_url(url) == url
