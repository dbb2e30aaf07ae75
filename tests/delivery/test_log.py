"""The delivery log's batches: many messages recorded in few commits, nothing half-recorded."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from reportlib.db import init_db
from reportlib.delivery import log


def message(n: int) -> EmailMessage:
    made = EmailMessage()
    made["From"] = "reports@reportlib.example"
    made["To"] = f"finance@e{n}.example"
    made["Subject"] = f"Statement {n}"
    made["Message-ID"] = f"<m{n}@reportlib.example>"
    made.set_content(f"Closing balance {n}.00")
    return made


def record(batch: log.preparing, outbox, n: int) -> None:
    log.prepare(batch.connection(), family="statement", period="2026-10", entity=f"E{n}", message=message(n),
                recipients={"to": [f"finance@e{n}.example"]}, eml=outbox / f"e{n}.eml")
    batch.done()


def test_a_batch_commits_every_size_messages_and_an_error_keeps_only_what_was_committed(tmp_path):
    engine = init_db(f"sqlite:///{tmp_path / 'log.sqlite'}")
    outbox = tmp_path / "outbox"
    with pytest.raises(RuntimeError):
        with log.preparing(engine, size=2) as batch:
            for n in range(3):
                record(batch, outbox, n)
            assert set(log.open_by_entity(engine, "statement", "2026-10")) == {"E0", "E1"}  # the first two, committed
            raise RuntimeError("killed before the third was committed")
    assert set(log.open_by_entity(engine, "statement", "2026-10")) == {"E0", "E1"}
    # Recorded again, the third is a new delivery and the first two are still the ones waiting.
    with log.preparing(engine, size=2) as batch:
        for n in range(3):
            record(batch, outbox, n)
    waiting = log.open_by_entity(engine, "statement", "2026-10")
    assert sorted(waiting) == ["E0", "E1", "E2"] and all(len(ids) == 1 for ids in waiting.values())
    assert sorted(p.name for p in outbox.iterdir()) == ["e0.eml", "e1.eml", "e2.eml"]
