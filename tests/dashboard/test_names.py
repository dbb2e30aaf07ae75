"""Name resolution: what merges automatically, what is only proposed, and the alias table."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from ..conftest import table_snapshot
from reportlib.dashboard import (accept_proposals, clean_name, export_aliases, import_aliases, load_aliases,
                                 name_key, name_proposals, raw_name_counts, resolve_names, write_proposals)
from reportlib.db import connect
from reportlib.errors import LoadError
from reportlib.load import write_domain

RAW = pd.DataFrame({"name": ["Hilton", "hilton ", "Hilton UK", "HILTON, Inc.", "Hiltn - EMEA", "Marriott",
                             "Marriot Bonvoy", "HP", "SAP"],
                    "leads": [10, 3, 2, 1, 1, 5, 2, 4, 4]})


@pytest.mark.parametrize("raw, key", [
    ("Hilton", "hilton"), ("  hilton ", "hilton"), ("Hilton UK", "hilton"), ("HILTON, Inc.", "hilton"),
    ("Hilton - EMEA", "hilton"), ("Dell Technologies (US)", "dell technologies"), ("Procter & Gamble", "procter and gamble"),
    ("Zoë Média GmbH", "zoe media"), ("UK", "uk"), ("Global", "global"),
])
def test_name_key_ignores_case_spaces_punctuation_and_suffixes(raw, key):
    assert name_key(raw) == key


def test_clean_name_keeps_case_and_drops_suffixes():
    assert clean_name("  Dell   Technologies (US) ") == "Dell Technologies"
    assert clean_name("Hilton, Inc.") == "Hilton"


def test_normalisation_merges_automatically_but_typos_are_only_proposed():
    resolution = resolve_names("advertiser", RAW)
    mapping = resolution.canonical()
    assert {mapping[n] for n in ["Hilton", "hilton ", "Hilton UK", "HILTON, Inc."]} == {"Hilton"}
    assert mapping["Hiltn - EMEA"] == "Hiltn"  # a typo never merges by itself
    assert mapping["Marriot Bonvoy"] == "Marriot Bonvoy"
    assert (resolution.raw_names, resolution.canonical_names, resolution.merged) == (9, 6, 3)
    proposals = name_proposals(resolution)
    pairs = dict(zip(proposals["raw_name"], proposals["canonical_name"]))
    assert pairs == {"Hiltn": "Hilton"}  # "HP" / "SAP" are too short to guess; "Marriot Bonvoy" too far
    assert 85 <= proposals.loc[0, "score"] < 100 and proposals.loc[0, "accept"] == ""


def test_analyst_alias_merges_every_spelling_of_its_raw_name():
    aliases = pd.DataFrame({"kind": ["advertiser", "publisher"], "raw_name": ["marriot bonvoy", "Hilton"],
                            "canonical_name": ["Marriott", "Not an advertiser alias"]})
    resolution = resolve_names("advertiser", RAW, aliases)
    mapping = resolution.mapping.set_index("raw_name")
    assert mapping.loc["Marriot Bonvoy", "canonical_name"] == "Marriott"
    assert mapping.loc["Marriot Bonvoy", "rule"] == "alias"
    assert mapping.loc["Hilton", "canonical_name"] == "Hilton"  # the publisher alias does not apply
    assert resolution.merged_by("alias") == 1


@pytest.fixture
def names_db(sqlite_url) -> str:
    from datetime import datetime

    names = ["Hilton", "hilton ", "Hiltn - EMEA", "Marriott", "Marriot Bonvoy", "=HYPERLINK(\"x\")"]
    leads = [{"lead_id": f"L{i}", "created_at": datetime(2026, 10, 1 + i), "enterprise_id": "E1", "advertiser": name,
              "publisher": "TechTarget", "channel": "API", "vertical": "Technology", "industry": "Software",
              "country": "US", "status": "valid", "deleted": False, "billable": True, "processed": True}
             for i, name in enumerate(names * 2 + ["Hilton"] * 5)]
    write_domain("leads", {"enterprises.csv": [{"enterprise_id": "E1", "name": "Acme", "enterprise_type": "agency"}],
                           "leads.csv": leads, "lead_jobs.csv": []}, url=sqlite_url, source="names test")
    return sqlite_url


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write(path, rows, columns):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def test_proposals_merge_only_after_an_analyst_accepts_them(names_db, tmp_path):
    review = tmp_path / "review.csv"
    with connect(names_db) as conn:
        assert write_proposals(conn, review, kinds=["advertiser"]) == 1
        assert load_aliases(conn).empty
        before = resolve_names("advertiser", raw_name_counts(conn, "advertiser"), load_aliases(conn)).canonical()
    assert before["Hiltn - EMEA"] == "Hiltn"
    rows = _rows(review)
    assert [(r["raw_name"], r["canonical_name"], r["accept"]) for r in rows] == [("Hiltn", "Hilton", "")]
    assert accept_proposals(review, url=names_db) == (0, 1)  # undecided rows stay unmerged
    rows[0]["accept"] = "yes"
    _write(review, rows, list(rows[0]))
    assert accept_proposals(review, url=names_db) == (1, 0)
    with connect(names_db) as conn:
        aliases = load_aliases(conn)
        after = resolve_names("advertiser", raw_name_counts(conn, "advertiser"), aliases).canonical()
    assert after["Hiltn - EMEA"] == "Hilton"
    assert aliases.loc[0, "source"] == "accepted" and aliases.loc[0, "score"] > 85


def test_aliases_export_and_import_round_trip_formula_like_names(names_db, tmp_path):
    source = tmp_path / "aliases.csv"
    _write(source, [{"kind": "advertiser", "raw_name": "Marriot Bonvoy", "canonical_name": "Marriott"},
                    {"kind": "advertiser", "raw_name": "=HYPERLINK(\"x\")", "canonical_name": "Hilton"}],
           ["kind", "raw_name", "canonical_name"])
    assert import_aliases(source, url=names_db) == 2
    exported = tmp_path / "exported.csv"
    with connect(names_db) as conn:
        assert export_aliases(conn, exported) == 2
    rows = _rows(exported)
    assert {r["raw_name"] for r in rows} == {"Marriot Bonvoy", "'=HYPERLINK(\"x\")"}  # never a formula in a sheet
    assert import_aliases(exported, url=names_db, replace=True) == 2
    with connect(names_db) as conn:
        mapping = resolve_names("advertiser", raw_name_counts(conn, "advertiser"), load_aliases(conn)).canonical()
    assert mapping["=HYPERLINK(\"x\")"] == "Hilton" and mapping["Marriot Bonvoy"] == "Marriott"


def test_bad_alias_file_reports_every_problem_and_writes_nothing(names_db, tmp_path):
    bad = tmp_path / "aliases.csv"
    _write(bad, [{"kind": "advertiser", "raw_name": "A", "canonical_name": "B"},
                 {"kind": "brand", "raw_name": "C", "canonical_name": "D"},
                 {"kind": "publisher", "raw_name": "", "canonical_name": "E"},
                 {"kind": "advertiser", "raw_name": "A", "canonical_name": "F"}], ["kind", "raw_name", "canonical_name"])
    before = table_snapshot(names_db)
    with pytest.raises(LoadError) as caught:
        import_aliases(bad, url=names_db)
    message = str(caught.value)
    assert "aliases.csv, row 3, column 'kind' (value 'brand')" in message
    assert "row 4, column 'raw_name'" in message and "row 5, column 'raw_name'" in message and "first seen on row 2" in message
    assert table_snapshot(names_db) == before


def test_accept_refuses_an_unclear_decision(names_db, tmp_path):
    review = tmp_path / "review.csv"
    _write(review, [{"kind": "advertiser", "raw_name": "Hiltn", "canonical_name": "Hilton", "score": "90.9",
                     "raw_leads": "2", "canonical_leads": "9", "accept": "maybe"}],
           ["kind", "raw_name", "canonical_name", "score", "raw_leads", "canonical_leads", "accept"])
    with pytest.raises(LoadError, match="column 'accept' \\(value 'maybe'\\): write yes to merge"):
        accept_proposals(review, url=names_db)


def test_changing_aliases_gives_the_leads_a_new_fingerprint(names_db, tmp_path):
    from reportlib.db import data_fingerprint

    aliases = tmp_path / "aliases.csv"
    _write(aliases, [{"kind": "advertiser", "raw_name": "Marriot Bonvoy", "canonical_name": "Marriott"}],
           ["kind", "raw_name", "canonical_name"])
    with connect(names_db) as conn:
        first = data_fingerprint(conn, "leads")
    import_aliases(aliases, url=names_db)
    with connect(names_db) as conn:
        second = data_fingerprint(conn, "leads")
    import_aliases(aliases, url=names_db, replace=True)  # same aliases again, but on top of another state
    with connect(names_db) as conn:
        third = data_fingerprint(conn, "leads")
    assert len({first, second, third}) == 3
