"""``reportlib load qbr``: all fourteen files, every problem at once, nothing written on error."""

from decimal import Decimal as D

import pytest

import reportlib
from reportlib.errors import LoadError
from reportlib.load import load_folder
from reportlib.qbr.metrics import partner_metrics

from ..conftest import table_snapshot
from .dataset import rewrite_cell, write_folder


@pytest.fixture
def folder(tmp_path):
    return write_folder(tmp_path / "qbr")


def test_load_then_metrics_agree_on_every_database(folder, db_url):
    summary = load_folder(folder, "qbr", db_url)
    assert summary.rows["qbr_partners"] == 4 and summary.rows["qbr_opportunities"] == 14
    assert summary.rows["qbr_marketing"] == 3
    with reportlib.connect(db_url) as conn:
        frame = partner_metrics(conn, "2026Q3").set_index("partner_id")
    assert frame.loc["A1", "revenue"] == D("100000.00") and frame.loc["A1", "health_display"] == D("85.4")
    assert frame.loc["A1", "time_to_approval_hours"] == D(36)
    assert frame.loc["C3", "health_display"] == D("97.0")


def test_every_problem_is_reported_at_once_and_nothing_is_written(folder, db_url):
    load_folder(folder, "qbr", db_url)
    before = table_snapshot(db_url)
    rewrite_cell(folder / "opportunities.csv", 2, "close_date", "")           # o1 is won: needs a close date
    rewrite_cell(folder / "opportunities.csv", 3, "amount", "12,5")
    rewrite_cell(folder / "targets.csv", 2, "quarter", "2026-3")
    rewrite_cell(folder / "surveys.csv", 2, "csat", "7")
    rewrite_cell(folder / "deal_registrations.csv", 2, "partner_id", "ZZ9")
    rewrite_cell(folder / "partners.csv", 2, "tier", "platinum")
    (folder / "tickets.csv").unlink()
    with pytest.raises(LoadError) as info:
        load_folder(folder, "qbr", db_url)
    problems = {(p.file, p.row, p.column) for p in info.value.problems}
    assert ("opportunities.csv", 2, "close_date") in problems
    assert ("opportunities.csv", 3, "amount") in problems
    assert ("targets.csv", 2, "quarter") in problems
    assert ("surveys.csv", 2, "csat") in problems
    assert ("partners.csv", 2, "tier") in problems
    assert ("tickets.csv", None, None) in problems
    text = str(info.value)
    assert "nothing was written" in text and "platinum" in text and "must be between 1 and 5" in text
    assert "is required for a won deal" in text and "YYYYQn" in text
    assert table_snapshot(db_url) == before


def test_unknown_partner_reference_is_named(folder, sqlite_url):
    rewrite_cell(folder / "deal_registrations.csv", 2, "partner_id", "ZZ9")
    with pytest.raises(LoadError) as info:
        load_folder(folder, "qbr", sqlite_url)
    (problem,) = info.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == ("deal_registrations.csv", 2, "partner_id", "ZZ9")
    assert "unknown partner" in problem.reason


def test_open_deal_with_close_date_and_decision_before_submission(folder, sqlite_url):
    rewrite_cell(folder / "opportunities.csv", 8, "close_date", "2026-09-01")   # o7 is open
    rewrite_cell(folder / "deal_registrations.csv", 2, "decided_at", "2026-06-01T00:00:00")
    with pytest.raises(LoadError) as info:
        load_folder(folder, "qbr", sqlite_url)
    reasons = {(p.file, p.column): p.reason for p in info.value.problems}
    assert "empty while the deal is open" in reasons[("opportunities.csv", "close_date")]
    assert "before submitted_at" in reasons[("deal_registrations.csv", "decided_at")]


def test_demo_data_passes_its_own_contract(tmp_path, sqlite_url):
    from reportlib.demo import build_demo

    build_demo(sqlite_url, scale="small", domains=["qbr"], csv_folder=tmp_path / "csv")
    summary = load_folder(tmp_path / "csv" / "qbr", "qbr", sqlite_url)
    assert summary.rows["qbr_partners"] == 6 and all(count > 0 for count in summary.rows.values())
    with reportlib.connect(sqlite_url) as conn:
        frame = partner_metrics(conn, "2026Q3")
    assert set(frame["status"]) == {"active"} and frame["health_score"].notna().all()
    assert "Revenue attainment" in set(frame["missing_components"])  # P003 has no target
