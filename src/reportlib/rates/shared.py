"""Stored change decks and templates, shared between users: one editor at a time.

Every stored deck has an owner. A private deck is seen and edited by its owner (and anyone
on its allowed lists); a *shared* deck is seen and edited by everyone, unless allowed lists
name who may, and never by anyone on its denied lists (denied wins). An editor may also view.

Editing takes the deck's lock: a row in ``rates_deck_locks`` naming the holder, whose
primary key makes a second holder impossible — the database refuses the INSERT, in any
process on any machine. A command that changes a deck takes the lock for its duration (or
uses the one its user took with ``reportlib rates deck lock``); anyone else gets a
:class:`DeckLockedError` naming the holder.
"""

from __future__ import annotations

import getpass
import os
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import DataError, UnknownEntityError
from . import schema as s
from .deck import ChangeRow
from .verify import utcnow

__all__ = ["DeckAccessError", "DeckLockedError", "acquire_lock", "can", "create_deck", "current_user", "delete_deck",
           "deck_info", "editing", "list_decks", "read_deck", "release_lock", "set_access", "set_sharing", "set_statuses", "write_deck"]

KINDS = ("deck", "template")
ROLES = ("viewer", "editor")


class DeckAccessError(DataError):
    """A user may not view or edit a stored deck."""


class DeckLockedError(DeckAccessError):
    """Someone else holds the edit lock of a deck."""

    def __init__(self, deck: str, holder: str, since: datetime):
        self.deck, self.holder, self.since = deck, holder, since
        super().__init__(f"Change deck {deck!r} is being edited by {holder} (since {since:%Y-%m-%d %H:%M} UTC); "
                         f"you can view it but not change it until they release it "
                         f"(reportlib rates deck unlock {deck}).")


def current_user(explicit: str | None = None) -> str:
    """``explicit``, else ``REPORTLIB_USER``, else ``USER``, else the login name."""
    user = explicit or os.environ.get("REPORTLIB_USER") or os.environ.get("USER")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = ""
    if not user.strip():
        raise DeckAccessError("No user name: pass --user NAME or set REPORTLIB_USER.")
    return user.strip()


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
        "rate_plan_groups", "custom_1", "custom_2", "custom_3", "status")}) for x in rows]


def acquire_lock(engine: Engine, name: str, user: str) -> bool:
    """Take the edit lock of deck ``name`` for ``user``; False if they already held it.

    Raises :class:`DeckLockedError` when another user holds it.
    """
    with engine.connect() as conn:
        deck_info(conn, name)
        _require(conn, name, user, "editor")
    try:
        with engine.begin() as conn:
            conn.execute(s.deck_locks.insert().values(deck=name, holder=user, acquired_at=utcnow()))
        return True
    except sa.exc.IntegrityError:
        with engine.connect() as conn:
            lock = conn.execute(sa.select(s.deck_locks).where(s.deck_locks.c.deck == name)).first()
        if lock is None:  # released between our INSERT and SELECT: try once more
            return acquire_lock(engine, name, user)
        if lock.holder == user:
            return False
        raise DeckLockedError(name, lock.holder, lock.acquired_at) from None


def release_lock(engine: Engine, name: str, user: str, *, force: bool = False) -> None:
    """Release the edit lock; only its holder may, or the deck's owner with ``force``."""
    with engine.begin() as conn:
        info = deck_info(conn, name)
        lock = conn.execute(sa.select(s.deck_locks).where(s.deck_locks.c.deck == name)).first()
        if lock is None:
            return
        if lock.holder != user and not (force and user == info.owner):
            raise DeckLockedError(name, lock.holder, lock.acquired_at)
        conn.execute(s.deck_locks.delete().where(s.deck_locks.c.deck == name))


@contextmanager
def editing(engine: Engine, name: str, user: str) -> Iterator[None]:
    """Hold the edit lock of ``name`` for the block (keeping a lock the user already held)."""
    took = acquire_lock(engine, name, user)
    try:
        yield
    finally:
        if took:
            release_lock(engine, name, user)


def write_deck(engine: Engine, name: str, rows: Sequence[ChangeRow], user: str, *, kind: str = "deck",
               shared: bool = False) -> int:
    """Replace the rows of stored deck ``name`` (created for ``user`` if new), under its edit lock."""
    with engine.connect() as conn:
        exists = conn.execute(sa.select(s.decks.c.kind).where(s.decks.c.name == name)).scalar()
    if exists is None:
        create_deck(engine, name, user, kind=kind, shared=shared)
    elif exists != kind:
        raise DataError(f"{name!r} is a {exists}, not a {kind}; choose another name.")
    with editing(engine, name, user), engine.begin() as conn:
        lock = conn.execute(sa.select(s.deck_locks).where(s.deck_locks.c.deck == name)).first()
        if lock is None or lock.holder != user:  # released and taken by someone else meanwhile
            raise DeckLockedError(name, lock.holder if lock else "nobody", lock.acquired_at if lock else utcnow())
        conn.execute(s.deck_rows.delete().where(s.deck_rows.c.deck == name))
        if rows:
            conn.execute(s.deck_rows.insert(), [r.record(name) | {"row_no": n}
                                                for n, r in enumerate(rows, start=1)])
        conn.execute(s.decks.update().where(s.decks.c.name == name).values(updated_at=utcnow(), updated_by=user))
    return len(rows)


def set_statuses(engine: Engine, name: str, user: str, statuses: dict[int, str]) -> None:
    """Write each row's status (e.g. its verify result) into stored deck ``name``, under its lock."""
    r = s.deck_rows.c
    with editing(engine, name, user), engine.begin() as conn:
        conn.execute(s.deck_rows.update().where(r.deck == name, r.row_no == sa.bindparam("n"))
                     .values(status=sa.bindparam("st")), [{"n": n, "st": st[:400]} for n, st in statuses.items()])


def delete_deck(engine: Engine, name: str, user: str) -> None:
    """Delete a deck or template; only its owner may, and not while someone else edits it."""
    with engine.begin() as conn:
        info = deck_info(conn, name)
        if info.owner != user:
            raise DeckAccessError(f"Only the owner ({info.owner}) may delete {name!r}.")
        lock = conn.execute(sa.select(s.deck_locks).where(s.deck_locks.c.deck == name)).first()
        if lock is not None and lock.holder != user:
            raise DeckLockedError(name, lock.holder, lock.acquired_at)
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
