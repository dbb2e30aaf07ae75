"""Filling the change deck: CSV import, current rates, templates, demo deck, modify rates."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from reportlib.cli import main
from reportlib.db import engine_for
from reportlib.errors import ParameterError
from reportlib.ratedesk import (ChangeDeckError, ChangeRow, VerifyOptions, append_rows, demo_change_deck, merge_rows,
                             modify_rates, read_change_csv, read_deck, rows_from_rates, verify_deck, save_deck)

from reportlib.ratedesk.users import os_user

from ..conftest import need
from .dataset import BASE, NOW

HEADER = ("code deck,rate plans,rate plan groups,change type,codes,area name in code deck,area name new,rate new,"
          "increm. new,increm. part 1,increm. part 2,increm. part 3\n")


def test_import_reads_the_seed_headers_and_keeps_codes_as_text(small_sqlite, tmp_path):
    path = tmp_path / "deck.csv"
    path.write_text(HEADER
                    + ",P1,,Area RATE,,Alpha,,0.12345678,,0,60,60\n"
                    + ",,G,code add,\"0046, 4477009001234569\",Zero,,,,,,\n"
                    + "T,P1,,Area add,4960,,Eta,0.3,60/60,,,\n", encoding="utf-8")
    with engine_for(small_sqlite).connect() as conn:
        rows = read_change_csv(path, "T", conn)
    assert [r.row for r in rows] == [2, 3, 4]  # spreadsheet rows: the header is row 1
    assert (rows[0].change_type, rows[0].increment_new, rows[0].rate_new) == ("Area RATE", "0/60/60", "0.12345678")
    assert (rows[1].change_type, rows[1].codes, rows[1].code_deck) == ("Code add", "0046, 4477009001234569", "T")
    assert rows[2].area_new == "Eta"
    with engine_for(small_sqlite).connect() as conn:
        result = verify_deck(conn, rows, VerifyOptions(now=NOW, base_date=BASE))
    assert result.ok, result.errors
    assert {c.code for c in result.changes if c.code} == {"0046", "4477009001234569", "4960"}


def test_a_file_with_rate_new_and_no_change_type_is_area_rate(small_sqlite, tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text("area name in code deck,rate new,increm. new\nAlpha,0.2,\nGamma,0.3,1/1\n", encoding="utf-8")
    with engine_for(small_sqlite).connect() as conn:
        rows = read_change_csv(path, "T", conn)
    assert {r.change_type for r in rows} == {"Area RATE"}


def test_import_errors_name_the_file_row_and_what_is_wrong(small_sqlite, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + ",P1,,Area RATE,,Alpha,,0.1,60/60,,,\n,P1,,Area RATE,,Omega,,0.1,60/60,,,\n"
                    + ",P1,,Area shuffle,,Alpha,,,,,,\n,P1,,Area RATE,,Alpha,,0.1,,60,x,\n", encoding="utf-8")
    with engine_for(small_sqlite).connect() as conn, pytest.raises(ChangeDeckError) as failure:
        read_change_csv(path, "T", conn)
    text = str(failure.value)
    assert "bad.csv, row 3 (Area RATE 'Omega'): unknown area 'Omega' in code deck 'T'" in text
    assert "bad.csv, row 4, change type: 'Area shuffle'" in text
    assert "bad.csv, row 5, increm. part 1..3" in text
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("area name in code deck,rate nwe\nAlpha,0.1\n", encoding="utf-8")
    with pytest.raises(ChangeDeckError, match="unknown column.*'rate nwe'"):
        read_change_csv(wrong, "T")


def test_rows_from_current_rates_all_or_chosen_areas(small_sqlite):
    with engine_for(small_sqlite).connect() as conn:
        every = rows_from_rates(conn, "P1", at=NOW)
        chosen = rows_from_rates(conn, "P1", areas=["Beta", "Zero"], at=NOW)
        filtered = rows_from_rates(conn, "P1", contains="ph", at=NOW)
    assert [r.area for r in every] == ["Alpha", "Beta", "Delta", "Gamma", "Long", "Zero"]
    assert [(r.area, r.rate_new, r.increment_new, r.rate_plans) for r in chosen] == [
        ("Beta", "0.2", "60/60", "P1"), ("Zero", "0.01", "60/60", "P1")]
    assert [r.area for r in filtered] == ["Alpha"]


def _rows(*rates: str) -> list[ChangeRow]:
    return [ChangeRow(n, "Area RATE", "T", area=f"A{n}", rate_new=r) for n, r in enumerate(rates, start=1)]


def test_modify_rates_in_exact_decimals():
    rows = _rows("0.1", "", "0.33333333", "1.005")
    assert [r.rate_new for r in modify_rates(rows, "clear")] == ["", "", "", ""]
    assert [r.rate_new for r in modify_rates(rows, "add", "-0.2")] == ["0", "", "0.13333333", "0.805"]
    assert [r.rate_new for r in modify_rates(rows, "multiply", "1.1")] == ["0.11", "", "0.36666666", "1.1055"]
    assert [r.rate_new for r in modify_rates(rows, "multiply", "-3")] == ["0", "", "0", "0"]
    assert [r.rate_new for r in modify_rates(rows, "round", digits=2, mode="half-up")] == ["0.10", "", "0.33", "1.01"]
    assert [r.rate_new for r in modify_rates(rows, "round", digits=2, mode="down")] == ["0.10", "", "0.33", "1.00"]
    assert [r.rate_new for r in modify_rates(rows, "round", digits=1, mode="up")] == ["0.1", "", "0.4", "1.1"]
    assert modify_rates(_rows("0.123456785"), "round", digits=8)[0].rate_new == "0.12345679"
    only_first = modify_rates(rows, "add", "1", where=lambda r: r.row == 1)
    assert [r.rate_new for r in only_first] == ["1.1", "", "0.33333333", "1.005"]
    assert Decimal(modify_rates(_rows("0.1"), "multiply", "3")[0].rate_new) == Decimal("0.3")


def test_modify_rates_rejects_bad_parameters():
    with pytest.raises(ParameterError, match="digits must be 1 to 8"):
        modify_rates(_rows("0.1"), "round", digits=9)
    with pytest.raises(ParameterError, match="not a decimal number"):
        modify_rates(_rows("0.1"), "add", "ten")
    with pytest.raises(ChangeDeckError, match="row 1"):
        modify_rates(_rows("abc"), "add", "1")


def test_templates_save_load_append_and_merge(small_sqlite):
    engine = engine_for(small_sqlite)
    save_deck(engine, "increase-q4", _rows("0.1", "0.2"), "alice", kind="template")
    save_deck(engine, "work", _rows("0.5"), "alice")
    with engine.connect() as conn:
        template = read_deck(conn, "increase-q4", "alice", kind="template")
        work = read_deck(conn, "work", "alice")
        with pytest.raises(LookupError):
            read_deck(conn, "increase-q4", "alice")  # a template is not a deck
    assert [r.rate_new for r in append_rows(work, template)] == ["0.5", "0.1", "0.2"]
    merged = merge_rows(work, template)
    assert [(r.row, r.area, r.rate_new) for r in merged] == [(2, "A1", "0.1"), (3, "A2", "0.2")]
    save_deck(engine, "work", merged, "alice")
    with engine.connect() as conn:
        assert [r.rate_new for r in read_deck(conn, "work", "alice")] == ["0.1", "0.2"]


def test_demo_change_deck_has_every_type_and_optional_errors(sqlite_url):
    from reportlib.demo import build_demo

    build_demo(sqlite_url, scale="small", domains=["rates"])
    with engine_for(sqlite_url).connect() as conn:
        clean = demo_change_deck(conn, "Global Voice", seed=3)
        result = verify_deck(conn, clean, VerifyOptions(groups=("Standard",)))
        assert result.ok, result.errors
        assert {r.change_type for r in clean} == {"Area RATE", "Area name", "Area add", "Area delete", "Code add",
                                                  "Code delete", "Code replace"}
        broken = demo_change_deck(conn, "Global Voice", seed=3, errors=True)
        bad = verify_deck(conn, broken, VerifyOptions(groups=("Standard",)))
    assert len(bad.errors) == 7
    assert [e.split(" ")[1] for e in bad.errors] == [str(n) for n in range(10, 17)]  # the header is row 1


def test_demo_data_is_deterministic_and_large_has_an_a_to_z_deck():
    from reportlib.ratedesk.demo import DEMO_NOW, demo_rates

    assert demo_rates(5, "default") == demo_rates(5, "default")
    default = demo_rates(7, "default")
    assert len({r["code_deck"] for r in default["code_decks.csv"]}) >= 2
    assert 200 <= len(default["areas.csv"]) <= 1000 and len(default["codes.csv"]) >= 2000
    assert any(r["active_from"] > DEMO_NOW for r in default["rates.csv"])
    assert any(";" in (p["rate_plan_groups"] or "") for p in default["rate_plans.csv"])
    large = demo_rates(7, "large")
    az = [c for c in large["codes.csv"] if c["code_deck"] == "A-Z Wholesale"]
    assert 55_000 <= len(az) <= 70_000 and len({c["code"] for c in az}) == len(az)
    assert all(isinstance(c["code"], str) for c in az) and {"0044", "4477009001234567"} <= {c["code"] for c in az}


def test_import_reports_every_problem_at_once_numbered_as_verify_numbers_them(small_db, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER
                    + ",P1,,Area RATE,,Nowhere,,0.1,,,,\n"  # row 2: unknown area
                    + ",P1,,Area RATE,,Alpha,\"a note\nover two lines\",abc,,,,\n"  # row 3: not a number
                    + ",,,Code add,4910,Gamma,,,,,,\n"  # row 4: the code is in Alpha already
                    + "\n"  # row 5: empty, still a row of the spreadsheet
                    + ",,,Code add,0044,Zero,,,,,,\n"  # row 6: the code exists in Zero
                    + ",P1,,Area RATE,,Delta,,0.2,,,,\n", encoding="utf-8")  # row 7: fine
    engine = engine_for(small_db)
    with engine.connect() as conn, pytest.raises(ChangeDeckError) as failure:
        read_change_csv(path, "T", conn)
    problems = failure.value.problems
    assert problems == [
        "bad.csv, row 2 (Area RATE 'Nowhere'): unknown area 'Nowhere' in code deck 'T'",
        "bad.csv, row 3 (Area RATE 'Alpha'): rate new 'abc' is not a number",
        "bad.csv, row 4 (Code add 'Gamma'): code 4910 is already in another area ('Alpha')",
        "bad.csv, row 6 (Code add 'Zero'): code 0044 already exists in area 'Zero'",
    ]
    # the same file stored as typed (no database check) and verified: the same rows, the same words
    rows = read_change_csv(path, "T")
    assert [r.row for r in rows] == [2, 3, 4, 6, 7]
    save_deck(engine, "as-typed", rows, "alice")
    with engine.connect() as conn:
        stored = read_deck(conn, "as-typed", "alice")
        result = verify_deck(conn, stored, VerifyOptions(now=NOW, base_date=BASE))
    assert [r.row for r in stored] == [2, 3, 4, 6, 7]
    assert result.errors == [p.removeprefix("bad.csv, ") for p in problems]


def test_a_deck_exported_to_csv_comes_back_the_same_and_never_as_a_formula(small_db, tmp_path):
    from reportlib.ratedesk import write_change_csv

    rows = [
        ChangeRow(2, "Area add", "T", area_new="@Evil Land", codes="4990", rate_new="0.5", increment_new="60/60",
                  rate_plans="P1", custom_1="=1+2", custom_2="-note", custom_3="'=already quoted"),
        ChangeRow(3, "Area RATE", "T", area="Alpha", rate_new="-0.5", rate_plans="P1", custom_1="+44 20 7946 0000",
                  custom_2="''@two quotes", custom_3="'plain quote"),
        ChangeRow(5, "Area RATE", "T", area="Gamma", rate_new="+0.07", rate_plans="P1", custom_1="\tTab",
                  custom_2="1e-3", custom_3="-"),
    ]
    exported = write_change_csv(tmp_path / "deck.csv", rows)
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert lines[1].split(",")[6:12] == ["'@Evil Land", "0.5", "60/60", "'=1+2", "'-note", "''=already quoted"]
    assert lines[2].split(",")[7] == "-0.5" and lines[3] == ""  # a number as it is; row 4 stays empty
    assert read_change_csv(exported, "T") == rows  # the same rows, the same numbers

    # through the commands: show --csv, then import, gives back the stored deck
    valid = [rows[0], replace(rows[1], rate_new="0.5"), replace(rows[2], rate_new="0.07")]
    engine = engine_for(small_db)
    save_deck(engine, os_user(), valid, os_user())
    again = tmp_path / "again.csv"
    assert main(["rates", "show", "--csv", str(again), "--db", small_db]) == 0
    assert main(["rates", "import", str(again), "--code-deck", "T", "--deck", "copy", "--db", small_db]) == 0
    with engine.connect() as conn:
        assert read_deck(conn, "copy", os_user()) == valid

    # what a spreadsheet makes of the file: text, never a formula (LibreOffice)
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    need(bool(soffice), "LibreOffice")
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path / 'lo'}", "--headless", "--convert-to", "xlsx",
                    "--outdir", str(tmp_path / "xlsx"), str(exported)], check=True, capture_output=True, timeout=240)
    book = load_workbook(tmp_path / "xlsx" / "deck.xlsx")
    cells = [c for row in book.active.iter_rows() for c in row if c.value is not None]
    assert cells and not [c.value for c in cells if c.data_type == "f" or str(c.value).startswith("=")]
