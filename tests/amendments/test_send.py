"""Amendment e-mails through a real SMTP server on loopback (aiosmtpd), and the retry of a failure.

The server can refuse an address for good (550 in RCPT), refuse it once for now (451), drop
the connection at DATA once, and hold an address at RCPT until the test lets it go.
"""

from __future__ import annotations

import json
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from reportlib.cli import main
from reportlib.db import init_db
from reportlib.amendments.email import SmtpTarget
from reportlib.amendments.data import amendment_records
from reportlib.amendments.send import deliver
from reportlib.errors import ConfigError

from ..smtp_server import CLI, Inbox, SmtpServers, free_port, killed_while_held
from .dataset import apply_batch, generate


@pytest.fixture
def server():
    """Start an SMTP server on 127.0.0.1 with the given handler; stopped after the test."""
    servers = SmtpServers()
    yield servers.start
    servers.stop()


def rcpts(inbox: Inbox) -> list[list[str]]:
    return sorted(list(e.rcpt_tos) for e in inbox.envelopes)


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
        third = main(["amendments", "retry-email", period, "--smtp", f"127.0.0.1:{port}", "--db", url])
    finally:
        controller.stop()
    assert len(second.sent) == 2 and not second.failed and not second.written  # the stored .eml files were sent
    assert third == 0 and "0 sent, 0 failed" in capsys.readouterr().out  # nothing is sent twice
    assert len(inbox.envelopes) == 2
    with init_db(url).connect() as conn:
        records = amendment_records(conn, period=period)
    # three tries (a refused connection is retried with a short back-off), then one that went through
    assert set(records["email_status"]) == {"sent"} and set(records["email_attempts"]) == {4}
    assert set(records["requested_at"]) == requested  # not regenerated
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*.xlsx")} == xlsx_before


def test_smtp_option_must_be_host_and_port():
    assert SmtpTarget.parse("127.0.0.1:2525") == SmtpTarget("127.0.0.1", 2525)
    with pytest.raises(ConfigError, match="is not HOST:PORT"):
        SmtpTarget.parse("localhost")


def test_an_unaddressable_setup_still_gets_its_documents_and_sends_once_fixed(db_url, tmp_path):
    from reportlib.ratedesk import data as s

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
    assert "nothing sent (no --smtp)" in report.summary() and "1 message(s) wait in the outbox" in report.summary()
    again = deliver(db_url, f"batch-{batch}")  # not sent yet: still waiting, not "0 written" and silence
    assert not again.written and again.waiting == ["c2.eml"]
    assert "1 written before and still waiting there" in again.summary()
    with engine.connect() as conn:
        (record,) = amendment_records(conn, batch=batch).itertuples()
    assert (record.email_status, record.email_error) == ("written", None)
    assert json.loads(record.recipients)["to"] == ["new@zed.example"]


ZED = ["a@zed.example", "b@zed.example", "audit@zed.example", "am2@example.com"]  # C2 × P1: to, to, bcc, bcc


def test_a_refused_address_is_failed_with_the_servers_words_and_the_retry_sends_to_it_alone(generated, server,
                                                                                          capsys):
    url, period, out = generated
    inbox = Inbox(refuse={"b@zed.example": "550 5.1.1 <b@zed.example>: Recipient address rejected: User unknown"})
    smtp = server(inbox)
    report = deliver(url, period, smtp=smtp, billing_address="billing@ext.example")
    assert report.failed == [("C2-P1.eml", "b@zed.example: 550 5.1.1 <b@zed.example>: Recipient address rejected: "
                                           "User unknown")]
    assert "retry with: reportlib amendments send batch-1" in report.summary()
    assert ["a@zed.example", "audit@zed.example", "am2@example.com"] in rcpts(inbox)  # the others have it
    from reportlib.delivery import delivery_frame

    with init_db(url).connect() as conn:
        record = amendment_records(conn, period=period, customer="C2").iloc[0]
        log = delivery_frame(conn, "amendment", period=period, entity="C2 × P1")
    assert record["email_status"] == "failed" and "b@zed.example: 550 5.1.1" in record["email_error"]
    assert dict(zip(log["address"], log["status"])) == {"a@zed.example": "sent", "b@zed.example": "failed",
                                                        "audit@zed.example": "sent", "am2@example.com": "sent"}
    assert log.set_index("address").loc["b@zed.example", "last_error"].startswith("550 5.1.1")
    capsys.readouterr()
    assert main(["amendments", "deliveries", period, "--customer", "C2", "--db", url]) == 0
    shown = [line for line in capsys.readouterr().out.splitlines() if "b@zed.example" in line]
    assert len(shown) == 1 and "failed attempts 1  550 5.1.1 <b@zed.example>" in shown[0]

    del inbox.refuse["b@zed.example"]  # the mailbox exists now
    before = len(inbox.envelopes)
    assert main(["amendments", "send", period, "--smtp", str(smtp), "--db", url,
                 "--billing-address", "billing@ext.example"]) == 0
    assert "1 sent, 0 failed" in capsys.readouterr().out
    assert [list(e.rcpt_tos) for e in inbox.envelopes[before:]] == [["b@zed.example"]]  # never again to the others
    with init_db(url).connect() as conn:
        record = amendment_records(conn, period=period, customer="C2").iloc[0]
    assert (record["email_status"], record["email_error"]) == ("sent", None)


def test_a_temporary_refusal_and_a_dropped_connection_are_retried_at_once(generated, server):
    url, period, _ = generated
    inbox = Inbox(busy_once={"x@example.com"}, drop_data_once=True)
    report = deliver(url, period, smtp=server(inbox), billing_address="billing@ext.example")
    assert not report.failed and len(report.sent) == 3
    assert rcpts(inbox) == sorted([["x@example.com", "am@example.com"], ZED, ["billing@ext.example"]])
    from reportlib.delivery import delivery_frame

    with init_db(url).connect() as conn:
        log = delivery_frame(conn, "amendment", period=period)
        records = amendment_records(conn, period=period)
    assert set(log["status"]) == {"sent"} and set(records["email_status"]) == {"sent"}
    attempts = dict(zip(log["address"], log["attempts"]))
    assert attempts["x@example.com"] == 2 and attempts["am@example.com"] == 2  # dropped at DATA, then busy


def test_a_send_killed_halfway_is_resumed_and_every_message_is_accepted_once(generated, server):
    url, period, _ = generated
    inbox = Inbox(hold="a@zed.example")
    smtp = server(inbox)
    killed_while_held(inbox, ["-c", CLI, "amendments", "send", period, "--smtp", str(smtp), "--db", url,
                              "--billing-address", "billing@ext.example"], timeout=120)
    assert rcpts(inbox) == [["x@example.com", "am@example.com"]]  # the first message went out before the kill
    report = deliver(url, period, smtp=smtp, billing_address="billing@ext.example")
    assert not report.failed and not report.written  # the outbox and the log were written before sending
    assert rcpts(inbox) == sorted([["x@example.com", "am@example.com"], ZED, ["billing@ext.example"]])


def test_generating_again_does_not_send_again_and_changed_content_says_what_it_replaces(generated, server):
    import sqlalchemy as sa

    from reportlib.ratedesk import data as s

    url, period, out = generated
    inbox = Inbox()
    smtp = server(inbox)
    deliver(url, period, smtp=smtp, billing_address="billing@ext.example")
    assert len(inbox.envelopes) == 3
    first_c1 = message_from_bytes(next(e for e in inbox.envelopes if "x@example.com" in e.rcpt_tos).content,
                                  policy=policy.default)

    batch = int(period.split("-")[1])
    for customer in ("C1", "C2"):  # what a forced regeneration does: the notebook generates again
        generate(url, customer, "P1", batch, output_dir=out, stem=f"{customer}-P1", user="analyst")
    with init_db(url).connect() as conn:
        assert set(amendment_records(conn, period=period)["email_status"]) == {"pending"}
    again = deliver(url, period, smtp=smtp, billing_address="billing@ext.example")
    assert len(inbox.envelopes) == 3 and not again.sent and not again.written
    assert sorted(again.delivered) == ["C1-P1.eml", "C2-P1.eml", "billing-batch-1.eml"]
    with init_db(url).connect() as conn:
        assert set(amendment_records(conn, period=period)["email_status"]) == {"sent"}

    # changed content: C1's amendment now uses another template; it is a new delivery, which says so
    setup = s.customer_rp_setup.c
    with init_db(url).begin() as conn:
        conn.execute(s.customer_rp_setup.update().where(setup.customer_id == "C1", setup.rate_plan == "P1")
                     .values(amendment_template="compact"))
    generate(url, "C1", "P1", batch, output_dir=out, stem="C1-P1", user="analyst")
    changed = deliver(url, period, smtp=smtp, billing_address="billing@ext.example")
    assert changed.written == ["C1-P1.2.eml"] and changed.sent == ["C1-P1.eml"]
    assert len(inbox.envelopes) == 4 and inbox.envelopes[-1].rcpt_tos == ["x@example.com", "am@example.com"]
    replacement = message_from_bytes(inbox.envelopes[-1].content, policy=policy.default)
    assert replacement["Supersedes"].strip() == first_c1["Message-ID"] != replacement["Message-ID"]
    assert "This message replaces the one sent on" in replacement.get_body(("plain",)).get_content()
    assert (out / "outbox" / "C1-P1.eml").is_file()  # the message sent first is kept

    # a re-send only when asked, and recorded with who asked
    assert main(["amendments", "send", period, "--smtp", str(smtp), "--db", url, "--customer", "C2",
                 "--resend"]) == 0
    assert len(inbox.envelopes) == 5 and inbox.envelopes[-1].rcpt_tos == ZED
    from reportlib.delivery import delivery_frame

    with init_db(url).connect() as conn:
        log = delivery_frame(conn, "amendment", period=period)
        reasons = conn.execute(sa.text("SELECT entity, reason, requested_by FROM delivery_log ORDER BY id")).all()
    assert [(r.entity, r.reason) for r in reasons] == [("C1 × P1", "first"), ("C2 × P1", "first"),
                                                      ("billing", "first"), ("C1 × P1", "changed"),
                                                      ("C2 × P1", "resend")]
    assert reasons[-1].requested_by  # the operating system's user
    assert len(log) == 2 + 4 + 1 + 2 + 4 and set(log["status"]) == {"sent"}
