"""reportlib send through a real SMTP server on 127.0.0.1 (aiosmtpd): accepting, refusing an
address, dropping the connection, a send killed halfway; STARTTLS with a login; never twice."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa

from reportlib.cli import main
from reportlib.db import init_db
from reportlib.delivery import delivery_frame
from reportlib.delivery.send import send_reports
from reportlib.errors import ConfigError
from reportlib.versions import content_sha256

from ..smtp_server import CLI, Inbox, killed_while_held

pytestmark = pytest.mark.kernel

P1 = ["finance@alpha.example", "ceo@alpha.example", "archive@carrier.example"]  # to, cc, bcc (from *)
P2 = ["books@other.example", "archive@carrier.example"]  # gone@other.example is not active


def send(world, *extra: str) -> int:
    return main(["send", "statement", "-p", "month", "2026-10", "--out", str(world.out), "--db", world.url, *extra])


def received(inbox: Inbox) -> dict[str, object]:
    return {e.rcpt_tos[0]: message_from_bytes(e.content, policy=policy.default) for e in inbox.envelopes}


def test_each_entity_gets_its_message_with_the_pdf_first_and_no_address_twice(world, smtp_server, capsys):
    inbox = Inbox()
    smtp = smtp_server(inbox)
    assert send(world, "--smtp", str(smtp)) == 0
    assert sorted(e.rcpt_tos for e in inbox.envelopes) == sorted([P1, P2])
    alpha = received(inbox)["finance@alpha.example"]
    assert alpha["Subject"] == "Credit and revenue statement October 2026 — Alpha Partner (P1)"
    assert alpha["To"] == "Alpha finance <finance@alpha.example>" and alpha["Bcc"] is None
    assert "Closing balance: 301.50 (opening 70.00)" in alpha.get_body(("plain",)).get_content()
    files = [(a.get_filename(), a.get_content_type()) for a in alpha.iter_attachments()]
    assert files == [("p1-alpha-partner.pdf", "application/pdf"), (
        "p1-alpha-partner.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]
    pdf = next(alpha.iter_attachments()).get_content()
    assert pdf == (world.statements / "p1-alpha-partner.pdf").read_bytes()
    outbox = sorted(p.name for p in (world.statements / "outbox").iterdir())
    assert outbox == ["p1-alpha-partner.eml", "p2-other-partner.eml"]
    with init_db(world.url).connect() as conn:
        log = delivery_frame(conn, "statement")
    assert set(log["status"]) == {"sent"} and len(log) == 5 and set(log["attempts"]) == {1}
    capsys.readouterr()
    # Never twice: the same run, or a forced re-run with the same figures, sends nothing again.
    assert main(["batch", "statement", "-p", "month", "2026-10", "--force", "--out", str(world.out), "--db",
                 world.url, "--workers", "1", "--quiet"]) == 0
    assert send(world, "--smtp", str(smtp)) == 0
    assert "0 message(s) written to the outbox, 0 sent, 0 failed, 2 already delivered" in capsys.readouterr().out
    assert len(inbox.envelopes) == 2
    assert not (world.statements / "versions").exists()


def test_without_smtp_the_summary_says_the_messages_wait_in_the_outbox_and_how_to_send_them(world, capsys):
    assert send(world) == 0
    first = capsys.readouterr().out
    outbox = world.statements / "outbox"
    assert ("statement 2026-10: 2 message(s) written to the outbox, 0 already delivered; nothing sent (no --smtp)"
            in first)
    assert (f"2 message(s) wait in {outbox} for review; send them with: reportlib send statement -p month 2026-10 "
            "--smtp HOST:PORT") in first
    # Run again before sending: nothing new is written, and the two still waiting are said, not "0 written".
    assert send(world) == 0
    again = capsys.readouterr().out
    assert "0 message(s) written to the outbox, 2 written before and still waiting there" in again
    assert f"2 message(s) wait in {outbox} for review" in again
    assert sorted(p.name for p in outbox.iterdir()) == ["p1-alpha-partner.eml", "p2-other-partner.eml"]


def test_a_refused_address_is_failed_with_the_servers_words_and_retry_sends_to_it_alone(world, smtp_server, capsys):
    inbox = Inbox(refuse={"ceo@alpha.example": "550 5.1.1 <ceo@alpha.example>: Recipient address rejected"})
    smtp = smtp_server(inbox)
    assert send(world, "--smtp", str(smtp)) == 1
    out = capsys.readouterr().out
    assert "FAILED p1-alpha-partner.eml: ceo@alpha.example: 550 5.1.1 <ceo@alpha.example>: Recipient address " \
           "rejected" in out and "--retry" in out
    with init_db(world.url).connect() as conn:
        log = delivery_frame(conn, "statement", entity="P1")
    assert dict(zip(log["address"], log["status"])) == {a: "failed" if a.startswith("ceo") else "sent" for a in P1}
    del inbox.refuse["ceo@alpha.example"]
    before = len(inbox.envelopes)
    assert send(world, "--smtp", str(smtp), "--retry") == 0
    assert [e.rcpt_tos for e in inbox.envelopes[before:]] == [["ceo@alpha.example"]]
    with init_db(world.url).connect() as conn:
        assert set(delivery_frame(conn, "statement")["status"]) == {"sent"}


def test_a_dropped_connection_and_a_busy_mailbox_are_retried_with_back_off(world, smtp_server):
    inbox = Inbox(busy_once={"books@other.example"}, drop_data_once=True)
    report = send_reports("statement", {"month": "2026-10"}, db_url=world.url, smtp=smtp_server(inbox))
    assert not report.failed and len(report.sent) == 2
    # P1's message went on a new connection after the drop; P2's reached the archive at once and
    # books@ on the retry: every address has its message exactly once.
    assert sorted(a for e in inbox.envelopes for a in e.rcpt_tos) == sorted(P1 + P2)
    assert [P1] == [e.rcpt_tos for e in inbox.envelopes if "finance@alpha.example" in e.rcpt_tos]
    with init_db(world.url).connect() as conn:
        log = delivery_frame(conn, "statement")
    assert set(log["status"]) == {"sent"}
    attempts = {(entity, address): n for entity, address, n in zip(log["entity"], log["address"], log["attempts"])}
    assert attempts == {("P1", "finance@alpha.example"): 2, ("P1", "ceo@alpha.example"): 2,
                        ("P1", "archive@carrier.example"): 2, ("P2", "books@other.example"): 2,
                        ("P2", "archive@carrier.example"): 1}


def test_a_send_killed_halfway_is_resumed_and_every_message_is_accepted_exactly_once(world, smtp_server):
    inbox = Inbox(hold="books@other.example")  # the second message waits at its first address
    smtp = smtp_server(inbox)
    killed_while_held(inbox, ["-c", CLI, "send", "statement", "-p", "month", "2026-10", "--smtp", str(smtp), "--out",
                              str(world.out), "--db", world.url])
    assert [e.rcpt_tos for e in inbox.envelopes] == [P1]
    report = send_reports("statement", {"month": "2026-10"}, db_url=world.url, smtp=smtp)
    assert not report.failed and not report.written  # written and recorded before the kill
    assert sorted(e.rcpt_tos for e in inbox.envelopes) == sorted([P1, P2])


def test_changed_figures_are_a_new_message_that_says_what_it_replaces(world, smtp_server):
    inbox = Inbox()
    smtp = smtp_server(inbox)
    send_reports("statement", {"month": "2026-10"}, db_url=world.url, smtp=smtp)
    first = received(inbox)["finance@alpha.example"]
    world.change_p1()
    report = send_reports("statement", {"month": "2026-10"}, db_url=world.url, smtp=smtp)
    assert report.written == ["p1-alpha-partner.2.eml"] and report.delivered == ["p2-other-partner.eml"]
    again = message_from_bytes(inbox.envelopes[-1].content, policy=policy.default)
    assert again["Supersedes"].strip() == first["Message-ID"]
    body = again.get_body(("plain",)).get_content()
    assert body.startswith("This message replaces the one sent on") and "Closing balance: 1,301.50" in body
    assert inbox.envelopes[-1].rcpt_tos == P1


def test_a_run_made_without_its_pdf_is_sent_with_a_fresh_pdf_listed_in_its_manifest(world, smtp_server, capsys):
    world.change_p1(pdf=False)  # an analyst's run: the page changed, no PDF made
    manifest_path = world.statements / "p1-alpha-partner.manifest.json"
    assert "p1-alpha-partner.pdf" not in [e["name"] for e in json.loads(manifest_path.read_text())["files"]]
    inbox = Inbox()
    smtp = smtp_server(inbox)
    capsys.readouterr()
    assert send(world, "--smtp", str(smtp), "--entity", "P1", "--dry-run") == 0
    assert "2026-10: a send makes the PDF of p1-alpha-partner first" in capsys.readouterr().out
    assert send(world, "--smtp", str(smtp), "--entity", "P1") == 0
    assert "PDF: 1 made, 0 unchanged, 0 failed" in capsys.readouterr().out
    attachments = list(received(inbox)["finance@alpha.example"].iter_attachments())
    assert [a.get_filename() for a in attachments] == ["p1-alpha-partner.pdf", "p1-alpha-partner.xlsx"]
    pdf = world.statements / "p1-alpha-partner.pdf"
    assert attachments[0].get_content() == pdf.read_bytes()
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout
    assert "1,301.50" in text  # printed from the new page, not the PDF of the first run
    (entry,) = [e for e in json.loads(manifest_path.read_text())["files"] if e["name"] == "p1-alpha-partner.pdf"]
    page = (world.statements / "p1-alpha-partner.html").read_bytes()
    assert entry["made_from"] == {"name": "p1-alpha-partner.html", "content_sha256": content_sha256(page)}


def test_dry_run_writes_records_and_sends_nothing(world, smtp_server, capsys):
    inbox = Inbox()
    assert send(world, "--smtp", str(smtp_server(inbox)), "--dry-run") == 0
    out = capsys.readouterr().out
    assert "dry run, nothing written or sent; 2 message(s)" in out
    assert "p2-other-partner.eml «Credit and revenue statement October 2026 — ../../Other Partner (P2)» " \
           "[p2-other-partner.pdf, p2-other-partner.xlsx] -> to: books@other.example; bcc: archive@carrier.example" in out
    assert not inbox.envelopes and not (world.statements / "outbox").exists()
    with init_db(world.url).connect() as conn:
        assert delivery_frame(conn, "statement").empty


def test_files_above_the_size_limit_are_a_link_to_the_catalogue(world):
    report = send_reports("statement", {"month": "2026-10"}, db_url=world.url, entity="P1", max_attach_mb=0.001)
    assert report.written == ["p1-alpha-partner.eml"]
    message = message_from_bytes((world.statements / "outbox" / "p1-alpha-partner.eml").read_bytes(),
                                 policy=policy.default)
    assert not list(message.iter_attachments())
    body = message.get_body(("plain",)).get_content()
    assert "too large to attach" in body and (world.out / "index.html").as_uri() + "#statement-2026-10-p1-alpha-partner" in body


def _certificate(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=120)
    return key, cert


def test_starttls_and_a_login_from_the_environment(world, smtp_server, tmp_path, monkeypatch):
    from aiosmtpd.smtp import AuthResult

    key, cert = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password, session.ssl is not None))
        return AuthResult(success=auth_data.login == b"reports" and auth_data.password == b"s3cret")

    inbox = Inbox()
    smtp = smtp_server(inbox, tls_context=context, require_starttls=True, auth_required=True,
                       authenticator=authenticator)
    monkeypatch.setenv("REPORTLIB_SMTP_CAFILE", str(cert))
    monkeypatch.setenv("REPORTLIB_SMTP_USER", "reports")
    monkeypatch.setenv("REPORTLIB_SMTP_PASSWORD", "s3cret")
    report = send_reports("statement", {"month": "2026-10"}, db_url=world.url, smtp=smtp)
    assert not report.failed and len(inbox.envelopes) == 2
    assert logins == [(b"reports", b"s3cret", True)]  # one login, over TLS
    eml = (world.statements / "outbox" / "p1-alpha-partner.eml").read_text()
    assert "s3cret" not in eml and "reports@" not in eml.split("\n\n", 1)[0].replace("reports@reportlib", "")
    monkeypatch.setenv("REPORTLIB_SMTP_SECURITY", "none")
    with pytest.raises(ConfigError, match="never sent without TLS"):
        send_reports("statement", {"month": "2026-10"}, db_url=world.url, smtp=smtp)


def test_send_amendment_is_the_amendments_send_on_the_one_delivery_log(db_url, tmp_path, smtp_server, capsys):
    from ..amendments.dataset import apply_batch, generate

    batch = apply_batch(db_url)
    for customer in ("C1", "C2"):
        generate(db_url, customer, "P1", batch, output_dir=tmp_path / "batch", stem=f"{customer}-P1", user="analyst")
    inbox = Inbox()
    smtp = smtp_server(inbox)
    assert main(["send", "amendment", "-p", "batch", str(batch), "--smtp", str(smtp), "--db", db_url,
                 "--billing-address", "billing@ext.example"]) == 0
    assert len(inbox.envelopes) == 3
    capsys.readouterr()
    assert main(["rates", "amendments", "send", f"batch-{batch}", "--smtp", str(smtp), "--db", db_url,
                 "--billing-address", "billing@ext.example"]) == 0  # the alias: nothing is left to send
    assert "0 sent, 0 failed, 3 already delivered" in capsys.readouterr().out
    with init_db(db_url).connect() as conn:
        families = conn.execute(sa.text("SELECT DISTINCT family FROM delivery_log")).scalars().all()
    assert families == ["amendment"] and len(inbox.envelopes) == 3


def test_two_sends_at_once_never_send_a_message_twice(world, smtp_server):
    inbox = Inbox(hold="books@other.example")  # the first sender stops inside P2's message
    smtp = smtp_server(inbox)
    assert send_reports("statement", {"month": "2026-10"}, db_url=world.url).written  # the outbox, recorded
    code = "import sys; from reportlib.cli import main; sys.exit(main())"
    first = subprocess.Popen([sys.executable, "-c", code, "send", "statement", "-p", "month", "2026-10",
                              "--smtp", str(smtp), "--out", str(world.out), "--db", world.url],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ))
    try:
        assert inbox.holding.wait(timeout=180), "the first sender never reached the second message"
        # Meanwhile a second send: P1's is done, P2's is being sent by the first.
        second = send_reports("statement", {"month": "2026-10"}, db_url=world.url, smtp=smtp)
    finally:
        inbox.release.set()
    assert first.wait(timeout=180) == 0
    assert not second.sent and not second.failed
    assert second.notes == ["p2-other-partner.eml: another process was sending it at the same moment; left to it"]
    assert sorted(e.rcpt_tos for e in inbox.envelopes) == sorted([P1, P2])  # each once
    with init_db(world.url).connect() as conn:
        log = delivery_frame(conn, "statement")
    assert set(log["status"]) == {"sent"} and set(log["attempts"]) == {1}


def test_an_eml_goes_out_as_written_without_its_bcc_header():
    from reportlib.delivery.smtp import without_bcc

    data = (b"From: a@x.example\r\nBcc: one@x.example,\r\n two@x.example\r\nSubject: Bcc: stays\r\n"
            b"BCC: three@x.example\r\nTo: b@x.example\r\n\r\nBcc: a line of the body stays\r\n")
    assert without_bcc(data) == (b"From: a@x.example\r\nSubject: Bcc: stays\r\nTo: b@x.example\r\n\r\n"
                                 b"Bcc: a line of the body stays\r\n")
