"""Shared decks: one editor at a time (a lock row in the database), allowed and denied lists."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reportlib.db import engine_for
from reportlib.ratedesk import (ChangeRow, DeckAccessError, DeckLockedError, acquire_lock, can, create_deck, list_decks,
                             read_deck, release_lock, set_access, save_deck)
from reportlib.ratedesk.decks import editing

from reportlib.ratedesk.users import os_user

from .dataset import load_small

# ``python -m reportlib.cli`` would run a second copy of the module, without the command groups.
MAIN = "import sys; from reportlib.cli import main; sys.exit(main())"
ROWS = [ChangeRow(1, "Area RATE", "T", area="Alpha", rate_new="0.2", rate_plans="P1")]


def _cli(url: str, user: str, *args: str) -> subprocess.Popen:
    """``reportlib rates ARGS`` in a process of its own, acting as ``user`` (this test's OS user is an admin)."""
    env = {**os.environ, "REPORTLIB_DB": url, "REPORTLIB_RATES_ADMINS": os_user()}
    return subprocess.Popen([sys.executable, "-c", MAIN, "rates", *args, "--as-user", user], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.postgres
def test_two_processes_editing_one_shared_deck_one_gets_the_lock(pg_url, tmp_path):
    load_small(pg_url)
    engine = engine_for(pg_url)
    create_deck(engine, "q4-increase", "carol", shared=True)
    racers = {user: _cli(pg_url, user, "deck", "lock", "q4-increase") for user in ("alice", "bob")}
    outcome = {user: (p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for user, p in racers.items()}
    winners = [u for u, (rc, _, _) in outcome.items() if rc == 0]
    assert len(winners) == 1, outcome
    winner, loser = winners[0], ({"alice", "bob"} - set(winners)).pop()
    rc, _, err = outcome[loser]
    assert rc == 2 and f"Change deck 'q4-increase' is being edited by {winner}" in err

    # the loser's edit is refused with the holder's name and nothing is written
    deck_csv = tmp_path / "deck.csv"
    deck_csv.write_text("area name in code deck,rate new,rate plans\nAlpha,0.2,P1\n", encoding="utf-8")
    edit = _cli(pg_url, loser, "import", str(deck_csv), "--code-deck", "T", "--deck", "q4-increase")
    assert edit.wait(timeout=120) == 2
    assert f"being edited by {winner}" in edit.stderr.read()
    with engine.connect() as conn:
        assert read_deck(conn, "q4-increase", loser) == []

    # the winner edits; after the release the other may edit too
    assert _cli(pg_url, winner, "import", str(deck_csv), "--code-deck", "T", "--deck", "q4-increase").wait(120) == 0
    assert _cli(pg_url, winner, "deck", "unlock", "q4-increase").wait(timeout=120) == 0
    again = _cli(pg_url, loser, "modify", "add", "0.01", "--deck", "q4-increase")
    assert again.wait(timeout=120) == 0, again.stderr.read()
    with engine.connect() as conn:
        assert [r.rate_new for r in read_deck(conn, "q4-increase", winner)] == ["0.21"]


def test_lock_holder_is_named_and_only_the_holder_or_owner_releases(small_sqlite):
    engine = engine_for(small_sqlite)
    create_deck(engine, "shared", "carol", shared=True)
    assert acquire_lock(engine, "shared", "alice") is True
    assert acquire_lock(engine, "shared", "alice") is False  # already hers
    with pytest.raises(DeckLockedError, match="being edited by alice"):
        save_deck(engine, "shared", ROWS, "bob")
    with pytest.raises(DeckLockedError):
        release_lock(engine, "shared", "bob")
    with engine.connect() as conn:
        frame = list_decks(conn, "bob")
        assert frame.loc[frame["name"] == "shared", "locked_by"].item() == "alice"
    save_deck(engine, "shared", ROWS, "alice")  # keeps her lock
    release_lock(engine, "shared", "carol", force=True)
    save_deck(engine, "shared", ROWS, "bob")


def test_allowed_and_denied_lists(small_sqlite):
    engine = engine_for(small_sqlite)
    save_deck(engine, "private", ROWS, "carol")
    create_deck(engine, "team", "carol", shared=True)
    with engine.connect() as conn:
        assert can(conn, "private", "carol", "editor")
        assert not can(conn, "private", "dave", "viewer")
        assert can(conn, "team", "dave", "editor")
    set_access(engine, "private", "carol", "dave", "viewer", True)
    set_access(engine, "team", "carol", "erin", "editor", True)  # only erin may edit the team deck now
    set_access(engine, "team", "carol", "mallory", "viewer", False)
    with engine.connect() as conn:
        assert can(conn, "private", "dave", "viewer") and not can(conn, "private", "dave", "editor")
        assert can(conn, "team", "erin", "editor") and not can(conn, "team", "dave", "editor")
        assert can(conn, "team", "dave", "viewer")
        assert not can(conn, "team", "mallory", "viewer") and not can(conn, "team", "mallory", "editor")
        with pytest.raises(DeckAccessError, match="'mallory' may not view"):
            read_deck(conn, "team", "mallory")
        assert "private" not in set(list_decks(conn, "mallory")["name"])
    with pytest.raises(DeckAccessError, match="may not edit"):
        save_deck(engine, "private", ROWS, "dave")
    with pytest.raises(DeckAccessError, match="Only the owner"):
        set_access(engine, "team", "dave", "dave", "editor", True)


def test_replacing_the_domain_keeps_stored_decks_but_not_batches(small_sqlite):
    import sqlalchemy as sa

    from reportlib.ratedesk import VerifyOptions, apply_deck
    from reportlib.ratedesk import data as s

    engine = engine_for(small_sqlite)
    save_deck(engine, "work", ROWS, "alice")
    apply_deck(engine, ROWS, VerifyOptions(), user="alice", deck_name="work")
    with engine.connect() as conn:
        assert read_deck(conn, "work", "alice")[0].status == "applied in batch 1"
    load_small(small_sqlite)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.change_log)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(s.change_batches)).scalar() == 0
        assert len(read_deck(conn, "work", "alice")) == 1


HOLDER = """
import sys, time
from reportlib.db import engine_for
from reportlib.ratedesk.decks import editing
engine = engine_for(sys.argv[1])
with editing(engine, "q4", "bob"), editing(engine, "q5", "bob"):
    print("locked", flush=True)
    time.sleep(600)
"""


def _lock(url: str, deck: str = "q4"):
    import sqlalchemy as sa

    from reportlib.ratedesk import data as s

    with engine_for(url).connect() as conn:
        return conn.execute(sa.select(s.deck_locks).where(s.deck_locks.c.deck == deck)).first()


def test_a_lock_whose_process_was_killed_is_taken_over_with_a_note_in_the_change_log(small_db, capsys):
    import signal

    engine = engine_for(small_db)
    for deck in ("q4", "q5"):
        create_deck(engine, deck, "carol", shared=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, small_db], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DeckLockedError, match=rf"being edited by bob \(since .* process {holder.pid} on "):
            acquire_lock(engine, "q4", "alice")
    finally:
        holder.send_signal(signal.SIGKILL)  # as a killed `rates apply`: no chance to release anything
        holder.wait(timeout=60)
    assert _lock(small_db).holder == "bob"  # the row outlived its process...
    assert acquire_lock(engine, "q4", "alice") is True  # ...but not its holder

    from reportlib.cli import main
    from reportlib.ratedesk.metrics import change_notes_frame
    from reportlib.ratedesk.decks import lock_frame

    with engine.connect() as conn:
        notes = change_notes_frame(conn)
        locks = lock_frame(conn)
    assert notes["kind"].tolist() == ["lock-taken-over"] and notes["user"].tolist() == ["alice"]
    assert "held by bob since" in notes["text"][0] and f"process {holder.pid} on" in notes["text"][0]
    assert notes["text"][0].endswith("taken over by alice: its process is gone.")
    assert list(locks[["deck", "holder", "state"]].itertuples(index=False, name=None)) == [
        ("q4", "alice", "alive"), ("q5", "bob", "gone")]
    assert main(["rates", "locks", "--db", small_db]) == 0
    out = capsys.readouterr().out
    assert "q4" in out and "held by alice" in out and "[alive]" in out
    assert "held by bob" in out and "[gone]  (free: the next editor takes it over)" in out


def test_a_lock_from_another_host_or_an_ended_session_is_free_once_its_time_ran_out(small_db):
    from datetime import datetime, timedelta, timezone

    from reportlib.ratedesk import data as s

    engine = engine_for(small_db)
    create_deck(engine, "q4", "carol", shared=True)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with engine.begin() as conn:  # a lock row as written before locks had leases, five hours ago
        conn.execute(s.deck_locks.insert().values(deck="q4", holder="bob", acquired_at=now - timedelta(hours=5)))
    assert acquire_lock(engine, "q4", "alice") is True
    release_lock(engine, "q4", "alice")

    with engine.begin() as conn:
        conn.execute(s.deck_locks.insert().values(deck="q4", holder="bob", acquired_at=now, kind="command",
                                                  host="elsewhere.example", pid=4242, process_started=1.0,
                                                  renewed_at=now, expires_at=now + timedelta(minutes=1)))
    with pytest.raises(DeckLockedError, match="process 4242 on elsewhere.example, lease until"):
        acquire_lock(engine, "q4", "alice")
    with engine.begin() as conn:
        conn.execute(s.deck_locks.update().values(expires_at=now - timedelta(seconds=1)))
    assert acquire_lock(engine, "q4", "alice") is True
    release_lock(engine, "q4", "alice")

    acquire_lock(engine, "q4", "bob", hold=timedelta(hours=1))  # a session lock: no process
    with pytest.raises(DeckLockedError, match="session lock until"):
        acquire_lock(engine, "q4", "alice")
    assert acquire_lock(engine, "q4", "bob") is False  # bob's commands work under it
    with engine.begin() as conn:
        conn.execute(s.deck_locks.update().values(expires_at=now - timedelta(seconds=1)))
    assert acquire_lock(engine, "q4", "alice") is True


def test_a_command_renews_its_lease_while_it_works_and_releases_it_at_the_end(small_db):
    import time
    from datetime import timedelta

    engine = engine_for(small_db)
    create_deck(engine, "q4", "carol", shared=True)
    with editing(engine, "q4", "bob", lease=timedelta(seconds=0.4)):
        first = _lock(small_db).expires_at
        deadline = time.monotonic() + 60
        while _lock(small_db).expires_at == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _lock(small_db).expires_at > first
    assert _lock(small_db) is None


def test_a_database_made_before_leases_gains_the_new_columns_and_keeps_its_locks(db_url):
    from datetime import datetime

    import sqlalchemy as sa

    from reportlib.db import init_db

    engine = engine_for(db_url)
    with engine.begin() as conn:  # the lock table as it was, with a lock in it
        conn.execute(sa.text("DROP TABLE rates_deck_locks"))
        conn.execute(sa.text("CREATE TABLE rates_deck_locks (deck VARCHAR(200) PRIMARY KEY, "
                             "holder VARCHAR(200) NOT NULL, acquired_at TIMESTAMP NOT NULL)"))
    create_deck(engine, "old", "carol", shared=True)
    old_locks = sa.Table("rates_deck_locks", sa.MetaData(), sa.Column("deck", sa.String(200), primary_key=True),
                         sa.Column("holder", sa.String(200)), sa.Column("acquired_at", sa.DateTime))
    with engine.begin() as conn:  # written as the code before wrote it
        conn.execute(old_locks.insert().values(deck="old", holder="bob", acquired_at=datetime(2026, 11, 30, 8)))
    init_db(db_url)
    init_db(db_url)  # a second time adds nothing
    columns = {c["name"] for c in sa.inspect(engine).get_columns("rates_deck_locks")}
    assert {"kind", "host", "pid", "process_started", "renewed_at", "expires_at", "os_user"} <= columns
    assert acquire_lock(engine, "old", "alice") is True  # the old row (no lease, a day old) has expired
