"""Stored change decks and templates, shared between users: one editor at a time.

Every stored deck has an owner. A private deck is seen and edited by its owner (and anyone
on its allowed lists); a *shared* deck is seen and edited by everyone, unless allowed lists
name who may, and never by anyone on its denied lists (denied wins). An editor may also view.

Editing takes the deck's lock: a row in ``rates_deck_locks`` naming the holder, whose
primary key makes a second holder impossible — the database refuses the INSERT, in any
process on any machine. A lock never outlives its holder:

- a **command's lock** (every command that changes a deck takes one for its duration)
  belongs to its process — host, pid and the process's start time — and has a lease that the
  command renews while it works (:data:`LEASE`). On the same host a lock whose process is gone
  is free at once; from another host, once its lease has run out;
- a **session lock** (``reportlib rates deck lock``, for a spell of edits) has no process: it
  lasts :data:`SESSION` (or ``--for``), and each command its holder runs under it extends it.

A lock that is free this way is taken over by the next editor, with a note in the change
log. Anyone else gets a :class:`DeckLockedError` naming the holder, since when and where.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import DataError, UnknownEntityError
from . import data as s
from .change_deck import ChangeRow, renumber
from .verify import utcnow

__all__ = ["DeckAccessError", "DeckLockedError", "LEASE", "SESSION", "acquire_lock", "add_note", "can", "clear_deck", "create_deck",
           "current_user", "deck_info", "delete_deck", "editing", "list_decks", "lock_frame", "read_deck",
           "release_lock", "renew_lock", "save_deck", "set_access", "set_sharing", "set_statuses"]

LEASE = timedelta(seconds=60)  # a command's lock: renewed every quarter of it while the command works
SESSION = timedelta(hours=4)  # a session lock, unless `rates deck lock --for` says otherwise

KINDS = ("deck", "template")
ROLES = ("viewer", "editor")


class DeckAccessError(DataError):
    """A user may not view or edit a stored deck."""


class DeckLockedError(DeckAccessError):
    """Someone else holds the edit lock of a deck."""

    def __init__(self, deck: str, holder: str, since: datetime, where: str = ""):
        self.deck, self.holder, self.since = deck, holder, since
        super().__init__(f"Change deck {deck!r} is being edited by {holder} (since {since:%Y-%m-%d %H:%M} UTC"
                         + (f"; {where}" if where else "") + "); you can view it but not change it until they "
                         f"release it (reportlib rates deck unlock {deck}).")


def current_user(explicit: str | None = None) -> str:
    """``explicit`` (a program naming its user), else the operating system's user.

    The command line decides who acts through :func:`reportlib.ratedesk.users.acting_user`.
    """
    if explicit and explicit.strip():
        return explicit.strip()
    from .users import os_user

    return os_user()


def add_note(conn: Connection, kind: str, text: str, *, user: str, os_user: str | None = None,
             deck: str | None = None) -> None:
    """Write a note into the change log (``rates log`` shows notes beside the batches)."""
    conn.execute(s.change_notes.insert().values(at=utcnow(), kind=kind, deck=deck, user=user, os_user=os_user,
                                                text=text[:4000]))


def deck_info(conn: Connection, name: str, kind: str | None = None):
    row = conn.execute(sa.select(s.decks).where(s.decks.c.name == name)).first()
    if row is None or (kind and row.kind != kind):
        what = kind or "change deck"
        known = sorted(r[0] for r in conn.execute(sa.select(s.decks.c.name).where(
            s.decks.c.kind == (kind or "deck"))))
        raise UnknownEntityError(what if what != "deck" else "change deck", name,
                                 f"Known: {', '.join(known) or 'none'}.")
    return row


def can(conn: Connection, name: str, user: str, role: str) -> bool:
    """Whether ``user`` may act as ``role`` (viewer or editor) on deck ``name``."""
    info = deck_info(conn, name)
    if user == info.owner:
        return True
    acl = conn.execute(sa.select(s.deck_acl).where(s.deck_acl.c.deck == name)).all()
    roles = ("viewer", "editor") if role == "viewer" else ("editor",)
    denied_roles = ("viewer", "editor") if role == "editor" else ("viewer",)
    if any(a.user == user and not a.allowed and a.role in denied_roles for a in acl):
        return False
    if any(a.user == user and a.allowed and a.role in roles for a in acl):
        return True
    # an allowed list of this very role restricts it to the users on it
    return bool(info.shared) and not any(a.allowed and a.role == role for a in acl)


def _require(conn: Connection, name: str, user: str, role: str) -> None:
    if not can(conn, name, user, role):
        verb = "view" if role == "viewer" else "edit"
        raise DeckAccessError(f"User {user!r} may not {verb} change deck {name!r} (owner: "
                              f"{deck_info(conn, name).owner}); ask the owner to allow you.")


def create_deck(engine: Engine, name: str, user: str, *, kind: str = "deck", shared: bool = False) -> None:
    """Create an empty stored deck (or template) owned by ``user``."""
    if not name.strip():
        raise DataError("A change deck needs a name.")
    now = utcnow()
    try:
        with engine.begin() as conn:
            conn.execute(s.decks.insert().values(name=name, kind=kind, owner=user, shared=shared, created_at=now,
                                                 updated_at=now, updated_by=user))
    except sa.exc.IntegrityError:
        raise DataError(f"A change deck or template called {name!r} already exists.") from None


def list_decks(conn: Connection, user: str):
    """Decks and templates ``user`` may view, with row counts and lock holders."""
    from ..db import query_frame

    d, r, lk = s.decks.c, s.deck_rows.c, s.deck_locks.c
    rows = sa.select(sa.func.count()).where(r.deck == d.name).scalar_subquery()
    frame = query_frame(conn, sa.select(d.name, d.kind, d.owner, d.shared, rows.label("rows"),
                                        lk.holder.label("locked_by"), d.updated_at, d.updated_by)
                        .outerjoin(s.deck_locks, lk.deck == d.name).order_by(d.kind, d.name))
    keep = [can(conn, name, user, "viewer") for name in frame["name"]]
    return frame[keep].reset_index(drop=True)


def read_deck(conn: Connection, name: str, user: str, kind: str = "deck") -> list[ChangeRow]:
    """The rows of a stored deck or template that ``user`` may view."""
    deck_info(conn, name, kind)
    _require(conn, name, user, "viewer")
    r = s.deck_rows.c
    rows = conn.execute(sa.select(s.deck_rows).where(r.deck == name).order_by(r.row_no)).all()
    return [ChangeRow(row=x.row_no, **{k: (x._mapping[k] or "") for k in (
        "change_type", "code_deck", "area", "area_new", "codes", "rate_new", "increment_new", "rate_plans",
        "rate_plan_groups", "custom_1", "custom_2", "custom_3", "status")}, enabled=x.enabled is not False)
        for x in rows]


@dataclass(frozen=True)
class _Process:
    host: str
    pid: int
    started: float  # seconds since the epoch


@lru_cache(maxsize=None)
def _started(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _this_process() -> _Process:
    return _Process(socket.gethostname(), os.getpid(), _started(os.getpid()) or 0.0)


def _process_alive(pid: int, started: float | None) -> bool:
    """Whether process ``pid`` of this host is the one that started at ``started`` and still runs."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 0.5  # else: the pid was reused
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # exists, but we may not look at it: alive
        return True


def _lock_state(lock, now: datetime) -> str:
    """``mine`` (this process's), ``alive``, ``gone`` (its process ended), ``expired`` (its lease ran out)."""
    me = _this_process()
    expires = lock.expires_at or (lock.acquired_at + SESSION)  # locks written before leases existed
    if lock.pid is not None and lock.host == me.host:
        if lock.pid == me.pid and abs((lock.process_started or 0) - me.started) < 0.5:
            return "mine"
        return "alive" if _process_alive(lock.pid, lock.process_started) else "gone"
    return "expired" if expires <= now else "alive"


def _where(lock) -> str:
    """Where a lock is held, for messages: its process and lease, or its session."""
    if lock.pid is not None:
        lease = f", lease until {lock.expires_at:%H:%M:%S} UTC unless renewed" if lock.expires_at else ""
        return f"process {lock.pid} on {lock.host}{lease}"
    expires = lock.expires_at or (lock.acquired_at + SESSION)
    return f"session lock until {expires:%Y-%m-%d %H:%M} UTC"


def _row(lock) -> sa.ColumnElement[bool]:
    """The lock row exactly as it was read (a takeover must not win over a renewal)."""
    lk = s.deck_locks.c
    same = [lk.deck == lock.deck, lk.holder == lock.holder, lk.acquired_at == lock.acquired_at]
    same.append(lk.expires_at.is_(None) if lock.expires_at is None else lk.expires_at == lock.expires_at)
    return sa.and_(*same)


def acquire_lock(engine: Engine, name: str, user: str, *, hold: timedelta | None = None,
                 os_user: str | None = None) -> bool:
    """Take the edit lock of deck ``name`` for ``user``; False if they already held it.

    Without ``hold`` it is this process's lock (a command's: :data:`LEASE`, renewed by
    :func:`editing`); with ``hold`` a session lock of that length. A lock whose holder is gone
    (its process ended on this host, or its lease or session ran out) is taken over, with a
    note in the change log. Raises :class:`DeckLockedError` when someone else holds it.
    """
    with engine.connect() as conn:
        deck_info(conn, name)
        _require(conn, name, user, "editor")
    now = utcnow()
    me = _this_process()
    mine = dict(holder=user, acquired_at=now, renewed_at=now, os_user=os_user or user)
    if hold is None:
        mine.update(kind="command", host=me.host, pid=me.pid, process_started=me.started, expires_at=now + LEASE)
    else:
        mine.update(kind="session", host=me.host, pid=None, process_started=None, expires_at=now + hold)
    for _ in range(10):
        try:
            with engine.begin() as conn:
                conn.execute(s.deck_locks.insert().values(deck=name, **mine))
            return True
        except sa.exc.IntegrityError:
            pass
        with engine.begin() as conn:
            lock = conn.execute(sa.select(s.deck_locks).where(s.deck_locks.c.deck == name)).first()
            if lock is None:  # released between our INSERT and SELECT: try again
                continue
            state = _lock_state(lock, utcnow())
            if lock.holder == user and (state == "mine" or (lock.pid is None and state == "alive")):
                extend = now + (hold or SESSION)
                if lock.pid is None and (lock.expires_at is None or lock.expires_at < extend):
                    conn.execute(s.deck_locks.update().where(_row(lock)).values(expires_at=extend, renewed_at=now))
                return False
            if state in ("alive", "mine"):
                raise DeckLockedError(name, lock.holder, lock.acquired_at, _where(lock))
            if conn.execute(s.deck_locks.update().where(_row(lock)).values(**mine)).rowcount != 1:
                continue  # renewed or taken by someone else meanwhile: look again
            why = "its process is gone" if state == "gone" else "its lease ran out"
            add_note(conn, "lock-taken-over", f"Edit lock of {name!r} held by {lock.holder} since "
                     f"{lock.acquired_at:%Y-%m-%d %H:%M:%S} UTC ({_where(lock)}) taken over by {user}: {why}.",
                     user=user, os_user=os_user, deck=name)
            return True
    raise DeckLockedError(name, "another user", now, "the lock changed hands ten times while we looked")


def renew_lock(engine: Engine, name: str, lease: timedelta = LEASE) -> bool:
    """Extend this process's lock of ``name`` by ``lease`` from now; False when it is not ours any more."""
    me, now, lk = _this_process(), utcnow(), s.deck_locks.c
    with engine.begin() as conn:
        return conn.execute(s.deck_locks.update().where(lk.deck == name, lk.host == me.host, lk.pid == me.pid)
                            .values(renewed_at=now, expires_at=now + lease)).rowcount == 1


def release_lock(engine: Engine, name: str, user: str, *, force: bool = False) -> None:
    """Release the edit lock; only its holder may, or the deck's owner with ``force``."""
    with engine.begin() as conn:
        info = deck_info(conn, name)
        lock = conn.execute(sa.select(s.deck_locks).where(s.deck_locks.c.deck == name)).first()
        if lock is None:
            return
        if lock.holder != user and not (force and user == info.owner):
            raise DeckLockedError(name, lock.holder, lock.acquired_at, _where(lock))
        conn.execute(s.deck_locks.delete().where(s.deck_locks.c.deck == name))


class _Heartbeat(threading.Thread):
    """Renews a command's lease every quarter of it until stopped."""

    def __init__(self, engine: Engine, name: str, lease: timedelta):
        super().__init__(name=f"lease of {name}", daemon=True)
        self.engine, self.deck, self.lease = engine, name, lease
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.lease.total_seconds() / 4):
            try:
                if not renew_lock(self.engine, self.deck, self.lease):
                    print(f"warning: the edit lock of {self.deck!r} is no longer this command's", file=sys.stderr)
                    return
            except sa.exc.OperationalError:  # the database is busy (SQLite: another writer): next time
                continue


@contextmanager
def editing(engine: Engine, name: str, user: str, *, os_user: str | None = None,
            lease: timedelta = LEASE) -> Iterator[None]:
    """Hold the edit lock of ``name`` for the block, renewing its lease (or work under the user's own lock)."""
    took = acquire_lock(engine, name, user, os_user=os_user)
    heartbeat = None
    if took:
        if lease != LEASE:
            renew_lock(engine, name, lease)
        heartbeat = _Heartbeat(engine, name, lease)
        heartbeat.start()
    try:
        yield
    finally:
        if heartbeat is not None:
            heartbeat.stopped.set()
            heartbeat.join()
        if took:
            release_lock(engine, name, user)


def lock_frame(conn: Connection):
    """Every edit lock: deck, holder, since, kind, where (process and host), lease, and its state
    (``alive``, ``gone``: its process ended, ``expired``: its lease ran out; the last two are
    free for the next editor)."""
    import pandas as pd

    now = utcnow()
    rows = conn.execute(sa.select(s.deck_locks).order_by(s.deck_locks.c.deck)).all()
    return pd.DataFrame([{"deck": r.deck, "holder": r.holder, "os_user": r.os_user, "since": r.acquired_at,
                          "kind": r.kind or "command", "where": _where(r), "renewed_at": r.renewed_at,
                          "expires_at": r.expires_at or (r.acquired_at + SESSION),
                          "state": "alive" if _lock_state(r, now) == "mine" else _lock_state(r, now)} for r in rows],
                        columns=["deck", "holder", "os_user", "since", "kind", "where", "renewed_at", "expires_at",
                                 "state"])


def save_deck(engine: Engine, name: str, rows: Sequence[ChangeRow], user: str, *, kind: str = "deck",
               shared: bool = False) -> int:
    """Replace the rows of stored deck ``name`` (created for ``user`` if new), under its edit lock.

    The rows keep their numbers (an imported file's spreadsheet rows), unless two share one.
    """
    with engine.connect() as conn:
        exists = conn.execute(sa.select(s.decks.c.kind).where(s.decks.c.name == name)).scalar()
    if exists is None:
        create_deck(engine, name, user, kind=kind, shared=shared)
    elif exists != kind:
        raise DataError(f"{name!r} is a {exists}, not a {kind}; choose another name.")
    with editing(engine, name, user), engine.begin() as conn:
        lock = conn.execute(sa.select(s.deck_locks).where(s.deck_locks.c.deck == name)).first()
        if lock is None or lock.holder != user:  # released and taken by someone else meanwhile
            raise DeckLockedError(name, lock.holder if lock else "nobody", lock.acquired_at if lock else utcnow(),
                                  _where(lock) if lock else "")
        conn.execute(s.deck_rows.delete().where(s.deck_rows.c.deck == name))
        if len({r.row for r in rows}) != len(rows):  # rows put together by a program: number them afresh
            rows = renumber(rows)
        if rows:
            conn.execute(s.deck_rows.insert(), [r.record(name) for r in rows])
        conn.execute(s.decks.update().where(s.decks.c.name == name).values(updated_at=utcnow(), updated_by=user))
    return len(rows)


def set_statuses(engine: Engine, name: str, user: str, statuses: dict[int, str]) -> None:
    """Write each row's status (e.g. its verify result) into stored deck ``name``, under its lock."""
    r = s.deck_rows.c
    with editing(engine, name, user), engine.begin() as conn:
        conn.execute(s.deck_rows.update().where(r.deck == name, r.row_no == sa.bindparam("n"))
                     .values(status=sa.bindparam("st")), [{"n": n, "st": st[:400]} for n, st in statuses.items()])


def clear_deck(engine: Engine, name: str, user: str) -> tuple[int, int]:
    """Empty stored deck ``name`` and its verify table (its verifications and their edits), under its lock.

    The manual's "Clear table": the deck stays (owner, sharing, access lists), its rows go, and
    apply has nothing verified to apply until the deck is filled and verified again. Returns the
    rows and verifications removed.
    """
    with engine.connect() as conn:
        deck_info(conn, name, "deck")
    v = s.verifications.c
    with editing(engine, name, user), engine.begin() as conn:  # editing() refuses anyone but an editor
        ids = [r[0] for r in conn.execute(sa.select(v.id).where(v.deck == name))]
        if ids:
            conn.execute(s.verify_edits.delete().where(s.verify_edits.c.verification_id.in_(ids)))
            conn.execute(s.verifications.delete().where(v.id.in_(ids)))
        rows = conn.execute(s.deck_rows.delete().where(s.deck_rows.c.deck == name)).rowcount
        conn.execute(s.decks.update().where(s.decks.c.name == name).values(updated_at=utcnow(), updated_by=user))
    return rows, len(ids)


def delete_deck(engine: Engine, name: str, user: str) -> None:
    """Delete a deck or template; only its owner may, and not while someone else edits it."""
    with engine.begin() as conn:
        info = deck_info(conn, name)
        if info.owner != user:
            raise DeckAccessError(f"Only the owner ({info.owner}) may delete {name!r}.")
        lock = conn.execute(sa.select(s.deck_locks).where(s.deck_locks.c.deck == name)).first()
        if lock is not None and lock.holder != user and _lock_state(lock, utcnow()) == "alive":
            raise DeckLockedError(name, lock.holder, lock.acquired_at, _where(lock))
        for table in (s.deck_locks, s.deck_acl, s.deck_rows):
            conn.execute(table.delete().where(table.c.deck == name))
        conn.execute(s.decks.delete().where(s.decks.c.name == name))


def _owner_only(conn: Connection, name: str, owner: str) -> None:
    info = deck_info(conn, name)
    if info.owner != owner:
        raise DeckAccessError(f"Only the owner ({info.owner}) may change who can use {name!r}.")


def set_access(engine: Engine, name: str, owner: str, user: str, role: str, allowed: bool | None) -> None:
    """Put ``user`` on the allowed (True) or denied (False) ``role`` list, or off it (None).

    Only the deck's owner may change who can view or edit.
    """
    if role not in ROLES:
        raise DataError(f"Role {role!r} is not one of {', '.join(ROLES)}.")
    with engine.begin() as conn:
        _owner_only(conn, name, owner)
        a = s.deck_acl.c
        conn.execute(s.deck_acl.delete().where(a.deck == name, a.user == user, a.role == role))
        if allowed is not None:
            conn.execute(s.deck_acl.insert().values(deck=name, user=user, role=role, allowed=allowed))


def set_sharing(engine: Engine, name: str, owner: str, shared: bool) -> None:
    """Share a deck with everyone (narrowed by its lists) or make it private; owner only."""
    with engine.begin() as conn:
        _owner_only(conn, name, owner)
        conn.execute(s.decks.update().where(s.decks.c.name == name).values(shared=shared))
