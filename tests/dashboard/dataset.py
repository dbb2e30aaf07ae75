"""The hand-counted leads of ``test_metrics`` extended with figures on rounding edges."""

from __future__ import annotations

from datetime import datetime

from .test_metrics import _lead, hand_counted


def edge_leads() -> dict[str, list[dict]]:
    """:func:`hand_counted` plus an agency whose leads put October 2026 on edges.

    October then holds 1,037 leads (a thousands separator): 10 hand-counted ones, 24 valid and 3
    invalid ones of E3 and 1,000 caution ones (counted apart). Its invalidation rate is 5 invalid /
    32 valid + invalid = 15.625 %, 15.63 % half up (half to even: 15.62 %); September holds 1,040,
    so the total changed by -3 (-0.29 %).
    """
    data = hand_counted()
    data["enterprises.csv"].append({"enterprise_id": "E3", "name": "Edge Agency", "enterprise_type": "agency"})
    october = [("valid", 24), ("invalid", 3), ("caution", 1000)]
    n = 0
    for status, count in october:
        for _ in range(count):
            n += 1
            data["leads.csv"].append(_lead(f"LE{n:05d}", datetime(2026, 10, 2 + n % 28, 10), status, enterprise="E3",
                                           advertiser="Edge Hotels", channel="API"))
    for m in range(1039):  # September: 1,039 more, 1,040 with the hand-counted L09
        data["leads.csv"].append(_lead(f"LS{m:05d}", datetime(2026, 9, 1 + m % 28, 10), "caution", enterprise="E3",
                                       advertiser="Edge Hotels", channel="API"))
    return data
