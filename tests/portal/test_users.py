"""Portal users on SQLite and PostgreSQL: hashes, problems, throttling, sessions, the commands."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from reportlib.cli import main
from reportlib.db import engine_for
from reportlib.errors import ParameterError, UnknownEntityError
from reportlib.load import write_domain
from reportlib.portal import users as u
from reportlib.portal.data import login_failures, sessions, users
from tests.statements.dataset import billing_rows


@pytest.fixture
def db(db_url):
    write_domain("billing", billing_rows(), url=db_url, source="test")
    return engine_for(db_url)


def _now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def test_a_password_is_stored_only_as_an_argon2id_hash(db):
    with db.begin() as conn:
        u.add_user(conn, "Alice", "partner", "correct horse battery", partner="P1")
    with db.connect() as conn:
        row = conn.execute(sa.select(users)).mappings().one()
    assert row["name"] == "alice" and row["partner_id"] == "P1"
    assert row["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert all("correct horse" not in str(value) for value in row.values())
    with db.begin() as conn:
        assert u.authenticate(conn, "ALICE", "correct horse battery", "10.0.0.1").name == "alice"
    # A hash made with other settings is redone with the current ones at the next sign-in.
    from argon2 import PasswordHasher

    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse battery")
    with db.begin() as conn:
        conn.execute(users.update().values(password_hash=weaker))
        u.authenticate(conn, "alice", "correct horse battery", "10.0.0.1")
        assert conn.execute(sa.select(users.c.password_hash)).scalar().startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_adding_a_user_lists_every_problem_at_once(db):
    with db.begin() as conn:
        u.add_user(conn, "ana", "analyst", "long enough password")
    with db.begin() as conn, pytest.raises(ParameterError) as caught:
        u.add_user(conn, "ana", "partner", "short")
    problems = " | ".join(caught.value.problems)
    assert "needs --partner" in problems and "exists already" in problems and "at least 10" in problems
    with db.begin() as conn, pytest.raises(ParameterError) as caught:
        u.add_user(conn, "pat", "partner", "long enough password", partner="P9")
    assert "no partner account 'P9'" in str(caught.value)
    with db.begin() as conn, pytest.raises(ParameterError) as caught:
        u.add_user(conn, "an", "analyst", "long enough password", partner="P1")
    assert "only a partner user has a partner account" in str(caught.value)
    with db.begin() as conn, pytest.raises(ParameterError):
        u.add_user(conn, "../etc", "admin", "long enough password")
    with db.connect() as conn:
        assert [r["name"] for r in u.list_users(conn)] == ["ana"]


def test_wrong_passwords_throttle_the_name_even_with_the_right_password_until_the_window_passes(db):
    with db.begin() as conn:
        u.add_user(conn, "bob", "partner", "bob's right password", partner="P2")
    for attempt in range(u.USER_LIMIT):
        with db.begin() as conn, pytest.raises(u.LoginRefused) as refused:
            u.authenticate(conn, "bob", f"wrong {attempt}", f"10.0.0.{attempt}")
        assert refused.value.retry_after is None
    with db.begin() as conn, pytest.raises(u.LoginRefused) as refused:
        u.authenticate(conn, "bob", "bob's right password", "10.9.9.9")
    assert 0 < refused.value.retry_after <= u.WINDOW.total_seconds() + 1
    # The throttled attempt was not counted: once the failures are older than the window, the
    # right password works again (and clears the name's failures).
    with db.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(login_failures)).scalar() == u.USER_LIMIT
        conn.execute(login_failures.update().values(failed_at=_now() - u.WINDOW - timedelta(seconds=5)))
        assert u.authenticate(conn, "bob", "bob's right password", "10.9.9.9").name == "bob"
        assert conn.execute(sa.select(sa.func.count()).select_from(login_failures)
                            .where(login_failures.c.user_name == "bob")).scalar() == 0


def test_failures_from_one_address_throttle_every_name_from_it_and_unknown_names_count(db):
    with db.begin() as conn:
        u.add_user(conn, "carol", "partner", "carol's right password", partner="P1")
    for attempt in range(u.ADDRESS_LIMIT):
        with db.begin() as conn, pytest.raises(u.LoginRefused) as refused:
            u.authenticate(conn, f"nobody{attempt}", "whatever password", "192.0.2.7")
        assert refused.value.retry_after is None
    with db.begin() as conn, pytest.raises(u.LoginRefused) as refused:
        u.authenticate(conn, "carol", "carol's right password", "192.0.2.7")
    assert refused.value.retry_after
    with db.begin() as conn:  # the same user from another address is not held up
        assert u.authenticate(conn, "carol", "carol's right password", "192.0.2.8").name == "carol"


def test_a_disabled_user_cannot_sign_in_and_its_sessions_end(db):
    with db.begin() as conn:
        user = u.add_user(conn, "dan", "analyst", "dan's right password")
        token = u.start_session(conn, user)
    with db.connect() as conn:
        assert u.session_user(conn, token) == user
    with db.begin() as conn:
        u.set_enabled(conn, "dan", False)
    with db.connect() as conn:
        assert u.session_user(conn, token) is None
    with db.begin() as conn, pytest.raises(u.LoginRefused):
        u.authenticate(conn, "dan", "dan's right password", "10.0.0.1")
    with db.begin() as conn:
        u.set_enabled(conn, "dan", True)
    with db.connect() as conn:  # enabling again does not bring an ended session back
        assert u.session_user(conn, token) is None


def test_a_new_password_ends_every_session_and_sign_out_ends_one(db):
    with db.begin() as conn:
        user = u.add_user(conn, "eve", "admin", "eve's first password")
        first, second = u.start_session(conn, user), u.start_session(conn, user)
        u.end_session(conn, first)
    with db.connect() as conn:
        assert u.session_user(conn, first) is None and u.session_user(conn, second) == user
        stored = conn.execute(sa.select(sessions.c.token_sha256)).scalars().all()
    assert first not in stored and second not in stored  # the table holds hashes of the tokens
    with db.begin() as conn:
        u.set_password(conn, "eve", "eve's second password")
    with db.connect() as conn:
        assert u.session_user(conn, second) is None
    with db.begin() as conn:
        assert u.authenticate(conn, "eve", "eve's second password", "10.0.0.1").name == "eve"
        with pytest.raises(UnknownEntityError):
            u.set_password(conn, "nobody", "some long password")


def test_an_expired_session_opens_nothing(db):
    with db.begin() as conn:
        user = u.add_user(conn, "fay", "analyst", "fay's right password")
        token = u.start_session(conn, user)
        conn.execute(sessions.update().values(expires_at=_now() - timedelta(seconds=1)))
    with db.connect() as conn:
        assert u.session_user(conn, token) is None


def test_users_commands_add_list_disable_and_passwd_with_the_password_on_stdin(db_url, monkeypatch, capsys):
    write_domain("billing", billing_rows(), url=db_url, source="test")
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert main(["users", "add", "Gil", "--role", "partner", "--partner", "P1", "--db", db_url]) == 0
    assert "Added gil (partner of P1)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "hal", "--role", "analyst", "--db", db_url]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert main(["users", "disable", "gil", "--db", db_url]) == 0
    assert main(["users", "list", "--db", db_url]) == 0
    listed = capsys.readouterr().out
    assert "gil" in listed and "partner" in listed and "P1" in listed and "(disabled)" in listed
    assert "hal" not in listed and "a long password" not in listed
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    assert main(["users", "passwd", "gil", "--db", db_url]) == 0
    assert main(["users", "enable", "gil", "--db", db_url]) == 0
    with engine_for(db_url).begin() as conn:
        assert u.authenticate(conn, "gil", "another long password", "10.0.0.1").name == "gil"
    assert main(["users", "passwd", "nobody", "--db", db_url]) == 2
    assert "No portal user 'nobody'" in capsys.readouterr().err


def test_the_demo_creates_one_user_of_each_role_and_prints_their_log_ins_once(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    assert main(["demo", "--scale", "small", "--domain", "billing", "--db", url]) == 0
    out = capsys.readouterr().out
    printed = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in ("demo-admin", "demo-analyst", "demo-partner"):
            printed[parts[0]] = parts[1]
    assert set(printed) == {"demo-admin", "demo-analyst", "demo-partner"}
    assert "make serve" in out
    with engine_for(url).begin() as conn:
        roles = {r["name"]: (r["role"], r["partner_id"]) for r in u.list_users(conn)}
        assert roles == {"demo-admin": ("admin", None), "demo-analyst": ("analyst", None),
                         "demo-partner": ("partner", "P001")}
        for name, password in printed.items():
            assert u.authenticate(conn, name, password, "10.0.0.1").name == name
    # Again: new passwords, printed again; the old ones no longer work.
    assert main(["demo", "--scale", "small", "--domain", "billing", "--db", url]) == 0
    again = capsys.readouterr().out
    with engine_for(url).begin() as conn, pytest.raises(u.LoginRefused):
        u.authenticate(conn, "demo-admin", printed["demo-admin"], "10.0.0.2")
    assert "demo-admin" in again
    assert main(["demo", "--scale", "small", "--domain", "billing", "--data-only", "--db", url]) == 0
    assert "demo-admin" not in capsys.readouterr().out


def test_sign_in_keeps_the_failures_it_refuses_and_starts_a_session_on_success(db):
    with db.begin() as conn:
        u.add_user(conn, "ivy", "analyst", "ivy's right password")
    for attempt in range(u.USER_LIMIT):
        with pytest.raises(u.LoginRefused) as refused:
            u.sign_in(db, "ivy", "wrong", "10.1.1.1")
        assert refused.value.retry_after is None
    with pytest.raises(u.LoginRefused) as refused:
        u.sign_in(db, "ivy", "ivy's right password", "10.1.1.2")
    assert refused.value.retry_after  # the refused attempts were committed, so they count
    with db.begin() as conn:
        conn.execute(login_failures.delete())
    user, token = u.sign_in(db, "ivy", "ivy's right password", "10.1.1.2")
    with db.connect() as conn:
        assert u.session_user(conn, token) == user
