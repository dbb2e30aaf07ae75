"""The portal's tables: its users, their sessions and the failed sign-ins that throttle log-in.

They live on the shared :data:`reportlib.db.metadata` with a ``portal_`` prefix, so
``reportlib init`` creates them with every other table. No domain owns them: ``reportlib load``
and ``reportlib demo --fresh`` of the data never touch them (a fresh SQLite demo file starts
without users, and the demo creates its own).

- ``portal_users``: one row per user; the password only as an argon2 hash.
- ``portal_sessions``: one row per signed-in browser; the cookie holds a random token and the
  table its SHA-256, so a copy of the table opens no session. Signing out, disabling the user
  or changing the password ends the rows.
- ``portal_login_failures``: one row per failed sign-in (name as typed and client address),
  kept a day; throttling counts them, so it holds across restarts and server processes.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..db import metadata

__all__ = ["ROLES", "login_failures", "sessions", "users"]

ROLES = ("admin", "analyst", "partner")

users = sa.Table(
    "portal_users", metadata,
    sa.Column("name", sa.String(64), primary_key=True),  # lower case
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("partner_id", sa.String(64)),  # the partner account of a partner user; None otherwise
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("password_changed_at", sa.DateTime, nullable=False),  # UTC
    sa.CheckConstraint("role IN ('admin', 'analyst', 'partner')", name="ck_portal_users_role"),
    sa.CheckConstraint("(role = 'partner') = (partner_id IS NOT NULL)", name="ck_portal_users_partner"),
)

sessions = sa.Table(
    "portal_sessions", metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(64), sa.ForeignKey("portal_users.name", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("expires_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("ended_at", sa.DateTime),  # UTC; set by sign-out, disable, password change
)

login_failures = sa.Table(
    "portal_login_failures", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_name", sa.String(200), nullable=False),  # as typed, lower case, cut to 200
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("failed_at", sa.DateTime, nullable=False),  # UTC
    sa.Index("ix_portal_login_failures_user", "user_name", "failed_at"),
    sa.Index("ix_portal_login_failures_address", "address", "failed_at"),
)
