from datetime import date, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from reportlib.db import engine_for
from reportlib.errors import InvariantError, UnknownEntityError
from reportlib.load import write_domain
from reportlib.statements import (Selection, credit_topups, credit_usage, daily_balance, discount_report,
                                  revenue_by_account, revenue_by_service, revenue_detailed, statement_pack,
                                  topup_totals, total_credit, usage_by_account, usage_by_service)
from reportlib.statements.data import credit_transactions

from .dataset import billing_rows

OCTOBER = Selection(partner="P1", start=date(2026, 10, 1), end=date(2026, 11, 1))


@pytest.fixture
def conn(db_url):
    write_domain("billing", billing_rows(), url=db_url, source="test")
    with engine_for(db_url).connect() as connection:
        yield connection


def by(frame, key):
    return {row[key]: row for row in frame.to_dict("records")}


def test_total_credit_opening_flows_and_closing_per_account(conn):
    credit = by(total_credit(conn, OCTOBER), "account_id")
    assert set(credit) == {"P1", "C1", "C2"}
    c1 = credit["C1"]
    assert (c1["opening"], c1["topped_up"], c1["used"], c1["accrued"], c1["adjustments"], c1["closing"]) == \
        (D("70"), D("200"), D("20"), D("5"), D("-2.5"), D("252.5"))
    assert credit["P1"]["opening"] == 0 and credit["P1"]["closing"] == D("48.999999")
    assert all(credit["C2"][k] == 0 for k in ("opening", "topped_up", "used", "closing"))
    assert all(isinstance(v, D) for v in c1.values() if not isinstance(v, str))


def test_total_credit_fails_loudly_when_a_transaction_breaks_the_invariant(conn, db_url):
    with engine_for(db_url).begin() as writer:
        writer.execute(credit_transactions.insert().values(
            transaction_id="bad", account_id="C1", occurred_at=datetime(2026, 10, 20, 12),
            kind="refund", service=None, amount=D("1"), reference=None))
    with pytest.raises(InvariantError, match="C1.*does not reconcile"):
        total_credit(conn, OCTOBER)


def test_topups_and_usage_are_the_periods_transactions_with_totals(conn):
    topups = credit_topups(conn, OCTOBER)
    assert list(topups["transaction_id"]) == ["t09", "t03"]  # ordered by time; t09 at the first instant
    assert by(topup_totals(topups), "account_id")["C1"]["topped_up"] == D("200")
    usage = credit_usage(conn, OCTOBER)
    assert list(usage["transaction_id"]) == ["t10", "t04", "t05"]  # t05 at 23:59:59 in, t08 at 00:00 Nov out
    assert by(usage_by_account(usage), "account_id")["C1"]["used"] == D("20")
    services = by(usage_by_service(usage), "service")
    assert {k: v["used"] for k, v in services.items()} == {"data": D("7.6544"), "sms": D("1.000001"),
                                                          "voice": D("12.3456")}


def test_discount_report_filters_by_period_status_and_account_type(conn):
    assert list(discount_report(conn, OCTOBER)["discount_id"]) == ["d4", "d1"]
    assert list(discount_report(conn, OCTOBER, statuses=["active"])["discount_id"]) == ["d1"]
    own = Selection("P1", OCTOBER.start, OCTOBER.end, account_type="partner")
    assert list(discount_report(conn, own)["discount_id"]) == ["d4"]
    customers = Selection("P1", OCTOBER.start, OCTOBER.end, account_type="customer")
    assert list(discount_report(conn, customers)["discount_id"]) == ["d1"]
    december = Selection("P1", date(2026, 12, 1), date(2027, 1, 1))
    assert list(discount_report(conn, december, statuses=["scheduled"])["discount_id"]) == ["d3"]


def test_revenue_totals_by_service_and_account_equal_their_lines(conn):
    lines = revenue_detailed(conn, OCTOBER)
    assert sorted(lines["line_id"]) == ["r1", "r2", "r3"]
    services = by(revenue_by_service(lines), "service")
    assert (services["voice"]["gross"], services["voice"]["discount"], services["voice"]["net"]) == \
        (D("12.34"), D("1.234"), D("11.106"))
    assert services["data"]["net"] == D("5") and services["sms"]["net"] == D("0.5")
    accounts = by(revenue_by_account(lines), "account_id")
    assert accounts["C1"]["net"] == D("16.106") and accounts["C1"]["lines"] == 2
    assert accounts["P1"]["net"] == D("0.5")


def test_one_account_selection_and_scope_never_crosses_partners(conn):
    one = Selection("P1", OCTOBER.start, OCTOBER.end, account="C1")
    assert set(total_credit(conn, one)["account_id"]) == {"C1"}
    with pytest.raises(UnknownEntityError, match="C3"):
        total_credit(conn, Selection("P1", OCTOBER.start, OCTOBER.end, account="C3"))
    everything = statement_pack(conn, "P1", "2026-10")
    for frame in (everything.topups, everything.usage, everything.revenue, everything.discounts):
        assert "C3" not in set(frame["account_id"])
    assert everything.headline["topped_up"] == D("250")


def test_unknown_partner_names_known_ones(conn):
    with pytest.raises(UnknownEntityError, match="'P9'.*P1"):
        statement_pack(conn, "P9", "2026-10")
    with pytest.raises(UnknownEntityError):
        statement_pack(conn, "C1", "2026-10")  # a customer is not a partner


def test_daily_balance_ends_at_the_closing_balance(conn):
    balance = daily_balance(conn, OCTOBER)
    assert len(balance) == 31
    assert balance.iloc[0]["balance"] == D("70") + D("50")  # opening of C1 + P1's top-up on Oct 1
    assert balance.iloc[-1]["balance"] == D("252.5") + D("48.999999")


def test_statement_pack_headline_reconciles(conn):
    pack = statement_pack(conn, "P1", "2026-10")
    h = pack.headline
    assert h["closing"] == h["opening"] + h["topped_up"] + h["accrued"] + h["adjustments"] - h["used"]
    assert (h["gross"], h["discount"], h["net"]) == (D("17.84"), D("1.234"), D("16.606"))
