"""Dashboard measures on a hand-counted dataset, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from reportlib.dashboard import measures, period_measures
from reportlib.dashboard.metrics import dashboard, invalidation_rate
from reportlib.db import connect
from reportlib.load import write_domain
from reportlib.periods import IsoWeek, Month

OCTOBER = Month(2026, 10)


def _lead(lead_id, created_at, status, *, deleted=False, billable=False, processed=True, enterprise="E1",
          advertiser="Hilton", channel="API"):
    return {"lead_id": lead_id, "created_at": created_at, "enterprise_id": enterprise, "advertiser": advertiser,
            "publisher": "TechTarget", "channel": channel, "vertical": "Technology", "industry": "Software",
            "country": "US", "status": status, "deleted": deleted, "billable": billable, "processed": processed}


def hand_counted() -> dict[str, list[dict]]:
    """October 2026 holds 10 leads: 3 deleted; of the 7 left, 3 valid, 2 invalid, 2 caution."""
    at = datetime
    leads = [
        _lead("L01", at(2026, 10, 10, 9), "valid", billable=True),
        _lead("L02", at(2026, 10, 11, 9), "invalid", enterprise="E2", advertiser="hilton ", channel="E2E"),
        _lead("L03", at(2026, 10, 12, 9), "invalid", enterprise="E2", advertiser="Hilton UK", channel="E2E"),
        _lead("L04", at(2026, 10, 13, 9), "caution", processed=False, advertiser="Hiltn - EMEA"),
        _lead("L05", at(2026, 10, 14, 9), "valid", deleted=True, advertiser="Marriott"),
        _lead("L06", at(2026, 10, 15, 9), "invalid", deleted=True, advertiser="Marriott"),
        _lead("L07", at(2026, 10, 16, 9), "caution", deleted=True, advertiser="Marriott"),
        _lead("L08", at(2026, 10, 20, 9), "valid", billable=True, channel="upload"),
        # Boundaries: the last second of September, the first and last instants of October,
        # the Sunday that ends ISO week 44 (in November) and the Monday that starts week 45.
        _lead("L09", at(2026, 9, 30, 23, 59, 59), "valid"),
        _lead("L11", at(2026, 10, 1, 0, 0, 0), "valid", billable=True),
        _lead("L12", at(2026, 10, 31, 23, 59, 59, 999999), "caution", processed=False),
        _lead("L10", at(2026, 11, 1, 23, 59, 59), "invalid"),
        _lead("L13", at(2026, 11, 2, 0, 0, 0), "valid"),
    ]
    return {
        "enterprises.csv": [{"enterprise_id": "E1", "name": "Acme Agency", "enterprise_type": "agency"},
                            {"enterprise_id": "E2", "name": "=SUM(A1:A9)", "enterprise_type": "brand"}],
        "leads.csv": leads,
        "lead_jobs.csv": [{"lead_id": "L01", "job": "email_syntax", "outcome": "pass"},
                          {"lead_id": "L02", "job": "email_syntax", "outcome": "fail"},
                          {"lead_id": "L02", "job": "consent_check", "outcome": "fail"},
                          {"lead_id": "L03", "job": "consent_check", "outcome": "fail"},
                          {"lead_id": "L09", "job": "consent_check", "outcome": "fail"}],
    }


@pytest.fixture
def hand_db(db_url) -> str:
    write_domain("leads", hand_counted(), url=db_url, source="hand-counted test data")
    return db_url


EXPECTED = {  # caution_as -> (valid, invalid, valid + invalid, rate)
    "separate": (3, 2, 5, Decimal("40.00")),
    "invalid": (3, 4, 7, Decimal("57.14")),
    "valid": (5, 2, 7, Decimal("28.57")),
}


@pytest.mark.parametrize("caution_as", list(EXPECTED))
def test_month_measures_match_hand_count_for_each_caution_as(hand_db, caution_as):
    with connect(hand_db) as conn:
        row = measures(conn, OCTOBER, caution_as=caution_as).iloc[0]
    valid, invalid, both, rate = EXPECTED[caution_as]
    assert (row["total"], row["deleted"], row["caution"]) == (10, 3, 2)
    assert (row["valid"], row["invalid"], row["valid_plus_invalid"]) == (valid, invalid, both)
    assert row["invalidation_rate"] == rate and isinstance(row["invalidation_rate"], Decimal)
    assert (row["billable"], row["processed"]) == (3, 8)


def test_deleted_leads_leave_valid_plus_invalid_but_stay_in_total(db_url):
    data = hand_counted()
    with connect(write_domain("leads", data, url=db_url, source="before") and db_url) as conn:
        before = measures(conn, OCTOBER).iloc[0]
    next(r for r in data["leads.csv"] if r["lead_id"] == "L02")["deleted"] = True
    write_domain("leads", data, url=db_url, source="after")
    with connect(db_url) as conn:
        after = measures(conn, OCTOBER).iloc[0]
    assert after["total"] == before["total"] == 10
    assert after["deleted"] == before["deleted"] + 1
    assert (after["invalid"], after["valid_plus_invalid"]) == (before["invalid"] - 1, before["valid_plus_invalid"] - 1)
    assert after["invalidation_rate"] == Decimal("25.00")  # 1 / (3 + 1)


def test_groupings_split_the_same_counts(hand_db):
    with connect(hand_db) as conn:
        by_channel = measures(conn, OCTOBER, by=("channel",)).set_index("channel")
        by_type = measures(conn, OCTOBER, by=("enterprise_type",)).set_index("enterprise_type")
    assert by_channel["total"].to_dict() == {"API": 7, "E2E": 2, "upload": 1}
    assert by_channel.loc["E2E", "invalidation_rate"] == Decimal("100.00")
    assert by_type["total"].to_dict() == {"agency": 8, "brand": 2}


def test_month_and_week_boundaries_are_half_open_in_utc(hand_db):
    with connect(hand_db) as conn:
        months = period_measures(conn, [Month(2026, 9), OCTOBER, Month(2026, 11)]).set_index("period")
        weeks = period_measures(conn, [IsoWeek(2026, 40), IsoWeek(2026, 44), IsoWeek(2026, 45)]).set_index("period")
    assert months["total"].to_dict() == {"2026-09": 1, "2026-10": 10, "2026-11": 2}
    # 2026-W40 is Mon 28 Sep to Sun 4 Oct: the last second of September and 1 October.
    # 2026-W44 ends on Sunday 1 November: 31 October and 1 November; W45 starts Monday 2 November.
    assert weeks["total"].to_dict() == {"2026-W40": 2, "2026-W44": 2, "2026-W45": 1}


def test_periods_without_leads_are_absent_and_rates_of_nothing_are_none(hand_db):
    with connect(hand_db) as conn:
        frame = period_measures(conn, [Month(2025, 1)])
    assert frame.empty
    assert invalidation_rate(0, 0) is None


def test_dashboard_merges_names_and_counts_failing_jobs(hand_db):
    with connect(hand_db) as conn:
        dash = dashboard(conn, OCTOBER, "separate")
    advertisers = dash.advertisers.set_index("advertiser")
    # "Hilton", "hilton " and "Hilton UK" merge; "Hiltn - EMEA" is only proposed, so it stays apart.
    assert advertisers.loc["Hilton", "total"] == 6 and advertisers.loc["Hilton", "raw_names"] == 3
    assert advertisers.loc["Hiltn", "total"] == 1
    assert dash.names["advertiser"].merged == 2 and dash.proposals["advertiser"] == 1
    jobs = dash.failing_jobs.set_index(["enterprise_type", "job"])
    assert jobs.loc[("brand", "consent_check"), ["runs", "failures"]].tolist() == [2, 2]
    assert jobs.loc[("agency", "email_syntax"), "failures"] == 0  # L09 (September) is not counted
    headline = dash.headline.set_index("key")
    assert headline.loc["total", ["current", "previous", "change"]].tolist() == [10, 1, 9]
    assert headline.loc["total", "change_pct"] == Decimal("900.00")


def test_unknown_grouping_and_caution_as_are_refused(hand_db):
    with connect(hand_db) as conn:
        with pytest.raises(ValueError, match="unknown grouping 'colour'"):
            measures(conn, OCTOBER, by=("colour",))
        with pytest.raises(ValueError, match="caution_as must be one of"):
            measures(conn, OCTOBER, caution_as="maybe")


def test_a_period_without_leads_renders_zeros_and_says_so(hand_db, tmp_path):
    import openpyxl

    from reportlib.dashboard import html, write_dashboard_xlsx

    with connect(hand_db) as conn:
        dash = dashboard(conn, Month(2030, 1))
    headline = dash.headline.set_index("key")
    assert headline.at["total", "current"] == 0 and headline.at["invalidation_rate", "current"] is None
    cards = html.headline_html(dash)
    assert "nan" not in cards and "n/a" in cards
    assert "No lead was created in 2030-01" in html.title_html(dash)
    book = openpyxl.load_workbook(write_dashboard_xlsx(dash, tmp_path / "empty.xlsx"))
    assert book["Trend (13 months)"].cell(2, 2).value == 0
