"""The manual's "Apply changes + Upload", the whole cycle as the README shows it, on both engines:
import → modify → verify → edit verify → apply + upload with every option → change log."""

from __future__ import annotations

import email
import time
from datetime import datetime, timezone
from email import policy

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from openpyxl import load_workbook

from reportlib.amendments.data import amendments
from reportlib.cli import main
from reportlib.db import engine_for
from reportlib.load import write_domain
from reportlib.ratedesk import data as s

from ..amendments.dataset import amendment_data
from ..smtp_server import Inbox, free_port
from ..conftest import table_snapshot
from ..billing_server import Billing, start
from .conftest import use_desk

DECK = ("code deck,rate plans,rate plan groups,change type,codes,area name in code deck,area name new,rate new,"
        "increm. new,increm. part 1,increm. part 2,increm. part 3,status\n"
        "T,,G,Area RATE,,Gamma,,0.0655,,,,,\n"
        "T,P1,,Area RATE,,Delta,,0.3333,,,,,\n"
        "T,P1,,Area RATE,,Zero,,0.02,,,,,disabled\n"
        "T,,,Code add,4999,Zero,,,,,,,\n")


@pytest.fixture
def desk(db_url, tmp_path, monkeypatch):
    """The amendments' customers on the small deck; an SMTP server and a billing system on 127.0.0.1."""
    write_domain("rates", amendment_data(), url=db_url, source="tests apply + upload")
    use_desk(db_url, monkeypatch)
    monkeypatch.setenv("REPORTLIB_BILLING_TOKEN", "t0ken")
    monkeypatch.setenv("REPORTLIB_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.delenv("REPORTLIB_BILLING_EMAIL", raising=False)
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    billing = Billing(refuse_first=1)
    server, _ = start(billing)
    yield db_url, inbox, f"127.0.0.1:{smtp.port}", billing
    smtp.stop()
    server.shutdown()
    server.server_close()


def every_option(smtp: str, billing: Billing, out) -> list[str]:
    return ["--xlsx", "--email-xlsx", "--csv", "--email-csv", "--upload", "--clear", "--smtp", smtp,
            "--billing-address", "billing@ext.example", "--upload-to", billing.url + "/rates/{ext_billing_rate_plan}",
            "--out", str(out), "--workers", "1"]


def test_the_whole_cycle_from_import_to_the_change_log(desk, tmp_path, capsys):
    url, inbox, smtp, billing = desk
    deck = tmp_path / "deck.csv"
    deck.write_text(DECK, encoding="utf-8")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    assert main(["rates", "modify", "round", "--digits", "2", "--mode", "up"]) == 0  # 0.0655 -> 0.07, 0.3333 -> 0.34
    table = tmp_path / "verify.xlsx"
    assert main(["rates", "verify", "--base-date", "2026-11-21", "--export", str(table)]) == 0
    book = load_workbook(table)
    sheet = book["Changes"]
    header = [c.value for c in sheet[1]]
    for n, row in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        values = dict(zip(header, row))
        if values["Area"] == "Gamma" and values["Rate plan"] == "P1":
            sheet.cell(n, header.index("Custom 1 new") + 1, "Q1 promo")
    book.save(table)
    assert main(["rates", "verify", "--edits", str(table)]) == 0
    capsys.readouterr()

    out = tmp_path / "outputs"
    assert main(["rates", "apply", *every_option(smtp, billing, out)]) == 0
    printed = capsys.readouterr().out
    assert "Applied as change batch 1" in printed and "Cleared change deck" in printed

    with engine_for(url).connect() as conn:
        gamma = conn.execute(sa.select(s.rates).where(s.rates.c.rate_plan == "P1", s.rates.c.area == "Gamma",
                                                      s.rates.c.batch_id == 1)).one()
        log = conn.execute(sa.select(s.change_log)).one()
        records = {f"{r.customer_id} × {r.rate_plan}": r for r in conn.execute(sa.select(amendments))}
        rows_left = conn.execute(sa.select(sa.func.count()).select_from(s.deck_rows)).scalar()
    assert str(gamma.rate) == "0.07000000" and gamma.custom_1 == "Q1 promo"  # modified, then edited in verify
    assert sorted(records) == ["C1 × P1", "C1 × P2", "C2 × P1"]
    assert {k: (r.xlsx_status, r.csv_status, r.email_status, r.upload_status) for k, r in records.items()} == {
        "C1 × P1": ("ok", "ok", "sent", "done"), "C1 × P2": ("ok", "ok", "sent", "done"),
        "C2 × P1": ("ok", "skipped", "sent", None)}
    assert all(r.uploaded_at is not None for k, r in records.items() if k != "C2 × P1")
    assert (out / "amendments" / "batch-1").is_dir()
    assert all(getattr(log, c) is not None for c in ("xlsx_done_at", "csv_done_at", "emails_done_at",
                                                      "uploads_done_at"))
    assert rows_left == 0  # the table was cleared after the change

    messages = [email.message_from_bytes(e.content, policy=policy.default) for e in inbox.envelopes]
    billing_mail = [m for m in messages if m["To"] == "billing@ext.example"]
    assert len(billing_mail) == 1
    assert [p.get_filename().endswith(".csv") for p in billing_mail[0].iter_attachments()] == [True, True]
    customer_mail = [m for m in messages if m["To"] != "billing@ext.example"]
    assert len(customer_mail) == 3
    assert all(any(p.get_filename().endswith(".xlsx") for p in m.iter_attachments()) for m in customer_mail)
    assert sorted(r.path for r in billing.accepted.values()) == ["/rates/EP1", "/rates/EP2"]
    assert len(billing.requests) == 3  # one refusal, retried; each CSV accepted once

    assert main(["rates", "log"]) == 0
    shown = capsys.readouterr().out
    for label, column in (("All .xlsx files generated", "xlsx_done_at"), ("All .csv files generated", "csv_done_at"),
                          ("All e-mails sent", "emails_done_at"), ("All uploads to billing done", "uploads_done_at")):
        assert f"{label}: {getattr(log, column):%Y-%m-%d %H:%M:%S} GMT" in shown
    assert main(["amendments", "upload", "1", "--upload-to", billing.url + "/rates/{ext_billing_rate_plan}"]) == 0
    assert len(billing.requests) == 3  # nothing uploaded twice


def test_apply_refuses_the_whole_run_before_any_change_naming_every_problem(desk, tmp_path, capsys):
    url, inbox, smtp, billing = desk
    with engine_for(url).begin() as conn:
        rp = s.customer_rp_setup.c
        conn.execute(s.customer_rp_setup.update().where(rp.customer_id == "C2", rp.rate_plan == "P1")
                     .values(email_template="no-such-template", ext_billing_customer="E2"))
        conn.execute(s.customer_rp_setup.update().where(rp.customer_id == "C1", rp.rate_plan == "P1")
                     .values(to_emails=None, add_account_manager="none"))
    deck = tmp_path / "deck.csv"
    deck.write_text(DECK, encoding="utf-8")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    assert main(["rates", "verify", "--base-date", "2026-11-21"]) == 0
    capsys.readouterr()
    before = table_snapshot(url)
    assert main(["rates", "apply", *every_option(smtp, billing, tmp_path / "outputs")]) == 2
    err = capsys.readouterr().err
    assert "nothing was applied" in err
    assert "Customer C2 × rate plan P1: email_template 'no-such-template' is not a known e-mail template" in err
    assert "customer C1 × rate plan P1: to_emails is empty" in err
    assert "customer C2 × rate plan P1: csv_template is empty, so no billing CSV is made for it to upload" in err
    assert "customer C2 × rate plan P1: ext_billing_rate_plan empty, so its rates cannot be uploaded" in err
    assert table_snapshot(url) == before  # nothing changed: no batch, no record, the deck kept
    assert not inbox.envelopes and not billing.requests and not (tmp_path / "outputs").exists()


def test_apply_without_what_the_options_need_is_refused(desk, tmp_path, capsys, monkeypatch):
    url, _, _, _ = desk
    monkeypatch.delenv("REPORTLIB_BILLING_TOKEN")
    deck = tmp_path / "deck.csv"
    deck.write_text(DECK, encoding="utf-8")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    assert main(["rates", "verify", "--base-date", "2026-11-21"]) == 0
    capsys.readouterr()
    assert main(["rates", "apply", "--email-xlsx", "--email-csv", "--upload", "--upload-to",
                 "https://billing.example/rates"]) == 2
    err = capsys.readouterr().err
    assert "sending e-mails needs an SMTP server: give --smtp HOST:PORT" in err
    assert "needs its address: give --billing-address ADDRESS or set REPORTLIB_BILLING_EMAIL" in err
    assert "REPORTLIB_BILLING_TOKEN (the billing system's bearer token) is not set" in err


def step_records(url: str, period: str = "batch-1") -> dict:
    with engine_for(url).connect() as conn:
        return {f"{r.customer_id} × {r.rate_plan}": r
                for r in conn.execute(sa.select(amendments).where(amendments.c.period == period))}


def change_log_row(url: str, batch: int = 1):
    with engine_for(url).connect() as conn:
        return conn.execute(sa.select(s.change_log).where(s.change_log.c.batch_id == batch)).one()


def test_the_change_log_completes_when_failed_emails_and_uploads_succeed_on_retry(desk, tmp_path, capsys):
    """Apply changes + Upload with every option; one customer address and the billing system refuse. The
    change log has the documents' times only; "All e-mails sent" / "All uploads to billing done" come
    when `amendments send` / `amendments upload` finish what failed, at the time the last one did."""
    url, inbox, smtp, billing = desk
    inbox.refuse["b@zed.example"] = "550 5.1.1 <b@zed.example>: user unknown"
    billing.reject = 422
    deck = tmp_path / "deck.csv"
    deck.write_text(DECK, encoding="utf-8")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    assert main(["rates", "verify", "--base-date", "2026-11-21"]) == 0
    options = every_option(smtp, billing, tmp_path / "outputs")
    assert main(["rates", "apply", *options]) == 1  # applied; the e-mail and upload steps failed
    err = capsys.readouterr().err
    assert "retry with reportlib amendments send batch-1" in err and "reportlib amendments upload batch-1" in err

    records, log = step_records(url), change_log_row(url)
    assert {k: (r.email_status, r.upload_status) for k, r in records.items()} == {
        "C1 × P1": ("sent", "failed"), "C1 × P2": ("sent", "failed"), "C2 × P1": ("failed", None)}
    assert log.xlsx_done_at == max(r.xlsx_generated_at for r in records.values())
    assert log.csv_done_at == max(r.csv_generated_at for r in records.values() if r.csv_status == "ok")
    assert log.emails_done_at is None and log.uploads_done_at is None
    assert main(["amendments", "--failed"]) == 0  # every amendment with a failed step, and how to retry
    listing = capsys.readouterr().out
    assert [line.split("  ")[1] for line in listing.splitlines() if line.startswith("batch-1  ")] == [
        "C2 × P1", "C1 × P2", "C1 × P1"]
    assert "Retry failed e-mails with" in listing and "Retry failed uploads with" in listing

    inbox.refuse.clear()  # the customer fixed the mailbox: send again what was not accepted
    # The record keeps whole seconds: let the retry happen in a later second than the first e-mails.
    first_sent = max(records[k].email_sent_at for k in ("C1 × P1", "C1 × P2")).replace(tzinfo=None)  # UTC
    while datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) <= first_sent:
        time.sleep(0.05)
    assert main(["amendments", "send", "batch-1", "--smtp", smtp, "--billing-address", "billing@ext.example"]) == 0
    records, log = step_records(url), change_log_row(url)
    assert {r.email_status for r in records.values()} == {"sent"}
    assert records["C2 × P1"].email_sent_at > max(records[k].email_sent_at for k in ("C1 × P1", "C1 × P2"))
    assert log.emails_done_at == records["C2 × P1"].email_sent_at  # the moment the last e-mail was accepted
    assert log.uploads_done_at is None

    billing.reject = None
    assert main(["amendments", "upload", "1", "--upload-to", billing.url + "/rates/{ext_billing_rate_plan}"]) == 0
    records, log = step_records(url), change_log_row(url)
    assert log.uploads_done_at == max(r.uploaded_at for r in records.values() if r.csv_status == "ok")
    capsys.readouterr()
    assert main(["rates", "log"]) == 0
    shown = capsys.readouterr().out
    assert f"All e-mails sent: {log.emails_done_at:%Y-%m-%d %H:%M:%S} GMT" in shown
    assert f"All uploads to billing done: {log.uploads_done_at:%Y-%m-%d %H:%M:%S} GMT" in shown
