"""The delivery log's batches: many messages recorded in few commits, nothing half-recorded."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
import sqlalchemy as sa

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
    log.prepare(batch, family="statement", period="2026-10", entity=f"E{n}", message=message(n),
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


def test_a_batch_has_its_eml_files_and_their_folder_on_disk_before_it_commits(tmp_path, monkeypatch):
    engine = init_db(f"sqlite:///{tmp_path / 'log.sqlite'}")
    outbox = tmp_path / "outbox"
    synced, at_commit = [], []
    fsync = log._fsync
    monkeypatch.setattr(log, "_fsync", lambda path: (fsync(path), synced.append(path)))  # the real fsync, watched
    sa.event.listen(engine, "commit", lambda conn: at_commit.append(set(synced)))
    with log.preparing(engine, size=2) as batch:
        for n in range(3):
            record(batch, outbox, n)
    assert len(at_commit) == 2  # two commits: after two messages, then the third
    assert at_commit[0] >= {outbox / "e0.eml", outbox / "e1.eml", outbox} and outbox / "e2.eml" not in at_commit[0]
    assert at_commit[1] >= {outbox / "e2.eml", outbox}


def test_sqlite_commits_in_wal_mode_with_synchronous_normal(tmp_path):
    engine = init_db(f"sqlite:///{tmp_path / 'log.sqlite'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL: a sync per checkpoint, not per commit
