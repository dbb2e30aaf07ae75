"""What was verified, with which options, so that apply applies exactly that.

``reportlib rates verify`` (and ``rates review``) record every verification of a stored deck:
a digest of its rows, the options as they were resolved (a base date left to "today" is
stored as the date it was that day), and a digest of the changes the verification showed.
``reportlib rates apply`` then takes the deck's latest verification and

- refuses when there is none, or when the deck's rows changed since (verify again);
- uses exactly its options; an option given to apply that differs is refused, naming both
  values (apply what was verified, or verify again with the new options);
- verifies again inside its transaction and refuses when the changes now differ from the
  verified ones (the rates changed meanwhile: verify and review again).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from datetime import datetime
from typing import Any, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import DataError
from . import data as s
from .change_deck import ChangeRow
from .verify import VerifyOptions, VerifyResult, utcnow

__all__ = ["OPTION_FLAGS", "VerificationError", "changes_digest", "describe_options", "latest_verification",
           "options_from_json", "options_json", "options_to_apply", "record_verification", "rows_digest"]

# Each stored option and the command-line flag that sets it.
OPTION_FLAGS = {"plans": "--plan", "groups": "--group", "base_date": "--base-date", "specific_date": "--date",
                "date_template": "--date-template",
                "all_codes_deleted": "--all-codes-deleted", "no_new": "--no-new", "one_deck": "--allow-many-decks"}
_CHANGE_FIELDS = ("deck_row", "change_type", "code_deck", "result", "error", "rate_plan", "area", "area_new", "code",
                  "active_rate_id", "future_rate_id", "rate_new", "increment_new", "active_from", "active_till",
                  "policy_5g_new", "policy_ext_new", "custom_1_new", "custom_2_new", "custom_3_new")


class VerificationError(DataError):
    """Apply was asked for something other than what was verified; nothing was applied."""


def options_json(options: VerifyOptions) -> str:
    """The options as stored with a verification (dates as ISO text; ``now`` is not an option)."""
    values: dict[str, Any] = {}
    for f in dataclass_fields(VerifyOptions):
        if f.name == "now":
            continue
        value = getattr(options, f.name)
        values[f.name] = value.isoformat() if isinstance(value, datetime) else \
            sorted(value) if isinstance(value, tuple) else value
    return json.dumps(values, sort_keys=True)


def options_from_json(text: str) -> VerifyOptions:
    """Stored options back as :class:`VerifyOptions`."""
    values = json.loads(text)
    for name in ("base_date", "specific_date"):
        values[name] = datetime.fromisoformat(values[name]) if values.get(name) else None
    values["plans"], values["groups"] = tuple(values.get("plans", ())), tuple(values.get("groups", ()))
    return VerifyOptions(**values)


def rows_digest(rows: Sequence[ChangeRow]) -> str:
    """What a deck says, row by row with its numbers (hex sha256)."""
    return hashlib.sha256(json.dumps([[r.row, *r.content()] for r in rows]).encode()).hexdigest()


def changes_digest(result: VerifyResult) -> str:
    """The expanded changes a verification showed (hex sha256): results, rates, dates, rate ids."""
    rows = [[str(getattr(c, name)) for name in _CHANGE_FIELDS] for c in result.changes]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def describe_options(options: VerifyOptions) -> list[tuple[str, str]]:
    """The options as a reader wants them: label and value, for the terminal and the review."""
    dates = (f"{options.specific_date:%Y-%m-%d %H:%M} for every change (--date)" if options.specific_date else
             f"base date {options.base_date:%Y-%m-%d} + each plan's date template days" if options.base_date else
             "base date today + each plan's date template days")
    if options.date_template and not options.specific_date:
        dates = dates.replace("each plan's date template", f"date template {options.date_template!r} (for every plan)")
    return [("Dates", dates), ("Rate plans", ", ".join(sorted(options.plans)) or "as each row names them"),
            ("Rate plan groups", ", ".join(sorted(options.groups)) or "as each row names them"),
            ("All codes of an area deleted", options.all_codes_deleted),
            ("New areas and rates", "skipped (--no-new)" if options.no_new else "added"),
            ("Several code decks", "warned" if options.one_deck else "allowed")]


def record_verification(engine: Engine, deck: str, user: str, result: VerifyResult) -> int:
    """Store a verification of stored deck ``deck``; returns its id."""
    with engine.begin() as conn:
        return conn.execute(s.verifications.insert().values(
            deck=deck, user=user, verified_at=result.verified_at, rows_digest=rows_digest(result.rows),
            options=options_json(result.options), changes_digest=changes_digest(result), errors=len(result.errors),
            warnings=len(result.warnings)).returning(s.verifications.c.id)).scalar_one()


def latest_verification(conn: Connection, deck: str):
    """The deck's latest verification row, or None."""
    v = s.verifications.c
    return conn.execute(sa.select(s.verifications).where(v.deck == deck).order_by(v.id.desc()).limit(1)).first()


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d}" if value == datetime(value.year, value.month, value.day) else f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, (tuple, list, set, frozenset)):
        return ", ".join(sorted(value)) or "none"
    return "none" if value is None else str(value)


def _difference(name: str, value: Any, verified: Any) -> str:
    flag = OPTION_FLAGS[name]
    if isinstance(verified, bool):  # a flag: given here, absent from the verification
        return f"{flag} is given, but the deck was verified without it"
    return f"{flag} {_shown(value)} differs from the verified {_shown(verified)}"


def options_to_apply(conn: Connection, deck: str, rows: Sequence[ChangeRow],
                     given: Mapping[str, Any]) -> tuple[VerifyOptions, Any]:
    """The options of the deck's latest verification, and that verification.

    ``given`` holds the options the user passed to apply (by :data:`OPTION_FLAGS` name); each
    must equal the verified one. Raises :class:`VerificationError` saying what differs.
    """
    found = latest_verification(conn, deck)
    if found is None:
        raise VerificationError(f"Change deck {deck!r} has not been verified: run reportlib rates verify "
                                f"--deck {deck} [options], review the result, then apply (apply uses the options "
                                "that were verified).")
    when = f"{found.verified_at:%Y-%m-%d %H:%M} UTC by {found.user}"
    if found.rows_digest != rows_digest(rows):
        raise VerificationError(f"Change deck {deck!r} changed after it was verified ({when}); verify it again and "
                                "review the result before applying it.")
    verified = options_from_json(found.options)
    differs = []
    for name, value in given.items():
        mine = getattr(verified, name)
        same = set(value) == set(mine) if isinstance(mine, tuple) else value == mine
        if not same:
            differs.append(_difference(name, value, mine))
    if differs:
        raise VerificationError(f"Change deck {deck!r} was verified ({when}) with other options: "
                                + "; ".join(differs) + ". Apply with the verified options (give none), or verify "
                                "again with these and review the result.")
    return replace(verified, now=None), found
