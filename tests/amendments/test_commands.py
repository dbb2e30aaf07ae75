"""The amendment notebook end to end: batch of a change batch, regeneration, CLI, review, PDF."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest
from openpyxl import load_workbook

from reportlib.cli import main
from reportlib.db import init_db
from reportlib.amendments.data import amendment_records

from ..conftest import pdf_text
from .dataset import apply_batch


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """`reportlib amendments make --batch N`: three notebook runs, then the outbox."""
    folder = tmp_path_factory.mktemp("run")
    url = f"sqlite:///{folder / 'db.sqlite'}"
    init_db(url)
    batch = apply_batch(url)
    out = folder / "outputs"
    code = main(["amendments", "make", "--batch", str(batch), "--db", url, "--out", str(out),
                 "--workers", "2", "--billing-address", "billing@ext.example"])
    return url, batch, out, code


def test_make_renders_every_enabled_customer_plan_of_the_batch_and_writes_the_outbox(made, capsys):
    url, batch, out, code = made
    assert code == 0
    folder = out / "amendments" / f"batch-{batch}"
    xlsx = sorted(p.name for p in folder.glob("*.xlsx"))
    assert xlsx == ["c1-cust-p1.xlsx", "c1-cust-p2.xlsx", "c2-zed-co-rates-p1.xlsx"]  # C3 is disabled
    assert sorted(p.name for p in folder.glob("*.billing.csv")) == ["c1-cust-p1.billing.csv",
                                                                     "c1-cust-p2.billing.csv"]
    assert (folder / "c1-cust-p1.html").is_file() and (folder / "c1-cust-p1.manifest.json").is_file()
    outbox = sorted(p.name for p in (folder / "outbox").iterdir())
    assert outbox == ["billing-batch-1.eml", "c1-cust-p1.eml", "c1-cust-p2.eml", "c2-zed-co-rates-p1.eml"]
    with open(folder / "outbox" / "c1-cust-p2.eml", "rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle)
    assert [a.get_filename() for a in message.iter_attachments()] == ["c1-cust-p2.xlsx"]
    with init_db(url).connect() as conn:
        records = amendment_records(conn, batch=batch)
    assert len(records) == 3 and set(records["xlsx_status"]) == {"ok"} and set(records["email_status"]) == {"written"}
    assert set(records["folder"]) == {str(folder)}
    capsys.readouterr()
    assert main(["amendments", "--db", url, "--batch", str(batch)]) == 0
    listing = capsys.readouterr().out
    assert (folder / "c2-zed-co-rates-p1.xlsx").as_uri() in listing and "MB peak RAM" in listing
    assert "  e-mail   written  -" in listing


def test_amendment_converts_to_pdf_with_its_first_code(made, tmp_path):
    _, batch, out, _ = made
    text = pdf_text(out / "amendments" / f"batch-{batch}" / "c1-cust-p1.xlsx", tmp_path)
    assert "4910" in text and "Increase" in text


def test_regeneration_without_changes_through_the_notebook(made):
    url, _, out, _ = made
    assert main(["run", "amendment", "-p", "customer", "C1", "-p", "rate_plan", "P2", "-p", "at", "2026-12-01",
                 "--db", url, "--out", str(out)]) == 0
    folder = out / "amendments" / "regenerate-2026-12-01"
    book = load_workbook(folder / "c1-cust-p2.xlsx", read_only=True)
    rows = list(book["Price list"].iter_rows(values_only=True))
    header = rows.index(("Prefix", "Destination", "Price", "Billing", "Status", "Valid from", "Valid until"))
    assert {r[4] for r in rows[header + 1:]} == {"Unchanged"}
    assert [r[0] for r in rows[header + 1:]] == ["4910", "4911", "4930"]  # 4931 ended on 11-28
    book.close()


def test_batch_of_an_unknown_change_batch_is_one_clear_error(made, capsys):
    url, batch, out, _ = made
    assert main(["batch", "amendment", "-p", "batch", "99", "--db", url, "--out", str(out)]) == 2
    assert "No change batch '99' in the database. The latest batch is 1." in capsys.readouterr().err


def test_the_notebook_renders_and_records_on_postgresql(pg_url, tmp_path):
    batch = apply_batch(pg_url)
    out = tmp_path / "outputs"
    assert main(["run", "amendment", "-p", "customer", "C1", "-p", "rate_plan", "P1", "-p", "batch", str(batch),
                 "--db", pg_url, "--out", str(out)]) == 0
    xlsx = out / "amendments" / f"batch-{batch}" / "c1-cust-p1.xlsx"
    codes = [r[1] for r in load_workbook(xlsx)["Changes"].iter_rows(values_only=True)
             if r[4] in ("New", "Increase", "Decrease", "Closed")]
    assert sorted(codes) == ["4910", "4911", "4930", "4931", "4941", "4950"]
    with init_db(pg_url).connect() as conn:
        (record,) = amendment_records(conn, batch=batch).itertuples()
    assert (record.customer_id, record.xlsx_status, record.csv_status, record.rows) == ("C1", "ok", "ok", 10)


def test_make_records_what_is_up_to_date_but_has_no_record_without_rendering_it(made, capsys):
    from reportlib.amendments.data import amendments

    url, batch, out, _ = made
    with init_db(url).connect() as conn:
        before = amendment_records(conn, batch=batch, customer="C2")
    with init_db(url).begin() as conn:  # as after `make demo` rebuilt the database with the same data
        conn.execute(amendments.delete().where(amendments.c.customer_id == "C2"))
    capsys.readouterr()
    assert main(["amendments", "make", "--batch", str(batch), "--customer", "C2", "--db", url,
                 "--out", str(out), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert "1 skipped" in captured.out and "0 ok" in captured.out  # the runner's skip rule and the record agree
    with init_db(url).connect() as conn:
        records = amendment_records(conn, batch=batch, customer="C2")
    assert list(records["email_status"]) == ["written"] and list(records["xlsx_status"]) == ["ok"]
    same = ["requested_at", "issued_at", "user", "xlsx_file", "rows", "changes", "xlsx_peak_mb", "recipients",
            "mail_fields", "folder"]
    assert records[same].to_dict("records") == before[same].to_dict("records")  # from the run's record file


def test_a_failed_run_is_recorded_with_its_error(tmp_path):
    from reportlib.errors import RunError
    from reportlib.ratedesk import data as s
    from reportlib.run import run_report

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    batch = apply_batch(url)
    setup = s.customer_rp_setup
    with init_db(url).begin() as conn:
        conn.execute(setup.update().where(setup.c.customer_id == "C1", setup.c.rate_plan == "P2")
                     .values(amendment_template="no-such"))
    with pytest.raises(RunError, match=r"amendment_template 'no-such'"):
        run_report("amendment", {"customer": "C1", "rate_plan": "P2", "batch": batch}, db_url=url, out=tmp_path)
    with init_db(url).connect() as conn:
        (record,) = amendment_records(conn, batch=batch, failed=True).itertuples()
    assert (record.customer_id, record.rate_plan, record.xlsx_status, record.csv_status) == ("C1", "P2", "failed",
                                                                                              "failed")
    assert "no-such" in record.error and record.seconds > 0 and record.user
    assert not list((tmp_path / "amendments" / f"batch-{batch}").glob("*.xlsx"))


def test_running_the_notebook_by_hand_writes_files_only(tmp_path):
    """The notebook reads the database and writes its files: no table is made, no record written."""
    import papermill
    import sqlalchemy as sa

    from reportlib.amendments.data import amendments
    from reportlib.run import notebook_path
    from reportlib.families import get_family

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    batch = apply_batch(url)
    with init_db(url).begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {amendments.name}"))
    out = tmp_path / "by-hand"
    papermill.execute_notebook(str(notebook_path(get_family("amendment"))), str(tmp_path / "executed.ipynb"),
                               parameters={"customer": "C1", "rate_plan": "P1", "batch": batch, "db_url": url,
                                           "output_dir": str(out), "output_stem": "c1-p1"},
                               kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    assert sorted(p.name for p in out.iterdir()) == ["c1-p1.billing.csv", "c1-p1.record.json", "c1-p1.xlsx"]
    with sa.create_engine(url).connect() as conn:
        assert not sa.inspect(conn).has_table(amendments.name)


def test_forced_regeneration_with_smtp_never_sends_an_amendment_twice(tmp_path):
    from aiosmtpd.controller import Controller

    from ..smtp_server import Inbox, free_port

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    init_db(url)
    batch = apply_batch(url)
    out = tmp_path / "outputs"
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    make = ["amendments", "make", "--batch", str(batch), "--db", url, "--out", str(out), "--workers", "2",
            "--billing-address", "billing@ext.example", "--smtp", f"127.0.0.1:{controller.port}"]
    try:
        assert main(make) == 0
        assert len(inbox.envelopes) == 4  # three customers × plans and the billing message
        assert main(["batch", "amendment", "-p", "batch", str(batch), "--force", "--db", url, "--out", str(out),
                     "--workers", "2"]) == 0
        assert main([*make, "--force"]) == 0
    finally:
        controller.stop()
    assert len(inbox.envelopes) == 4
    with init_db(url).connect() as conn:
        records = amendment_records(conn, batch=batch)
    assert set(records["email_status"]) == {"sent"} and set(records["email_attempts"]) == {1}
