"""The leads domain: demo data, the bulk insert path, and loading a CSV folder."""

from __future__ import annotations

import csv
import shutil

import pandas as pd
import pytest
import sqlalchemy as sa

from ..conftest import table_snapshot
from reportlib.dashboard.demo import demo_leads
from reportlib.dashboard.data import DOMAIN, lead_jobs, leads
from reportlib.db import connect
from reportlib.demo import export_csv
from reportlib.errors import LoadError
from reportlib.load import load_folder, write_domain


@pytest.fixture(scope="module")
def small():
    return demo_leads(7, "small")


def test_demo_is_deterministic_and_covers_13_months_and_messy_names(small):
    again = demo_leads(7, "small")
    for name, frame in small.items():
        pd.testing.assert_frame_equal(frame, again[name])
    months = small["leads.csv"]["created_at"].dt.strftime("%Y-%m")
    assert months.min() == "2025-09" and months.max() == "2026-11" and months.nunique() == 15
    assert small["leads.csv"]["created_at"].max() < pd.Timestamp("2026-11-21")
    advertisers = set(small["leads.csv"]["advertiser"])
    assert {"Hilton", "hilton "} <= advertisers and any(a.startswith("Hilton ") for a in advertisers)
    assert set(small["leads.csv"]["channel"]) == {"LI connected app", "E2E", "upload", "API"}
    assert small["leads.csv"]["vertical"].nunique() >= 6 and small["leads.csv"]["industry"].nunique() >= 12
    assert set(small["lead_jobs.csv"]["lead_id"]) <= set(small["leads.csv"]["lead_id"])


def _rows(url: str, table: sa.Table) -> list[tuple]:
    with connect(url) as conn:
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))]


def test_bulk_path_stores_exactly_what_the_row_by_row_path_stores(db_url, small):
    write_domain("leads", small, url=db_url, source="bulk")
    bulk = {t.name: _rows(db_url, t) for t in (leads, lead_jobs)}
    as_dicts = {name: frame.astype(object).to_dict("records") for name, frame in small.items()}
    for row in as_dicts["leads.csv"]:
        row["created_at"] = row["created_at"].to_pydatetime()
    write_domain("leads", as_dicts, url=db_url, source="rows")
    assert {t.name: _rows(db_url, t) for t in (leads, lead_jobs)} == bulk
    assert len(bulk["leads_leads"]) == len(small["leads.csv"])


def test_load_folder_round_trips_the_demo_csv(sqlite_url, small, tmp_path):
    export_csv(DOMAIN, small, tmp_path / "leads")
    summary = load_folder(tmp_path / "leads", "leads", url=sqlite_url)
    assert summary.rows == {"leads_enterprises": 12, "leads_leads": len(small["leads.csv"]),
                            "leads_lead_jobs": len(small["lead_jobs.csv"])}


def test_a_bad_folder_names_every_problem_and_writes_nothing(sqlite_url, small, tmp_path):
    folder = tmp_path / "leads"
    export_csv(DOMAIN, small, folder)
    load_folder(folder, "leads", url=sqlite_url)
    before = table_snapshot(sqlite_url)
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    with open(bad / "leads.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    rows[1][header.index("status")] = "maybe"
    rows[2][header.index("enterprise_id")] = "E9999"
    rows[3][header.index("created_at")] = "31/10/2026"
    rows[4][header.index("deleted")] = "perhaps"
    with open(bad / "leads.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    with pytest.raises(LoadError) as caught:
        load_folder(bad, "leads", url=sqlite_url)
    message = str(caught.value)
    assert "leads.csv, row 2, column 'status' (value 'maybe'): not one of: valid, invalid, caution" in message
    assert "leads.csv, row 4, column 'created_at'" in message
    assert "leads.csv, row 5, column 'deleted' (value 'perhaps')" in message
    assert table_snapshot(sqlite_url) == before
    # References are checked once the types are right: fix the three, keep the unknown enterprise.
    rows[1][header.index("status")], rows[3][header.index("created_at")], rows[4][header.index("deleted")] = \
        "valid", "2026-10-31T10:00:00", "false"
    with open(bad / "leads.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    with pytest.raises(LoadError, match="row 3, column 'enterprise_id' \\(value 'E9999'\\): unknown enterprise"):
        load_folder(bad, "leads", url=sqlite_url)
    assert table_snapshot(sqlite_url) == before
