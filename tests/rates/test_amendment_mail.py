"""Amendment e-mails through a real SMTP server on loopback (aiosmtpd), and the retry of a failure."""

from __future__ import annotations

import json
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from reportlib.cli import main
from reportlib.db import init_db
from reportlib.rates.mail import SmtpTarget
from reportlib.rates.records import amendment_records, deliver, generate
from reportlib.errors import ConfigError

from .amendment_data import apply_batch


class Inbox:
    """An aiosmtpd handler that keeps every envelope it accepts."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def generated(db_url, tmp_path):
    batch = apply_batch(db_url)
    out = tmp_path / "batch"
    for customer, plan in [("C1", "P1"), ("C2", "P1")]:
        generate(db_url, customer, plan, batch, output_dir=out, stem=f"{customer}-{plan}", user="analyst")
    return db_url, f"batch-{batch}", out


def test_smtp_delivers_each_amendment_with_its_attachment_and_every_recipient(generated):
    url, period, out = generated
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        report = deliver(url, period, smtp=SmtpTarget("127.0.0.1", controller.port),
                         billing_address="billing@ext.example", sender="rates@carrier.example")
    finally:
        controller.stop()
    assert not report.failed and len(report.sent) == 3
    by_first = {tuple(e.rcpt_tos)[0]: e for e in inbox.envelopes}
    zed = by_first["a@zed.example"]
    assert zed.mail_from == "rates@carrier.example"
    assert zed.rcpt_tos == ["a@zed.example", "b@zed.example", "audit@zed.example", "am2@example.com"]
    received = message_from_bytes(zed.content, policy=policy.default)
    assert received["Bcc"] is None  # blind copies are delivered, not shown
    (attachment,) = list(received.iter_attachments())
    assert attachment.get_filename() == "C2-P1.xlsx"
    assert attachment.get_content() == (out / "C2-P1.xlsx").read_bytes()
    billing = message_from_bytes(by_first["billing@ext.example"].content, policy=policy.default)
    assert [a.get_filename() for a in billing.iter_attachments()] == ["C1-P1.billing.csv"]
    with init_db(url).connect() as conn:
        records = amendment_records(conn, period=period)
    assert set(records["email_status"]) == {"sent"} and set(records["email_attempts"]) == {1}
    assert records["email_sent_at"].notna().all()


def test_a_failed_email_is_retried_without_regenerating_and_never_sent_twice(generated, capsys):
    url, period, out = generated
    port = free_port()  # nothing listens here yet: every send fails
    xlsx_before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*.xlsx")}
    first = deliver(url, period, smtp=SmtpTarget("127.0.0.1", port, timeout=5))
    assert len(first.failed) == 2 and not first.sent and "retry with" in first.summary()
    with init_db(url).connect() as conn:
        records = amendment_records(conn, period=period)
    assert set(records["email_status"]) == {"failed"} and records["email_error"].str.contains("Refused").all()
    requested = set(records["requested_at"])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        second = deliver(url, period, smtp=SmtpTarget("127.0.0.1", port))
        third = main(["rates", "amendments", "retry-email", period, "--smtp", f"127.0.0.1:{port}", "--db", url])
    finally:
        controller.stop()
    assert len(second.sent) == 2 and not second.failed and not second.written  # the stored .eml files were sent
    assert third == 0 and "0 sent, 0 failed" in capsys.readouterr().out  # nothing is sent twice
    assert len(inbox.envelopes) == 2
    with init_db(url).connect() as conn:
        records = amendment_records(conn, period=period)
    assert set(records["email_status"]) == {"sent"} and set(records["email_attempts"]) == {2}
    assert set(records["requested_at"]) == requested  # not regenerated
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*.xlsx")} == xlsx_before


def test_smtp_option_must_be_host_and_port():
    assert SmtpTarget.parse("127.0.0.1:2525") == SmtpTarget("127.0.0.1", 2525)
    with pytest.raises(ConfigError, match="is not HOST:PORT"):
        SmtpTarget.parse("localhost")


def test_an_unaddressable_setup_still_gets_its_documents_and_sends_once_fixed(db_url, tmp_path):
    from reportlib.rates import schema as s

    batch = apply_batch(db_url)
    setup = s.customer_rp_setup
    where = (setup.c.customer_id == "C2") & (setup.c.rate_plan == "P1")
    engine = init_db(db_url)
    with engine.begin() as conn:
        conn.execute(setup.update().where(where).values(to_emails=None, add_account_manager="none"))
    made = generate(db_url, "C2", "P1", batch, output_dir=tmp_path, stem="c2", user="analyst")
    assert made.xlsx.is_file()
    report = deliver(db_url, f"batch-{batch}")
    assert report.failed == [("c2.eml", "Cannot address the amendment of customer C2 × rate plan P1: to_emails is "
                                        "empty: an amendment needs at least one TO address.")]
    assert not (tmp_path / "outbox" / "c2.eml").exists()
    with engine.begin() as conn:
        conn.execute(setup.update().where(where).values(to_emails="new@zed.example"))
    report = deliver(db_url, f"batch-{batch}")
    assert report.written == ["c2.eml"] and not report.failed
    with engine.connect() as conn:
        (record,) = amendment_records(conn, batch=batch).itertuples()
    assert (record.email_status, record.email_error) == ("written", None)
    assert json.loads(record.recipients)["to"] == ["new@zed.example"]
