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
