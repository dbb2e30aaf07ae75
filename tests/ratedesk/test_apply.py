"""Apply: every change type on the small deck, bad decks, a fault half-way, never twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from reportlib.db import engine_for
from reportlib.errors import DataError
from reportlib.ratedesk import (BatchAppliedError, ChangeDeckError, ChangeRow, VerifyOptions, apply_deck, batch_changes,
                             batch_plans, lookup_rate, verify_deck)
from reportlib.ratedesk import data as s

from ..conftest import table_snapshot
from .dataset import BASE, FUTURE, NOW

OPTIONS = VerifyOptions(groups=("G",), now=NOW, base_date=BASE)
DAY = timedelta(days=1)


def every_type() -> list[ChangeRow]:
    row = dict(code_deck="T")
    return [
        ChangeRow(1, "Area RATE", area="Alpha", rate_new="0.12", **row),          # increase: +7 days; P2 locked
        ChangeRow(2, "Area RATE", area="Beta", rate_new="0.15", rate_plans="P1", **row),  # decrease, beats future
        ChangeRow(3, "Area name", area="Gamma", area_new="Gamma New", **row),
        ChangeRow(4, "Area add", area_new="Epsilon", codes="4950, 4951", rate_new="0.40", increment_new="1/1",
                  rate_plans="P1", **row),
        ChangeRow(5, "Area delete", area="Delta", **row),
        ChangeRow(6, "Code add", area="Alpha", codes="4912", **row),
        ChangeRow(7, "Code delete", area="Alpha", codes="4911", **row),
        ChangeRow(8, "Code replace", area="Zero", codes="0044,0045", **row),
        ChangeRow(9, "Code replace", area="Long", codes="4477009001234568", **row),
    ]


def rate_at(url, plan, number, when):
    with engine_for(url).connect() as conn:
        return lookup_rate(conn, plan, number, when)


def test_every_change_type_is_applied_with_its_dates(small_db):
    result = apply_deck(small_db, every_type(), OPTIONS, user="alice", deck_name=None)
    assert result.batch_id == 1
    counts = result.verify.counts()
    assert counts["Locked"] == 1 and counts["Renamed"] == 1 and counts["Increase"] == 1 and counts["Decrease"] == 1
    before, after_notice = BASE + DAY, BASE + 8 * DAY

    # Area RATE increase: old rate until base + 7 days, new one after; the locked P2 rate is untouched
    assert rate_at(small_db, "P1", "491012", before).rate == Decimal("0.10")
    alpha = rate_at(small_db, "P1", "491012", after_notice)
    assert (alpha.rate, alpha.active_from, alpha.increment) == (Decimal("0.12"), BASE + 7 * DAY, "60/60")
    assert rate_at(small_db, "P2", "491012", after_notice).rate == Decimal("0.11")

    # Area RATE decrease: at once (0 days), and the announced future increase is superseded
    assert rate_at(small_db, "P1", "4920", before).rate == Decimal("0.15")
    assert rate_at(small_db, "P1", "49205", FUTURE + DAY).rate == Decimal("0.15")
    with engine_for(small_db).connect() as conn:
        future = conn.execute(sa.select(s.rates).where(s.rates.c.area == "Beta",
                                                       s.rates.c.active_from == FUTURE)).one()
        assert future.superseded_by == 1 and future.active_till == future.active_from
        old = conn.execute(sa.select(s.rates).where(s.rates.c.area == "Beta", s.rates.c.rate == Decimal("0.20"))).one()
        assert old.active_till == BASE

    # Area name: the old name until the base date, the new one with the same codes and rates after
    assert rate_at(small_db, "P1", "4930", BASE - DAY).area == "Gamma"
    renamed = rate_at(small_db, "P1", "4930", before)
    assert (renamed.area, renamed.rate) == ("Gamma New", Decimal("0.05"))
    assert rate_at(small_db, "P2", "4931", before).area == "Gamma New"

    # Area add: codes and rate from the base date (new: 0 days)
    epsilon = rate_at(small_db, "P1", "49511", before)
    assert (epsilon.area, epsilon.rate, epsilon.increment) == ("Epsilon", Decimal("0.40"), "1/1")
    with pytest.raises(DataError, match="has no rate"):
        rate_at(small_db, "P2", "4950", before)

    # Area delete: codes, area and every plan's rate end after the delete notice
    assert rate_at(small_db, "P1", "4940", before).rate == Decimal("0.30")
    with pytest.raises(DataError, match="No code"):
        rate_at(small_db, "P1", "4940", after_notice)

    # Code add / delete
    assert rate_at(small_db, "P1", "4912", before).area == "Alpha"
    assert rate_at(small_db, "P1", "4911", before).code == "4911"
    with pytest.raises(DataError, match="No code"):
        rate_at(small_db, "P1", "4911", after_notice)

    # Code replace: codes stay text, leading zeros and 16 digits included
    assert rate_at(small_db, "P1", "00451234", before).code == "0045"
    assert rate_at(small_db, "P1", "00441234", after_notice).code == "0044"
    assert rate_at(small_db, "P1", "4477009001234568", before).code == "4477009001234568"
    with pytest.raises(DataError, match="No code"):
        rate_at(small_db, "P1", "4477009001234567", after_notice)

    with engine_for(small_db).connect() as conn:
        log = conn.execute(sa.select(s.change_log)).one()
        assert log.user == "alice" and log.plan_count == 2 and log.deck_rows == 9
        assert "Code replace" in log.change_types and "Area name" in log.change_types
        history = batch_changes(conn, 1)
        assert set(history["result"]) >= {"Increase", "Decrease", "Renamed", "New", "Closed", "Code added",
                                          "Code deleted", "Locked"}
        assert history.loc[history["area"] == "Beta", "new_rate_id"].notna().all()
        assert batch_plans(conn, 1) == ["P1", "P2"]
        codes = {r[0] for r in conn.execute(sa.select(s.codes.c.code))}
        assert {"0044", "0045", "4477009001234567", "4477009001234568"} <= codes


def test_the_same_batch_is_never_applied_twice(small_db):
    apply_deck(small_db, every_type(), OPTIONS, user="alice")
    snapshot = table_snapshot(small_db)
    with pytest.raises(BatchAppliedError, match="already applied as batch 1"):
        apply_deck(small_db, every_type(), OPTIONS, user="bob")
    assert table_snapshot(small_db) == snapshot


BAD_DECKS = [
    ("unknown area", ChangeRow(2, "Area RATE", "T", area="Alphaa", rate_new="0.1", rate_plans="P1"),
     "row 2 (Area RATE 'Alphaa'): unknown area 'Alphaa'"),
    ("non-numeric rate", ChangeRow(2, "Area RATE", "T", area="Alpha", rate_new="0,12", rate_plans="P1"),
     "row 2 (Area RATE 'Alpha'): rate new '0,12' is not a number"),
    ("negative rate", ChangeRow(2, "Area RATE", "T", area="Alpha", rate_new="-0.1", rate_plans="P1"),
     "row 2 (Area RATE 'Alpha'): rate new -0.1 is negative"),
    ("malformed increment", ChangeRow(2, "Area RATE", "T", area="Alpha", rate_new="0.1", increment_new="60/",
                                      rate_plans="P1"), "row 2 (Area RATE 'Alpha'): increment new '60/' is malformed"),
    ("adding an existing code", ChangeRow(2, "Code add", "T", area="Beta", codes="4910"),
     "row 2 (Code add 'Beta'): code 4910 is already in another area ('Alpha')"),
    ("adding a code of the area", ChangeRow(2, "Code add", "T", area="Alpha", codes="4910"),
     "row 2 (Code add 'Alpha'): code 4910 already exists in area 'Alpha'"),
    ("deleting a missing code", ChangeRow(2, "Code delete", "T", area="Alpha", codes="4999"),
     "row 2 (Code delete 'Alpha'): code 4999 does not exist"),
    ("duplicate rows", ChangeRow(2, "Area RATE", "T", area="Gamma", rate_new="0.07", rate_plans="P1"),
     "row 2 (Area RATE 'Gamma'): duplicate of row 1"),
]


def test_bad_decks_name_the_row_and_change_nothing(small_db):
    good = ChangeRow(1, "Area RATE", "T", area="Gamma", rate_new="0.07", rate_plans="P1")
    snapshot = table_snapshot(small_db)
    for what, bad, message in BAD_DECKS:
        rows = [good, bad]
        with engine_for(small_db).connect() as conn:
            result = verify_deck(conn, rows, OPTIONS)
        assert [e for e in result.errors if message in e], (what, result.errors)
        with pytest.raises(ChangeDeckError) as failure:
            apply_deck(small_db, rows, OPTIONS, user="alice")
        assert message in str(failure.value), what
        assert "nothing was written" in str(failure.value)
        assert table_snapshot(small_db) == snapshot, what


@pytest.mark.parametrize("stage", ["rates", "codes", "history"])
def test_a_fault_half_way_through_apply_leaves_nothing_applied(small_db, stage):
    snapshot = table_snapshot(small_db)

    def fault(name: str) -> None:
        if name == stage:
            raise RuntimeError(f"injected fault after {name}")

    with pytest.raises(RuntimeError, match="injected fault"):
        apply_deck(small_db, every_type(), OPTIONS, user="alice", fault=fault)
    assert table_snapshot(small_db) == snapshot
    # the batch was not consumed: the same deck applies cleanly afterwards
    assert apply_deck(small_db, every_type(), OPTIONS, user="alice").batch_id >= 1


def test_a_database_constraint_failure_rolls_back_the_whole_batch(small_db):
    """A real failure inside the database (an over-long area name) half-way through apply."""
    snapshot = table_snapshot(small_db)
    rows = [ChangeRow(1, "Area RATE", "T", area="Alpha", rate_new="0.5", rate_plans="P1"),
            ChangeRow(2, "Area add", "T", area_new="X" * 250, codes="4960")]
    engine = engine_for(small_db)
    if engine.dialect.name == "sqlite":  # SQLite ignores VARCHAR lengths; a trigger plays the constraint
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TRIGGER area_len BEFORE INSERT ON rates_areas WHEN length(NEW.area) > 200 "
                                 "BEGIN SELECT RAISE(ABORT, 'area name too long'); END"))
        snapshot = table_snapshot(small_db)
    with pytest.raises(sa.exc.DBAPIError):
        apply_deck(small_db, rows, OPTIONS, user="alice")
    assert table_snapshot(small_db) == snapshot


def test_options_plans_groups_dates_and_no_new(small_sqlite):
    rows = [ChangeRow(1, "Area RATE", "T", area="Gamma", rate_new="0.09"),
            ChangeRow(2, "Area RATE", "T", area="Long", rate_new="0.2", increment_new="6/6")]
    with engine_for(small_sqlite).connect() as conn:
        union = verify_deck(conn, rows, VerifyOptions(plans=("P1",), groups=("H",), now=NOW, base_date=BASE))
        assert sorted((c.rate_plan, c.area, c.result) for c in union.changes) == [
            ("P1", "Gamma", "Increase"), ("P1", "Long", "Decrease"), ("P2", "Gamma", "Increase"),
            ("P2", "Long", "New")]
        fixed = verify_deck(conn, rows, VerifyOptions(plans=("P2",), now=NOW, specific_date=BASE + 3 * DAY,
                                                      no_new=True))
        assert {(c.area, c.result, c.active_from) for c in fixed.changes} == {
            ("Gamma", "Increase", BASE + 3 * DAY), ("Long", "Skipped", None)}
        none = verify_deck(conn, rows, VerifyOptions(now=NOW))
        assert any("row 1" in e and "no rate plan selected" in e for e in none.errors)
        gamma = next(c for c in union.changes if c.rate_plan == "P1" and c.area == "Gamma")
        assert (gamma.rate_diff, gamma.diff_pct, gamma.active_rate) == (Decimal("0.04"), Decimal("80.00"),
                                                                         Decimal("0.05"))


def test_deleting_every_code_of_an_area_follows_the_policy(small_sqlite):
    rows = [ChangeRow(1, "Code delete", "T", area="Gamma", codes="4930,4931")]
    with engine_for(small_sqlite).connect() as conn:
        closed = verify_deck(conn, rows, VerifyOptions(now=NOW, base_date=BASE))
        assert {c.rate_plan for c in closed.changes if c.result == "Closed"} == {None, "P1", "P2"}
        refused = verify_deck(conn, rows, VerifyOptions(now=NOW, all_codes_deleted="error"))
        assert refused.errors and "row 1" in refused.errors[0]
        kept = verify_deck(conn, rows, VerifyOptions(now=NOW, all_codes_deleted="keep-area"))
        assert kept.ok and not [c for c in kept.changes if c.result == "Closed"] and kept.warnings


def test_rows_that_change_the_same_area_twice_conflict(small_sqlite):
    rows = [ChangeRow(1, "Code delete", "T", area="Gamma", codes="4930"),
            ChangeRow(2, "Area name", "T", area="Gamma", area_new="G2"),
            ChangeRow(3, "Area RATE", "T", area="Beta", rate_new="0.3", rate_plans="P1"),
            ChangeRow(4, "Area delete", "T", area="Beta"),
            ChangeRow(5, "Area delete", "T", area="Delta"),
            ChangeRow(6, "Code add", "T", area="Delta", codes="4941"),
            ChangeRow(7, "Area RATE", "T", area="Zero", rate_new="0.3", rate_plans="P1"),
            ChangeRow(8, "Code delete", "T", area="Zero", codes="0044")]
    with engine_for(small_sqlite).connect() as conn:
        result = verify_deck(conn, rows, OPTIONS)
    assert result.errors == [
        "row 2 (Area name 'Gamma'): area 'Gamma' is already changed by row 1",
        "row 4 (Area delete 'Beta'): area 'Beta' is already changed by row 3",
        "row 6 (Code add 'Delta'): area 'Delta' is already changed by row 5",
        "row 8 (Code delete 'Zero'): every code of the area is deleted, which closes it, but row 7 changes its rate; "
        "drop one of the two rows",
    ]


def test_rate_sheet_and_increment_only_changes(small_sqlite):
    from reportlib.ratedesk import rate_sheet

    rows = [ChangeRow(1, "Area RATE", "T", area="Alpha", rate_new="0.10", increment_new="1/1", rate_plans="P1"),
            ChangeRow(2, "Area RATE", "T", area="Gamma", rate_new="0.05", rate_plans="P1")]
    result = apply_deck(small_sqlite, rows, OPTIONS, user="alice")
    assert [(c.area, c.result) for c in result.verify.changes] == [("Alpha", "Increase"), ("Gamma", "Unchanged")]
    with engine_for(small_sqlite).connect() as conn:
        now = rate_sheet(conn, "P1", NOW)
        later = rate_sheet(conn, "P1", BASE + 8 * DAY)
    assert list(now["code"]) == ["4910", "4911", "4920", "4940", "4930", "4931", "4477009001234567", "0044"]
    assert now.loc[now["code"] == "0044", "rate"].item() == Decimal("0.01000000")
    assert set(later.loc[later["area"] == "Alpha", "increment"]) == {"1/1"}
    assert set(now.loc[now["area"] == "Alpha", "increment"]) == {"60/60"}
