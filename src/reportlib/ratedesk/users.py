"""Who is at the rate desk: the operating system's user, or a rates admin acting for someone.

Deck access, edit locks and the change log are only as good as the name they are given, so
the name is not taken from the command line or from variables anyone can set (``USER``,
``LOGNAME``): it is the login name of the process's user id (``pwd``; ``getpass`` where
there is no ``pwd``). A rates admin — a login name listed in ``REPORTLIB_RATES_ADMINS``
(comma- or space-separated) — may act as someone else with ``--as-user NAME`` (to fix a
colleague's deck, or to stand in for them); every such command is a note in the change log.

This keeps honest people from being someone else by mistake or by a flag. It is not a wall
against whoever holds the database's credentials: they can write its tables directly.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass

from .decks import DeckAccessError

__all__ = ["ADMINS_ENV", "Actor", "acting_user", "os_user", "rates_admins"]

ADMINS_ENV = "REPORTLIB_RATES_ADMINS"


def os_user() -> str:
    """The login name of this process's user id (not ``$USER``, which anyone can set)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, AttributeError):  # no pwd (Windows), or a user id without an entry
        try:
            return getpass.getuser()
        except (KeyError, OSError) as exc:
            raise DeckAccessError("Cannot tell which user is running reportlib: the operating system knows no "
                                  "login name for this process.") from exc


def rates_admins() -> frozenset[str]:
    """The login names in ``REPORTLIB_RATES_ADMINS``."""
    return frozenset(name for name in re.split(r"[,;\s]+", os.environ.get(ADMINS_ENV, "")) if name)


@dataclass(frozen=True)
class Actor:
    """Who the desk sees acting (``user``: deck owner, lock holder, change log) and who is logged in."""

    user: str
    os_user: str

    @property
    def on_behalf(self) -> bool:
        """True when an admin acts as another user."""
        return self.user != self.os_user


def acting_user(as_user: str | None = None) -> Actor:
    """The operating system's user, or ``as_user`` when that user is a rates admin.

    Raises :class:`DeckAccessError` when someone who is not an admin asks to act as another user.
    """
    me = os_user()
    wanted = (as_user or "").strip()
    if not wanted or wanted == me:
        return Actor(me, me)
    if me not in rates_admins():
        raise DeckAccessError(f"--as-user {wanted}: you are {me!r} (the operating system's user), and only a rates "
                              f"admin may act as another user; admins are listed in {ADMINS_ENV}.")
    return Actor(wanted, me)
