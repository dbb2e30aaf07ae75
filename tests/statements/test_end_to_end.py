"""The statement family from data to files, through real kernels, LibreOffice and Chromium."""

import json
import subprocess
import sys
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest

from reportlib.db import engine_for
from reportlib.errors import ParameterError, RunError, UnknownEntityError
from reportlib.files import sha256_file
from reportlib.load import write_domain
from reportlib.run import run_report
from reportlib.statements.data import credit_transactions

from ..conftest import browser_dom, pdf_text
from .dataset import billing_rows

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One database and one executed statement run, shared by the tests below."""
    root = tmp_path_factory.mktemp("statements")
    url = f"sqlite:///{root / 'db.sqlite'}"
    write_domain("billing", billing_rows(), url=url, source="test")
    out = root / "outputs"
    result = run_report("statement", {"partner": "P1", "month": "2026-10"}, out=out, db_url=url)
    return {"root": root, "url": url, "out": out, "result": result,
            "folder": out / "statements" / "2026-10", "stem": "p1-alpha-partner"}


def test_run_publishes_files_beside_notebook_and_manifest(world):
    folder, stem = world["folder"], world["stem"]
    assert world["result"].status == "ok"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f"{stem}.xlsx", f"{stem}.html", f"{stem}.ipynb", f"{stem}.manifest.json",
                            "manifest.json"])
    manifest = json.loads((folder / f"{stem}.manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["parameters"] == {"partner": "P1", "month": "2026-10"}
    assert manifest["data"]["domain"] == "billing" and len(manifest["data"]["fingerprint"]) == 64
    assert manifest["reportlib_version"] and "git_commit" in manifest
    assert manifest["duration_s"] > 0 and datetime.fromisoformat(manifest["started_at"])
    for entry in manifest["files"]:
        assert sha256_file(folder / entry["name"]) == entry["sha256"]
    index = json.loads((folder / "manifest.json").read_text())
    assert [run["stem"] for run in index["runs"]] == [stem]


def test_workbook_has_a_summary_and_a_sheet_per_report_with_real_numbers(world):
    book = openpyxl.load_workbook(world["folder"] / f"{world['stem']}.xlsx")
    assert book.sheetnames == ["Summary", "Total credit", "Credits topped up", "Credit usage", "Usage by service",
                               "Discounts", "Revenue detailed", "Revenue by service", "Revenue by account"]
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Closing balance"] == pytest.approx(301.499999)
    assert summary["Revenue, net"] == pytest.approx(16.606)
    credit = book["Total credit"]
    header = [c.value for c in credit[1]]
    rows = {r[0]: dict(zip(header, r)) for r in credit.iter_rows(min_row=2, values_only=True)}
    assert rows["C1"]["Closing balance"] == 252.5 and rows["C1"]["Opening balance"] == 70
    assert rows["Total"]["Topped up"] == 250
    assert rows["C2"]["Account name"] == "=HYPERLINK(\"http://x.invalid\")"  # as written, a string cell
    for ws in book.worksheets:
        for row in ws.iter_rows():
            assert all(cell.data_type != "f" for cell in row)


def test_html_is_self_contained_and_renders_charts_offline(world, tmp_path):
    html = world["folder"] / f"{world['stem']}.html"
    text = html.read_text()
    assert "statement_pack(" not in text  # code is hidden
    assert "&lt;" not in text or "<script>alert" not in text
    dom = browser_dom(html, tmp_path)
    assert dom.count("<svg") >= 2, "both charts should be inline SVG"
    assert "Credit balance over the month" in dom and "Revenue by service" in dom
    assert "=HYPERLINK(&quot;http://x.invalid&quot;)" in dom or '=HYPERLINK("http://x.invalid")' in dom


def test_libreoffice_opens_the_workbook_and_shows_the_closing_balance(world, tmp_path):
    text = pdf_text(world["folder"] / f"{world['stem']}.xlsx", tmp_path)
    assert "Closing balance" in text and "301.50" in text


def test_unchanged_inputs_are_skipped_and_force_runs_again(world):
    again = run_report("statement", {"partner": "P1", "month": "2026-10"}, out=world["out"], db_url=world["url"])
    assert again.status == "skipped"
    forced = run_report("statement", {"partner": "P1", "month": "2026-10"}, out=world["out"], db_url=world["url"],
                        force=True)
    assert forced.status == "ok"


def test_bad_parameters_and_unknown_partners_fail_before_any_kernel(world):
    with pytest.raises(ParameterError) as caught:
        run_report("statement", {"partner": "P1", "month": "2026-13", "colour": "red"}, out=world["out"],
                   db_url=world["url"])
    assert len(caught.value.problems) == 2
    with pytest.raises(UnknownEntityError, match="P9"):
        run_report("statement", {"partner": "P9", "month": "2026-10"}, out=world["out"], db_url=world["url"])


def test_batch_runs_active_partners_carries_on_past_a_failure_and_keeps_its_notebook(world, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    write_domain("billing", billing_rows(), url=url, source="test")
    with engine_for(url).begin() as conn:  # P2's customer gets a transaction of an unknown kind
        conn.execute(credit_transactions.insert().values(
            transaction_id="bad", account_id="C3", occurred_at=datetime(2026, 10, 9), kind="refund",
            service=None, amount=D("1"), reference=None))
    out = tmp_path / "outputs"
    result = subprocess.run([sys.executable, "-m", "reportlib", "batch", "statement", "-p", "month", "2026-10",
                             "--db", url, "--out", str(out), "--workers", "2", "--quiet"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 run(s)" in result.stdout and "1 ok" in result.stdout and "1 failed" in result.stdout
    assert "FAILED p2-other-partner" in result.stdout and "does not reconcile" in result.stdout
    folder = out / "statements" / "2026-10"
    assert (folder / "p1-alpha-partner.xlsx").is_file()
    assert (folder / "p2-other-partner.failed.ipynb").is_file()
    assert not (folder / "p2-other-partner.xlsx").exists()
    # No staging folder or temporary file left; .pdfs.json is the folder's record of its PDFs.
    assert [p.name for p in folder.glob(".*") if p.name != ".pdfs.json"] == []
    # Every file is in the period's folder, but the catalogue of the outputs and the rows it keeps
    # (reportlib.delivery.catalogue).
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if p.is_file() and p.resolve().parent != folder.resolve()) == [".catalogue-cache.json", "index.html"]
    failed = json.loads((folder / "p2-other-partner.manifest.json").read_text())
    assert failed["status"] == "failed" and "InvariantError" in failed["error"]


def test_run_error_names_the_kept_notebook(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    write_domain("billing", billing_rows(), url=url, source="test")
    with engine_for(url).begin() as conn:
        conn.execute(credit_transactions.insert().values(
            transaction_id="bad", account_id="C1", occurred_at=datetime(2026, 10, 9), kind="refund",
            service=None, amount=D("1"), reference=None))
    with pytest.raises(RunError) as caught:
        run_report("statement", {"partner": "P1", "month": "2026-10"}, out=tmp_path / "out", db_url=url)
    assert "does not reconcile" in str(caught.value)
    assert Path(caught.value.notebook).is_file()


def test_statement_on_postgresql(pg_url, tmp_path):
    write_domain("billing", billing_rows(), url=pg_url, source="test")
    result = run_report("statement", {"partner": "P1", "month": "2026-10"}, out=tmp_path / "out", db_url=pg_url)
    book = openpyxl.load_workbook(Path(result.folder) / "p1-alpha-partner.xlsx")
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Closing balance"] == pytest.approx(301.499999)


def test_a_relative_sqlite_url_means_the_folder_the_run_starts_from(tmp_path, monkeypatch):
    # The kernel works in the run's staging folder: the relative path must not open an empty
    # database there ("no such table") but the one beside the user.
    write_domain("billing", billing_rows(), url=f"sqlite:///{tmp_path / 'db.sqlite'}", source="test")
    monkeypatch.chdir(tmp_path)
    result = run_report("statement", {"partner": "P1", "month": "2026-10"}, out=tmp_path / "out",
                        db_url="sqlite:///db.sqlite")
    assert result.status == "ok"
    manifest = json.loads((Path(result.folder) / "p1-alpha-partner.manifest.json").read_text())
    assert manifest["data"]["database"] == f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert sorted(p.name for p in tmp_path.rglob("*.sqlite")) == ["db.sqlite"]
