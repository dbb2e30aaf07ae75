"""The amendments record's steps and the change log's completion times, whichever command does a step.

Following the manual: a change applied without the options, then "Create Rate amendments",
sending and uploading as commands of their own, made again; and "Create Rate amendments"
without a change for chosen plans and groups. On both engines, with a real SMTP server and
the real HTTP billing system on 127.0.0.1, every file read back.
"""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import sqlalchemy as sa
from openpyxl import load_workbook

from reportlib.cli import main
from reportlib.db import engine_for
from reportlib.ratedesk import data as s

from ..ratedesk.test_apply_upload import DECK, change_log_row, desk, step_records  # noqa: F401 (desk: a fixture)


def block(listing: str, period: str, name: str) -> list[str]:
    """The lines of one amendment in the `amendments` listing."""
    lines = listing.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"{period}  {name}  requested ")))
    end = next((n for n in range(start + 1, len(lines)) if not lines[n].startswith("  ")), len(lines))
    return lines[start:end]


def gmt(at) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} GMT"


def step_line(lines: list[str], label: str) -> str:
    (line,) = [line for line in lines if line.split()[0] == label]
    return line


def test_make_send_upload_and_make_again_set_the_change_log_from_the_record(desk, tmp_path, capsys):
    url, inbox, smtp, billing = desk
    billing.refuse_first = 0
    deck = tmp_path / "deck.csv"
    deck.write_text(DECK, encoding="utf-8")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    assert main(["rates", "verify", "--base-date", "2026-11-21"]) == 0
    assert main(["rates", "apply"]) == 0  # the change alone: no option, nothing after it
    log = change_log_row(url)
    assert (log.xlsx_done_at, log.csv_done_at, log.emails_done_at, log.uploads_done_at) == (None, None, None, None)

    out = tmp_path / "outputs"
    assert main(["amendments", "make", "--batch", "1", "--out", str(out), "--workers", "1", "--smtp", smtp,
                 "--billing-address", "billing@ext.example"]) == 0
    records, log = step_records(url), change_log_row(url)
    assert sorted(records) == ["C1 × P1", "C1 × P2", "C2 × P1"]
    assert log.xlsx_done_at == max(r.xlsx_generated_at for r in records.values())
    assert log.csv_done_at == max(r.csv_generated_at for r in records.values() if r.csv_status == "ok")
    assert records["C2 × P1"].csv_generated_at is None  # its setup has no CSV template
    assert log.emails_done_at == max([r.email_sent_at for r in records.values()]
                                     + [r.billing_sent_at for r in records.values() if r.csv_status == "ok"])
    assert log.uploads_done_at is None
    assert len(inbox.envelopes) == 4  # three customers and external billing

    url_template = billing.url + "/rates/{ext_billing_rate_plan}"
    assert main(["amendments", "upload", "batch-1", "--upload-to", url_template]) == 0
    records, log = step_records(url), change_log_row(url)
    assert log.uploads_done_at == max(r.uploaded_at for r in records.values() if r.csv_status == "ok")

    capsys.readouterr()
    assert main(["amendments", "--batch", "1"]) == 0
    listing = capsys.readouterr().out
    c1 = records["C1 × P1"]
    lines = block(listing, "batch-1", "C1 × P1")
    assert gmt(c1.requested_at) in lines[0]
    folder = Path(c1.folder)
    xlsx = step_line(lines, "XLSX")
    assert xlsx.split()[1] == "ok" and gmt(c1.xlsx_generated_at) in xlsx and "MB peak RAM" in xlsx
    assert f"{c1.xlsx_peak_mb:.1f} MB" in xlsx and xlsx.endswith((folder / c1.xlsx_file).as_uri())
    csv = step_line(lines, "CSV")
    assert csv.split()[1] == "ok" and gmt(c1.csv_generated_at) in csv
    assert csv.endswith((folder / c1.csv_file).as_uri())
    mail = step_line(lines, "e-mail")
    assert mail.split()[1] == "sent" and gmt(c1.email_sent_at) in mail
    assert mail.endswith((folder / "outbox" / c1.eml_file).as_uri())
    assert step_line(lines, "billing").split()[1] == "sent" and gmt(c1.billing_sent_at) in step_line(lines, "billing")
    upload = step_line(lines, "upload")
    assert upload.split()[1] == "done" and gmt(c1.uploaded_at) in upload
    linked = [line.rsplit(" ", 1)[1] for line in lines if "file://" in line]
    assert len(linked) == 3 and "(missing)" not in "\n".join(lines)
    assert load_workbook(folder / c1.xlsx_file)["Changes"].max_row > 1  # the linked files are the documents
    sent = email.message_from_bytes((folder / "outbox" / c1.eml_file).read_bytes(), policy=policy.default)
    assert [p.get_filename() for p in sent.iter_attachments()] == [c1.xlsx_file]
    c2 = block(listing, "batch-1", "C2 × P1")
    assert step_line(c2, "CSV").split()[1:3] == ["skipped", "-"] and "names no CSV template" in step_line(c2, "CSV")

    before = log
    assert main(["amendments", "make", "--batch", "1", "--force", "--out", str(out), "--workers", "1"]) == 0
    records, log = step_records(url), change_log_row(url)
    assert log.xlsx_done_at == max(r.xlsx_generated_at for r in records.values()) > before.xlsx_done_at
    assert log.csv_done_at == max(r.csv_generated_at for r in records.values() if r.csv_status == "ok") \
        > before.csv_done_at
    # The same content again: nothing is sent or uploaded twice, and those steps keep their times.
    assert (log.emails_done_at, log.uploads_done_at) == (before.emails_done_at, before.uploads_done_at)
    assert {r.upload_status for r in records.values() if r.csv_status == "ok"} == {"done"}
    assert len(inbox.envelopes) == 4 and len(billing.accepted) == 2


def test_amendments_without_a_change_record_every_step_as_a_batch_does(desk, tmp_path, capsys):
    url, inbox, smtp, billing = desk
    billing.refuse_first = 0
    out = tmp_path / "outputs"
    assert main(["amendments", "make", "--regenerate", "--plan", "P1", "--group", "H", "--at", "2026-12-01",
                 "--out", str(out), "--workers", "1", "--smtp", smtp, "--billing-address", "billing@ext.example"]) == 0
    period = "regenerate-2026-12-01"
    assert main(["amendments", "upload", period, "--upload-to", billing.url + "/rates/{ext_billing_rate_plan}"]) == 0
    records = step_records(url, period)
    assert sorted(records) == ["C1 × P1", "C1 × P2", "C2 × P1"]
    for name, r in records.items():
        billed = name != "C2 × P1"
        assert (r.xlsx_status, r.csv_status, r.email_status, r.upload_status) == (
            "ok", "ok" if billed else "skipped", "sent", "done" if billed else None)
        assert r.requested_at <= r.xlsx_generated_at and r.email_sent_at is not None
        assert (r.csv_generated_at is not None, r.billing_sent_at is not None, r.uploaded_at is not None) == (
            billed, billed, billed)
        assert r.xlsx_seconds >= 0 and r.xlsx_peak_mb > 0
        assert (Path(r.folder) / r.xlsx_file).is_file() and (Path(r.folder) / "outbox" / r.eml_file).is_file()
    assert sorted(p.path for p in billing.accepted.values()) == ["/rates/EP1", "/rates/EP2"]
    with engine_for(url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.change_log)).scalar() == 0  # no batch, no log

    capsys.readouterr()
    assert main(["amendments", "--period", period]) == 0
    listing = capsys.readouterr().out
    lines = block(listing, period, "C1 × P2")
    r = records["C1 × P2"]
    for label, status, at in (("XLSX", "ok", r.xlsx_generated_at), ("CSV", "ok", r.csv_generated_at),
                              ("e-mail", "sent", r.email_sent_at), ("billing", "sent", r.billing_sent_at),
                              ("upload", "done", r.uploaded_at)):
        line = step_line(lines, label)
        assert line.split()[1] == status and gmt(at) in line
    assert step_line(lines, "CSV").endswith((Path(r.folder) / r.csv_file).as_uri())
