"""The portal's reports: conditions checked against the user, the page's figures are the file's."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest

from reportlib.db import connect
from reportlib.load import write_domain
from reportlib.portal import reports as rp
from reportlib.portal.users import User
from reportlib.render.table import Col
from tests.statements.dataset import billing_rows

from .conftest import sheet_table

P1_USER = User("alice", "partner", "P1")
ANALYST = User("ana", "analyst")


@pytest.fixture
def billing(db_url):
    write_domain("billing", billing_rows(), url=db_url, source="test")
    return db_url


def test_a_partner_user_reports_on_its_own_accounts_only(billing):
    with connect(billing) as conn:
        own = rp.parse_conditions(conn, P1_USER, {"report": "total-credit", "from": "2026-10-01", "to": "2026-10-31"})
        assert own.partner == "P1" and own.end == date(2026, 10, 31)
        assert rp.parse_conditions(conn, P1_USER, {"report": "total-credit", "partner": "P1", "account": "C1",
                                                   "month": "2026-10"}).account == "C1"
        for params in ({"report": "total-credit", "partner": "P2"}, {"report": "total-credit", "account": "C3"},
                       {"report": "total-credit", "account": "P2"}, {"report": "total-credit", "account": "nope"},
                       {"report": "no-such-report"}, {"report": "total-credit", "partner": "../P1"}):
            with pytest.raises(rp.NotFound):
                rp.parse_conditions(conn, P1_USER, params)
        assert rp.parse_conditions(conn, ANALYST, {"report": "discounts", "partner": "P2"}).partner == "P2"
        with pytest.raises(rp.NotFound):
            rp.parse_conditions(conn, ANALYST, {"report": "discounts", "partner": "P9"})
        with pytest.raises(rp.ConditionsError, match="choose a partner"):
            rp.parse_conditions(conn, ANALYST, {"report": "discounts"})


def test_bad_conditions_list_every_problem(billing):
    with connect(billing) as conn, pytest.raises(rp.ConditionsError) as caught:
        rp.parse_conditions(conn, P1_USER, {"report": "discounts", "from": "2026-10-31", "to": "2026-10-01",
                                            "account_type": "reseller", "status": ["active", "gone"]})
    text = " | ".join(caught.value.problems)
    assert "before 'from'" in text and "account type 'reseller'" in text and "'gone'" in text
    with connect(billing) as conn, pytest.raises(rp.ConditionsError, match="not a date"):
        rp.parse_conditions(conn, P1_USER, {"report": "discounts", "from": "2026-13-01"})
    with connect(billing) as conn, pytest.raises(rp.ConditionsError, match="at most"):
        rp.parse_conditions(conn, P1_USER, {"report": "discounts", "from": "2020-01-01", "to": "2026-01-01"})


@pytest.mark.parametrize("value, kind, text", [
    (Decimal("6126.205"), "money", "6,126.21"), (Decimal("-2.675"), "money", "-2.68"),
    (Decimal("2.665"), "money", "2.67"), (Decimal("0.12345"), "decimal", "0.1235"), (12345, "int", "12,345"),
])
def test_a_figure_on_the_page_is_rounded_half_up_as_the_workbook_shows_it(value, kind, text):
    col = Col("x", kind=kind, places=4 if kind == "decimal" else 2)
    assert rp.shown(col, value) == text


@pytest.mark.parametrize("name", [n for n, _ in rp.report_choices()])
def test_every_report_page_shows_exactly_the_rows_of_its_export(billing, tmp_path, name):
    """Each table on the page, cell for cell, is the exported sheet as a spreadsheet shows it."""
    with connect(billing) as conn:
        conditions = rp.parse_conditions(conn, P1_USER, {"report": name, "from": "2026-10-01", "to": "2026-10-31",
                                                         "status": ["active", "inactive"]})
        tables = rp.report_tables(conn, conditions)
        path = rp.export_report(conn, conditions, tmp_path / conditions.file_name())
    book = openpyxl.load_workbook(path)
    assert [t.title for t in tables] == [ws.title for ws in book.worksheets]
    assert any(t.count for t in tables), "the dataset gives every report rows in October"
    for table, ws in zip(tables, book.worksheets):
        on_page = table.rows + ([table.total] if table.total else [])
        assert on_page == sheet_table(ws, [h for h, _ in table.headers]), table.title
        assert table.count == len(on_page)


def test_a_kept_report_is_made_again_once_the_data_changes(billing):
    cache = rp.ReportCache()
    with connect(billing) as conn:
        conditions = rp.parse_conditions(conn, P1_USER, {"report": "revenue-by-service", "month": "2026-10"})
        kept = cache.view(conn)
        first = kept.tables(conditions)
        assert kept.tables(conditions) is first and kept.workbook(conditions) == cache.view(conn).workbook(conditions)
    assert (cache.hits, cache.misses) == (2, 2)
    rows = billing_rows()
    rows["revenue_lines.csv"] = [dict(line, gross=line["gross"] + 1, net=line["net"] + 1)
                                 for line in rows["revenue_lines.csv"]]
    write_domain("billing", rows, url=billing, source="test, changed")
    with connect(billing) as conn:
        again = cache.view(conn).tables(conditions)
        workbook = openpyxl.load_workbook(io.BytesIO(cache.view(conn).workbook(conditions))).worksheets[0]
    assert again is not first and again[0].total != first[0].total
    assert sheet_table(workbook, [h for h, _ in again[0].headers])[-1] == again[0].total


def test_a_kept_report_is_made_again_after_its_time(billing):
    cache = rp.ReportCache(seconds=0)
    with connect(billing) as conn:
        conditions = rp.parse_conditions(conn, P1_USER, {"report": "total-credit", "month": "2026-10"})
        assert cache.view(conn).tables(conditions) is not cache.view(conn).tables(conditions)


def test_a_long_sheet_shows_its_first_rows_and_its_total_and_says_the_file_has_them_all(billing, monkeypatch):
    monkeypatch.setattr(rp, "SHOWN_ROWS", 2)
    with connect(billing) as conn:
        conditions = rp.parse_conditions(conn, P1_USER, {"report": "credit-usage", "month": "2026-10"})
        usage, by_account, _by_service = rp.report_tables(conn, conditions)
    assert usage.count == usage.lines == 3 and len(usage.rows) == 2 and usage.truncated
    assert by_account.total is not None and by_account.lines == by_account.count - 1 and not by_account.truncated
    assert by_account.html.count("<tr") == by_account.count + 1 and 'class="total"' in by_account.html
