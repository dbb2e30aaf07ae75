"""Recording and sending at once (``send.deliver``): messages go out while later ones are still
being composed and recorded, never one that is not recorded, each accepted once, whatever
fails or stops on the way; real aiosmtpd on 127.0.0.1, the delivery log in SQLite."""

from __future__ import annotations

import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from reportlib.db import init_db
from reportlib.delivery import delivery_frame
from reportlib.delivery.log import deliveries
from reportlib.delivery.mime import Attachments
from reportlib.delivery.send import _CHUNK, _QUEUED, Outgoing, compose, deliver
from reportlib.delivery.smtp import Mailer
from reportlib.families import get_family
from reportlib.manifest import SUFFIX, read_manifest

from ..smtp_server import Inbox, killed_while_held

pytestmark = pytest.mark.kernel


def outgoing(world, n: int, *, attach: bool = False, fail_at: int | None = None):
    """``n`` messages made from the world's statement packs, each to an address of its own
    (``e00007@x.example``) and a shared archive; ``fail_at``: composing that one fails."""
    family = get_family("statement")
    manifests = [read_manifest(p) for p in sorted(world.statements.glob(f"*{SUFFIX}"))]
    files = Attachments()
    for i in range(n):
        if i == fail_at:
            raise RuntimeError(f"composing message {i} failed")
        entity = f"E{i:05d}"
        recipients = {"to": [f"{entity.lower()}@x.example"], "cc": [], "bcc": ["archive@carrier.example"]}
        message = compose(family, world.statements, manifests[i % len(manifests)], recipients,
                          "reports@reportlib.example", max_bytes=10 * 1_048_576 if attach else 0,
                          catalogue="index.html", files=files)
        yield Outgoing("2026-10", entity, f"{entity}.eml", message, recipients,
                       world.statements / "outbox" / f"{entity}.eml")


def accepted(inbox: Inbox) -> dict[str, int]:
    """How many times each message's own address was accepted."""
    counts: dict[str, int] = {}
    for envelope in inbox.envelopes:
        for address in envelope.rcpt_tos:
            if address != "archive@carrier.example":
                counts[address] = counts.get(address, 0) + 1
    return counts


def recorded(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar_one()


def test_messages_go_out_while_later_ones_are_recorded_and_the_queue_between_is_bounded(world, smtp_server):
    n = 2 * (1 + _QUEUED + _CHUNK)
    inbox = Inbox(hold="e00000@x.example")  # the server keeps the first message at its first address
    smtp = smtp_server(inbox)
    engine = init_db(world.url)
    done: dict[str, object] = {}

    def run() -> None:
        with Mailer(smtp) as mailer:
            done["results"] = deliver(engine, "statement", outgoing(world, n), mailer, user="test")

    sending = threading.Thread(target=run)
    sending.start()
    try:
        assert inbox.holding.wait(timeout=120), "the first message never reached the server"
        # While the first message is held, recording goes on only as far as the queue allows:
        # never to the last message (before, every message was recorded before the first went out).
        deadline = time.monotonic() + 3
        while (count := recorded(engine)) < n and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        inbox.release.set()
        sending.join(timeout=300)
    assert 1 <= count <= 1 + _QUEUED + _CHUNK < n
    results = done["results"]
    assert not results.failed and len(results.sent) == n  # type: ignore[union-attr]
    assert accepted(inbox) == {f"e{i:05d}@x.example": 1 for i in range(n)}
    ids = [message_from_bytes(e.content, policy=policy.default)["Message-ID"] for e in inbox.envelopes]
    assert len(set(ids)) == n
    with engine.connect() as conn:
        log = delivery_frame(conn, "statement")
    assert len(log) == 2 * n and set(log["status"]) == {"sent"} and set(log["attempts"]) == {1}


def test_a_dropped_connection_while_sending_and_recording_at_once_sends_each_message_once(world, smtp_server):
    n = 3 * _CHUNK
    inbox = Inbox(drop_data_once=True)
    engine = init_db(world.url)
    with Mailer(smtp_server(inbox)) as mailer:
        results = deliver(engine, "statement", outgoing(world, n, attach=True), mailer, user="test")
    assert not results.failed and len(results.sent) == n
    assert accepted(inbox) == {f"e{i:05d}@x.example": 1 for i in range(n)}
    with engine.connect() as conn:
        log = delivery_frame(conn, "statement")
    assert set(log["status"]) == {"sent"}
    assert dict(zip(log["entity"], log["attempts"])) == {f"E{i:05d}": 2 if i == 0 else 1 for i in range(n)}
    # What went out is the .eml as recorded, attachments and all.
    first = message_from_bytes(inbox.envelopes[0].content, policy=policy.default)
    eml = Path(log["eml_file"].iloc[0]).read_bytes()
    assert [a.get_content() for a in first.iter_attachments()] == [
        a.get_content() for a in message_from_bytes(eml, policy=policy.default).iter_attachments()]
    assert [a.get_filename() for a in first.iter_attachments()] == ["p1-alpha-partner.pdf", "p1-alpha-partner.xlsx"]


def test_an_error_while_composing_stops_the_send_and_the_next_send_sends_the_rest_once(world, smtp_server):
    n = 4 * _CHUNK
    inbox = Inbox()
    smtp = smtp_server(inbox)
    engine = init_db(world.url)
    with Mailer(smtp) as mailer, pytest.raises(RuntimeError, match="composing message 40 failed"):
        deliver(engine, "statement", outgoing(world, n, fail_at=40), mailer, user="test")
    first = accepted(inbox)
    assert set(first.values()) <= {1} and len(first) <= 40
    with engine.connect() as conn:
        log = delivery_frame(conn, "statement")
    assert set(log["entity"]) <= {f"E{i:05d}" for i in range(40)}
    sent = {f"{e.lower()}@x.example" for e, a, s in zip(log["entity"], log["address"], log["status"])
            if s == "sent" and a != "archive@carrier.example"}
    assert sent == set(first)  # nothing accepted that the log does not say, nothing said that was not
    with Mailer(smtp) as mailer:
        again = deliver(engine, "statement", outgoing(world, n), mailer, user="test")
    assert not again.failed
    assert accepted(inbox) == {f"e{i:05d}@x.example": 1 for i in range(n)}
    with engine.connect() as conn:
        assert set(delivery_frame(conn, "statement")["status"]) == {"sent"}


KILLED = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from reportlib.db import init_db
from reportlib.delivery.send import deliver
from reportlib.delivery.smtp import Mailer, SmtpTarget
from tests.delivery.conftest import World
from tests.delivery.test_pipeline import outgoing
world = World(sys.argv[2], Path(sys.argv[3]))
with Mailer(SmtpTarget("127.0.0.1", int(sys.argv[4]), timeout=30)) as mailer:
    deliver(init_db(world.url), "statement", outgoing(world, int(sys.argv[5]), attach=True), mailer, user="test")
"""


def test_a_send_killed_while_recording_and_sending_is_resumed_and_each_message_accepted_once(world, smtp_server):
    n = 3 * _CHUNK
    inbox = Inbox(hold="e00020@x.example")  # the killed send is inside message 20 when it dies
    smtp = smtp_server(inbox)
    root = Path(__file__).resolve().parents[2]
    killed_while_held(inbox, ["-c", KILLED, str(root), world.url, str(world.out), str(smtp.port), str(n)])
    assert accepted(inbox) == {f"e{i:05d}@x.example": 1 for i in range(20)}
    engine = init_db(world.url)
    with Mailer(smtp) as mailer:
        results = deliver(engine, "statement", outgoing(world, n, attach=True), mailer, user="test")
    assert not results.failed
    assert accepted(inbox) == {f"e{i:05d}@x.example": 1 for i in range(n)}
    with engine.connect() as conn:
        log = delivery_frame(conn, "statement")
    assert len(log) == 2 * n and set(log["status"]) == {"sent"}
    # Message 20 was recorded before it went out: the resumed send sent the .eml written then.
    assert (world.statements / "outbox" / "E00020.eml").is_file()
    assert not (world.statements / "outbox" / "E00020.2.eml").exists()
