"""Filling the change deck: CSV import, current rates, templates, demo deck, modify rates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reportlib.db import engine_for
from reportlib.errors import ParameterError
from reportlib.rates import (ChangeDeckError, ChangeRow, VerifyOptions, append_rows, demo_change_deck, merge_rows,
                             modify_rates, read_change_csv, read_deck, rows_from_rates, verify_deck, write_deck)

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
    write_deck(engine, "increase-q4", _rows("0.1", "0.2"), "alice", kind="template")
    write_deck(engine, "work", _rows("0.5"), "alice")
    with engine.connect() as conn:
        template = read_deck(conn, "increase-q4", "alice", kind="template")
        work = read_deck(conn, "work", "alice")
        with pytest.raises(LookupError):
            read_deck(conn, "increase-q4", "alice")  # a template is not a deck
    assert [r.rate_new for r in append_rows(work, template)] == ["0.5", "0.1", "0.2"]
    merged = merge_rows(work, template)
    assert [(r.row, r.area, r.rate_new) for r in merged] == [(2, "A1", "0.1"), (3, "A2", "0.2")]
    write_deck(engine, "work", merged, "alice")
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
    from reportlib.rates.demo import DEMO_NOW, demo_rates

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
