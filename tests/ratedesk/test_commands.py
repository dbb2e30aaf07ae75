"""The ``reportlib rates`` commands end to end, and the domain's CSV contract."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from reportlib.cli import main
from reportlib.db import engine_for
from reportlib.errors import LoadError
from reportlib.load import load_folder
from reportlib.ratedesk import lookup_rate
from reportlib.ratedesk.users import os_user

from ..conftest import table_snapshot
from .conftest import use_desk


@pytest.fixture
def cli(small_sqlite, monkeypatch):
    """The small deck; this test's operating-system user is a rates admin (for --as-user)."""
    return use_desk(small_sqlite, monkeypatch)


def test_import_verify_export_apply_lookup_and_log(cli, tmp_path, capsys):
    deck = tmp_path / "deck.csv"
    deck.write_text("code deck,rate plans,rate plan groups,change type,codes,area name in code deck,area name new,"
                    "rate new,increm. new,increm. part 1,increm. part 2,increm. part 3\n"
                    "T,P1,,Area RATE,,Alpha,,0.5,,,,\n"
                    "T,,,Code add,0047,Zero,,,,,,\n"
                    "T,P1,,Area RATE,,Nowhere,,0.5,,,,\n", encoding="utf-8")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 2
    assert "deck.csv, row 4 (Area RATE 'Nowhere'): unknown area 'Nowhere' in code deck 'T'" in capsys.readouterr().err

    deck.write_text("\n".join(deck.read_text().splitlines()[:3]) + "\nT,P1,,Area RATE,,Gamma,,0.07,,,,\n")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    assert main(["rates", "modify", "clear", "--row", "4"]) == 0  # row 4 of the file is row 4 of the deck
    review = tmp_path / "review.xlsx"
    assert main(["rates", "verify", "--base-date", "2026-11-21", "--export", str(review)]) == 1
    err = capsys.readouterr().err
    assert "row 4 (Area RATE 'Gamma'): rate new is required" in err
    before = table_snapshot(cli)
    assert main(["rates", "apply"]) == 2  # a blank rate is refused
    assert "row 4 (Area RATE 'Gamma'): rate new is required" in capsys.readouterr().err
    assert table_snapshot(cli) == before

    book = load_workbook(review)
    assert book.sheetnames == ["Summary", "Changes", "Errors", "Warnings"]
    header = [c.value for c in book["Changes"][1]]
    rows = [dict(zip(header, (c.value for c in row))) for row in book["Changes"].iter_rows(min_row=2)]
    added = next(r for r in rows if r["Result"] == "Code added")
    assert added["Code"] == "0047" and book["Changes"].cell(rows.index(added) + 2, header.index("Code") + 1).data_type == "s"
    alpha = next(r for r in rows if r["Area"] == "Alpha")
    assert alpha["Result"] == "Increase" and Decimal(str(alpha["Rate new"])) == Decimal("0.5")
    assert "rate new is required" in book["Errors"]["A2"].value
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Dates"] == "base date 2026-11-21 + each plan's date template days"  # the review shows them

    assert main(["rates", "show"]) == 0
    shown = capsys.readouterr().out
    assert "ok: Increase 1" in shown and "error: rate new is required" in shown
    out = shown
    assert "Gamma" in out and "0047" in out
    main(["rates", "deck", "list"])
    capsys.readouterr()

    exported = tmp_path / "back.csv"
    assert main(["rates", "show", "--csv", str(exported)]) == 0
    with exported.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows = [r for r in rows if r["area name in code deck"] != "Gamma"]
    with exported.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["rates", "import", str(exported), "--code-deck", "T"]) == 0
    assert main(["rates", "apply"]) == 2
    assert "changed after it was verified" in capsys.readouterr().err
    assert main(["rates", "verify", "--base-date", "2026-11-21"]) == 0
    assert main(["rates", "apply"]) == 0
    assert "Applied as change batch 1" in capsys.readouterr().out
    assert main(["rates", "apply"]) == 2
    assert "already applied as batch 1" in capsys.readouterr().err

    assert main(["rates", "lookup", "P1", "+00 47 1234", "--at", "2026-11-22"]) == 0
    assert "code 0047 (Zero)" in capsys.readouterr().out
    assert main(["rates", "lookup", "P1", "4910", "--at", "2026-12-01T00:00"]) == 0
    assert "rate 0.50000000 USD" in capsys.readouterr().out
    assert main(["rates", "lookup", "P1", "491x"]) == 2
    assert "not a dialled number" in capsys.readouterr().err
    assert main(["rates", "log"]) == 0
    assert "batch    1" in capsys.readouterr().out
    assert main(["rates", "log", "--batch", "1"]) == 0
    assert "Code added" in capsys.readouterr().out


def test_templates_and_demo_deck_from_the_command_line(cli, capsys):
    assert main(["rates", "add-current", "P1", "--area", "Alpha", "--area", "Beta"]) == 0
    assert main(["rates", "modify", "multiply", "1.10"]) == 0
    assert main(["rates", "modify", "round", "--digits", "2", "--mode", "up"]) == 0
    assert main(["rates", "template", "save", "p1-up"]) == 0
    assert main(["rates", "template", "load", "p1-up", "--deck", "second"]) == 0
    assert main(["rates", "template", "append", "p1-up", "--deck", "second"]) == 0
    assert main(["rates", "template", "list"]) == 0
    assert "p1-up" in capsys.readouterr().out
    assert main(["rates", "verify", "--deck", "second"]) == 1  # appended twice: duplicates
    assert "row 4 (Area RATE 'Alpha'): duplicate of row 2" in capsys.readouterr().err
    assert main(["rates", "template", "merge", "p1-up", "--deck", "second"]) == 0
    assert main(["rates", "deck", "create", "team", "--shared"]) == 0
    assert main(["rates", "deck", "deny", "team", "--who", "bob", "--role", "viewer"]) == 0
    assert main(["rates", "show", "--deck", "team", "--as-user", "bob"]) == 2
    assert "'bob' may not view" in capsys.readouterr().err
    assert main(["rates", "show", "--deck", "team", "--as-user", "dave"]) == 0
    assert main(["rates", "deck", "unshare", "team"]) == 0
    assert main(["rates", "show", "--deck", "team", "--as-user", "dave"]) == 2
    assert main(["rates", "deck", "share", "team", "--as-user", "dave"]) == 2
    assert f"Only the owner ({os_user()})" in capsys.readouterr().err
    assert main(["rates", "deck", "lock", "team", "--for", "90m"]) == 0
    assert main(["rates", "locks"]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("team ")]
    assert line.split()[1:4] == ["session", "held", "by"] and f"held by {os_user()}" in line and "[alive]" in line
    assert main(["rates", "deck", "lock", "team", "--for", "soon"]) == 2
    assert "--for 'soon' is not a duration like 30m, 4h or 2d" in capsys.readouterr().err


def test_demo_data_round_trips_through_the_csv_contract(tmp_path, sqlite_url):
    from reportlib.demo import build_demo

    build_demo(sqlite_url, scale="small", domains=["rates"], csv_folder=tmp_path / "csv")
    folder = tmp_path / "csv" / "rates"
    with (folder / "codes.csv").open(newline="") as handle:
        codes = [r["code"] for r in csv.DictReader(handle)]
    assert {"0044", "4477009001234567"} <= set(codes)
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    summary = load_folder(folder, "rates", url=other)
    assert summary.rows["rates_codes"] == len(codes)
    with engine_for(other).connect() as conn:
        assert lookup_rate(conn, "Retail USD", "4477009001234567").code == "4477009001234567"
        assert lookup_rate(conn, "Retail USD", "004412").code == "0044"

    text = (folder / "codes.csv").read_text().splitlines()
    text[1] = text[1].replace(text[1].split(",")[2], "44a", 1)
    (folder / "codes.csv").write_text("\n".join(text) + "\n")
    rates_csv = (folder / "rates.csv").read_text().splitlines()
    rates_csv[1] = rates_csv[1].replace("60/60", "60-60").replace("1/1", "60-60").replace("30/6", "60-60") \
        .replace("0/60/60", "60-60")
    (folder / "rates.csv").write_text("\n".join(rates_csv) + "\n")
    before = table_snapshot(other)
    with pytest.raises(LoadError) as failure:
        load_folder(folder, "rates", url=other)
    text = str(failure.value)
    assert "codes.csv, row 2, column 'code' (value '44a'): a code must be digits only" in text
    assert "rates.csv, row 2, column 'increment'" in text
    assert table_snapshot(other) == before


@pytest.fixture
def desk(small_db, monkeypatch):
    """The small deck on SQLite and PostgreSQL, for the commands; no admin, no REPORTLIB_USER."""
    monkeypatch.setenv("REPORTLIB_DB", small_db)
    monkeypatch.delenv("REPORTLIB_RATES_ADMINS", raising=False)
    monkeypatch.delenv("REPORTLIB_USER", raising=False)
    return small_db


def test_apply_applies_with_the_options_that_were_verified_or_refuses_saying_what_differs(desk, tmp_path, capsys):
    import sqlalchemy as sa

    from reportlib.ratedesk import ChangeRow, VerifyOptions, apply_deck
    from reportlib.ratedesk import data as s

    deck = tmp_path / "deck.csv"
    deck.write_text("area name in code deck,rate new,rate plans\nAlpha,0.12,P1\n", encoding="utf-8")
    assert main(["rates", "import", str(deck), "--code-deck", "T"]) == 0
    assert main(["rates", "apply"]) == 2
    assert "has not been verified" in capsys.readouterr().err
    assert main(["rates", "verify", "--base-date", "2026-11-02"]) == 0
    assert "base date 2026-11-02" in capsys.readouterr().out

    assert main(["rates", "apply", "--base-date", "2026-11-03"]) == 2
    assert "--base-date 2026-11-03 differs from the verified 2026-11-02" in capsys.readouterr().err
    assert main(["rates", "apply", "--plan", "P2", "--no-new"]) == 2
    err = capsys.readouterr().err
    assert "--plan P2 differs from the verified none" in err and "--no-new is given, but" in err

    review = tmp_path / "review.html"
    assert main(["rates", "review", "--html", str(review)]) == 0  # a review with no options: today's date
    assert main(["rates", "apply", "--base-date", "2026-11-02"]) == 2  # the review is the latest verification
    assert "differs from the verified" in capsys.readouterr().err
    assert "base date" in review.read_text(encoding="utf-8")
    assert main(["rates", "review", "--html", str(review), "--base-date", "2026-11-02"]) == 0
    assert "base date 2026-11-02" in review.read_text(encoding="utf-8")

    # the rates change between verify and apply: apply refuses what was not reviewed
    apply_deck(desk, [ChangeRow(2, "Area RATE", "T", area="Alpha", rate_new="0.11", rate_plans="P1")],
               VerifyOptions(base_date=datetime(2026, 10, 1)), user="colleague")
    before = table_snapshot(desk)
    assert main(["rates", "apply"]) == 2
    assert "would make other changes than the ones verified" in capsys.readouterr().err
    assert table_snapshot(desk) == before

    assert main(["rates", "verify", "--base-date", "2026-11-02"]) == 0
    assert main(["rates", "apply"]) == 0  # no date given: the verified one, not today's
    with engine_for(desk).connect() as conn:
        starts = conn.execute(sa.select(s.rates.c.active_from).where(
            s.rates.c.rate_plan == "P1", s.rates.c.area == "Alpha", s.rates.c.rate == Decimal("0.12"))).scalars().all()
    assert starts == [datetime(2026, 11, 9)]  # 2026-11-02 + the 7 days' notice of an increase


def test_the_user_is_the_operating_systems_and_only_an_admin_may_act_as_another(desk, capsys, monkeypatch):
    from reportlib.ratedesk import create_deck

    me = os_user()
    if me == "bob":
        pytest.skip("this test needs an operating-system user other than bob")
    create_deck(engine_for(desk), "bobs", "bob")  # private: only bob may view it
    assert main(["rates", "show", "--deck", "bobs", "--user", "bob"]) == 2
    assert f"--user 'bob' is not accepted: you are {me!r}" in capsys.readouterr().err
    monkeypatch.setenv("REPORTLIB_USER", "bob")  # a variable anyone can set changes nothing
    assert main(["rates", "show", "--deck", "bobs"]) == 2
    assert f"User {me!r} may not view change deck 'bobs'" in capsys.readouterr().err
    assert main(["rates", "show", "--deck", "bobs", "--as-user", "bob"]) == 2
    assert "only a rates admin may act as another user" in capsys.readouterr().err

    monkeypatch.setenv("REPORTLIB_RATES_ADMINS", f"carol, {me}")
    assert main(["rates", "show", "--deck", "bobs", "--as-user", "bob"]) == 0
    capsys.readouterr()
    assert main(["rates", "log"]) == 0
    assert f"as-user          {me} acted as bob: reportlib rates show (deck 'bobs')" in capsys.readouterr().out
