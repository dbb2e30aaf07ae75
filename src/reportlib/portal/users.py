"""Portal users: roles, argon2 password hashes, sessions and log-in throttling.

A user is an ``admin`` (everything, and manages users), an ``analyst`` (every report and
document) or a ``partner`` (its own partner account and the customer accounts it manages).
Names are lower case letters, digits and ``.``, ``_``, ``-``, ``@`` (typed in any case).
Passwords are at least :data:`MIN_PASSWORD` characters and stored only as an argon2id hash
with OWASP's recommended settings (19 MiB, 2 passes, 1 lane: :data:`ARGON2`); a hash made with
other settings is redone at the next sign-in.

**Throttling** is kept in the database (``portal_login_failures``), so it holds across
restarts and across server processes: after :data:`USER_LIMIT` failed sign-ins for one name, or
:data:`ADDRESS_LIMIT` from one client address, within :data:`WINDOW`, further attempts for that
name (or from that address) are refused without looking at the password until the window has
passed. A refused attempt is not counted, so the wait ends. Failures for names that do not
exist count the same (and cost the same hash), so a refusal never says whether a name exists.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import ParameterError, UnknownEntityError
from .data import ROLES, login_failures, sessions, users

__all__ = ["ADDRESS_LIMIT", "ARGON2", "LoginRefused", "MIN_PASSWORD", "SESSION_HOURS", "USER_LIMIT", "User", "WINDOW",
           "add_user", "authenticate", "end_session", "get_user", "list_users", "new_password", "normalise_name",
           "session_user", "set_enabled", "set_password", "sign_in", "start_session"]

# OWASP's Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1. argon2-cffi's default
# (64 MiB, 3 passes, 4 lanes) costs several times the CPU and memory of each sign-in on a small
# server, where sign-ins compete with the reports for the same cores.
ARGON2 = {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # hashing a megabyte-long "password" on every attempt is a denial of service
USER_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = timedelta(minutes=15)
SESSION_HOURS = 12
_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_KEEP_FAILURES = timedelta(days=1)


@dataclass(frozen=True)
class User:
    """Who is signed in: name, role and, for a partner user, its partner account."""

    name: str
    role: str
    partner: str | None = None
    enabled: bool = True

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def sees_everything(self) -> bool:
        """Analysts and admins see every partner's reports and documents."""
        return self.role in ("admin", "analyst")


class LoginRefused(Exception):
    """A sign-in that did not succeed; ``retry_after`` (seconds) is set when it was throttled."""

    def __init__(self, retry_after: int | None = None):
        self.retry_after = retry_after
        super().__init__("throttled" if retry_after else "wrong name or password")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@lru_cache(maxsize=1)
def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher(**ARGON2)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against when the name is unknown, so that costs what a real check costs."""
    return _hasher().hash(secrets.token_urlsafe(16))


def normalise_name(name: str) -> str:
    """The stored form of a user name (lower case); ParameterError naming the rule otherwise."""
    cleaned = (name or "").strip().lower()
    if not _NAME.fullmatch(cleaned):
        raise ParameterError(f"user {name!r}", [
            "a user name is 1 to 64 characters: letters, digits and . _ - @, starting with a letter or digit"])
    return cleaned


def _check_password(name: str, password: str) -> None:
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        problems.append(f"the password must have at most {MAX_PASSWORD} characters")
    if password.strip().lower() == name:
        problems.append("the password must not be the user name")
    if problems:
        raise ParameterError(f"user {name}", problems)


def new_password() -> str:
    """A random password of 16 URL-safe characters (for the demo users)."""
    return secrets.token_urlsafe(12)


def _partner_exists(conn: Connection, partner: str) -> bool:
    from ..statements import partner_account

    try:
        partner_account(conn, partner)
    except UnknownEntityError:
        return False
    return True


def add_user(conn: Connection, name: str, role: str, password: str, partner: str | None = None) -> User:
    """Create a user; ParameterError listing every problem (name taken, role, partner, password)."""
    name = normalise_name(name)
    problems = []
    if role not in ROLES:
        problems.append(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role == "partner" and not partner:
        problems.append("a partner user needs --partner, the partner account it belongs to (e.g. P001)")
    if role != "partner" and partner:
        problems.append(f"only a partner user has a partner account; an {role} sees every partner")
    if role == "partner" and partner and not _partner_exists(conn, partner):
        problems.append(f"there is no partner account {partner!r} in the billing data")
    if conn.execute(sa.select(users.c.name).where(users.c.name == name)).first() is not None:
        problems.append(f"a user called {name!r} exists already (reportlib users passwd {name} sets a new password)")
    try:
        _check_password(name, password)
    except ParameterError as exc:
        problems += exc.problems
    if problems:
        raise ParameterError(f"user {name}", problems)
    now = _now()
    conn.execute(users.insert().values(name=name, role=role, partner_id=partner if role == "partner" else None,
                                       password_hash=_hasher().hash(password), enabled=True, created_at=now,
                                       password_changed_at=now))
    return User(name, role, partner if role == "partner" else None)


def _row_user(row: Any) -> User:
    return User(row.name, row.role, row.partner_id, bool(row.enabled))


def get_user(conn: Connection, name: str) -> User:
    """The user called ``name``; UnknownEntityError if there is none."""
    row = conn.execute(sa.select(users).where(users.c.name == normalise_name(name))).first()
    if row is None:
        raise UnknownEntityError("portal user", name, "reportlib users list shows them.")
    return _row_user(row)


def list_users(conn: Connection) -> list[dict[str, Any]]:
    """Every user: name, role, partner, enabled, created_at, password_changed_at (no hashes)."""
    rows = conn.execute(sa.select(users.c.name, users.c.role, users.c.partner_id, users.c.enabled, users.c.created_at,
                                  users.c.password_changed_at).order_by(users.c.name)).mappings()
    return [dict(row, enabled=bool(row["enabled"])) for row in rows]


def _end_sessions(conn: Connection, name: str) -> None:
    conn.execute(sessions.update().where(sessions.c.user_name == name, sessions.c.ended_at.is_(None))
                 .values(ended_at=_now()))


def set_password(conn: Connection, name: str, password: str) -> None:
    """Give ``name`` a new password; every session it had ends."""
    user = get_user(conn, name)
    _check_password(user.name, password)
    conn.execute(users.update().where(users.c.name == user.name)
                 .values(password_hash=_hasher().hash(password), password_changed_at=_now()))
    _end_sessions(conn, user.name)


def set_enabled(conn: Connection, name: str, enabled: bool) -> None:
    """Enable or disable ``name``; disabling ends every session it had."""
    user = get_user(conn, name)
    conn.execute(users.update().where(users.c.name == user.name).values(enabled=enabled))
    if not enabled:
        _end_sessions(conn, user.name)


def _retry_after(conn: Connection, column: sa.Column, value: str, limit: int, now: datetime) -> int | None:
    """Seconds until ``value`` may try again, or None when it is under ``limit`` failures."""
    recent = conn.execute(sa.select(login_failures.c.failed_at)
                          .where(column == value, login_failures.c.failed_at > now - WINDOW)
                          .order_by(login_failures.c.failed_at.desc()).limit(limit)).scalars().all()
    if len(recent) < limit:
        return None
    return max(1, int((recent[-1] + WINDOW - now).total_seconds()) + 1)


def authenticate(conn: Connection, name: str, password: str, address: str) -> User:
    """The user if ``password`` is right and nothing throttles the attempt; else LoginRefused.

    A failure is recorded in ``conn``'s transaction, which must be committed although this
    raises: :func:`sign_in` does both.
    """
    now = _now()
    typed = (name or "").strip().lower()[:200]
    address = (address or "unknown")[:64]
    waits = [w for w in (_retry_after(conn, login_failures.c.user_name, typed, USER_LIMIT, now),
                         _retry_after(conn, login_failures.c.address, address, ADDRESS_LIMIT, now)) if w]
    if waits:
        raise LoginRefused(retry_after=max(waits))
    row = conn.execute(sa.select(users).where(users.c.name == typed)).first() if _NAME.fullmatch(typed) else None
    from argon2.exceptions import InvalidHashError, VerificationError

    ok = False
    try:
        ok = _hasher().verify(row.password_hash if row is not None else _dummy_hash(), password or "")
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None or not row.enabled or len(password or "") > MAX_PASSWORD:
        conn.execute(login_failures.delete().where(login_failures.c.failed_at < now - _KEEP_FAILURES))
        conn.execute(login_failures.insert().values(user_name=typed, address=address, failed_at=now))
        raise LoginRefused()
    if _hasher().check_needs_rehash(row.password_hash):
        conn.execute(users.update().where(users.c.name == row.name).values(password_hash=_hasher().hash(password)))
    conn.execute(login_failures.delete().where(login_failures.c.user_name == typed))
    return _row_user(row)


def sign_in(engine: Engine, name: str, password: str, address: str) -> tuple[User, str]:
    """Check a sign-in and start a session: the user and the session's token, or LoginRefused.

    A refused attempt is committed before LoginRefused is raised (raised inside the
    transaction it would roll the failure back, and throttling would never count it).
    """
    with engine.begin() as conn:
        try:
            user = authenticate(conn, name, password, address)
        except LoginRefused as refused:
            failure = refused
        else:
            return user, start_session(conn, user)
    raise failure


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn: Connection, user: User) -> str:
    """A new session of ``user``; returns the token the cookie carries (the table keeps its hash)."""
    token = secrets.token_urlsafe(32)
    now = _now()
    conn.execute(sessions.delete().where(sessions.c.expires_at < now - timedelta(days=1)))
    conn.execute(sessions.insert().values(token_sha256=_token_key(token), user_name=user.name, created_at=now,
                                          expires_at=now + timedelta(hours=SESSION_HOURS)))
    return token


# Every request asks this: built once (SQLAlchemy then only binds the values).
_SESSION_USER = (sa.select(users.c.name, users.c.role, users.c.partner_id, users.c.enabled)
                 .join(sessions, sessions.c.user_name == users.c.name)
                 .where(sessions.c.token_sha256 == sa.bindparam("key"), sessions.c.ended_at.is_(None),
                        sessions.c.expires_at > sa.bindparam("now"), users.c.enabled.is_(True)))


def session_user(conn: Connection, token: str | None) -> User | None:
    """The enabled user of a live session, or None (unknown, ended, expired, user disabled)."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    row = conn.execute(_SESSION_USER, {"key": _token_key(token), "now": _now()}).first()
    return _row_user(row) if row is not None else None


def end_session(conn: Connection, token: str | None) -> None:
    """Sign out: the session's token opens nothing any more."""
    if token and isinstance(token, str):
        conn.execute(sessions.update().where(sessions.c.token_sha256 == _token_key(token),
                                             sessions.c.ended_at.is_(None)).values(ended_at=_now()))
