"""A small hand-checked billing dataset; the expected figures are worked out in comments."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D


def billing_rows() -> dict[str, list[dict]]:
    accounts = [
        dict(account_id="P1", name="Alpha Partner", account_type="partner", partner_id="P1", status="active"),
        dict(account_id="C1", name="Beta Co", account_type="customer", partner_id="P1", status="active"),
        dict(account_id="C2", name="=HYPERLINK(\"http://x.invalid\")", account_type="customer", partner_id="P1",
             status="active"),
        dict(account_id="P2", name="../../Other Partner", account_type="partner", partner_id="P2", status="active"),
        dict(account_id="C3", name="Gamma Ltd", account_type="customer", partner_id="P2", status="active"),
        dict(account_id="P3", name="Dormant Partner", account_type="partner", partner_id="P3", status="closed"),
    ]

    def tx(tid, account, when, kind, amount, service=None):
        return dict(transaction_id=tid, account_id=account, occurred_at=when, kind=kind, service=service,
                    amount=D(amount), reference=f"ref {tid}")

    transactions = [
        # C1 before October: opening = 100 - 30 = 70.00
        tx("t01", "C1", datetime(2026, 9, 15, 10), "topup", "100.00"),
        tx("t02", "C1", datetime(2026, 9, 20, 10), "usage", "30.00", "voice"),
        # C1 in October: topped up 200, used 12.3456 + 7.6544 = 20, accrued 5, adjustments -2.50
        tx("t03", "C1", datetime(2026, 10, 5, 9), "topup", "200.00"),
        tx("t04", "C1", datetime(2026, 10, 6, 9), "usage", "12.3456", "voice"),
        tx("t05", "C1", datetime(2026, 10, 31, 23, 59, 59), "usage", "7.6544", "data"),
        tx("t06", "C1", datetime(2026, 10, 10, 12), "accrual", "5.00"),
        tx("t07", "C1", datetime(2026, 10, 12, 12), "adjustment", "-2.50"),
        # C1 after October (excluded): closing C1 = 70 + 200 + 5 - 2.5 - 20 = 252.50
        tx("t08", "C1", datetime(2026, 11, 1, 0, 0, 0), "usage", "50.00", "voice"),
        # P1 itself: opening 0, topped up 50 at the first instant, used 1.000001 -> closing 48.999999
        tx("t09", "P1", datetime(2026, 10, 1, 0, 0, 0), "topup", "50.00"),
        tx("t10", "P1", datetime(2026, 10, 2, 8), "usage", "1.000001", "sms"),
        # Another partner's customer: never in P1's statement
        tx("t11", "C3", datetime(2026, 10, 3, 8), "topup", "999.00"),
    ]

    def disc(did, account, service, kind, value, start, end, status):
        return dict(discount_id=did, account_id=account, service=service, kind=kind, value=D(value),
                    valid_from=start, valid_to=end, status=status)

    discounts = [
        disc("d1", "C1", "voice", "percent", "10", date(2026, 1, 1), None, "active"),
        disc("d2", "C1", "data", "fixed", "5", date(2026, 1, 1), date(2026, 6, 30), "expired"),  # not in October
        disc("d3", "P1", "sms", "percent", "5", date(2026, 12, 1), None, "scheduled"),  # not in October
        disc("d4", "P1", "voice", "percent", "7.5", date(2026, 9, 1), date(2026, 10, 15), "inactive"),
        disc("d5", "C3", "voice", "percent", "20", date(2026, 1, 1), None, "active"),  # other partner
    ]

    def line(lid, account, service, day, qty, price, gross, discount):
        return dict(line_id=lid, account_id=account, service=service, date=day, quantity=D(qty),
                    unit_price=D(price), gross=D(gross), discount=D(discount), net=D(gross) - D(discount))

    revenue = [
        line("r1", "C1", "voice", date(2026, 10, 31), "100", "0.1234", "12.34", "1.234"),
        line("r2", "C1", "data", date(2026, 10, 15), "2", "2.5", "5.00", "0"),
        line("r3", "P1", "sms", date(2026, 10, 1), "10", "0.05", "0.50", "0"),
        line("r4", "C1", "voice", date(2026, 9, 30), "1", "1", "1.00", "0"),  # September
        line("r5", "C3", "voice", date(2026, 10, 2), "1", "9", "9.00", "0"),  # other partner
    ]
    return {"accounts.csv": accounts, "credit_transactions.csv": transactions, "discounts.csv": discounts,
            "revenue_lines.csv": revenue}


EDGE_PARTNER = "P4"


def edge_billing_rows() -> dict[str, list[dict]]:
    """:func:`billing_rows` plus partner P4, whose October 2026 figures sit on rounding edges.

    Every amount below is exact; shown half up (as README's "Figures" says) they read:
    net revenue 6126.205 -> 6,126.21 (half even and a float would show 6,126.20); a large top-up
    987,654,321.125 -> 987,654,321.13; an adjustment of -2.665 -> -2.67; an accrual of 0.005 ->
    0.01; a usage of 12.34565 -> 12.3457 (four places); a unit price of 0.12345 -> 0.1235; a
    discount of 12.345 % -> 12.35; C5's closing balance of -0.004 reads -0.00, as Excel shows it;
    1,000 units show their thousands separator.
    """
    data = billing_rows()
    data["accounts.csv"] += [
        dict(account_id="P4", name="Edge Partner", account_type="partner", partner_id="P4", status="active"),
        dict(account_id="C4", name="Edge Customer", account_type="customer", partner_id="P4", status="active"),
        dict(account_id="C5", name="=2+5", account_type="customer", partner_id="P4", status="active"),
    ]

    def tx(tid, account, day, kind, amount, service=None):
        return dict(transaction_id=tid, account_id=account, occurred_at=datetime(2026, 10, day, 12), kind=kind,
                    service=service, amount=D(amount), reference=f"ref {tid}")

    data["credit_transactions.csv"] += [
        tx("e01", "C4", 2, "topup", "987654321.125"),
        tx("e02", "C4", 3, "usage", "12.34565", "voice"),
        tx("e03", "C4", 4, "adjustment", "-2.665"),
        tx("e04", "C4", 5, "accrual", "0.005"),
        tx("e05", "C5", 6, "adjustment", "-0.004"),
        tx("e06", "P4", 7, "topup", "0.125"),
    ]
    data["discounts.csv"].append(dict(discount_id="d41", account_id="C4", service="voice", kind="percent",
                                      value=D("12.345"), valid_from=date(2026, 1, 1), valid_to=None, status="active"))

    def line(lid, account, service, qty, price, gross, discount):
        return dict(line_id=lid, account_id=account, service=service, date=date(2026, 10, 20), quantity=D(qty),
                    unit_price=D(price), gross=D(gross), discount=D(discount), net=D(gross) - D(discount))

    data["revenue_lines.csv"] += [
        line("r41", "C4", "voice", "1000", "0.12345", "6806.895", "680.69"),   # net 6126.205
        line("r42", "C5", "sms", "3", "0.000125", "0.000375", "0.000375"),      # net 0
    ]
    return data
