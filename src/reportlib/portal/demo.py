"""The demo's portal users: one of each role, with new random passwords printed once."""

from __future__ import annotations

import sqlalchemy as sa

from ..db import engine_for, init_db
from .data import users
from .users import add_user, new_password, set_enabled, set_password

__all__ = ["DEMO_USERS", "demo_users", "demo_users_lines"]

DEMO_USERS = (("demo-admin", "admin"), ("demo-analyst", "analyst"), ("demo-partner", "partner"))


def _demo_partner(conn) -> str | None:
    from ..statements.family import active_partners

    partners = active_partners(conn)
    return partners[0] if partners else None


def demo_users(url: str | None = None) -> list[tuple[str, str, str | None, str]]:
    """Create (or reset) the demo users; returns (name, role, partner, password) of each.

    A user that exists already gets a new password and is enabled again; the partner user
    belongs to the first active partner account of the billing data (none without billing data).
    """
    init_db(url)
    made = []
    with engine_for(url).begin() as conn:
        partner = _demo_partner(conn)
        for name, role in DEMO_USERS:
            if role == "partner" and partner is None:
                continue
            password = new_password()
            exists = conn.execute(sa.select(users.c.name).where(users.c.name == name)).first() is not None
            if exists:
                set_password(conn, name, password)
                set_enabled(conn, name, True)
            else:
                add_user(conn, name, role, password, partner=partner if role == "partner" else None)
            made.append((name, role, partner if role == "partner" else None, password))
    return made


def demo_users_lines(url: str | None = None) -> list[str]:
    """The demo users made by :func:`demo_users`, as lines to print once, and how to start the portal."""
    made = demo_users(url)
    lines = ["", "Portal log-ins (shown only now; the database keeps only password hashes):"]
    for name, role, partner, password in made:
        who = f"{role} of {partner}" if partner else role
        lines.append(f"  {name:<14} {password}   ({who})")
    lines += ["Start the portal with `make serve` (or `.venv/bin/reportlib serve`) and open http://127.0.0.1:8000/ ;",
              "`reportlib users passwd NAME` sets a new password."]
    return lines
