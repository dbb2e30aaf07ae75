"""Questions about rates, as plain functions: lookup, rate sheets, the log, a verification's review.

These are what the amendment documents build on: :func:`rate_sheet` is a plan's full sheet
at a moment (one row per code), :func:`batch_changes` a batch's change history and
:func:`batch_plans` the plans a batch touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import query_frame
from ..errors import DataError, UnknownEntityError
from . import data as s
from .verify import utcnow

__all__ = ["LARGEST_CHANGE_COLUMNS", "Lookup", "PLAN_REVIEW_COLUMNS", "batch_changes", "batch_plans",
           "change_log_frame", "change_notes_frame", "largest_changes", "latest_batch", "lookup_rate", "rate_sheet",
           "review_by_plan"]


@dataclass(frozen=True)
class Lookup:
    """The rate in force for a dialled number: the longest matching code, its area and rate."""

    rate_plan: str
    number: str
    at: datetime
    code: str
    area: str
    rate: Decimal
    increment: str
    currency: str
    active_from: datetime
    active_till: datetime | None
    rate_id: int


def _in_force(c, at: datetime):
    return sa.and_(c.active_from <= at, sa.or_(c.active_till.is_(None), c.active_till > at))


def lookup_rate(conn: Connection, rate_plan: str, number: str, at: datetime | None = None) -> Lookup:
    """The rate of ``rate_plan`` for dialled ``number`` at ``at`` (default now), by longest prefix.

    ``number`` may carry ``+``, spaces, dashes or dots; any other character is an error.
    """
    at = at or utcnow()
    digits = "".join(ch for ch in number if ch not in "+ -.()")
    if not digits.isdigit():
        raise DataError(f"{number!r} is not a dialled number: use digits, optionally with +, spaces or dashes.")
    plan = conn.execute(sa.select(s.rate_plans).where(s.rate_plans.c.rate_plan == rate_plan)).first()
    if plan is None:
        known = sorted(r[0] for r in conn.execute(sa.select(s.rate_plans.c.rate_plan)))
        raise UnknownEntityError("rate plan", rate_plan, f"Known plans: {', '.join(known) or 'none'}.")
    c = s.codes.c
    prefixes = [digits[:n] for n in range(1, len(digits) + 1)]
    match = conn.execute(sa.select(c.code, c.area).where(c.code_deck == plan.code_deck, c.code.in_(prefixes),
                                                          _in_force(c, at))
                         .order_by(sa.func.length(c.code).desc()).limit(1)).first()
    if match is None:
        raise DataError(f"No code of code deck {plan.code_deck!r} matches {digits} at {at:%Y-%m-%d %H:%M} UTC.")
    r = s.rates.c
    rate = conn.execute(sa.select(s.rates).where(r.rate_plan == rate_plan, r.area == match.area, _in_force(r, at))
                        .order_by(r.active_from.desc()).limit(1)).first()
    if rate is None:
        raise DataError(f"Number {digits} matches code {match.code} of area {match.area!r}, but rate plan "
                        f"{rate_plan!r} has no rate for that area at {at:%Y-%m-%d %H:%M} UTC.")
    return Lookup(rate_plan, digits, at, match.code, match.area, rate.rate, rate.increment, plan.currency,
                  rate.active_from, rate.active_till, rate.id)


def rate_sheet(conn: Connection, rate_plan: str, at: datetime | None = None):
    """A plan's rate sheet at ``at``: one row per code (area, code, rate, increment, dates, policies).

    Columns: area, code, rate, increment, active_from, active_till, policy_5g, policy_ext,
    rate_id. Rates are exact Decimals; codes are text. Sorted by area, then code.
    """
    at = at or utcnow()
    plan = conn.execute(sa.select(s.rate_plans).where(s.rate_plans.c.rate_plan == rate_plan)).first()
    if plan is None:
        raise UnknownEntityError("rate plan", rate_plan)
    c, r = s.codes.c, s.rates.c
    query = (sa.select(c.area, c.code, r.rate, r.increment, r.active_from, r.active_till, r.policy_5g,
                       r.policy_ext, r.id.label("rate_id"))
             .join(s.rates, sa.and_(r.rate_plan == rate_plan, r.area == c.area, _in_force(r, at)))
             .where(c.code_deck == plan.code_deck, _in_force(c, at))
             .order_by(c.area, c.code))
    return query_frame(conn, query)


def change_log_frame(conn: Connection, limit: int = 50):
    """The latest change batches: batch, user, types, decks, plan count, rows, times."""
    log = s.change_log.c
    frame = query_frame(conn, sa.select(s.change_log).order_by(log.batch_id.desc()).limit(limit))
    if not frame.empty:
        frame["rate_plans"] = frame["rate_plans"].map(lambda text: ", ".join(json.loads(text)))
    return frame


def change_notes_frame(conn: Connection, limit: int = 50):
    """The change log's latest notes, oldest first: time, kind (as-user, lock-taken-over), deck, user, text."""
    n = s.change_notes.c
    latest = sa.select(s.change_notes).order_by(n.id.desc()).limit(limit).subquery()
    return query_frame(conn, sa.select(latest).order_by(latest.c.id))


def batch_changes(conn: Connection, batch_id: int):
    """The change history of one batch, in deck row order."""
    h = s.change_history.c
    return query_frame(conn, sa.select(s.change_history).where(h.batch_id == batch_id).order_by(h.deck_row, h.id))


def batch_plans(conn: Connection, batch_id: int) -> list[str]:
    """The rate plans a batch changed, directly or through code and area changes of their deck."""
    h = s.change_history.c
    direct = {r[0] for r in conn.execute(sa.select(h.rate_plan).where(h.batch_id == batch_id,
                                                                       h.rate_plan.is_not(None)).distinct())}
    decks = [r[0] for r in conn.execute(sa.select(h.code_deck).where(h.batch_id == batch_id,
                                                                      h.rate_plan.is_(None)).distinct())]
    p = s.rate_plans.c
    via_deck = {r[0] for r in conn.execute(sa.select(p.rate_plan).where(p.code_deck.in_(decks)))} if decks else set()
    return sorted(direct | via_deck)


def latest_batch(conn: Connection) -> int | None:
    """The id of the latest applied change batch, or None."""
    return conn.execute(sa.select(sa.func.max(s.change_batches.c.batch_id))).scalar()


# The columns of review_by_plan and largest_changes.
PLAN_REVIEW_COLUMNS = ["rate_plan", "changes", "increases", "decreases", "new", "closed", "unchanged", "other",
                       "errors", "max_increase_pct", "max_decrease_pct"]
LARGEST_CHANGE_COLUMNS = ["deck_row", "rate_plan", "area", "result", "old_rate", "rate_new", "rate_diff", "diff_pct",
                          "active_from"]


def _pct(value) -> Decimal | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def review_by_plan(changes: pd.DataFrame) -> pd.DataFrame:
    """Per rate plan: changes, increases, decreases, new, closed, unchanged, other, errors.

    ``changes`` is a verify result's frame (columns rate_plan, result, error, diff_pct).
    Largest increase and decrease are percent (0–100) of the old rate, exact decimals.
    Rows without a plan (code and area changes of a deck) are counted under ``(code deck)``.
    """
    rows = []
    frame = changes.assign(rate_plan=changes["rate_plan"].where(changes["rate_plan"].notna(), None))
    for plan, group in frame.groupby(frame["rate_plan"].fillna("(code deck)"), sort=True):
        results = group["result"]
        errors = group["error"].map(bool) if "error" in group else pd.Series(False, index=group.index)
        pcts = [(_pct(p), r) for p, r in zip(group["diff_pct"], results)]
        ups = [p for p, r in pcts if r == "Increase" and p is not None]
        downs = [p for p, r in pcts if r == "Decrease" and p is not None]
        known = {"Increase", "Decrease", "New", "Closed", "Unchanged"}
        rows.append({"rate_plan": plan, "changes": int((~results.isin(["Unchanged"])).sum()),
                     "increases": int((results == "Increase").sum()), "decreases": int((results == "Decrease").sum()),
                     "new": int((results == "New").sum()), "closed": int((results == "Closed").sum()),
                     "unchanged": int((results == "Unchanged").sum()),
                     "other": int((~results.isin(known) & ~errors).sum()), "errors": int(errors.sum()),
                     "max_increase_pct": max(ups) if ups else None, "max_decrease_pct": min(downs) if downs else None})
    return pd.DataFrame(rows, columns=PLAN_REVIEW_COLUMNS)


def largest_changes(changes: pd.DataFrame, limit: int = 20) -> pd.DataFrame:
    """The ``limit`` rate changes with the largest absolute percent change, largest first."""
    rated = changes[changes["result"].isin(["Increase", "Decrease"])].copy()
    rated["old_rate"] = [a if a is not None and a == a else f for a, f in zip(rated["active_rate"],
                                                                              rated["future_rate"])]
    rated["_size"] = [abs(_pct(p) or Decimal(0)) for p in rated["diff_pct"]]
    rated = rated.sort_values(["_size", "deck_row"], ascending=[False, True], kind="stable").head(limit)
    return rated[LARGEST_CHANGE_COLUMNS].reset_index(drop=True)
