"""The recipients domain: loaded like the others, every bad address named, demo rows for every family."""

from __future__ import annotations

import csv

import pytest

from reportlib.db import engine_for
from reportlib.delivery.recipients import demo_recipients, recipients_for
from reportlib.errors import LoadError
from reportlib.families import FAMILIES
from reportlib.load import load_folder

from ..conftest import table_snapshot

HEADER = ["family", "entity_id", "role", "email", "name", "active"]
GOOD = [
    ["statement", "P1", "to", "finance@alpha.example", "Alpha finance", "yes"],
    ["statement", "P1", "cc", "ceo@alpha.example", "", ""],
    ["statement", "*", "bcc", "archive@carrier.example", "Archive", "yes"],
    ["statement", "*", "cc", "Finance@Alpha.example", "", "yes"],  # the entity's own row wins
    ["statement", "P2", "to", "gone@other.example", "", "no"],
    ["dashboard", "*", "to", "tech-leads@carrier.example", "Tech leads", "yes"],
]


def write(folder, rows) -> None:
    folder.mkdir(exist_ok=True)
    with open(folder / "recipients.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([HEADER, *rows])


def test_recipients_load_and_resolve_by_entity_then_everyone(tmp_path, db_url):
    write(tmp_path / "r", GOOD)
    summary = load_folder(tmp_path / "r", "recipients", url=db_url)
    assert summary.rows == {"recipients": 6}
    with engine_for(db_url).connect() as conn:
        p1 = recipients_for(conn, "statement", "P1")
        p2 = recipients_for(conn, "statement", "P2")
        board = recipients_for(conn, "dashboard", None)
    assert p1.by_role() == {"to": ["finance@alpha.example"], "cc": ["ceo@alpha.example"],
                            "bcc": ["archive@carrier.example"]}
    assert p1.names["finance@alpha.example"] == "Alpha finance"
    assert p2.by_role() == {"to": [], "cc": ["Finance@Alpha.example"], "bcc": ["archive@carrier.example"]}
    assert board.to == ("tech-leads@carrier.example",)


def test_every_bad_address_is_named_with_file_row_and_column_and_nothing_is_written(tmp_path, db_url):
    write(tmp_path / "r", GOOD)
    load_folder(tmp_path / "r", "recipients", url=db_url)
    before = table_snapshot(db_url)
    write(tmp_path / "bad", GOOD + [
        ["statement", "P3", "to", "finance at beta.example", "", "yes"],
        ["qbr", "A1", "cc", "alliances@", "", "yes"],
        ["statement", "P4", "boss", "boss@beta.example", "", "yes"],
        ["newsletter", "*", "to", "all@carrier.example", "", "yes"],
        ["statement", "P1", "to", "finance@alpha.example", "again", "yes"],
    ])
    with pytest.raises(LoadError) as caught:
        load_folder(tmp_path / "bad", "recipients", url=db_url)
    # Rows are the file's lines (the header is line 1).
    found = {(p.file, p.row, p.column, p.value) for p in caught.value.problems}
    assert ("recipients.csv", 8, "email", "finance at beta.example") in found
    assert ("recipients.csv", 9, "email", "alliances@") in found
    assert ("recipients.csv", 10, "role", "boss") in found
    assert ("recipients.csv", 11, "family", "newsletter") in found
    assert any(p.row == 12 and "duplicate key" in p.reason for p in caught.value.problems)
    message = str(caught.value)
    assert "not a valid e-mail address" in message and "nothing was written" in message
    assert table_snapshot(db_url) == before


def test_the_demo_addresses_every_family(tmp_path):
    rows = demo_recipients(7, "small")["recipients.csv"]
    families = {row["family"] for row in rows if row["active"]}
    assert families == set(FAMILIES.names())
    write(tmp_path / "demo", [[r["family"], r["entity_id"], r["role"], r["email"], r["name"] or "",
                               "yes" if r["active"] else "no"] for r in rows])
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    assert load_folder(tmp_path / "demo", "recipients", url=url).rows == {"recipients": len(rows)}
    partners = [r for r in rows if r["family"] == "statement" and r["entity_id"] != "*"]
    with engine_for(url).connect() as conn:
        first = recipients_for(conn, "statement", partners[0]["entity_id"])
    assert partners[0]["email"] in first.to and "statements-archive@carrier.example" in first.bcc
