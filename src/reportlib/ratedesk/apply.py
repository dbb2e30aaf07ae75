"""Apply a verified change deck: one transaction, one change batch, a change log row.

Inside one database transaction the deck is verified again (so nothing changed since the
review slips through), the batch gets its id, and then:

- new rates start at their ``active_from``; rates of the same plan and area in force at that
  moment end there, and rates that would only start at or after it are superseded
  (``active_till = active_from``, ``superseded_by`` = the batch) — they never take effect;
- code and area additions start at their dates; deletions end the code, area and the area's
  rates in every plan of the deck; a rename ends the old name and starts the new one at its
  date, carrying codes and rates over;
- locked rates are left alone (verify marks them Locked);
- every expanded change goes to the change history, and the batch to the change log.

Any failure rolls everything back. A batch is identified by the digest of its rows, plan
selection, policies and dates; the same batch is refused a second time (also between two
processes: the digest is UNIQUE in the database). Given the digest of the changes a
verification showed (``expected_changes``), apply refuses when verifying again now would make
other changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..db import init_db, record_data_version
from ..errors import DataError
from . import data as s
from .change_deck import ChangeDeckError, ChangeRow
from .verifications import VerificationError, changes_digest
from .verify import Change, VerifyOptions, VerifyResult, batch_digest, utcnow, verify_deck

__all__ = ["ApplyResult", "BatchAppliedError", "apply_deck", "touched_plans"]

_ADVISORY_KEY = 727_004  # serialises applies on PostgreSQL


class BatchAppliedError(DataError):
    """The same change batch was applied before; nothing was applied this time."""

    def __init__(self, batch_id: int, applied_at: datetime, user: str):
        self.batch_id = batch_id
        super().__init__(f"This change deck was already applied as batch {batch_id} on {applied_at:%Y-%m-%d %H:%M} UTC "
                         f"by {user}; nothing was applied. Change the deck to make a new batch.")


@dataclass(frozen=True)
class ApplyResult:
    """What an apply did: the batch id and how many rows of each kind it wrote."""

    batch_id: int
    verify: VerifyResult
    written: dict[str, int]
    started_at: datetime
    finished_at: datetime


def apply_deck(url: str | Engine | None, rows: Sequence[ChangeRow], options: VerifyOptions = VerifyOptions(), *,
               user: str, deck_name: str | None = None, os_user: str | None = None,
               expected_changes: str | None = None, edits: Mapping[int, Mapping[str, Any]] | None = None,
               fault: Callable[[str], None] | None = None) -> ApplyResult:
    """Verify and apply ``rows`` in one transaction; returns the new batch.

    ``os_user`` is who was logged in when an admin applies as ``user``. ``expected_changes``
    is :func:`reportlib.ratedesk.verifications.changes_digest` of the verification being applied,
    ``edits`` the edits of its verify table (:func:`reportlib.ratedesk.edits.verification_edits`),
    made on the changes once they are known to be the verified ones.

    ``fault`` is called with the name of each stage as it completes (``batch``, ``rates``,
    ``codes``, ``areas``, ``history``, ``log``): a test hook to prove that a failure half-way
    leaves nothing applied.
    """
    engine = url if isinstance(url, Engine) else init_db(url)
    started = utcnow()
    stage = fault or (lambda name: None)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
        _refuse_if_applied(conn, batch_digest(rows, options))
        result = verify_deck(conn, rows, options)
        if not result.ok:
            raise ChangeDeckError("Cannot apply the change deck (verify found errors)", result.errors)
        if expected_changes is not None and changes_digest(result) != expected_changes:
            raise VerificationError("Verified again now, the change deck would make other changes than the ones "
                                    "verified (rates, codes or areas changed since, or a future rate took effect); "
                                    "nothing was applied. Verify it again and review the result.")
        if edits:
            from .edits import apply_edits

            result.changes = apply_edits(result.changes, edits)
        todo = [c for c in result.changes if c.applies]
        if not todo:
            raise DataError("Nothing to apply: every row of the change deck is Unchanged, Locked, Skipped or "
                            "Disabled.")
        try:
            batch_id = conn.execute(s.change_batches.insert().values(
                digest=result.digest, deck_name=deck_name, user=user, applied_at=started)
                .returning(s.change_batches.c.batch_id)).scalar_one()
        except sa.exc.IntegrityError:  # another process won the race for the same batch
            raise ChangeDeckError("Cannot apply the change deck",
                                  ["it was applied by another process at the same moment"]) from None
        stage("batch")
        written = {"rates": _apply_rates(conn, todo, batch_id)}
        stage("rates")
        written["codes"] = _apply_codes(conn, todo, batch_id)
        stage("codes")
        written["areas"] = _apply_areas(conn, todo, batch_id)
        stage("areas")
        written["history"] = _write_history(conn, result.changes, batch_id)
        stage("history")
        finished = utcnow()
        plans = touched_plans(conn, todo)
        conn.execute(s.change_log.insert().values(
            batch_id=batch_id, user=user, os_user=os_user if os_user != user else None, change_types=", ".join(sorted({c.change_type for c in todo})),
            code_decks=", ".join(sorted({c.code_deck for c in todo})), rate_plans=json.dumps(plans),
            plan_count=len(plans), deck_rows=len(rows), change_rows=len(todo), verified_at=result.verified_at,
            started_at=started, finished_at=finished))
        if deck_name:
            d = s.deck_rows.c  # a disabled row keeps saying so: it was not applied
            conn.execute(s.deck_rows.update().where(d.deck == deck_name, sa.or_(d.enabled.is_(None), d.enabled))
                         .values(status=f"applied in batch {batch_id}"))
        record_data_version(conn, "rates", f"rates batch {batch_id}", result.digest)
        stage("log")
    return ApplyResult(batch_id, result, written, started, finished)


def touched_plans(conn: Connection, todo: list[Change]) -> list[str]:
    """Plans whose rates changed, and every plan of a deck whose codes or areas changed."""
    decks = {c.code_deck for c in todo if not c.rate_plan}
    p = s.rate_plans.c
    via_deck = {r[0] for r in conn.execute(sa.select(p.rate_plan).where(p.code_deck.in_(decks)))} if decks else set()
    return sorted({c.rate_plan for c in todo if c.rate_plan} | via_deck)


def _refuse_if_applied(conn: Connection, digest: str) -> None:
    b = s.change_batches.c
    done = conn.execute(sa.select(b.batch_id, b.applied_at, b.user).where(b.digest == digest)).first()
    if done is not None:
        raise BatchAppliedError(done.batch_id, done.applied_at, done.user)


def _cut(conn: Connection, table: sa.Table, keys: list[dict], match, batch_id: int, supersede: bool) -> None:
    """End rows matching each key at ``:d``; rows that would start at or after it never take effect.

    ``match`` builds the row filter from bind parameters. Rates starting at or after ``d``
    are kept as superseded; codes and areas that never took effect are removed.
    """
    if not keys:
        return
    c = table.c
    live = sa.or_(c.active_till.is_(None), c.active_till > c.active_from)
    if supersede:
        live = sa.and_(live, c.superseded_by.is_(None))
        conn.execute(table.update().where(match(c), live, c.active_from >= sa.bindparam("d"))
                     .values(active_till=c.active_from, superseded_by=batch_id), keys)
    else:
        conn.execute(table.delete().where(match(c), c.active_from >= sa.bindparam("d")), keys)
    conn.execute(table.update().where(match(c), live, c.active_from < sa.bindparam("d"),
                                      sa.or_(c.active_till.is_(None), c.active_till > sa.bindparam("d")))
                 .values(active_till=sa.bindparam("d")), keys)


def _rate_match(c):
    return sa.and_(c.rate_plan == sa.bindparam("p"), c.area == sa.bindparam("a"))


def _apply_rates(conn: Connection, todo: list[Change], batch_id: int) -> int:
    starts = [c for c in todo if c.rate_plan and c.result in ("New", "Increase", "Decrease")]
    ends = [c for c in todo if c.rate_plan and c.result == "Closed"]
    _cut(conn, s.rates, [{"p": c.rate_plan, "a": c.area, "d": c.active_from} for c in starts + ends],
         _rate_match, batch_id, supersede=True)
    if starts:
        conn.execute(s.rates.insert(), [dict(
            rate_plan=c.rate_plan, area=c.area, rate=c.rate_new, increment=c.increment_new,
            active_from=c.active_from, active_till=None, locked=bool(c.locked_new), policy_5g=c.policy_5g_new,
            policy_ext=c.policy_ext_new, custom_1=c.custom_1_new, custom_2=c.custom_2_new,
            custom_3=c.custom_3_new, batch_id=batch_id, superseded_by=None) for c in starts])
    renamed = _renames(conn, todo, s.rates, batch_id)
    return len(starts) + len(ends) + renamed


def _apply_codes(conn: Connection, todo: list[Change], batch_id: int) -> int:
    adds = [c for c in todo if c.code and c.result == "Code added"]
    deletes = [c for c in todo if c.code and c.result == "Code deleted"]
    _cut(conn, s.codes, [{"k": c.code_deck, "cd": c.code, "d": c.active_from} for c in deletes],
         lambda t: sa.and_(t.code_deck == sa.bindparam("k"), t.code == sa.bindparam("cd")), batch_id,
         supersede=False)
    if adds:
        conn.execute(s.codes.insert(), [dict(code_deck=c.code_deck, area=c.area, code=c.code,
                                             active_from=c.active_from, active_till=None, batch_id=batch_id)
                                        for c in adds])
    return len(adds) + len(deletes) + _renames(conn, todo, s.codes, batch_id)


def _apply_areas(conn: Connection, todo: list[Change], batch_id: int) -> int:
    adds = [c for c in todo if c.change_type == "Area add" and c.result == "New" and not c.rate_plan and not c.code]
    closes = [c for c in todo if c.result == "Closed" and not c.rate_plan]
    _cut(conn, s.areas, [{"k": c.code_deck, "a": c.area, "d": c.active_from} for c in closes],
         lambda t: sa.and_(t.code_deck == sa.bindparam("k"), t.area == sa.bindparam("a")), batch_id,
         supersede=False)
    if adds:
        conn.execute(s.areas.insert(), [dict(code_deck=c.code_deck, area=c.area, active_from=c.active_from,
                                             active_till=None, batch_id=batch_id) for c in adds])
    return len(adds) + len(closes) + _renames(conn, todo, s.areas, batch_id)


def _renames(conn: Connection, todo: list[Change], table: sa.Table, batch_id: int) -> int:
    """Split the rows of renamed areas at the rename date: the old name ends, the new one starts."""
    count = 0
    for change in (c for c in todo if c.result == "Renamed"):
        date, t = change.active_from, table.c
        if table is s.rates:
            plans = sa.select(s.rate_plans.c.rate_plan).where(s.rate_plans.c.code_deck == change.code_deck)
            where = [t.rate_plan.in_(plans), t.superseded_by.is_(None)]
        else:
            where = [t.code_deck == change.code_deck]
        rows = conn.execute(sa.select(table).where(t.area == change.area, *where,
                                                   sa.or_(t.active_till.is_(None), t.active_till > date))).all()
        later = [r.id for r in rows if r.active_from >= date]
        if later:
            conn.execute(table.update().where(t.id.in_(later)).values(area=change.area_new))
        split = [r for r in rows if r.active_from < date]
        if split:
            copies = []
            for r in split:
                values = {k: v for k, v in r._mapping.items() if k != "id"}
                values.update(area=change.area_new, active_from=date, batch_id=batch_id)
                copies.append(values)
            conn.execute(table.update().where(t.id.in_([r.id for r in split])).values(active_till=date))
            conn.execute(table.insert(), copies)
        count += len(rows)
    return count


def _write_history(conn: Connection, changes: list[Change], batch_id: int) -> int:
    r = s.rates.c
    new_ids = {(x.rate_plan, x.area, x.active_from): x.id for x in conn.execute(
        sa.select(r.id, r.rate_plan, r.area, r.active_from).where(r.batch_id == batch_id, r.superseded_by.is_(None)))}
    rows = [dict(batch_id=batch_id, deck_row=c.deck_row, change_type=c.change_type, result=c.result,
                 code_deck=c.code_deck, rate_plan=c.rate_plan, area=c.area, area_new=c.area_new, code=c.code,
                 rate_old=c.active_rate if c.active_rate is not None else c.future_rate, rate_new=c.rate_new,
                 increment_old=c.active_increment or c.future_increment, increment_new=c.increment_new,
                 active_from=c.active_from, old_rate_id=c.active_rate_id, future_rate_id=c.future_rate_id,
                 new_rate_id=new_ids.get((c.rate_plan, c.area, c.active_from))
                 if c.rate_plan and c.result in ("New", "Increase", "Decrease") else None)
            for c in changes if not c.error]
    if rows:
        conn.execute(s.change_history.insert(), rows)
    return len(rows)
