"""The manual's workflow step by step, on SQLite and PostgreSQL, through the commands and real files:
record status, clear table, the editable verify table, the date template override."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from reportlib.cli import main
from reportlib.db import engine_for
from reportlib.ratedesk import data as s
from reportlib.ratedesk.users import os_user

from ..conftest import table_snapshot

HEADER = ("code deck,rate plans,rate plan groups,change type,codes,area name in code deck,area name new,rate new,"
          "increm. new,increm. part 1,increm. part 2,increm. part 3,status\n")


def deck_file(tmp_path, *lines: str):
    path = tmp_path / "deck.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def rates_of(url: str, plan: str, area: str) -> list:
    r = s.rates.c
    with engine_for(url).connect() as conn:
        return conn.execute(sa.select(s.rates).where(r.rate_plan == plan, r.area == area, r.superseded_by.is_(None))
                            .order_by(r.active_from)).all()


# --- 1. record status ---------------------------------------------------------------------------

def test_a_disabled_row_is_kept_shown_and_skipped_by_verify_and_apply(desk, tmp_path, capsys):
    deck = deck_file(tmp_path, "T,P1,,Area RATE,,Alpha,,0.5,,,,,enabled",
                     "T,P1,,Area RATE,,Gamma,,0.07,,,,,disabled",
                     "T,P1,,Area RATE,,Delta,,0.9,,,,,")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    assert main(["rates", "show"]) == 0
    shown = [line for line in capsys.readouterr().out.splitlines() if "Gamma" in line]
    assert shown and "disabled" in shown[0]  # kept and shown

    assert main(["rates", "verify", "--base-date", "2026-11-21"]) == 0
    out = capsys.readouterr().out
    assert "Disabled 1" in out and "Increase 2" in out
    assert main(["rates", "apply"]) == 0
    assert [str(r.rate) for r in rates_of(desk, "P1", "Gamma")] == ["0.05000000"]  # skipped by apply
    assert rates_of(desk, "P1", "Alpha")[-1].rate == Decimal("0.5")
    assert main(["rates", "show"]) == 0
    gamma = next(line for line in capsys.readouterr().out.splitlines() if "Gamma" in line)
    assert "disabled: skipped by verify and apply" in gamma

    exported = tmp_path / "back.csv"  # the status survives an export and an import
    assert main(["rates", "show", "--csv", str(exported)]) == 0
    with exported.open(newline="") as handle:
        assert [r["status"] for r in csv.DictReader(handle)] == ["enabled", "disabled", "enabled"]


def test_status_command_enables_and_disables_rows_without_deleting_them(desk, tmp_path, capsys):
    deck = deck_file(tmp_path, "T,P1,,Area RATE,,Alpha,,0.5,,,,,", "T,P1,,Area RATE,,Gamma,,0.07,,,,,")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    assert main(["rates", "status", "disable", "--row", "3"]) == 0
    assert main(["rates", "verify", "--base-date", "2026-11-21"]) == 0
    assert "Disabled 1" in capsys.readouterr().out
    assert main(["rates", "status", "enable", "--all"]) == 0
    assert main(["rates", "verify", "--base-date", "2026-11-21"]) == 0
    assert "Disabled" not in capsys.readouterr().out
    assert main(["rates", "status", "disable", "--row", "9"]) == 2
    assert "has no row 9 (rows: 2, 3)" in capsys.readouterr().err


def test_a_status_that_is_neither_enabled_nor_disabled_is_one_clear_error(desk, tmp_path, capsys):
    before = table_snapshot(desk)
    deck = deck_file(tmp_path, "T,P1,,Area RATE,,Alpha,,0.5,,,,,maybe")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 2
    assert "deck.csv, row 2, status: 'maybe' is not enabled or disabled" in capsys.readouterr().err
    assert table_snapshot(desk) == before


# --- 2. clear table -----------------------------------------------------------------------------

def test_clear_table_empties_the_deck_and_its_verify_table(desk, tmp_path, capsys):
    deck = deck_file(tmp_path, "T,P1,,Area RATE,,Alpha,,0.5,,,,,")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    assert main(["rates", "verify", "--base-date", "2026-11-21"]) == 0
    assert main(["rates", "clear"]) == 0
    assert "1 row(s) and 1 verification(s) removed" in capsys.readouterr().out
    with engine_for(desk).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.deck_rows)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(s.verifications)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(s.decks)).scalar() == 1  # the deck stays
    assert main(["rates", "apply"]) == 2
    assert "has not been verified" in capsys.readouterr().err


# --- 3. editable verify table -------------------------------------------------------------------

def _changes_sheet(path):
    book = load_workbook(path)
    sheet = book["Changes"]
    header = [c.value for c in sheet[1]]
    return book, sheet, header


def _row_of(sheet, header, **wanted) -> int:
    for n, row in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        values = dict(zip(header, row))
        if all(values[k] == v for k, v in wanted.items()):
            return n
    raise AssertionError(f"no verify row with {wanted}")


def test_verify_edits_from_the_exported_workbook_are_checked_recorded_and_applied(desk, tmp_path, capsys):
    deck = deck_file(tmp_path, "T,,G,Area RATE,,Gamma,,0.07,,,,,", "T,P1,,Area RATE,,Delta,,0.35,,,,,",
                     "T,,,Code add,4999,Zero,,,,,,,")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    table = tmp_path / "verify.xlsx"
    assert main(["rates", "verify", "--base-date", "2026-11-21", "--export", str(table)]) == 0
    book, sheet, header = _changes_sheet(table)
    col = {h: header.index(h) + 1 for h in header}
    gamma_p1 = _row_of(sheet, header, **{"Area": "Gamma", "Rate plan": "P1"})
    gamma_p2 = _row_of(sheet, header, **{"Area": "Gamma", "Rate plan": "P2"})
    delta = _row_of(sheet, header, **{"Area": "Delta", "Rate plan": "P1"})
    sheet.cell(gamma_p2, col["Status"], "disabled")
    sheet.cell(gamma_p1, col["Locked new"], True)
    sheet.cell(gamma_p1, col["Ext policy new"], "reject")
    sheet.cell(delta, col["Custom 1 new"], "promo Q1")
    book.save(table)

    assert main(["rates", "verify", "--edits", str(table), "--export", str(tmp_path / "edited.xlsx")]) == 0
    out = capsys.readouterr().out
    assert "4 edit(s) of verification" in out and "status enabled -> disabled" in out
    _, edited, edited_header = _changes_sheet(tmp_path / "edited.xlsx")  # the next export shows them
    assert edited.cell(gamma_p2, edited_header.index("Status") + 1).value == "disabled"
    with engine_for(desk).connect() as conn:
        recorded = conn.execute(sa.select(s.verify_edits.c.field, s.verify_edits.c.new, s.verify_edits.c.user,
                                          s.verify_edits.c.source)).all()
    assert sorted(r.field for r in recorded) == ["custom_1_new", "locked_new", "policy_ext_new", "status"]
    assert {r.source for r in recorded} == {"verify.xlsx"} and {r.user for r in recorded} == {os_user()}

    assert main(["rates", "apply"]) == 0
    assert [str(r.rate) for r in rates_of(desk, "P2", "Gamma")] == ["0.06000000"]  # disabled in the verify step
    gamma = rates_of(desk, "P1", "Gamma")[-1]
    assert gamma.rate == Decimal("0.07") and gamma.locked is True and gamma.policy_ext == "reject"
    assert rates_of(desk, "P1", "Delta")[-1].custom_1 == "promo Q1"


def test_verify_edits_refuse_other_columns_other_verifications_and_code_rows_naming_each(desk, tmp_path, capsys):
    deck = deck_file(tmp_path, "T,P1,,Area RATE,,Gamma,,0.07,,,,,", "T,,,Code add,4999,Zero,,,,,,,")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    table = tmp_path / "verify.csv"  # the CSV form of the verify table
    assert main(["rates", "verify", "--base-date", "2026-11-21", "--export", str(table)]) == 0
    with table.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    gamma = next(r for r in rows if r["Area"] == "Gamma")
    code = next(r for r in rows if r["Result"] == "Code added")
    gamma["Rate new"] = "0.09"  # not editable here
    gamma["Custom 2 new"] = "ok"
    code["Status"] = "disabled"  # a code row takes no edit
    rows.append(dict(gamma, **{"Verification": "999", "Verify row": "1"}))
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    before = table_snapshot(desk)
    assert main(["rates", "verify", "--edits", str(table)]) == 2
    err = capsys.readouterr().err
    gamma_line = rows.index(gamma) + 2
    assert f"verify.csv, row {gamma_line}, column Rate new: '0.09' differs from the verified" in err
    assert f"verify.csv, row {rows.index(code) + 2}, column Status: 'disabled' cannot be set on a Code added row" in err
    assert f"verify.csv, row {len(rows) + 1}, column Verification: 999 is not this deck's latest verification" in err
    assert table_snapshot(desk) == before  # nothing recorded, not even the valid Custom 2 edit


def test_verify_edits_of_a_deck_changed_since_are_refused(desk, tmp_path, capsys):
    deck = deck_file(tmp_path, "T,P1,,Area RATE,,Gamma,,0.07,,,,,")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    table = tmp_path / "verify.xlsx"
    assert main(["rates", "verify", "--base-date", "2026-11-21", "--export", str(table)]) == 0
    assert main(["rates", "modify", "add", "0.01"]) == 0
    assert main(["rates", "verify", "--edits", str(table)]) == 2
    assert "changed after it was verified" in capsys.readouterr().err


# --- 4. date template override, options kept ----------------------------------------------------

def test_date_template_override_is_verified_kept_shown_and_applied(desk, tmp_path, capsys):
    with engine_for(desk).begin() as conn:
        conn.execute(s.date_templates.insert().values(date_template="fast", increase_days=1, decrease_days=0,
                                                      new_days=0, delete_days=2))
    deck = deck_file(tmp_path, "T,P1,,Area RATE,,Alpha,,0.5,,,,,")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    table = tmp_path / "verify.xlsx"
    assert main(["rates", "verify", "--base-date", "2026-11-21", "--date-template", "nope"]) == 1
    assert "option --date-template: unknown date template 'nope'; known: fast, std" in capsys.readouterr().err
    assert main(["rates", "verify", "--base-date", "2026-11-21", "--date-template", "fast",
                 "--export", str(table)]) == 0
    summary = {r[0]: r[1] for r in load_workbook(table)["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Dates"] == "base date 2026-11-21 + date template 'fast' (for every plan) days"
    assert main(["rates", "apply", "--date-template", "std"]) == 2
    assert "--date-template std differs from the verified fast" in capsys.readouterr().err
    assert main(["rates", "apply"]) == 0
    assert rates_of(desk, "P1", "Alpha")[-1].active_from == datetime(2026, 11, 22)  # base + fast's 1 day


# --- 8. append a deck into an existing template -------------------------------------------------

def test_append_the_deck_into_an_existing_template(desk, tmp_path, capsys):
    assert main(["rates", "import", str(deck_file(tmp_path, "T,P1,,Area RATE,,Alpha,,0.5,,,,,")),
                 "--code-deck", "T"]) == 0
    assert main(["rates", "template", "save", "monthly"]) == 0
    assert main(["rates", "import", str(deck_file(tmp_path, "T,P1,,Area RATE,,Gamma,,0.07,,,,,disabled")),
                 "--code-deck", "T"]) == 0
    assert main(["rates", "template", "append-deck", "monthly"]) == 0
    assert "now has 2 row(s)" in capsys.readouterr().out
    assert main(["rates", "template", "load", "monthly"]) == 0
    assert main(["rates", "show"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "Area RATE" in line]
    assert [("Alpha" in x, "disabled" in x) for x in lines] == [(True, False), (False, True)]
    assert main(["rates", "template", "append-deck", "nothing-here"]) == 2
