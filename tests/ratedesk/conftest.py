"""Fixtures: the small deck loaded into SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from .dataset import load_small


@pytest.fixture
def small_db(db_url) -> str:
    """The small deck on SQLite and on PostgreSQL."""
    load_small(db_url)
    return db_url


@pytest.fixture
def small_sqlite(sqlite_url) -> str:
    load_small(sqlite_url)
    return sqlite_url


def use_desk(url: str, monkeypatch) -> str:
    """Make ``url`` the commands' database; this test's operating-system user is a rates admin (for --as-user)."""
    from reportlib.ratedesk.users import os_user

    monkeypatch.setenv("REPORTLIB_DB", url)
    monkeypatch.setenv("REPORTLIB_RATES_ADMINS", os_user())
    monkeypatch.delenv("REPORTLIB_USER", raising=False)
    return url


@pytest.fixture
def desk(small_db, monkeypatch) -> str:
    """The small deck on both engines, as the default database of the commands."""
    return use_desk(small_db, monkeypatch)
